"""The `mooseng` CLI against an in-process cluster: tables, --json, one-line errors, bench."""

import json

import pytest

from conftest import CHUNK_SIZE
from mooseng.cli.main import main


@pytest.fixture
def run(cluster, capsys):
    """run(*args) -> (exit code, stdout, stderr) of `mooseng --master <cluster> ARGS`."""
    def run(*args):
        code = main(["--master", cluster.master_address, "--timeout", "10", *args])
        captured = capsys.readouterr()
        return code, captured.out, captured.err
    return run


def run_json(run, *args):
    code, out, err = run(*args, "--json")
    assert code == 0, err
    return json.loads(out)


def test_chunkservers_table_and_json(run):
    code, out, err = run("chunkservers")
    assert code == 0 and err == ""
    header, *rows = out.splitlines()
    assert header.split() == ["ID", "ADDRESS", "STATE", "LABELS", "CAPACITY", "USED", "CHUNKS"]
    assert len(rows) == 3 and all("ONLINE" in row and "FULL" not in row for row in rows)
    servers = run_json(run, "chunkservers")
    assert len(servers) == 3
    for server in servers:
        assert set(server) >= {"id", "address", "labels", "state", "capacity", "used",
                               "chunk_count", "full"}
        assert server["state"] == "online" and server["labels"]["rack"].startswith("r")
        assert server["full"] is False


def test_status(run):
    status = run_json(run, "status")
    assert status["servers_by_state"]["online"] == 3
    for key in ("chunks_undergoal", "chunks_overgoal", "chunks_missing", "health"):
        assert key in status
    code, out, _ = run("status")
    assert code == 0 and "Under goal:" in out and "3 online" in out


