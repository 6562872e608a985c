"""Views of the stored runs shared by `mooseng bench` and the dashboard."""

from __future__ import annotations

from mooseng.bench import stats
from mooseng.bench.store import Run

MS = 1000.0


def trend(runs: list[Run], workload: str) -> list[dict]:
    """One point per run that measured `workload`, oldest first: its median throughput."""
    points = []
    for r in runs:
        result = r.results.get(workload)
        if result is None:
            continue
        points.append({"run": r.id, "started": r.started, "commit": r.git_commit,
                       "suite": r.suite, "median": stats.median(result.throughputs),
                       "unit": result.unit, "p99_ms": result.latency["p99"] * MS})
    return points


def medians(run: Run) -> dict[str, dict]:
    """Per workload of a run: its median throughput, unit and p99 latency."""
    return {name: {"median": stats.median(r.throughputs), "unit": r.unit,
                   "p99_ms": r.latency["p99"] * MS} for name, r in run.results.items()}
