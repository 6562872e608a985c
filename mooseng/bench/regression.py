"""Comparing benchmark runs: per workload, how the throughput moved and whether that is
significant, the workloads of one comparison judged together (so more workloads do not mean
more false alarms). A regression must also lie outside the spread of the baseline's own history,
since whole runs drift more than one run's repetitions vary. Runs on clusters of different
shapes, or with different workload sizes, are refused rather than compared."""

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
    history_p: float | None = None    # stats.below_history of the later run, adjusted across
                                      # workloads; None: too few runs of history to judge by


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


def check(base: Run, later: Run, runs: list[Run], alpha: float = stats.ALPHA) -> list[Row]:
    """`compare`'s rows of base -> later, each with how unusual `later` is for the history of
    `base`: the base and the runs stored before it (`runs`, oldest first) of its shape and
    suite, the newest stats.HISTORY of them."""
    rows, _ = compare(base, later, alpha)
    known = [r for r in runs[:[r.id for r in runs].index(base.id) + 1]
             if r.settings == base.settings
             and all(r.topology.get(key) == base.topology.get(key) for key in SHAPE)]
    history = {row.workload: [stats.median(r.results[row.workload].throughputs)
                              for r in known if row.workload in r.results][-stats.HISTORY:]
               for row in rows}
    judged = [row.workload for row in rows if len(history[row.workload]) >= stats.HISTORY_MIN]
    ps = stats.adjusted([stats.below_history(history[name],
                                             stats.median(later.results[name].throughputs))
                         for name in judged]) if judged else []
    found = dict(zip(judged, ps))
    return [dataclasses.replace(row, history_p=found.get(row.workload)) for row in rows]


def regressions(rows: list[Row], threshold: float = stats.THRESHOLD,
                alpha: float = stats.ALPHA) -> list[Row]:
    """At least `threshold` % slower, and significantly: against the baseline's history where
    there is enough of it (it holds the drift between runs that the repetitions of two runs
    do not show), else over the two runs' repetitions."""
    return [row for row in rows if (row.change.regressed(threshold) if row.history_p is None
                                    else -row.change.percent >= threshold
                                    and row.history_p < alpha)]
