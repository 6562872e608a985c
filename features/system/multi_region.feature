@regions @needs.regions
Feature: Multi-region: copies in every region a class names, made across the WAN, caught up after a partition
  Chunk servers carry a region label and the master is in the first region. Every pair of
  regions is joined by a WAN link that delays each direction by half the sum of the two regions'
  delays (upstream's demo regions), and every connection between regions crosses one: chunk
  servers and clients of another region reach the master and each other's servers through it.
  A write is acknowledged once the copies in the writer's region are on disk; the master's
  replicator makes the other regions' copies afterwards and reports each region's lag. Copies
  are counted on the chunk servers' disks, against the region each server was started in.

  Background:
    Given a cluster spread over these regions, the master in the first:
      | region   | chunk servers | WAN delay ms |
      | us-east  | 2             | 85           |
      | eu-west  | 2             | 180          |
      | ap-south | 1             | 120          |
    And the administrator created the storage class "global" with the copies "2*region=us-east region=eu-west region=ap-south"

  @id.regions.copies_per_region @critical
  Scenario: Every region holds as many copies as the storage class states for it
    When a client in "eu-west" writes 4 files of 1.5 chunks into the directory "/global" of the storage class "global"
    Then within 30 seconds every chunk of those files has these copies per region, counted on the chunk servers' disks:
      | region   | copies |
      | us-east  | 2      |
      | eu-west  | 1      |
      | ap-south | 1      |

  @id.regions.read_elsewhere
  Scenario: Files written in one region are read whole by a client in another
    When a client in "us-east" writes 3 files of 1.5 chunks into the directory "/global" of the storage class "global"
    Then a client in "ap-south" reads every one of those files as written

  @id.regions.partition_catch_up @critical
  Scenario: A region cut off while writes go on catches up after it is back, and no acknowledged write is lost
    Given the region "ap-south" is cut off from the others
    When a client in "us-east" writes 3 files of 1.5 chunks into the directory "/global" of the storage class "global"
    And a client in "eu-west" writes 3 files of 1.5 chunks into the directory "/global" of the storage class "global"
    Then the master reports chunks waiting to be copied to "ap-south" for 12 seconds
    When the region "ap-south" is connected again
    Then within 60 seconds every chunk of those files has these copies per region, counted on the chunk servers' disks:
      | region   | copies |
      | us-east  | 2      |
      | eu-west  | 1      |
      | ap-south | 1      |
    And a client in "ap-south" reads every one of those files as written
