"""The one way the suite waits: poll a probe until it passes, within a time bound.

Every time-bounded outcome ("within N seconds") goes through `within`; every outcome that must
last ("stays", "never", "still") goes through `throughout`, which watches it for a whole window
instead of looking once. Both bounds are multiplied by `-D timeout_scale` so slow machines need
no edits to the features. Nothing else in the suite sleeps.
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
               until: Callable[[T], bool] | None = None, interval: float = POLL_INTERVAL) -> T:
    """Call `probe` for the whole (scaled) window; the first bad value or error fails at once.

    One good look proves nothing about an outcome that must last: a state that flickers (a copy
    deleted and made again, a server briefly offline) passes a single check by luck. Returns the
    last value, which like every other was good.
    """
    bound = scaled(seconds)
    started = time.monotonic()
    checks = 0
    while True:
        checks += 1
        try:
            value = probe()
            good = until(value) if until is not None else value
        except GiveUp:
            raise
        except Exception as error:  # noqa: BLE001 - reported with the moment it happened
            value, good = f"{type(error).__name__}: {error}", False
        elapsed = time.monotonic() - started
        if not good:
            raise WaitTimeout(f"expected {description} throughout {bound:g} s "
                              f"({seconds:g} s x timeout_scale {_scale:g}); after {elapsed:.2f} s "
                              f"(check {checks}) it was: {value}")
        if elapsed >= bound:
            return value
        time.sleep(min(interval, bound - elapsed))
