@administration
Feature: Chunk server administration: maintenance for a time, draining, removal and repair
  An operator takes a chunk server out for maintenance (its copies stay valid and nothing is
  copied for it, for at most the time given), drains one before retiring it (every copy is made
  elsewhere, then removed from it), removes a stopped one (refused while it holds the only copy
  of anything) and has the copies of a path checked at once. Every command is the CLI's, with
  its machine-readable answer; what happened is checked on the chunk servers' disks and in the
  master's listing.

  Background:
    Given a cluster with a master and 4 chunk servers
    And 6 files of 1 MB written by a client with goal 2

  @id.admin.maintenance_window @critical
  Scenario: Maintenance holds off re-replication for its time and not a second longer
    When the administrator puts "chunkserver-2" in maintenance for 6 seconds
    And chunk server "chunkserver-2" is killed
    Then the master orders no new copy of any chunk until the maintenance time is over, and the first within 2 seconds after it
    And every chunk of the files has 2 copies, none on "chunkserver-2", within 10 seconds

  @id.admin.drain
  Scenario: Draining a chunk server empties it with every file intact
    When the administrator drains "chunkserver-1"
    Then "chunkserver-1" holds no copy on its disk within 30 seconds, and the master lists it draining with no chunks
    And every chunk of the files has 2 copies, none on "chunkserver-1", within 10 seconds
    And every file reads back intact

  @id.admin.remove_drained
  Scenario: A drained chunk server that was stopped is removed
    Given the administrator drained "chunkserver-3"
    And "chunkserver-3" held no copy on its disk within 30 seconds, and the master listed it draining with no chunks
    And chunk server "chunkserver-3" was killed until the master marked it offline
    When the administrator removes "chunkserver-3"
    Then the master no longer lists it
    And every file reads back intact

  @id.admin.remove_last_copy_refused
  Scenario: Removing the chunk server that holds the last copy of a chunk is refused
    Given a file "/single.bin" of 100 KB written by a client with goal 1
    When the chunk server holding "/single.bin" is killed
    And the administrator removes that chunk server
    Then the command fails with exit code 1 and one error line naming "holds the only copy of 1 chunks"
    And the master still lists that chunk server, offline, with every copy on its disk

  @id.admin.repair
  Scenario: Repair checks every copy of a path at once and makes a damaged one again
    Given a stored copy of a chunk of the files was corrupted on its chunk server
    When the administrator repairs "/files"
    Then the chunk server counts a checksum failure within 5 seconds
    And every chunk of the files has 2 copies that read back intact from their chunk servers within 10 seconds
