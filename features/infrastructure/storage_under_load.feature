@infrastructure @load
Feature: Storage operations under load
  Several clients write and read at the same time while chunk servers fail. Whatever the
  cluster acknowledged must be readable afterwards, exactly as written.

  Background:
    Given a cluster with a master and 3 chunk servers

  @id.load.concurrent_clients @critical
  Scenario Outline: Concurrent clients read back what they wrote: <data set> files
    Given 4 clients writing and reading <data set> files of <smallest> to <largest> at the same time
    When the clients work until 12 of their writes are acknowledged, within 60 seconds
    Then no client read back wrong data
    And no acknowledged write was lost

    Examples:
      | data set | smallest | largest |
      | small    | 1 KB     | 64 KB   |
      | medium   | 1 MB     | 3 MB    |

  @id.load.chunkserver_killed @disruptive @blocker
  Scenario Outline: No acknowledged write is lost when a chunk server is killed under load: <data set> files
    Given 4 clients writing and reading <data set> files of <smallest> to <largest> at the same time
    And the clients have made 6 acknowledged writes, within 60 seconds
    When chunk server "chunkserver-2" is killed while the clients go on
    Then the clients make 12 more acknowledged writes within 60 seconds
    And no client read back wrong data
    And no acknowledged write was lost

    Examples:
      | data set | smallest | largest |
      | small    | 1 KB     | 64 KB   |
      | medium   | 1 MB     | 3 MB    |

  @id.load.master_killed @disruptive @blocker
  Scenario: No acknowledged write is lost when the master is killed under load
    Given 4 clients writing and reading small files of 1 KB to 64 KB at the same time
    And the clients have made 6 acknowledged writes, within 60 seconds
    When the master is killed and started again while the clients go on
    Then the clients make 12 more acknowledged writes within 60 seconds
    And every chunk server has registered with the master again within 30 seconds
    And no client read back wrong data
    And no acknowledged write was lost
