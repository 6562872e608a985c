"""Comparing benchmark runs: per workload, how the throughput moved and whether that is
significant, the workloads of one comparison judged together (so more workloads do not mean
more false alarms). Runs on clusters of different shapes, or with different workload sizes, are
refused rather than compared."""

from __future__ import annotations

import dataclasses

from mooseng.bench import stats
from mooseng.bench.store import Run
from mooseng.common.errors import InvalidArgument

SHAPE = ("masters", "chunkservers", "goal", "chunk_size")


@dataclasses.dataclass(frozen=True)
class Row:
    workload: str
    unit: str
    change: stats.Change


def compare(a: Run, b: Run, alpha: float = stats.ALPHA) -> tuple[list[Row], list[str]]:
    """The rows of the workloads both runs measured, and the workloads only one of them did."""
    differ = [f"{key} {a.topology.get(key)} and {b.topology.get(key)}" for key in SHAPE
              if a.topology.get(key) != b.topology.get(key)]
    if differ:
        raise InvalidArgument(f"runs {a.id} and {b.id} ran on clusters of different shapes "
                              f"({'; '.join(differ)}): compare runs of one topology")
    if a.settings != b.settings:
        raise InvalidArgument(f"runs {a.id} and {b.id} used different workload sizes (suite "
                              f"{a.suite} and {b.suite}): compare runs of one suite")
    shared = [name for name in a.results if name in b.results]
    if not shared:
        raise InvalidArgument(f"runs {a.id} and {b.id} have no workload in common "
                              f"({', '.join(a.results)} and {', '.join(b.results)})")
    changes = stats.across([stats.change(a.results[name].throughputs,
                                         b.results[name].throughputs, alpha)
                            for name in shared], alpha)
    rows = [Row(name, a.results[name].unit, change) for name, change in zip(shared, changes)]
    return rows, sorted(set(a.results) ^ set(b.results))


def regressions(rows: list[Row], threshold: float = stats.THRESHOLD) -> list[Row]:
    return [row for row in rows if row.change.regressed(threshold)]
