@performance @benchmarks
Feature: A performance regression is detected against an established baseline
  A benchmark run on a healthy cluster becomes the baseline. Later runs are checked against it:
  a workload that got clearly slower, significantly so over its repetitions, is named as a
  regression and the check fails. (Chunk servers held to a tenth of a CPU answer heartbeats late,
  so the master here waits 10 seconds before it counts one offline.)

  Background:
    Given a cluster with a master and 3 chunk servers that the master marks offline only after 10 seconds
    And a benchmark baseline of the "small_files" and "seq_write" workloads with 7 repetitions

  @id.regression.slowdown_found @critical @needs.cpu_limit
  Scenario: Chunk servers slowed down make the check name the workloads that regressed
    When every chunk server is limited to a tenth of a CPU
    And the same benchmark runs again
    Then the benchmark check fails naming "small_files" and "seq_write" as regressed
