"""`mooseng bench run` against an in-process cluster, its stored results (SQLite), comparisons
with their significance, regression checks, and bad databases and arguments."""

import dataclasses
import json
import sqlite3

import pytest

from mooseng.bench import stats, suite
from mooseng.bench.store import SCHEMA_VERSION, ResultStore
from mooseng.cli.main import main

QUICK = ["--workload", "small_files", "--workload", "metadata", "--repeat", "3"]


TINY = suite.Sizes(large=2 * suite.MiB, random_reads=20, small_files=10, metadata=4, clients=2,
                   mixed_ops=6)


@pytest.fixture
def bench(cluster, capsys, tmp_path, monkeypatch):
    """bench(*args) -> (exit code, stdout, stderr) of `mooseng bench ARGS --db <tmp>`, with
    the quick suite made tiny: what is measured does not matter here, only what is kept."""
    monkeypatch.setitem(suite.SUITES, "quick", TINY)
    db = str(tmp_path / "results" / "bench.db")

    def run(*args):
        code = main(["--master", cluster.master_address, "--timeout", "10", "bench", *args,
                     "--db", db])
        captured = capsys.readouterr()
        return code, captured.out, captured.err
    run.db = db
    return run


def stored(bench, *args) -> dict:
    code, out, err = bench("run", *QUICK, *args, "--json")
    assert code == 0, err
    return json.loads(out)


def test_a_run_is_stored_with_every_statistic_and_its_files_removed(bench, cluster):
    from mooseng.client import Client

    record = stored(bench)
    assert set(record["results"]) == {"small_files", "metadata"}
    small = record["results"]["small_files"]
    assert small["unit"] == "files/s" and len(small["throughputs"]) == 3
    assert set(small["latency"]) == {"count", "mean", "stdev", "min", "max", "p50", "p90",
                                     "p95", "p99", "p99_9"}
    assert small["latency"]["count"] == 3 * TINY.small_files
    assert record["topology"] == {"masters": 1, "chunkservers": 3, "goal": 2,
                                  "chunk_size": record["topology"]["chunk_size"]}
    assert record["machine"]["cores"] >= 1 and record["git_commit"]
    client = Client(cluster.master_address)
    try:
        assert not [e for e in client.listdir("/") if e.name.startswith(".mooseng-bench")]
    finally:
        client.close()
    code, out, _ = bench("show", str(record["id"]))
    assert code == 0 and "P99.9" in out and "small_files" in out and "3 repetitions" in out
    code, out, _ = bench("list")
    assert code == 0 and out.splitlines()[1].split()[0] == str(record["id"])


def test_every_workload_runs_and_reads_back_what_it_wrote(bench):
    record = stored(bench, "--workload", "seq_write", "--workload", "seq_read",
                    "--workload", "random_read", "--workload", "mixed", "--repeat", "1")
    results = record["results"]
    assert set(results) == set(suite.WORKLOADS)
    assert results["seq_read"]["unit"] == "MB/s" and results["seq_read"]["throughputs"][0] > 0
    assert results["random_read"]["latency"]["count"] == TINY.random_reads
    assert results["mixed"]["latency"]["count"] == TINY.clients * TINY.mixed_ops


def test_a_warm_up_repetition_runs_first_and_is_not_counted(bench):
    code, out, err = bench("run", "--workload", "small_files", "--repeat", "1", "--json")
    assert code == 0, err
    lines = [line for line in err.splitlines() if ": small_files " in line]
    assert [line.split(":")[0] for line in lines] == ["warm-up, not counted", "repetition 1/1"]
    result = json.loads(out)["results"]["small_files"]
    assert len(result["throughputs"]) == 1 and result["latency"]["count"] == TINY.small_files


def test_two_runs_compare_per_workload_and_check_against_the_baseline(bench):
    first, second = stored(bench), stored(bench)
    code, out, _ = bench("compare", str(first["id"]), str(second["id"]), "--json")
    rows = {row["workload"]: row for row in json.loads(out)["workloads"]}
    assert code == 0 and set(rows) == {"small_files", "metadata"}
    assert all(row["verdict"] == "inconclusive" for row in rows.values())   # 3 and 3
    assert bench("check")[0] == 1                                           # no baseline yet
    assert bench("baseline", "set", str(first["id"]))[0] == 0
    code, out, err = bench("check")
    assert code == 0 and "no regression" in out, out + err


