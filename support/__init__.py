"""The library behind the acceptance steps: drivers, client, workloads, waiting, matchers, reports."""
