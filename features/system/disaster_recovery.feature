@system @recovery @needs.etcd @needs.restore
Feature: Disaster recovery from the metalogger
  The metalogger keeps its own copy of every committed changelog entry, with snapshots. When
  every master's disk is lost, and etcd's with them, a master rebuilt from the metalogger's copy
  has exactly the metadata the cluster had, and the chunk servers' data reads back through it.
  Under continuous writes, it keeps every write acknowledged more than a second before the
  disaster (the recovery point objective). A metalogger that was away catches up by itself.

  Background:
    Given a cluster of 3 masters on etcd, a metalogger and 3 chunk servers
    And 10 files of 100 KB written by a client with goal 2

  @id.recovery.restore_from_metalogger @blocker @disruptive
  Scenario: A master restored from the metalogger after every master and etcd lost their disks
    Given the metalogger has every change within 10 seconds
    And the metadata checksum of the leader is noted
    When every master and every etcd member is killed and loses its disk
    And "master-1" is restored from the metalogger's copy with a new etcd
    Then "master-1" has the noted metadata checksum within 20 seconds
    And every chunk server has registered with the master again within 30 seconds
    And every file reads back intact
    And a new file can be written and read back

  @id.recovery.point_under_load @blocker @disruptive
  Scenario: Under continuous writes, the restore keeps everything acknowledged more than a second before the disaster
    Given 4 clients writing and reading small files of 1 KB to 64 KB at the same time
    And the clients have kept writing for 4 seconds, within 60 seconds
    When every master and every etcd member is killed and loses its disk while the clients go on
    And "master-1" is restored from the metalogger's copy with a new etcd
    Then every chunk server has registered with the master again within 30 seconds
    And every write acknowledged more than 1 second before the loss reads back intact

  @id.recovery.follower_rebuilds @critical @disruptive
  Scenario: Masters that lost their disks rebuild from the leader when etcd no longer holds the changelog
    Given the metalogger has every change within 10 seconds
    And every master and every etcd member was killed and lost its disk
    And "master-1" was restored from the metalogger's copy with a new etcd
    And every chunk server has registered with the master again within 30 seconds
    And 5 files of 100 KB were written through it
    When the other masters start again with empty disks
    Then every master has the same metadata checksum within 20 seconds
    And the metalogger has every change within 10 seconds

  @id.recovery.metalogger_catches_up @critical @disruptive
  Scenario: A metalogger that was down catches up with the changes made meanwhile
    Given the metalogger was stopped
    And 10 more files of 100 KB were written while it was down
    When the metalogger is started again
    Then the metalogger has every change within 10 seconds
    And the metalogger reports no replication lag

  @id.recovery.metalogger_watched @critical @disruptive
  Scenario: The masters list the metalogger with its lag, and a metalogger that stops reporting degrades their health
    Given the metalogger has every change within 10 seconds
    When an administrator asks for the cluster status in the machine-readable format
    Then the status lists the metalogger at most 0 entries behind within 5 seconds
    When the metalogger is killed
    Then every master's health becomes degraded within 10 seconds with the check "metaloggers" naming the metalogger
    When the metalogger is started again
    Then every master's health becomes healthy within 10 seconds with the check "metaloggers"
