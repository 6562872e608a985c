"""The one way the suite waits: poll a probe until it passes within a time bound, or for the
whole of a window.

Every time-bounded outcome ("within N seconds") goes through `within`, every lasting one ("stays",
"never") through `throughout`, and both bounds are multiplied by `-D timeout_scale` so slow
machines need no edits to the features. Nothing else in the suite sleeps.
"""

from __future__ import annotations

import time
from typing import Callable, TypeVar

T = TypeVar("T")

_scale = 1.0
POLL_INTERVAL = 0.05


class WaitTimeout(AssertionError):
    """The expected state did not come about in time (a failed expectation, not an error)."""


class GiveUp(Exception):
    """Raised by a probe when waiting longer cannot help (e.g. the process died)."""


def set_scale(scale: float) -> None:
    global _scale
    if scale <= 0:
        raise ValueError(f"timeout_scale must be positive, got {scale}")
    _scale = scale


def scaled(seconds: float) -> float:
    return seconds * _scale


def within(seconds: float, probe: Callable[[], T], description: str,
           until: Callable[[T], bool] | None = None, interval: float = POLL_INTERVAL) -> T:
    """Call `probe` until its value is good, without raising; return that value.

    Good means truthy, or `until(value)` when given (so the value itself can be shown: e.g.
    probe = the state a server is in, until = "is OFFLINE"). A bad value or an exception counts
    as "not yet" and is remembered; on timeout the error says what was expected, the (scaled)
    bound, and the last value or error seen.
    """
    bound = scaled(seconds)
    deadline = time.monotonic() + bound
    last: object = "<probe never ran>"
    attempts = 0
    while True:
        attempts += 1
        try:
            value = probe()
            if (until(value) if until is not None else value):
                return value
            last = value
        except GiveUp:
            raise
        except Exception as error:  # noqa: BLE001 - any failure is "not yet", reported at the end
            last = f"{type(error).__name__}: {error}"
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise WaitTimeout(f"expected {description} within {bound:g} s "
                              f"({seconds:g} s x timeout_scale {_scale:g}); "
                              f"after {attempts} checks the last seen was: {last}")
        time.sleep(min(interval, remaining))


def throughout(seconds: float, probe: Callable[[], T], description: str,
               until: Callable[[T], bool], interval: float = POLL_INTERVAL) -> T:
    """Call `probe` for the whole of `seconds` (scaled); every value must be good
    (`until(value)`), else fail at once with the first bad value or error and when it came.

    For outcomes that must last ("stays", "never"): one good look proves nothing."""
    bound = scaled(seconds)
    started = time.monotonic()
    checks = 0
    while True:
        checks += 1
        try:
            value = probe()
        except GiveUp:
            raise
        except Exception as error:  # noqa: BLE001 - reported as the bad value
            value, bad = f"{type(error).__name__}: {error}", True
        else:
            bad = not until(value)
        if bad:
            raise AssertionError(f"expected {description} throughout {bound:g} s "
                              f"({seconds:g} s x timeout_scale {_scale:g}); check {checks}, "
                              f"{time.monotonic() - started:.2f} s in, saw: {value}")
        remaining = started + bound - time.monotonic()
        if remaining <= 0:
            return value
        time.sleep(min(interval, remaining))
