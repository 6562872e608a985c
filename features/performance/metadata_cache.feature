@performance @cache
Feature: Metadata caching and invalidation
  A client keeps what the master told it about names, attributes, directory listings and chunk
  locations, so repeated lookups do not reach the master. The master tells every watching
  client what changed as it changes; a client that cannot hear the master serves nothing from
  its cache. Every lookup the cache cannot answer is one request to the master, so the client's
  misses and the master's requests agree exactly.

  Background:
    Given a cluster with a master and 3 chunk servers
    And 20 files of 4 KB written by a client with goal 2

  @id.cache.hit_ratio @critical
  Scenario: Repeated lookups are answered by the cache and every miss is one request to the master
    Given 3 clients with the metadata cache on
    When each of them looks up each of the 20 files 5 times, all at the same time
    Then each client's cache counts 20 misses and 80 hits for attributes
    And the master answered exactly as many attribute lookups as the clients missed together

  @id.cache.invalidation_latency @critical
  Scenario: A change made by one client reaches another client's cache at once
    Given a second client with the metadata cache on
    When a client changes the size of "/files/file-1.bin" 100 times while the second client watches it
    Then after every change the second client saw the new size within 1 second
    And before every change the second client answered from its cache
    And the invalidation latency is attached to the report

  @id.cache.eviction @normal
  Scenario: A full cache evicts the entries used least and keeps the hot ones
    Given a second client whose metadata cache holds at most 10 entries
    When the second client looks up 4 of the files again and again between lookups of all 20
    Then the second client's cache holds at most 10 entries and counts evictions
    And the 4 files looked up again and again are still answered from its cache

  @id.cache.cut_off @critical @disruptive
  Scenario Outline: A client that cannot hear the master serves nothing from its cache (<cause>)
    Given a second client with the metadata cache on
    And the second client looks up each of the 20 files 2 times
    When <fault>
    Then within 3 seconds the second client's cache holds nothing
    And for 3 seconds no lookup of the second client is answered from its cache
    When <repair>
    Then the second client's cache is live again within 10 seconds

    Examples:
      | cause        | fault                                                    | repair                            |
      | master pause | the master is paused                                     | the master is resumed             |

    @needs.partition
    Examples: on a network
      | cause        | fault                                                    | repair                            |
      | partition    | the master is partitioned from clients and chunk servers | the partition of the master heals |

  @id.cache.off @normal
  Scenario: With caching off every lookup asks the master
    Given a second client with the metadata cache off
    When the second client looks up each of the 20 files 3 times
    Then the second client's cache counts 60 misses and 0 hits for attributes
    And the master answered exactly as many attribute lookups as the second client missed
