"""The one polling helper: returns the first good value, or says what it saw last."""

import pathlib
import sys

# `support/` is the suite's library at the repository root (not an installed package).
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

import itertools
import time

import pytest

from support import waiting
from support.waiting import GiveUp, WaitTimeout, throughout, within


def test_returns_the_first_truthy_value():
    counter = itertools.count()
    assert within(2, lambda: next(counter) >= 3 and "done", "a count of 3") == "done"


def test_timeout_names_the_expectation_the_bound_and_the_last_value():
    values = iter(range(1000))
    with pytest.raises(WaitTimeout) as caught:
        within(0.2, lambda: next(values) < 0, "a negative number")
    message = str(caught.value)
    assert "expected a negative number within 0.2 s" in message
    assert "last seen was: False" in message


def test_exceptions_count_as_not_yet_and_are_reported():
    def probe():
        raise ConnectionError("refused")

    with pytest.raises(WaitTimeout, match="ConnectionError: refused"):
        within(0.1, probe, "a connection")


def test_give_up_stops_waiting_at_once():
    def probe():
        raise GiveUp("the process died")

    with pytest.raises(GiveUp):
        within(60, probe, "never")


def test_the_scale_multiplies_the_bound():
    waiting.set_scale(3)
    try:
        with pytest.raises(WaitTimeout, match="within 0.3 s .0.1 s x timeout_scale 3"):
            within(0.1, lambda: False, "nothing")
    finally:
        waiting.set_scale(1)
    with pytest.raises(ValueError):
        waiting.set_scale(0)


def test_throughout_watches_the_whole_window():
    checks = itertools.count(1)
    started = time.monotonic()
    assert throughout(0.3, lambda: next(checks), "a steady state", interval=0.05) >= 5
    assert time.monotonic() - started >= 0.3


def test_throughout_fails_on_the_first_bad_value_and_says_when():
    values = iter([True, True, False, True])
    with pytest.raises(WaitTimeout) as caught:
        throughout(5, lambda: next(values), "a steady state", interval=0.01)
    message = str(caught.value)
    assert "expected a steady state throughout 5 s" in message
    assert "(check 3) it was: False" in message


def test_throughout_counts_an_error_as_a_bad_value():
    def probe():
        raise ConnectionError("master unreachable")
    with pytest.raises(WaitTimeout, match="ConnectionError: master unreachable"):
        throughout(5, probe, "a reachable master")