def test_a_significant_slowdown_is_a_regression_and_noise_is_not():
    base = [100, 102, 98, 101, 99]
    assert stats.change(base, [85, 86, 84, 87, 83]).regressed()
    assert not stats.change(base, [99, 101, 100, 98, 102]).regressed()
    assert not stats.change(base, [95, 97, 94, 96, 93]).regressed()        # slower, under 10 %
    assert stats.change(base, [95, 97, 94, 96, 93]).regressed(threshold=3)


def test_check_exits_1_naming_the_regressed_workload(bench):
    measured = stored(bench)
    with ResultStore(bench.db) as store:      # steady numbers, then 30 % slower in one workload
        ids = []
        for factor in (1.0, 0.7):
            run = store.get(measured["id"])
            run.id = None
            run.results["small_files"].throughputs = [100.0, 101.0, 99.0, 102.0, 98.0]
            run.results["metadata"].throughputs = [factor * v for v in (50.0, 51.0, 49.0, 52.0,
                                                                        48.0)]
            ids.append(store.add(run))
    code, out, _ = bench("check", "--baseline", str(ids[0]), str(ids[1]))
    assert code == 1
    assert "REGRESSION metadata: 30.0% slower" in out and "REGRESSION small_files" not in out
    assert bench("check", "--baseline", str(ids[0]), str(ids[1]), "--threshold", "31")[0] == 0


def test_a_drop_within_the_baselines_history_is_noise_and_one_beyond_it_regresses(bench):
    """Run medians 100, 88, 110, 92, 106: the baseline (106) to a run at 93 is 12 % slower and
    significant over the repetitions, yet such runs came before; a run at 60 did not. The
    measured run, of another cluster shape, is not part of the history."""
    measured = stored(bench)
    with ResultStore(bench.db) as store:
        ids = []
        for level in (100, 88, 110, 92, 106, 93, 60):
            run = store.get(measured["id"])
            run.id = None
            run.topology["chunkservers"] = 5
            for result in run.results.values():
                result.throughputs = [level + d for d in (-2.0, -1.0, 0.0, 1.0, 2.0)]
            ids.append(store.add(run))
    code, out, _ = bench("check", "--baseline", str(ids[4]), str(ids[5]))
    assert code == 0 and "no regression" in out, out
    assert "HISTORY P" in out and "12.3% slower" not in out
    code, out, _ = bench("check", "--baseline", str(ids[4]), str(ids[6]), "--json")
    verdict = json.loads(out)
    assert code == 1 and verdict["regressed"] == ["small_files", "metadata"]
    assert all(row["history_p"] < stats.ALPHA for row in verdict["workloads"])


def test_without_enough_history_the_baseline_alone_judges(bench):
    measured = stored(bench)
    with ResultStore(bench.db) as store:
        ids = []
        for level in (106, 93):
            run = store.get(measured["id"])
            run.id = None
            for result in run.results.values():
                result.throughputs = [level + d for d in (-2.0, -1.0, 0.0, 1.0, 2.0)]
            ids.append(store.add(run))
    code, out, _ = bench("check", "--baseline", str(ids[0]), str(ids[1]))
    assert code == 1 and "REGRESSION small_files: 12.3% slower" in out
    assert f"fewer than {stats.HISTORY_MIN} runs" in out


def test_how_unusual_a_run_is_for_its_history():
    history = [100.0, 88.0, 110.0, 92.0, 106.0]
    assert 0.05 < stats.below_history(history, 90.0) < 0.5
    assert stats.below_history(history, 60.0) < 0.01
    assert stats.below_history(history, 120.0) > 0.8
    assert stats.below_history([50.0] * 5, 49.0) == 0.0
    assert stats.below_history([50.0] * 5, 50.0) == 1.0


def test_export_csv_and_json(bench):
    record = stored(bench)
    code, out, _ = bench("export", "--format", "csv")
    lines = out.splitlines()
    assert code == 0 and lines[0].startswith("run,started,suite")
    assert len(lines) == 1 + 2 * 3 and lines[1].split(",")[0] == str(record["id"])
    code, out, _ = bench("export", "--format", "json")
    assert json.loads(out)[0]["results"]["metadata"]["throughputs"]


def test_runs_of_different_sizes_or_shapes_are_not_compared(bench):
    quick = stored(bench)
    with ResultStore(bench.db) as store:
        other = store.get(quick["id"])
        other.id, other.topology = None, dict(other.topology, chunkservers=5)
        shaped = store.add(other)
    code, _, err = bench("compare", str(quick["id"]), str(shaped))
    assert code == 1 and "clusters of different shapes (chunkservers 3 and 5)" in err


