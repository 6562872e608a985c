"""The pure parts of scripts/bench_vs_moosefs.py and its helpers: options, the skip line, the
summary table, the choice of subnet, config files, and daemons stopped by pid."""

import ipaddress
import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))

import bench_report  # noqa: E402
import bench_vs_moosefs  # noqa: E402
import moosefs_peer  # noqa: E402
import peer_processes  # noqa: E402
from mooseng.bench import workloads  # noqa: E402

SETTINGS = workloads.Settings(size=64 * 1024 * 1024, files=200, cold=True)
SAMPLES = {"mooseng": {"write": [90.0, 100.0, 95.5], "read": [300.0, 310.0, 320.0],
                       "small_files": [40.0, 41.0, 39.0],
                       "small_files_concurrent": [120.0, 110.0, 130.0]},
           "moosefs": {"write": [150.0, 160.0, 155.0], "read": [360.0, 370.0, 365.0],
                       "small_files": [360.0, 370.0, 365.0],
                       "small_files_concurrent": [0.0, 0.0, 0.0]}}


def test_options():
    args = bench_vs_moosefs.build_parser().parse_args([])
    assert (args.rounds, args.size, args.files, args.writers, args.json) == (
        3, 512 * 1024 * 1024, 1000, 8, False)
    args = bench_vs_moosefs.build_parser().parse_args(
        ["--rounds", "2", "--size", "64MiB", "--files", "200", "--json"])
    assert (args.rounds, args.size, args.files, args.json) == (2, 64 * 1024 * 1024, 200, True)
    with pytest.raises(SystemExit):
        bench_vs_moosefs.build_parser().parse_args(["--rounds", "0"])


@pytest.mark.parametrize("root, fuse, reason", [
    (False, True, "skipped: needs root"), (True, False, "skipped: no FUSE here")])
def test_skips_with_the_reason_and_exit_code_0(monkeypatch, capsys, root, fuse, reason):
    monkeypatch.setattr(moosefs_peer.os, "geteuid", lambda: 0 if root else 1000)
    real_exists = moosefs_peer.os.path.exists
    monkeypatch.setattr(moosefs_peer.os.path, "exists",
                        lambda p: fuse if p == "/dev/fuse" else real_exists(p))
    assert bench_vs_moosefs.main([]) == 0
    assert capsys.readouterr().out.startswith(reason)


def test_summary_has_medians_extremes_and_the_ratio():
    rows = bench_report.compare(SETTINGS, SAMPLES)
    assert [row["workload"] for row in rows] == [
        "write", "read", "small_files", "small_files_concurrent"]
    write = rows[0]
    assert write["unit"] == "MB/s" and write["label"] == "Sequential write (64.0 MiB)"
    assert write["mooseng"] == {"median": 95.5, "min": 90.0, "max": 100.0,
                                "rounds": [90.0, 100.0, 95.5]}
    assert write["moosefs"]["median"] == 155.0 and write["ratio"] == round(95.5 / 155, 2)
    assert rows[2]["unit"] == "files/s" and rows[3]["ratio"] is None    # no MooseFS number
    json.dumps(rows)


def test_a_workload_missing_on_one_side_is_left_out():
    samples = {"mooseng": dict(SAMPLES["mooseng"]), "moosefs": {"write": [1.0]}}
    assert [row["workload"] for row in bench_report.compare(SETTINGS, samples)] == ["write"]


def test_table_is_aligned_and_says_how_to_read_the_ratio():
    text = bench_report.render(bench_report.compare(SETTINGS, SAMPLES), rounds=3)
    header, *lines = text.splitlines()
    assert header.split() == ["WORKLOAD", "UNIT", "MooseNG", "(min-max)", "MooseFS",
                              "(min-max)", "MooseNG/MooseFS"]
    assert "Sequential read, cold cache (64.0 MiB)" in lines[1]
    assert lines[0].split()[-5:] == ["95.5", "(90.0-100.0)", "155.0", "(150.0-160.0)", "0.62"]
    assert lines[3].endswith(" -")
    assert len({len(line) for line in lines[:3]}) == 1          # right-aligned ratio column
    assert text.endswith("Medians over 3 rounds; a ratio above 1 means MooseNG is faster.")


def test_free_subnet_avoids_every_address_and_route(monkeypatch):
    outputs = {"addr": "1: lo inet 127.0.0.1/8 scope host lo\n"
                       "9: x inet 10.213.0.1/24 brd 10.213.0.255 scope global x\n",
               "route": "default via 192.0.2.1 dev eth0\n10.213.1.0/24 dev y scope link\n"}
    monkeypatch.setattr(moosefs_peer, "run", lambda argv: outputs[argv[-1]])
    assert moosefs_peer.free_subnet() == ipaddress.ip_network("10.213.2.0/24")


def test_config_files_are_key_equals_value_lines(tmp_path):
    path = moosefs_peer._config(tmp_path / "cs.cfg", {"HDD_FSYNC_BEFORE_CLOSE": 1,
                                                      "DATA_PATH": tmp_path})
    assert path.read_text() == f"HDD_FSYNC_BEFORE_CLOSE = 1\nDATA_PATH = {tmp_path}\n"


def test_daemon_is_stopped_by_its_pid_and_its_log_explains_an_exit(tmp_path):
    sleeper = peer_processes.Daemon("sleeper", ["sleep", "30"], tmp_path / "s.log").start()
    assert sleeper.alive()
    sleeper.stop(timeout=5)
    assert not sleeper.alive() and sleeper.process.returncode == -15
    dying = peer_processes.Daemon("dying", ["sh", "-c", "echo no metadata; exit 1"],
                                  tmp_path / "d.log").start()
    with pytest.raises(RuntimeError, match="(?s)dying exited while waiting for x.*no metadata"):
        peer_processes.wait_until(lambda: False, "x", [dying], timeout=10)
