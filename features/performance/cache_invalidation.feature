@regions @needs.regions @needs.etcd
Feature: Cache consistency across regions: every region's master keeps its clients' caches, within the staleness bound
  Each region runs a master; the leader is in the first region with etcd, the others follow
  the changelog across the WAN. A client reads attributes and listings from its own region's
  master at its consistency level: bounded staleness (a master more than the bound behind the
  leader refuses and the leader answers instead), read-your-writes (a master that has not applied
  what the client wrote waits for it) or eventual. Its metadata cache is kept by the
  invalidations its region's master sends as it applies the changelog.

  Background:
    Given a cluster spread over these regions, a master in each, the leader in the first:
      | region   | chunk servers | WAN delay ms |
      | us-east  | 1             | 85           |
      | eu-west  | 1             | 180          |
      | ap-south | 1             | 120          |

  @id.cache.invalidation_across_regions @critical
  Scenario: A change in one region reaches the caches of clients in every region within the staleness bound
    Given in every region a client with the metadata cache on, reading with bounded staleness of 5 seconds
    When a client in "us-east" changes the size of "/shared.bin" 20 times while those clients watch it
    Then after every change each region's client saw the new size within 5 seconds, answered by its own region's master
    And between changes each region's client answered from its cache
    And the invalidation latency per region is attached to the report

  @id.cache.bounded_staleness_refused @critical
  Scenario: A regional master cut off from the leader stops serving bounded-staleness reads, and eventual reads go on
    Given a client in "ap-south" reading with bounded staleness of 3 seconds
    And a client in "ap-south" reading with eventual consistency
    When the region "ap-south" is cut off from the others
    And a client in "us-east" writes the file "/written-during-the-cut.bin"
    Then within 8 seconds the bounded-staleness client's reads are refused, naming the bound of 3 s
    And for 6 seconds every read of the bounded-staleness client is refused, while its region's master answers every read of the eventual client without "/written-during-the-cut.bin"
    When the region "ap-south" is connected again
    Then within 15 seconds the bounded-staleness client's region's master shows it "/written-during-the-cut.bin"

  @id.cache.read_your_writes
  Scenario: A client that writes through the leader and reads through its region's master sees each of its writes at once
    Given a client in "ap-south" reading with read-your-writes consistency
    When that client writes 20 files into "/mine", each through the leader
    Then right after each write, its region's master answered that client's lookup of the file with its full size
    And its region's master answered every one of those lookups