def test_a_missing_or_foreign_database_is_one_line_and_left_alone(bench, tmp_path):
    code, _, err = bench("list")
    assert code == 1 and "no benchmark database at" in err and "mooseng bench run" in err
    junk = tmp_path / "results" / "bench.db"
    junk.parent.mkdir(parents=True, exist_ok=True)
    junk.write_bytes(b"not a database at all, but precious" * 200)
    for args in (["list"], ["run", *QUICK]):
        code, _, err = bench(*args)
        assert code == 1 and len(err.strip().splitlines()) == 1
        assert "is not a benchmark database" in err and "left as it is" in err
    assert junk.read_bytes() == b"not a database at all, but precious" * 200
    junk.unlink()
    other = sqlite3.connect(junk)
    other.execute("CREATE TABLE accounts (id INTEGER)")
    other.commit()
    other.close()
    code, _, err = bench("list")
    assert code == 1 and "SQLite database of something else (tables accounts)" in err


def test_a_database_of_a_newer_mooseng_is_refused(bench, tmp_path):
    path = tmp_path / "results" / "bench.db"
    path.parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(path)
    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    db.close()
    code, _, err = bench("list")
    assert code == 1 and f"schema version {SCHEMA_VERSION + 1}" in err


@pytest.mark.parametrize("args, complaint", [
    (["run", "--workload", "nosuch"], "invalid choice: 'nosuch'"),
    (["run", "--repeat", "0"], "must be at least 1"),
    (["check", "--threshold", "0"], "a percentage between 0 and 100"),
])
def test_bad_arguments_are_one_usage_line_and_exit_2(bench, capsys, args, complaint):
    with pytest.raises(SystemExit) as exited:
        bench(*args)
    assert exited.value.code == 2 and complaint in capsys.readouterr().err


def test_ctrl_c_removes_the_files_and_stores_nothing(bench, cluster, monkeypatch):
    from mooseng.client import Client

    calls = []

    def interrupted(ctx):
        calls.append(ctx.directory)
        raise KeyboardInterrupt

    monkeypatch.setitem(suite.WORKLOADS, "metadata",
                        dataclasses.replace(suite.WORKLOADS["metadata"], run=interrupted))
    code, _, err = bench("run", *QUICK)
    assert code == 130 and calls
    client = Client(cluster.master_address)
    try:
        assert not [e for e in client.listdir("/") if e.name.startswith(".mooseng-bench")]
    finally:
        client.close()
    assert bench("list")[1].strip() == "no runs stored"


def test_too_few_repetitions_for_significance_are_inconclusive():
    """1 against 39 repetitions: p is 2/40 = 0.05 at best, never below it."""
    assert stats.change([10.0], [float(v) for v in range(1, 40)]).verdict == "inconclusive"
    assert stats.change([1.0, 2.0, 3.0], [7.0, 8.0, 9.0]).verdict == "inconclusive"
    assert stats.change([1.0, 2.0, 3.0, 4.0], [7.0, 8.0, 9.0, 10.0]).verdict == "faster"


def test_the_workloads_of_one_comparison_are_judged_together():
    """p = 0.03 alone is significant; as the strongest of six workloads of which the others
    did not move it is not (Benjamini-Hochberg: 0.03 * 6 / 1)."""
    base = [100.0, 101, 99, 102, 98, 100.5, 99.5, 101.5, 98.5, 100]
    slower = [v * 0.88 for v in base[:7]] + [101, 102, 99.5]
    alone = stats.change(base, slower)
    assert alone.verdict == "slower" and alone.p_value < 0.05
    same = stats.change(base, list(reversed(base)))
    together = stats.across([alone] + [same] * 5)
    assert together[0].verdict == "unchanged" and together[0].p_value > alone.p_value
    strong = stats.change(base, [v * 0.85 for v in base])
    assert stats.across([strong] + [same] * 5)[0].verdict == "slower"


@pytest.mark.parametrize("verdict, history_p, regressed", [
    ("unchanged", 0.01, True),      # beyond the history's spread: the repetitions do not decide
    ("slower", 0.20, False),        # significant over the repetitions, yet within the drift
    ("slower", None, True),         # no history: the repetitions decide
    ("unchanged", None, False),
])
def test_with_a_history_its_spread_decides_significance(verdict, history_p, regressed):
    from mooseng.bench import regression

    change = stats.Change(before=100.0, after=85.0, percent=-15.0, p_value=0.03,
                          verdict=verdict)
    rows = [regression.Row("small_files", "files/s", change, history_p)]
    assert bool(regression.regressions(rows)) is regressed
    assert not regression.regressions(rows, threshold=16)
