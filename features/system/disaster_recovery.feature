@system @recovery @needs.etcd
Feature: Disaster recovery from the metalogger
  The metalogger keeps its own copy of every committed changelog entry, with snapshots. When
  every master's disk is lost, and etcd's with them, a master rebuilt from the metalogger's copy
  has exactly the metadata the cluster had, and the chunk servers' data reads back through it.
  A metalogger that was away catches up by itself.

  Background:
    Given a cluster of 3 masters on etcd, a metalogger and 3 chunk servers
    And 10 files of 100 KB written by a client with goal 2

  @id.recovery.restore_from_metalogger @blocker @disruptive
  Scenario: Masters restored from the metalogger after every master and etcd lost their disks
    Given the metalogger has every change within 10 seconds
    And the metadata checksum of the leader is noted
    When every master and every etcd member is killed and loses its disk
    And every master is restored from the metalogger's copy with a new etcd
    Then every master has the noted metadata checksum within 20 seconds
    And every file reads back intact
    And a new file can be written and read back

  @id.recovery.metalogger_catches_up @critical @disruptive
  Scenario: A metalogger that was down catches up with the changes made meanwhile
    Given the metalogger was stopped
    And 10 more files of 100 KB were written while it was down
    When the metalogger is started again
    Then the metalogger has every change within 10 seconds
    And the metalogger reports no replication lag
