"""CLI formatting and error reporting, without a cluster."""

import pytest

from mooseng.cli import main as cli
from mooseng.cli.errors import describe
from mooseng.cli.format import human_size, labels, pairs, table
from mooseng.client import MasterUnreachable
from mooseng.common import errors


@pytest.mark.parametrize("n,text", [(0, "0 B"), (1023, "1023 B"), (1024, "1.0 KiB"),
                                    (1536, "1.5 KiB"), (64 * 1024**2, "64.0 MiB"),
                                    (3 * 1024**4, "3.0 TiB")])
def test_human_size(n, text):
    assert human_size(n) == text


def test_table_aligns_columns_and_right_aligns_numbers():
    text = table(["ID", "SIZE"], [["a", 5], ["longer", 12345]], right={1})
    assert text.splitlines() == ["ID       SIZE", "a           5", "longer  12345"]


def test_pairs_and_labels():
    assert pairs([("A", 1), ("Long key", "x")]).splitlines() == ["A:         1",
                                                                 "Long key:  x"]
    assert labels({"tier": "ssd", "region": "eu"}) == "region=eu,tier=ssd"
    assert labels({}) == "-"


@pytest.mark.parametrize("error,fragment", [
    (MasterUnreachable("h:1", "Connection refused"), "--master HOST:PORT"),
    (errors.NotFound("/a/b: no such file"), "mooseng fs ls"),
    (errors.AlreadyExists("/a exists"), "another name"),
    (errors.FailedPrecondition("/d: directory not empty"), "use -r"),
    (errors.ResourceExhausted("goal 3 > 2 chunk servers"), "add chunk servers"),
    (errors.Unavailable("chunk server down"), "mooseng chunkservers"),
    (FileNotFoundError(2, "No such file or directory", "/tmp/nope"), "/tmp/nope"),
])
def test_errors_are_one_line_with_a_hint(error, fragment):
    text = describe(error)
    assert "\n" not in text and fragment in text


def test_unreachable_master_is_one_line_naming_the_address(capsys):
    # Port 1 on loopback: nothing listens there, the connection is refused at once.
    assert cli.main(["--master", "127.0.0.1:1", "--timeout", "5", "status"]) == 1
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and captured.out == ""
    assert lines[0].startswith("mooseng: error: cannot reach the master at 127.0.0.1:1")
    assert "MOOSENG_MASTERS" in lines[0] and "Traceback" not in captured.err


def test_master_comes_from_the_environment(monkeypatch):
    monkeypatch.setenv("MOOSENG_MASTERS", "10.0.0.1:9421, 10.0.0.2:9421")
    assert cli.default_master() == "10.0.0.1:9421,10.0.0.2:9421"
    monkeypatch.delenv("MOOSENG_MASTERS")
    assert cli.default_master() == "127.0.0.1:9421"


@pytest.mark.parametrize("given,address", [("10.0.0.1", "10.0.0.1:9421"),
                                           ("m.example:7000", "m.example:7000"),
                                           ("[::1]:9000", "[::1]:9000")])
def test_master_port_defaults_to_9421(given, address):
    assert cli.with_port(given) == address


def test_global_options_work_before_and_after_the_command():
    parser = cli.build_parser()
    before = parser.parse_args(["--json", "--master", "m:1", "fs", "ls", "/"])
    after = parser.parse_args(["fs", "ls", "/", "--json", "--master", "m:1"])
    for args in (before, after):
        assert args.json is True and args.master == "m:1"
    plain = parser.parse_args(["chunkservers"])
    assert not getattr(plain, "json", False)


def test_usage_errors_exit_2(capsys):
    with pytest.raises(SystemExit) as caught:
        cli.main(["fs", "setgoal", "zero", "/a"])
    assert caught.value.code == 2
    with pytest.raises(SystemExit) as caught:
        cli.main(["bench", "--size", "lots"])
    assert caught.value.code == 2


def test_bench_options_parse_sizes():
    args = cli.build_parser().parse_args(["bench", "--size", "64MiB", "--file-size", "1k",
                                          "--files", "10"])
    assert (args.size, args.file_size, args.files, args.goal) == (64 * 1024**2, 1024, 10, 2)
