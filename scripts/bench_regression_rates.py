#!/usr/bin/env python3
"""`make bench-regression-rates`: how well `mooseng bench check` tells a slowdown from noise on
this machine. It starts a MooseNG cluster (1 master, 3 chunk servers, goal 2, processes on
loopback), runs `mooseng bench run` once to warm it up, then HISTORY_MIN - 1 times to give the
first baseline a history, then RUNS times, all unchanged, and judges with the same code as
`bench check` (mooseng/bench/regression.py):

- false alarms: each of the RUNS runs against the one before it as the baseline (RUNS - 1
  noise-only comparisons), the baseline's history being the runs up to it;
- detection: the same pairs with the later run's throughputs lowered by SLOWDOWN % (a slowdown
  injected into real measurements, so its size is exact).

The warm-up run is not judged: every judged run then follows the removal of a run's files, as
on any cluster in use, while the first run on a fresh cluster is measured on disks without
recently deleted files (ext4 allocates inodes faster) and would compare as a change.

Prints the false alarms and the detections out of the comparisons, per workload and per
comparison (`bench check` fails when any workload regressed). Everything it starts is stopped
and removed at the end."""

import argparse
import dataclasses
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from mooseng.bench import regression, stats, suite
from mooseng.bench.store import ResultStore
from mooseng.cli.argtypes import percent, positive
from mooseng_peer import MooseNGPeer


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="bench_regression_rates.py",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=positive, default=21, help="benchmark runs (default 21: "
                        "20 comparisons)")
    parser.add_argument("--repeat", type=positive, default=suite.DEFAULT_REPEAT,
                        help=f"repetitions per run (default {suite.DEFAULT_REPEAT})")
    parser.add_argument("--workload", action="append", choices=list(suite.WORKLOADS),
                        help="only this workload, repeatable (default: all)")
    parser.add_argument("--slowdown", type=percent, default=15.0,
                        help="injected slowdown in %% (default 15)")
    parser.add_argument("--threshold", type=percent, default=stats.THRESHOLD,
                        help=f"bench check's threshold in %% (default {stats.THRESHOLD:g})")
    parser.add_argument("--alpha", type=float, default=stats.ALPHA,
                        help=f"significance level to judge with (default {stats.ALPHA:g}, "
                             "bench check's)")
    parser.add_argument("--db", help="keep the runs in this results database (default: a "
                        "temporary one, removed at the end)")
    return parser


def main() -> int:
    args = build_parser().parse_args()
    chosen = [arg for name in args.workload or [] for arg in ("--workload", name)]
    with tempfile.TemporaryDirectory(prefix="mooseng-bench-rates-") as root:
        db = args.db or str(Path(root) / "bench.db")
        peer = MooseNGPeer(Path(root) / "cluster", lambda line: print(line, flush=True))
        try:
            peer.start()
            started = time.monotonic()
            first = stats.HISTORY_MIN - 1      # runs that only make the first baseline's history
            for number in range(first + args.runs + 1):
                done = subprocess.run(
                    [str(Path(sys.executable).parent / "mooseng"), "--master", peer.address,
                     "bench", "run", "--db", db, "--repeat", str(args.repeat), *chosen,
                     "--json"], capture_output=True, text=True)
                if done.returncode != 0:
                    print(done.stderr, file=sys.stderr)
                    return 1
                rates = {name: result["throughputs"]
                         for name, result in json.loads(done.stdout)["results"].items()}
                label = ("warm-up run" if not number else f"history run {number}/{first}"
                         if number <= first else f"run {number - first}/{args.runs}")
                print(f"{label} ({time.monotonic() - started:.0f} s): "
                      + ", ".join(f"{name} {stats.median(r):.1f}"
                                  for name, r in rates.items()), flush=True)
        finally:
            peer.stop()
        with ResultStore(db) as store:
            runs = store.runs()[-(first + args.runs):]
    report(runs, first, args.slowdown, args.threshold, args.alpha)
    return 0


def report(runs, first: int, slowdown: float, threshold: float, alpha: float) -> None:
    """Judges runs[first:], each against the one before it, with the runs before as history."""
    pairs = list(zip(runs[first:], runs[first + 1:]))
    alarms: dict[str, int] = {}
    detected: dict[str, int] = {}
    failed = {"alarms": 0, "detected": 0}
    for before, after in pairs:
        slowed = dataclasses.replace(after, results={
            name: dataclasses.replace(result, throughputs=[
                v * (1 - slowdown / 100) for v in result.throughputs])
            for name, result in after.results.items()})
        for kind, counts, later in (("alarms", alarms, after), ("detected", detected, slowed)):
            rows = regression.regressions(regression.check(before, later, runs, alpha),
                                          threshold, alpha)
            failed[kind] += bool(rows)
            for row in rows:
                counts[row.workload] = counts.get(row.workload, 0) + 1
    print(f"\n{len(pairs)} comparisons of consecutive runs ({runs[0].repeat} repetitions each; "
          f"regression: at least {threshold:g} % slower, p < {alpha:g}, below the spread of "
          f"up to {stats.HISTORY} runs up to the baseline, p < {alpha:g})")
    print(f"{'WORKLOAD':12s}  {'FALSE ALARMS':>12s}  {f'DETECTED {slowdown:g} % SLOWER':>20s}")
    for name in runs[0].results:
        print(f"{name:12s}  {alarms.get(name, 0):>7d} / {len(pairs):<3d}"
              f"  {detected.get(name, 0):>13d} / {len(pairs):<3d}")
    print(f"{'bench check':12s}  {failed['alarms']:>7d} / {len(pairs):<3d}"
          f"  {failed['detected']:>13d} / {len(pairs):<3d}  (comparisons it failed)")


if __name__ == "__main__":
    sys.exit(main())
