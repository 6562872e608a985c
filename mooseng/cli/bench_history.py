"""`mooseng bench run|list|show|compare|trends|baseline|check|export`: the benchmark suite
(mooseng/bench/suite.py) and its stored results (mooseng/bench/store.py)."""

from __future__ import annotations

import csv
import io
import json
import os
import secrets
import sys
import time

import mooseng
from mooseng.bench import history, provenance, regression, stats, suite
from mooseng.bench.history import MS
from mooseng.bench.store import ResultStore, Run, WorkloadResult, default_path
from mooseng.client import Client
from mooseng.client.cache import CacheSettings
from mooseng.common.errors import InvalidArgument

from .format import human_size, human_time, pairs, table
from .output import Output


def _progress(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def _store(args, create: bool = False) -> ResultStore:
    return ResultStore(args.db or default_path(), create=create)


def run(client: Client, args) -> Output:
    workloads = suite.select(args.workload)
    sizes = suite.SUITES[args.suite]
    directory = f"/.mooseng-bench-{os.getpid()}-{secrets.token_hex(3)}"
    status = client.status()
    with _store(args, create=True) as store:      # a bad database stops us before any work
        started = time.time()
        _progress(f"benchmark suite {args.suite}: {', '.join(w.name for w in workloads)}, "
                  f"{args.repeat} repetitions, in {directory}")
        found = suite.run(client, lambda: Client(args.master, timeout=client.timeout,
                                                 cache=CacheSettings.off()),
                          directory, workloads, sizes, args.repeat, args.goal, _progress)
        results = {name: WorkloadResult(name, suite.WORKLOADS[name].unit, rates,
                                        stats.summary(latencies))
                   for name, (rates, latencies) in found.items()}
        record = Run(None, started, args.suite, args.repeat, mooseng.__version__,
                     provenance.commit(), provenance.machine(),
                     provenance.topology(status, args.goal),
                     {"sizes": vars(sizes)}, results)
        store.add(record)
    text = (f"run {record.id} stored in {store.path}\n\n" + _results_table(record))
    return Output(record.as_dict(), text)


def _results_table(record: Run) -> str:
    rows = []
    for name, result in record.results.items():
        rates = result.throughputs
        latency = result.latency
        rows.append([name, f"{stats.median(rates):.1f}", result.unit,
                     f"{min(rates):.1f}-{max(rates):.1f}", f"{latency['p50'] * MS:.2f}",
                     f"{latency['p99'] * MS:.2f}", f"{latency['p99_9'] * MS:.2f}"])
    return table(["WORKLOAD", "MEDIAN", "UNIT", "RANGE", "P50 MS", "P99 MS", "P99.9 MS"], rows,
                 right={1, 3, 4, 5, 6})


def list_runs(client, args) -> Output:
    with _store(args) as store:
        runs, baseline = store.runs(), store.baseline()
    rows = [[r.id, human_time(r.started), r.suite, r.repeat, r.version, r.git_commit,
             f"{r.topology['masters']}m/{r.topology['chunkservers']}cs/goal {r.topology['goal']}",
             ", ".join(r.results), "*" if r.id == baseline else ""] for r in runs]
    text = table(["ID", "STARTED", "SUITE", "REPEAT", "VERSION", "COMMIT", "CLUSTER",
                  "WORKLOADS", "BASELINE"], rows, right={0, 3}) if runs else "no runs stored"
    return Output([dict(r.as_dict(), baseline=r.id == baseline) for r in runs], text)


def show(client, args) -> Output:
    with _store(args) as store:
        record = store.get(args.id)
    t, m = record.topology, record.machine
    head = pairs([("Run", record.id), ("Started", human_time(record.started)),
                  ("Suite", f"{record.suite}, {record.repeat} repetitions"),
                  ("MooseNG", f"{record.version} (commit {record.git_commit})"),
                  ("Cluster", f"{t['masters']} masters, {t['chunkservers']} chunk servers, "
                              f"goal {t['goal']}, chunks of {human_size(t['chunk_size'])}"),
                  ("Machine", f"{m['cores']} cores, {human_size(m['memory_bytes'])}, "
                              f"{m['platform']}")])
    rows = [[name, r.unit, " ".join(f"{v:.1f}" for v in r.throughputs), r.latency["count"],
             *(f"{r.latency[k] * MS:.2f}" for k in ("mean", "stdev", "min", "max", "p50", "p90",
                                                     "p95", "p99", "p99_9"))]
            for name, r in record.results.items()]
    latency = table(["WORKLOAD", "UNIT", "THROUGHPUT PER REPETITION", "OPS", "MEAN", "STDEV",
                     "MIN", "MAX", "P50", "P90", "P95", "P99", "P99.9"], rows,
                    right=set(range(3, 13)))
    return Output(record.as_dict(), f"{head}\n\nlatency of one operation, in ms:\n{latency}")


def _comparison(rows: list[regression.Row], history: bool = False) -> str:
    return table(["WORKLOAD", "UNIT", "BEFORE", "AFTER", "CHANGE", "P", "VERDICT"]
                 + ["HISTORY P"] * history,
                 [[r.workload, r.unit, f"{r.change.before:.1f}", f"{r.change.after:.1f}",
                   f"{r.change.percent:+.1f}%", f"{r.change.p_value:.3f}", r.change.verdict]
                  + ["-" if r.history_p is None else f"{r.history_p:.3f}"] * history
                  for r in rows], right={2, 3, 4, 5, 7})


def _rows_data(rows: list[regression.Row]) -> list[dict]:
    return [{"workload": r.workload, "unit": r.unit, **vars(r.change),
             **({} if r.history_p is None else {"history_p": r.history_p})} for r in rows]


def compare(client, args) -> Output:
    with _store(args) as store:
        a, b = store.get(args.a), store.get(args.b)
    rows, only = regression.compare(a, b)
    text = f"run {a.id} -> run {b.id} (median throughput of the repetitions; Mann-Whitney U)\n"
    text += _comparison(rows)
    if only:
        text += f"\nmeasured in one run only: {', '.join(only)}"
    return Output({"a": a.id, "b": b.id, "workloads": _rows_data(rows), "one_run_only": only},
                  text)


def trends(client, args) -> Output:
    with _store(args) as store:
        points = history.trend(store.runs(args.workload), args.workload)
    if not points:
        raise InvalidArgument(f"no stored run measured {args.workload!r}: workloads are "
                              f"{', '.join(suite.WORKLOADS)}")
    rows = [[p["run"], human_time(p["started"]), p["suite"], p["commit"],
             f"{p['median']:.1f} {p['unit']}", f"{p['p99_ms']:.2f}"] for p in points]
    return Output(points, table(["RUN", "STARTED", "SUITE", "COMMIT", "MEDIAN", "P99 MS"],
                                rows, right={0, 4, 5}))


def baseline_set(client, args) -> Output:
    with _store(args) as store:
        store.set_baseline(args.id)
    return Output({"baseline": args.id}, f"run {args.id} is the baseline")


def check(client, args) -> Output:
    """The newest run (or RUN) against the baseline: exit 1 naming every workload that got
    slower than the threshold, significantly."""
    with _store(args) as store:
        base_id = args.baseline or store.baseline()
        if base_id is None:
            raise InvalidArgument(f"no baseline in {store.path}: `mooseng bench baseline set "
                                  "ID` or give --baseline ID")
        runs = store.runs()
        newest = args.run or (runs[-1].id if runs else None)
        if newest is None or newest == base_id:
            raise InvalidArgument(f"no run newer than the baseline {base_id} to check: run "
                                  "`mooseng bench run` first")
        base, latest = store.get(base_id), store.get(newest)
    rows = regression.check(base, latest, runs)
    regressed = regression.regressions(rows, args.threshold)
    lines = [f"run {latest.id} against baseline run {base.id} (regression: at least "
             f"{args.threshold:g}% slower and below the spread of the baseline and up to "
             f"{stats.HISTORY - 1} runs before it, HISTORY P < {stats.ALPHA})",
             _comparison(rows, history=True)]
    if any(r.history_p is None for r in rows):
        lines.append(f"HISTORY P -: fewer than {stats.HISTORY_MIN} runs of the baseline's "
                     f"topology and suite so far; judged by P < {stats.ALPHA} over the two "
                     "runs' repetitions instead")
    lines += [f"REGRESSION {r.workload}: {-r.change.percent:.1f}% slower "
              f"({r.change.before:.1f} -> {r.change.after:.1f} {r.unit}, "
              f"p = {r.change.p_value:.3f}"
              + ("" if r.history_p is None else f", history p = {r.history_p:.3f}") + ")"
              for r in regressed]
    lines.append("no regression" if not regressed else f"{len(regressed)} regressed")
    return Output({"baseline": base.id, "run": latest.id, "threshold_percent": args.threshold,
                   "workloads": _rows_data(rows),
                   "regressed": [r.workload for r in regressed]}, "\n".join(lines),
                  exit_code=1 if regressed else 0)


def export(client, args) -> Output:
    with _store(args) as store:
        runs = store.runs()
    if args.format == "json":
        return Output([r.as_dict() for r in runs], json.dumps([r.as_dict() for r in runs],
                                                              indent=2))
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["run", "started", "suite", "version", "commit", "masters", "chunkservers",
                     "goal", "workload", "unit", "repetition", "throughput", "latency_p50_s",
                     "latency_p99_s"])
    for r in runs:
        for name, result in r.results.items():
            for number, value in enumerate(result.throughputs, 1):
                writer.writerow([r.id, r.started, r.suite, r.version, r.git_commit,
                                 r.topology["masters"], r.topology["chunkservers"],
                                 r.topology["goal"], name, result.unit, number, value,
                                 result.latency["p50"], result.latency["p99"]])
    return Output(out.getvalue(), out.getvalue().rstrip("\n"))
