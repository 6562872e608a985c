@performance @benchmarks
Feature: A performance regression is detected against an established baseline
  A benchmark run on a healthy cluster becomes the baseline. Later runs are checked against it:
  a workload that got clearly slower, significantly so over its repetitions, is named as a
  regression and the check fails; a cluster that did not change passes.

  On the suite's shared 2-core machines a workload's median moves by up to about 20 % from one
  run to the next by noise alone (`make bench-regression-rates` measures it), so the suite
  judges regressions at 30 % rather than the default 10 %.

  Background:
    Given a cluster with a master and 3 chunk servers
    And a benchmark baseline of the "small_files" and "seq_write" workloads with 5 repetitions
    And regressions are judged at 30 % slower

  @id.regression.slowdown_found @critical @needs.cpu_limit
  Scenario: Chunk servers slowed down make the check name the workloads that regressed
    When every chunk server is limited to a tenth of a CPU
    And the same benchmark runs again
    Then the benchmark check fails naming "small_files" and "seq_write" as regressed

  @id.regression.unchanged_passes @critical
  Scenario: An unchanged cluster passes the check
    When the same benchmark runs again
    Then the benchmark check passes, naming "small_files" and "seq_write" as not regressed
