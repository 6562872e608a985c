@performance @benchmarks
Feature: A performance regression is detected against an established baseline
  A benchmark run on a healthy cluster becomes the baseline. Later runs are checked against it:
  a workload that got clearly slower, significantly so over its repetitions, is named as a
  regression and the check fails.

  Background:
    Given a cluster with a master and 3 chunk servers
    And a benchmark baseline of the "small_files" and "seq_write" workloads with 5 repetitions

  @id.regression.slowdown_found @critical @needs.cpu_limit
  Scenario: Chunk servers slowed down make the check name the workloads that regressed
    When every chunk server is limited to a fifth of a CPU
    And the same benchmark runs again
    Then the benchmark check fails naming "small_files" and "seq_write" as regressed
