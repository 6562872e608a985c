@performance @metrics @needs.prometheus
Feature: Metrics accuracy end to end
  After a known set of operations every node's counters have moved by exactly those amounts,
  and a real Prometheus server scraping the nodes reads the same values. Every node's /metrics
  passes promtool's checks.

  Background:
    Given a cluster with a master and 3 chunk servers
    And a Prometheus server scraping every node every second

  @id.metrics.scraped @critical
  Scenario: Prometheus scrapes every node and promtool finds no problem
    Then within 15 seconds Prometheus reports every node's target up
    And promtool finds no problem in any node's metrics

  @id.metrics.counters_exact @critical
  Scenario: Counters move by exactly the operations performed, and Prometheus agrees
    When a client makes 3 directories, writes 4 files of 10000 bytes with goal 2, reads 2 of them, removes 2 and makes one directory that exists
    Then the master's operation counters moved by exactly:
      | operation   | status         | by |
      | Mkdir       | ok             | 3  |
      | Mkdir       | already_exists | 1  |
      | Create      | ok             | 4  |
      | CommitChunk | ok             | 4  |
      | GetAttr     | ok             | 2  |
      | GetChunks   | ok             | 2  |
      | Remove      | ok             | 2  |
    And the chunk servers together counted 80000 bytes written and 20000 bytes read
    And within 15 seconds Prometheus reads the same counter values as the nodes
