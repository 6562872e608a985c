@system @recovery
Feature: Master crash recovery
  The master keeps the namespace and the chunk table on its disk as a changelog and snapshots.
  Whatever it acknowledged survives a crash: a master killed without warning comes back with
  every file and directory it acknowledged, never hands out a chunk id or version twice, and
  no second master can take over its data while it runs.

  Background:
    Given a cluster with a master that snapshots its metadata every 25 changes and 3 chunk servers
    And 12 files of 1.5 MB written by a client with goal 2

  @id.recovery.master_killed_keeps_files @disruptive @blocker
  Scenario: A master killed without warning comes back with every acknowledged file
    When the master is killed and started again
    Then every file reads back intact within 10 seconds

  @id.recovery.clean_stop_snapshot @disruptive @normal
  Scenario: A master stopped cleanly comes back from the snapshot it wrote, replaying nothing
    When the master is stopped and started again
    Then the master says in its log that it replayed no change of its metadata
    And every file reads back intact within 10 seconds

  @id.recovery.chunk_ids_never_reused @disruptive @critical
  Scenario: Chunks written after a master crash get ids and versions never handed out before
    Given the master was killed and started again, and every chunk server registered again
    When a client writes a file "/files/after-crash.bin" of 2.5 chunks
    Then no chunk of "/files/after-crash.bin" has an id or a version the files had before

  @id.recovery.second_master_refused @critical
  Scenario: A second master on the data of a running master is refused
    When a second master is started on the data of the running master
    Then it stops within 10 seconds with exit code 1 and one error line naming "another master is using"
    And every file reads back intact
