@infrastructure @health
Feature: Health check endpoints
  Every daemon reports its health with named checks, so operators and orchestrators can see
  at once what is wrong: healthy, degraded with the check that is unhappy, or critical (and
  then the answer is an HTTP error) when data cannot be read.

  Background:
    Given a cluster with a master and 3 chunk servers

  @id.health.available @smoke @critical
  Scenario: Every node reports itself healthy with its named checks
    Then every node reports itself healthy, naming its component and node
    And the master's health has the checks "chunkservers", "replication", "data" and "metadata"
    And every chunk server's health has the checks "master" and "storage"

  @id.health.ready @smoke @critical
  Scenario: Every node says it is ready
    Then every node answers that it is ready

  @id.health.degraded_when_server_dies @disruptive @critical
  Scenario: The master's health is degraded, naming the lost chunk server, when one dies
    When chunk server "chunkserver-2" is killed
    Then the master's health becomes degraded within 5 seconds with the check "chunkservers" naming "chunkserver-2"
    And the master's health is still answered with a success status

  @id.health.healthy_after_repair @disruptive @normal
  Scenario: The master's health is healthy again once the lost chunk server is back
    Given chunk server "chunkserver-2" was killed and the master's health became degraded
    When chunk server "chunkserver-2" starts again
    Then the master's health becomes healthy within 10 seconds
    And the master's health stays healthy for 3 seconds

  @id.health.critical_without_copy @disruptive @critical
  Scenario: The master's health is critical when a chunk has no valid copy left
    Given a file "/data/single.bin" of 64 KB written by a client with goal 1
    When every chunk server holding a copy of "/data/single.bin" is killed
    Then the master's health becomes critical within 5 seconds with the check "data" saying "1 chunks have no valid copy"
    And the master's health is answered with a service-unavailable status
    And the master's metrics show within 5 seconds:
      | gauge          | value |
      | chunks missing | 1     |

  @id.health.degraded_under_goal @disruptive @normal
  Scenario: The master's health is degraded, counting the chunks under goal, while a goal cannot be met
    Given a file "/data/triple.bin" of 1.5 MB written by a client with goal 3
    When chunk server "chunkserver-3" is killed
    Then the master's health becomes degraded within 5 seconds with the check "replication" saying "2 chunks under goal"

  @id.health.waiting_after_master_start @disruptive @normal
  Scenario: A master that has just started waits for the chunk servers before calling data lost
    Given a file "/data/single.bin" of 64 KB written by a client with goal 1
    And every chunk server holding a copy of "/data/single.bin" was killed
    When the master is stopped and started again
    Then the master's health becomes degraded within 2 seconds with the check "data" saying "waiting for chunk servers to register"
    And the master's health becomes critical within 10 seconds with the check "data" saying "1 chunks have no valid copy"
