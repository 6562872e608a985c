"""Benchmark workloads shared by `mooseng bench` and the side-by-side run against MooseFS
(scripts/bench_vs_moosefs.py), so both measure the same thing the same way."""
