@infrastructure @self_healing
Feature: Failure detection and self-healing
  The master notices a chunk server that stops sending heartbeats and restores every chunk to
  its goal from the copies that are left; damaged copies are found and replaced; copies that
  come back from a returning server are not kept beyond the goal.

  Background:
    Given a cluster with a master and 3 chunk servers that check their copies every second
    And 4 files of 1.5 MB written by a client with goal 2

  @id.healing.offline_within_timeout @disruptive @critical @smoke
  Scenario: A killed chunk server is marked offline within the offline timeout
    When chunk server "chunkserver-1" is killed
    Then the master marks "chunkserver-1" offline within 3 seconds

  @id.healing.back_at_goal @disruptive @blocker
  Scenario: Every chunk is back at goal after a chunk server is lost, with its data intact
    When chunk server "chunkserver-1" is killed
    Then every chunk of the files has 2 copies, none on "chunkserver-1", within 20 seconds
    And every copy lost with "chunkserver-1" was made again exactly once
    And every file reads back intact

  @id.healing.corrupt_copy_replaced @critical
  Scenario: A corrupted copy is detected and replaced
    When a stored copy of a chunk of the files is corrupted on its chunk server
    Then the chunk server counts a checksum failure within 10 seconds
    And every chunk of the files has 2 copies that read back intact from their chunk servers within 20 seconds

  @id.healing.overgoal_removed @disruptive @critical
  Scenario: Copies on a returning chunk server beyond the goal are removed
    Given chunk server "chunkserver-1" was killed and every chunk was restored to 2 copies
    When chunk server "chunkserver-1" starts again
    Then every chunk of the files is stored on exactly 2 chunk servers' disks within 20 seconds
    And the cluster status shows no chunk over or under goal for 3 seconds

  @id.healing.paused_treated_as_lost @disruptive @critical
  Scenario: A paused chunk server is treated as lost
    When chunk server "chunkserver-1" is paused
    Then the master marks "chunkserver-1" offline within 3 seconds
    And every chunk of the files has 2 copies, none on "chunkserver-1", within 20 seconds

  @id.healing.paused_recovers @disruptive @normal
  Scenario: A paused chunk server recovers when resumed
    Given chunk server "chunkserver-1" was paused until the master marked it offline
    When chunk server "chunkserver-1" is resumed
    Then the master lists "chunkserver-1" online within 5 seconds
    And every chunk of the files is stored on exactly 2 chunk servers' disks within 20 seconds
    And every file reads back intact

  @id.healing.stale_copies_removed @disruptive @critical
  Scenario: A chunk server that missed rewrites while it was down keeps no old version
    Given chunk server "chunkserver-1" was killed until the master marked it offline
    And every file was rewritten in place with new data while it was down
    When chunk server "chunkserver-1" starts again
    Then the master lists "chunkserver-1" online within 5 seconds
    And no chunk server keeps an old version of a chunk of the files within 20 seconds
    And every file reads back intact

  @id.healing.maintenance_not_lost @disruptive @normal
  Scenario: A chunk server in maintenance that stops is not treated as lost
    Given chunk server "chunkserver-1" was put in maintenance
    When chunk server "chunkserver-1" is killed
    Then the cluster status shows no chunk under goal for 5 seconds
    And the master orders no new copy of any chunk for 2 seconds
    And the master keeps listing "chunkserver-1" in maintenance for 2 seconds
