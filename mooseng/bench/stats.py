"""Statistics of benchmark samples and the verdict of comparing two runs, computed by numpy and
scipy (percentiles, Mann-Whitney U, Benjamini-Hochberg), never by hand."""

from __future__ import annotations

import dataclasses
import math
from typing import Sequence

import numpy as np

PERCENTILES = {"p50": 50, "p90": 90, "p95": 95, "p99": 99, "p99_9": 99.9}
ALPHA = 0.05              # significance level of a change
THRESHOLD = 10.0          # % slower than the baseline that counts as a regression by default
HISTORY = 10              # runs (the baseline and those before it) whose spread is the noise
HISTORY_MIN = 5           # fewer runs than this say too little about the spread to judge by


def summary(samples: Sequence[float]) -> dict[str, float]:
    """count, mean, standard deviation, min, max and the percentiles of `samples`."""
    values = np.asarray(samples, dtype=float)
    if values.size == 0:
        raise ValueError("no samples to summarise")
    points = np.percentile(values, list(PERCENTILES.values()))
    return {"count": int(values.size), "mean": float(values.mean()),
            "stdev": float(values.std(ddof=1)) if values.size > 1 else 0.0,
            "min": float(values.min()), "max": float(values.max()),
            **{name: float(point) for name, point in zip(PERCENTILES, points)}}


def median(values: Sequence[float]) -> float:
    """The one median of a run's repetitions: in tables, trends and comparisons alike."""
    return float(np.median(np.asarray(values, dtype=float)))


@dataclasses.dataclass(frozen=True)
class Change:
    """How a workload's throughput moved from run A (before) to run B (after)."""
    before: float             # median throughput of A's repetitions
    after: float              # median throughput of B's repetitions
    percent: float            # (after - before) / before, in % (negative: slower)
    p_value: float            # two-sided Mann-Whitney U over the repetitions' throughputs
                              # (adjusted for the other workloads compared with it, see across)
    verdict: str              # faster | slower | unchanged | inconclusive

    def regressed(self, threshold: float = THRESHOLD) -> bool:
        return self.verdict == "slower" and -self.percent >= threshold


def change(before: Sequence[float], after: Sequence[float], alpha: float = ALPHA) -> Change:
    """Throughputs (higher is better) of the repetitions of two runs. A change counts only when
    it is significant; with so few repetitions that even fully separated runs could not be
    (3 and 3: p is 0.1 at best), the verdict is "inconclusive"."""
    a, b = np.asarray(before, dtype=float), np.asarray(after, dtype=float)
    median_a, median_b = median(a), median(b)
    percent = (median_b - median_a) / median_a * 100.0 if median_a else 0.0
    if min(a.size, b.size) == 0 or 2 / math.comb(a.size + b.size, a.size) >= alpha:
        return Change(median_a, median_b, percent, 1.0, "inconclusive")
    from scipy.stats import mannwhitneyu      # a second or so to import: only when comparing

    p_value = float(mannwhitneyu(a, b, alternative="two-sided").pvalue)
    return _judged(Change(median_a, median_b, percent, p_value, ""), alpha)


def across(changes: Sequence[Change], alpha: float = ALPHA) -> list[Change]:
    """The changes of the workloads of one comparison, their p-values adjusted together
    (Benjamini-Hochberg): a run measures several workloads, and each one tested on its own at
    `alpha` would raise a false alarm in about one check in (1 - alpha) ** -workloads."""
    judged = [c for c in changes if c.verdict != "inconclusive"]
    if len(judged) < 2:
        return list(changes)
    ps = iter(adjusted([c.p_value for c in judged]))
    return [c if c.verdict == "inconclusive"
            else _judged(dataclasses.replace(c, p_value=next(ps)), alpha)
            for c in changes]


def below_history(history: Sequence[float], value: float) -> float:
    """How likely a run as slow as `value` is among runs like `history` (medians of earlier
    runs): the one-sided p of a prediction interval on their logarithms (Student's t, scipy).
    Between runs this machine drifts more than the repetitions of one run vary, so a
    significant change between two runs alone is not evidence enough."""
    from scipy.stats import t

    logs = np.log(np.asarray(history, dtype=float))
    if logs.max() == logs.min():
        return 0.0 if math.log(value) < logs[0] else 1.0
    spread = logs.std(ddof=1) * math.sqrt(1 + 1 / logs.size)
    return float(t.cdf((math.log(value) - logs.mean()) / spread, logs.size - 1))


def adjusted(p_values: Sequence[float]) -> list[float]:
    """p-values of the workloads of one comparison adjusted together (Benjamini-Hochberg)."""
    from scipy.stats import false_discovery_control

    return [float(p) for p in false_discovery_control(list(p_values), method="bh")]


def _judged(found: Change, alpha: float) -> Change:
    if found.p_value >= alpha:
        verdict = "unchanged"
    else:
        verdict = "faster" if found.after > found.before else "slower"
    return dataclasses.replace(found, verdict=verdict)
