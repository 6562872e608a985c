@cli @benchmarks
Feature: Benchmark results are kept and compared
  An operator runs the benchmark suite against a live cluster. Every run is stored with its
  statistics and where it ran, can be listed and shown later, and two runs can be compared
  workload by workload, with a verdict on whether the change is significant. The benchmark
  checks what it reads back and removes what it wrote.

  Background:
    Given a cluster with a master and 3 chunk servers

  @id.bench.stored @critical
  Scenario: A quick benchmark stores its result with every statistic
    When an administrator runs the quick benchmark suite with 2 repetitions
    Then the benchmark leaves nothing behind in the cluster
    And the stored runs list that run with the cluster's 3 chunk servers and goal 2
    And the stored run shows every workload of the suite with its throughput per repetition and the latency statistics:
      | statistic          |
      | mean               |
      | standard deviation |
      | min                |
      | max                |
      | p50                |
      | p90                |
      | p95                |
      | p99                |
      | p99.9              |

  @id.bench.compare @normal
  Scenario: Two runs are compared workload by workload
    Given an administrator ran the "small_files" and "metadata" workloads twice, with 4 repetitions each
    When the administrator compares the two runs
    Then each of "small_files" and "metadata" is named with its change in percent, the significance and a verdict
