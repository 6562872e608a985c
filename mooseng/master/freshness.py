"""How far behind the leader a follower is, in seconds, for bounded-staleness reads.

A follower asks etcd (a linearizable read) for the head of the committed changelog every
ASK_EVERY seconds. Once it has applied that head, it held everything committed as of the moment
it asked: its staleness is the time since the newest such moment. A follower that cannot reach
etcd, or falls behind the leader's writes, grows stale, however well it answers otherwise.
"""

from __future__ import annotations

import collections
import math
import threading
import time
from typing import Callable

ASK_EVERY = 0.2          # seconds between two asks of the committed head
REMEMBERED = 100         # asks waiting to be applied; older ones are superseded anyway


class Freshness:
    """`head()` asks etcd for the committed head, `applied()` is the version this master holds;
    `settle()` is called after every applied entry."""

    def __init__(self, head: Callable[[], int], applied: Callable[[], int]):
        self._head = head
        self._applied = applied
        self._changed = threading.Condition()
        self._asked: collections.deque[tuple[float, int]] = collections.deque(
            maxlen=REMEMBERED)
        self._fresh_at = -math.inf        # monotonic

    def ask(self) -> None:
        sent = time.monotonic()
        head = self._head()
        with self._changed:
            self._asked.append((sent, head))
            self._settle()

    def settle(self) -> None:
        with self._changed:
            self._settle()
            self._changed.notify_all()

    def _settle(self) -> None:
        applied = self._applied()
        while self._asked and self._asked[0][1] <= applied:
            self._fresh_at = self._asked.popleft()[0]

    def staleness(self) -> float:
        """Seconds since this master last held everything committed (inf: never known)."""
        with self._changed:
            return max(0.0, time.monotonic() - self._fresh_at)

    def wait_applied(self, version: int, timeout: float) -> bool:
        """Wait until this master holds `version`; False when it did not within `timeout`."""
        with self._changed:
            return self._changed.wait_for(lambda: self._applied() >= version, timeout)