def test_file_commands(run, tmp_path):
    local = tmp_path / "in.bin"
    local.write_bytes(bytes(range(256)) * (CHUNK_SIZE // 256 * 2 + 3))
    assert run("fs", "mkdir", "-p", "/cli/a/b")[0] == 0
    code, out, err = run("fs", "put", str(local), "/cli/a/file.bin", "--goal", "2")
    assert code == 0 and "/cli/a/file.bin" in out
    stat = run_json(run, "fs", "stat", "/cli/a/file.bin")
    assert stat["size"] == local.stat().st_size and stat["goal"] == 2
    assert len(stat["chunks"]) == 3
    for chunk in stat["chunks"]:
        assert {"chunk_id", "version", "servers"} <= set(chunk) and len(chunk["servers"]) == 2
    code, out, _ = run("fs", "stat", "/cli/a/file.bin")
    assert "CHUNK ID" in out and "Goal:" in out
    assert run("fs", "get", "/cli/a/file.bin", str(tmp_path / "out.bin"))[0] == 0
    assert (tmp_path / "out.bin").read_bytes() == local.read_bytes()
    names = [e["name"] for e in run_json(run, "fs", "ls", "/cli/a")]
    assert names == ["b", "file.bin"]
    code, out, _ = run("fs", "ls", "-l", "/cli/a")
    assert out.splitlines()[0].split() == ["TYPE", "GOAL", "SIZE", "MODIFIED", "NAME"]
    assert run("fs", "put", str(local), "/cli/a/b")[0] == 0          # into a directory, like cp
    assert run_json(run, "fs", "stat", "/cli/a/b/in.bin")["size"] == local.stat().st_size
    assert run("fs", "get", "/cli/a/b/in.bin", str(tmp_path / "no" / "x"))[0] == 1
    (tmp_path / "sub").mkdir()
    assert run("fs", "get", "/cli/a/b/in.bin", str(tmp_path / "sub"))[0] == 0
    assert (tmp_path / "sub" / "in.bin").read_bytes() == local.read_bytes()
    assert run("fs", "setgoal", "1", "/cli/a", "-r")[0] == 0
    assert run_json(run, "fs", "stat", "/cli/a/file.bin")["goal"] == 1
    assert run("fs", "mv", "/cli/a/file.bin", "/cli/moved.bin")[0] == 0
    assert run("fs", "rm", "-r", "/cli/a")[0] == 0
    assert [e["name"] for e in run_json(run, "fs", "ls", "/cli")] == ["moved.bin"]


@pytest.mark.parametrize("args,fragment", [
    (["fs", "stat", "/no/such"], "mooseng fs ls"),
    (["fs", "mkdir", "/missing/parent"], "mkdir -p"),
    (["fs", "put", "/nonexistent/local/file", "/x"], "/nonexistent/local/file"),
    (["fs", "setgoal", "9", "/"], "add chunk servers"),
    (["fs", "mkdir", "/" + "n" * 256], "255"),
])
def test_errors_are_one_line_on_stderr(run, args, fragment):
    code, out, err = run(*args)
    assert code == 1 and out == ""
    assert len(err.strip().splitlines()) == 1, err
    assert err.startswith("mooseng: error: ") and fragment in err and "Traceback" not in err


def test_non_empty_directory_hints_at_r(run):
    run("fs", "mkdir", "-p", "/full/x")
    code, _, err = run("fs", "rm", "/full")
    assert code == 1 and "-r" in err


def test_bench_reports_numbers_and_cleans_up(run):
    code, out, err = run("bench", "--size", "1MiB", "--files", "20", "--file-size", "4KiB",
                         "--json")
    assert code == 0, err
    result = json.loads(out)
    assert result["write"]["mb_per_s"] > 0 and result["read"]["mb_per_s"] > 0
    assert result["small_files"]["files"] == 20 and result["small_files"]["files_per_s"] > 0
    assert "writing" in err and "removing" in err            # progress lines on stderr
    names = [e["name"] for e in run_json(run, "fs", "ls", "/")]
    assert not [n for n in names if n.startswith(".mooseng-bench")]


def test_bench_cache_settings_per_kind():
    from mooseng.cli.main import _cache_settings, build_parser

    args = build_parser().parse_args(["bench", "--cache", "attr=0", "--cache", "dir=1.5",
                                      "--cache-entries", "50"])
    settings = _cache_settings(args)
    assert (settings.attr_ttl, settings.dir_ttl, settings.negative_ttl) == (0.0, 1.5, 2.0)
    assert settings.entries == 50


@pytest.mark.parametrize("value,fragment", [
    ("attr=-1", "0 (off) or more"), ("inodes=5", "one of attr, dir, negative, chunks"),
    ("attr", "KIND=SECONDS"), ("dir=soon", "not a number"), ("attr=nan", "0 (off) or more"),
])
def test_bad_cache_settings_are_one_usage_line_and_exit_2(capsys, value, fragment):
    with pytest.raises(SystemExit) as exit_:
        main(["bench", "--cache", value])
    err = capsys.readouterr().err
    assert exit_.value.code == 2
    assert err.splitlines()[-1].startswith("mooseng bench: error: argument --cache: ")
    assert fragment in err.splitlines()[-1]


@pytest.mark.parametrize("args, fragment", [
    (["--consistency", "linearizable"], "argument --consistency: invalid choice: "
                                        "'linearizable' (choose from 'strong', 'bounded'"),
    (["--consistency", "bounded", "--staleness-bound", "-1"],
     "a staleness bound must be more than 0 seconds (got -1)"),
])
def test_a_bad_consistency_level_or_bound_is_one_usage_line_and_exit_2(capsys, args, fragment):
    with pytest.raises(SystemExit) as exit_:
        main([*args, "status"])
    assert exit_.value.code == 2
    assert fragment in capsys.readouterr().err.splitlines()[-1]


def test_cache_stats_and_drop_of_a_running_client(run, cluster):
    """A long-running client serving its metrics: `mooseng cache stats` shows what its cache
    did, `mooseng cache drop` empties it."""
    from conftest import wait_for

    client = cluster.client(metrics_port=0)
    wait_for(lambda: client.cache_stats()["live"], "the client's cache to hear the master")
    client.write_bytes("/cached.bin", b"abc")
    for _ in range(3):
        client.stat("/cached.bin")
    stats = run_json(run, "cache", "stats", "--client", client.metrics_address)
    # entries and invalidations move with the master's events (a chunk server's heartbeat);
    # the lookups' counts do not
    assert set(stats) == {"client", "entries", "invalidations", "evictions", "kinds"}
    assert stats["client"] == client.metrics_address and stats["evictions"] == 0
    assert stats["kinds"] == client.cache_stats()["kinds"]
    assert stats["kinds"]["attr"]["hits"] >= 2 and stats["entries"] > 0
    code, out, err = run("cache", "stats", "--client", client.metrics_address)
    assert code == 0 and out.splitlines()[0].split() == ["KIND", "HITS", "MISSES", "HIT",
                                                         "RATIO"]
    dropped = run_json(run, "cache", "drop", "--client", client.metrics_address)
    assert dropped["dropped"] >= 1 and client.cache_stats()["entries"] == 0


def test_cache_stats_of_no_client_is_one_line_with_what_to_do(run):
    code, out, err = run("cache", "stats", "--client", "127.0.0.1:1")
    assert code == 1 and out == ""
    assert err.startswith("mooseng: error: cannot reach the client's metrics at 127.0.0.1:1")
    assert "--metrics-port" in err and len(err.splitlines()) == 1


def test_storage_class_commands_print_readable_tables(run):
    """The shared cluster's chunk servers carry rack=r0, r1, r2."""
    code, out, err = run("class", "list")
    assert code == 0 and out.startswith("no storage classes")
    code, out, err = run("class", "create", "spread", "rack=r0", "rack=r1",
                         "--archive-to", "spread2", "--archive-after", "7d")
    assert code == 1 and "no storage class 'spread2'" in err and len(err.splitlines()) == 1
    assert run("class", "create", "spread2", "2*")[0] == 0
    code, out, err = run("class", "create", "spread", "rack=r0", "rack=r1",
                         "--archive-to", "spread2", "--archive-after", "7d")
    assert code == 0 and "1*rack=r0 + 1*rack=r1, archive to spread2 after 7d" in out
    code, out, _ = run("class", "list")
    header, *rows = out.splitlines()
    assert header.split() == ["NAME", "COPIES", "PLACEMENT", "ARCHIVE", "USED", "BY"]
    assert rows[0].split()[:3] == ["spread", "2", "1*rack=r0"]
    run("fs", "mkdir", "-p", "/classes")
    assert run("fs", "setclass", "spread", "/classes")[0] == 0
    run("fs", "put", __file__, "/classes/source.py")
    code, out, _ = run("admin", "placement", "/classes/source.py")
    assert code == 0 and "Storage class:  spread" in out and "AT GOAL" in out
    assert {line.split()[-1] for line in out.splitlines()[4:]} >= {"rack=r0", "rack=r1"}
    code, out, err = run("class", "delete", "spread2")
    assert code == 1 and "in use by 1 " in err and "`mooseng fs setclass`" in err
