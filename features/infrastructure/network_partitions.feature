@infrastructure @network @needs.partition
Feature: Network partitions and one-sided cuts
  Every process keeps running but the network between them fails. The master treats a chunk
  server it cannot hear as lost and restores the goal without it; when the network heals the
  server rejoins without keeping copies beyond the goal or data older than what was written
  meanwhile. A client that cannot reach one chunk server reads from another copy.

  Background:
    Given a cluster with a master and 3 chunk servers
    And 4 files of 1.5 MB written by a client with goal 2

  @id.network.partitioned_chunkserver_replaced @disruptive @critical
  Scenario: A chunk server partitioned from the master is marked offline and its chunks are re-replicated
    When chunk server "chunkserver-1" is partitioned from the rest of the cluster
    Then the master marks "chunkserver-1" offline within 3 seconds
    And every chunk of the files has 2 copies, none on "chunkserver-1", within 20 seconds
    And every file reads back intact

  @id.network.healed_chunkserver_rejoins @disruptive @critical
  Scenario: A chunk server rejoins after the partition heals and its copies beyond the goal are removed
    Given chunk server "chunkserver-1" was partitioned until every chunk was back at 2 copies without it
    When the partition of chunk server "chunkserver-1" heals
    Then the master lists "chunkserver-1" online within 5 seconds
    And every chunk of the files is stored on exactly 2 chunk servers' disks within 20 seconds
    And the cluster status shows no chunk over or under goal for 3 seconds
    And every file reads back intact

  @id.network.client_cut_reads_other_copy @disruptive @critical
  Scenario: A client cut off from one chunk server reads from another copy
    When nothing chunk server "chunkserver-1" sends reaches the client any more
    Then a client with a 2 second timeout reads every file intact within 30 seconds
    And the master keeps listing "chunkserver-1" online for 5 seconds

  @id.network.partitioned_no_stale_data @disruptive @blocker
  Scenario: A chunk server partitioned while the files were rewritten brings back no old data
    Given chunk server "chunkserver-1" was partitioned until the master marked it offline
    And every file was rewritten in place with new data while it was partitioned
    When the partition of chunk server "chunkserver-1" heals
    Then the master lists "chunkserver-1" online within 5 seconds
    And no chunk server keeps an old version of a chunk of the files within 20 seconds
    And every chunk of the files has 2 copies that read back intact from their chunk servers within 20 seconds
    And no acknowledged write was lost
