"""The benchmark workloads shared by `mooseng bench` and bench_vs_moosefs.py: options, names,
and a tiny run against a temp directory and against the in-process cluster."""

import argparse
import os

import pytest

from mooseng.bench import workloads
from mooseng.bench.targets import DirectoryTarget, MooseNGTarget

TINY = workloads.Settings(size=3 * 1024 * 1024 + 5, files=12, file_size=4096, threads=1,
                          writers=3)


def parse(*argv):
    parser = argparse.ArgumentParser()
    workloads.add_options(parser)
    return parser.parse_args(argv)


def test_options_default_to_the_documented_workloads():
    assert workloads.Settings.from_args(parse()) == workloads.Settings(
        size=512 * 1024 * 1024, files=1000, file_size=4096, threads=1, writers=8, cold=False)
    args = parse("--size", "64MiB", "--files", "200", "--writers", "0")
    assert (args.size, args.files, args.writers) == (64 * 1024 * 1024, 200, 0)


@pytest.mark.parametrize("argv", [["--size", "lots"], ["--threads", "0"], ["--files", "-1"],
                                  ["--writers", "x"]])
def test_bad_option_values_are_usage_errors(argv, capsys):
    with pytest.raises(SystemExit) as exit_info:
        parse(*argv)
    assert exit_info.value.code == 2 and argv[0] in capsys.readouterr().err


def test_plan_follows_the_settings():
    keys = lambda s: [w.key for w in workloads.planned(s)]  # noqa: E731
    assert keys(TINY) == ["write", "read", "small_files", "small_files_concurrent"]
    assert keys(workloads.Settings(size=0, writers=0)) == ["small_files"]
    assert keys(workloads.Settings(files=0)) == ["write", "read"]


def test_labels_name_size_count_and_writers():
    settings = workloads.Settings(cold=True)
    assert [workloads.label(w, settings) for w in workloads.planned(settings)] == [
        "Sequential write (512.0 MiB)", "Sequential read, cold cache (512.0 MiB)",
        "Small files (1000 x 4.0 KiB, 1 writer)", "Small files (1000 x 4.0 KiB, 8 writers)"]
    assert workloads.label(workloads.READ, workloads.Settings()) == "Sequential read (512.0 MiB)"


def check_results(results: dict, settings: workloads.Settings) -> None:
    assert list(results) == [w.key for w in workloads.planned(settings)]
    for workload in workloads.planned(settings):
        result = results[workload.key]
        assert result[workload.field] > 0
        # the rate is the amount over the time, within the rounding of both (seconds to 1 ms)
        amount = result["bytes"] / workloads.MB if "bytes" in result else result["files"]
        fastest = amount / max(result["seconds"] - 0.0005, 1e-9)
        slowest = amount / (result["seconds"] + 0.0005)
        assert slowest - 0.05 <= result[workload.field] <= fastest + 0.05, (workload.key, result)
    assert results["write"]["bytes"] == results["read"]["bytes"] == settings.size
    assert results["small_files"]["threads"] == 1
    assert results["small_files_concurrent"]["threads"] == settings.writers
    assert results["small_files_concurrent"]["files"] == settings.files


def test_run_on_a_directory_writes_fsyncs_and_cleans_up(tmp_path, monkeypatch):
    synced = []
    real_fsync = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: synced.append(fd) or real_fsync(fd))
    lines = []
    results = workloads.run(DirectoryTarget(str(tmp_path)), "/bench", TINY, lines.append)
    check_results(results, TINY)
    assert results["read"]["cache"] == "warm"
    assert len(synced) == 1 + 2 * TINY.files                 # every file, before its close
    assert list(tmp_path.iterdir()) == []                     # the directory is gone
    assert any(line.startswith("writing") for line in lines) and lines[-1] == "removing /bench"


def test_a_read_that_cannot_start_cold_says_why(tmp_path, monkeypatch):
    monkeypatch.setattr(workloads, "DROP_CACHES", str(tmp_path / "no" / "drop_caches"))
    settings = workloads.Settings(size=1024, files=0, cold=True)
    lines = []
    results = workloads.run(DirectoryTarget(str(tmp_path)), "/b", settings, lines.append)
    assert results["read"]["cache"].startswith("warm: cannot drop the page cache")
    assert any("warm cache" in line for line in lines)


def test_run_on_mooseng_leaves_nothing_behind(cluster):
    client = cluster.client()
    results = workloads.run(MooseNGTarget(client, goal=2), "/wl", TINY, lambda line: None)
    check_results(results, TINY)
    assert not client.exists("/wl")
