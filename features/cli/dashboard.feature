@cli @dashboard @needs.browser
Feature: A live dashboard of the cluster
  An operator keeps the dashboard open in a browser. It shows the cluster's health and its named
  checks, every chunk server with its state, the chunks under and over goal, live throughput from
  the nodes' metrics and the stored benchmark results with their trends. It follows the cluster
  as it changes without being reloaded, and it serves every script and style itself, so it works
  with no internet.

  Background:
    Given a cluster with a master and 3 chunk servers
    And the dashboard of the cluster is open in a browser

  @id.dashboard.servers @critical
  Scenario: The page shows every chunk server and the cluster's named checks
    Then the dashboard shows 3 chunk servers, each online
    And the dashboard shows the cluster healthy with the checks "chunkservers", "replication", "data" and "metadata"
    And the page loaded nothing from outside the dashboard

  @id.dashboard.offline @critical
  Scenario: A killed chunk server turns offline on the page without a reload
    When chunk server "chunkserver-2" is killed
    Then within 10 seconds the dashboard shows chunk server "chunkserver-2" offline, without a reload
    And the dashboard shows the "chunkservers" check degraded

  @id.dashboard.throughput @normal
  Scenario: Data written to the cluster shows as live write throughput
    When a client writes a file "/live.bin" of 8 MB
    Then within 10 seconds the dashboard shows write throughput above zero, without a reload

  @id.dashboard.benchmarks @normal
  Scenario: A benchmark run appears in the results with its trend
    When an administrator runs the "metadata" workload with 2 repetitions
    Then within 10 seconds the dashboard lists that run with the median of "metadata", without a reload
    And the dashboard's trend of "metadata" has a point for that run

  @id.dashboard.master_restart @critical
  Scenario: The page recovers by itself after the master restarts
    When the master is killed
    Then within 10 seconds the dashboard says the master is unreachable, without a reload
    When the master is started again
    Then within 15 seconds the dashboard shows the master answering and 3 chunk servers online, without a reload
