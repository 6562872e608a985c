"""The operation history and its "no acknowledged write was lost" checker."""

import pathlib
import sys

# `support/` is the suite's library at the repository root (not an installed package).
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

import pytest

from mooseng.common import errors

from support.data import Payload
from support.history import History


def _write(history, path, payload, error=None):
    try:
        with history.record("c1", "write", path, payload):
            if error:
                raise error
    except Exception:  # noqa: BLE001 - the history keeps the outcome
        pass


def test_outcomes_ok_fail_unknown():
    history = History()
    _write(history, "/a", Payload(1, 10))
    _write(history, "/b", Payload(2, 10), errors.NotFound("no /x"))
    _write(history, "/c", Payload(3, 10), errors.Unavailable("chain exhausted"))
    assert [op.outcome for op in history.ops] == ["ok", "fail", "unknown"]
    assert "NotFound: no /x" in history.ops[1].error


def test_a_lost_acknowledged_write_is_found():
    history = History()
    first, second = Payload(1, 100), Payload(2, 100)
    _write(history, "/a", first)
    _write(history, "/b", second)
    stored = {"/a": first.bytes(), "/b": second.bytes()[:50]}
    problems = history.lost_writes(stored.__getitem__)
    assert list(problems) == ["/b"] and problems["/b"].startswith("/b:")


def test_an_unreadable_acknowledged_write_is_a_problem():
    history = History()
    _write(history, "/a", Payload(1, 100))

    def read(path):
        raise errors.DataLoss("no valid copy")

    assert "unreadable" in history.lost_writes(read)["/a"]


def test_a_later_write_with_unknown_outcome_may_have_taken_effect():
    history = History()
    old, new = Payload(1, 100), Payload(2, 100)
    _write(history, "/a", old)
    _write(history, "/a", new, errors.Unavailable("timeout"))
    assert history.lost_writes({"/a": new.bytes()}.__getitem__) == {}
    assert history.lost_writes({"/a": old.bytes()}.__getitem__) == {}
    assert history.lost_writes({"/a": b"x" * 100}.__getitem__) != []


def test_a_failed_write_is_not_an_acceptable_content():
    history = History()
    old, new = Payload(1, 100), Payload(2, 100)
    _write(history, "/a", old)
    _write(history, "/a", new, errors.InvalidArgument("bad"))
    assert history.lost_writes({"/a": new.bytes()}.__getitem__) != []


def test_only_writes_acknowledged_before_a_moment_are_owed():
    history = History()
    early, late = Payload(1, 100), Payload(2, 100)
    _write(history, "/early", early)
    moment = history.ops[-1].completed + 1e-6
    _write(history, "/late", late)
    stored = {"/early": early.bytes()}

    def read(path):
        return stored[path]

    assert history.lost_writes(read, acknowledged_before=moment) == {}
    assert list(history.lost_writes(read)) == ["/late"]
    assert history.acknowledged_at("/early") < moment <= history.acknowledged_at("/late")


def test_render_shows_operations_and_faults():
    history = History()
    _write(history, "/a", Payload(1, 10))
    history.fault("kill chunkserver-2")
    text = history.render()
    assert "kill chunkserver-2" in text and "/a" in text and "ok 1" in text


def test_exceptions_pass_through_record():
    history = History()
    with pytest.raises(KeyError):
        with history.record("c1", "read", "/a"):
            raise KeyError("x")
    assert history.ops[0].outcome == "unknown"
