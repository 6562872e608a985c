@infrastructure @registration
Feature: Chunk server startup and registration
  A chunk server that starts announces itself to the master with its identity, labels and the
  chunks it stores, and keeps that identity across restarts, so the master always knows where
  every copy of the data is.

  @id.registration.startup @smoke @critical
  Scenario: Chunk servers that start are registered by the master
    Given a cluster with a master and 3 chunk servers
    Then the master lists 3 chunk servers online
    And every chunk server says it is registered with the master
    And the cluster status counts 3 chunk servers online

  @id.registration.labels @normal
  Scenario: The labels of a chunk server are visible through the master
    Given a cluster with a master and chunk servers labelled:
      | tier | region  |
      | ssd  | eu-west |
      | hdd  | eu-west |
      | hdd  | us-east |
    Then the master lists the chunk servers with these labels:
      | chunk server  | tier | region  |
      | chunkserver-1 | ssd  | eu-west |
      | chunkserver-2 | hdd  | eu-west |
      | chunkserver-3 | hdd  | us-east |

  @id.registration.restart @disruptive @critical
  Scenario: A restarted chunk server registers again with the same identity and its chunks
    Given a cluster with a master and 3 chunk servers
    And a file "/data/kept.bin" of 256 KB written by a client with goal 3
    When chunk server "chunkserver-1" is stopped and started again
    Then the master lists "chunkserver-1" online within 5 seconds under the identity it had before
    And the master counts the copy on "chunkserver-1" of every chunk of "/data/kept.bin" again within 5 seconds
    And "chunkserver-1" got none of those copies from another chunk server

  @id.registration.before_master @critical
  Scenario: A chunk server started before its master registers once the master is up
    Given a chunk server started before its master
    And the chunk server reports within 5 seconds that it cannot reach the master
    When the master starts
    Then the master lists 1 chunk server online within 5 seconds
    And the chunk server reports within 5 seconds that it is registered with the master

  @id.registration.master_restart @disruptive @critical
  Scenario: Chunk servers register again when their master restarts
    Given a cluster with a master and 2 chunk servers
    And a file "/data/kept.bin" of 64 KB written by a client with goal 2
    When the master is stopped and started again
    Then the master lists 2 chunk servers online within 5 seconds
    And the file "/data/kept.bin" reads back intact within 5 seconds

  @id.registration.none_registered @normal
  Scenario: A master without chunk servers says so in its health
    Given a master without chunk servers
    Then the master's health becomes degraded within 5 seconds with the check "chunkservers" saying "no chunk server registered"
