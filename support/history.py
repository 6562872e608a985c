"""Every client operation a scenario makes, as Jepsen records it, and the checks built on it.

An operation is invoked, then completes as `ok` (acknowledged), `fail` (definitely did not take
effect) or `unknown` (may or may not have taken effect: timeouts, unavailability, crashes).
"""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
import math
import threading
import time
from typing import Callable, Iterator

from mooseng.common import errors

from support.data import DataMismatch, Payload

# Errors after which the operation certainly did not happen.
DEFINITE_FAILURES = (errors.NotFound, errors.AlreadyExists, errors.InvalidArgument,
                     errors.FailedPrecondition, errors.ResourceExhausted)


@dataclasses.dataclass
class Op:
    index: int
    process: str          # which client made it ("client-1", "scenario", ...)
    kind: str             # "write", "read", "mkdir", "remove", ...
    path: str
    payload: Payload | None
    invoked: float
    completed: float | None = None
    outcome: str = "invoked"   # ok | fail | unknown
    error: str = ""

    def line(self, origin: float) -> str:
        size = f"{self.payload.size}B seed={self.payload.seed}" if self.payload else ""
        done = f"{self.completed - origin:9.3f}" if self.completed else "        -"
        return (f"{self.index:5d} {self.invoked - origin:9.3f} {done} {self.process:10s} "
                f"{self.kind:7s} {self.outcome:7s} {self.path} {size} {self.error}").rstrip()


class History:
    """A thread-safe log of operations; `record` wraps one call."""

    def __init__(self):
        self._lock = threading.Lock()
        self._counter = itertools.count(1)
        self.ops: list[Op] = []
        self.origin = time.time()
        self.faults: list[tuple[float, str]] = []

    @contextlib.contextmanager
    def record(self, process: str, kind: str, path: str,
               payload: Payload | None = None) -> Iterator[Op]:
        op = Op(next(self._counter), process, kind, path, payload, time.time())
        with self._lock:
            self.ops.append(op)
        try:
            yield op
        except DEFINITE_FAILURES as error:
            self._complete(op, "fail", error)
            raise
        except BaseException as error:
            self._complete(op, "unknown", error)
            raise
        self._complete(op, "ok")

    def fault(self, description: str) -> None:
        """Mark a fault (kill, pause, ...) on the timeline, for the report."""
        with self._lock:
            self.faults.append((time.time(), description))

    def _complete(self, op: Op, outcome: str, error: BaseException | None = None) -> None:
        op.completed = time.time()
        op.outcome = outcome
        if error is not None:
            op.error = f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}"

    def count(self, kind: str, outcome: str) -> int:
        return sum(1 for op in self.ops if op.kind == kind and op.outcome == outcome)

    def acceptable_contents(self, acknowledged_before: float = math.inf
                            ) -> dict[str, list[Payload]]:
        """For every path with a write acknowledged before the given moment: the payloads a
        final read may show.

        That is the last such write, or any write invoked after it whose outcome is not a
        definite failure (it may have taken effect later)."""
        writes: dict[str, list[Op]] = {}
        for op in self.ops:
            if op.kind == "write":
                writes.setdefault(op.path, []).append(op)
        acceptable = {}
        for path, ops in writes.items():
            acked = [op for op in ops
                     if op.outcome == "ok" and op.completed < acknowledged_before]
            if not acked:
                continue
            last = max(acked, key=lambda op: op.completed)
            later = [op.payload for op in ops
                     if op is not last and op.invoked > last.invoked
                     and op.outcome in ("ok", "unknown", "invoked")]
            acceptable[path] = [last.payload, *later]
        return acceptable

    def acknowledged_at(self, path: str) -> float:
        """When the last acknowledged write of `path` completed."""
        return max(op.completed for op in self.ops
                   if op.kind == "write" and op.path == path and op.outcome == "ok")

    def lost_writes(self, read: Callable[[str], bytes],
                    acknowledged_before: float = math.inf) -> dict[str, str]:
        """Read every path acknowledged before the moment back: {path: what is wrong} for each
        one that does not hold its data."""
        problems = {}
        for path, payloads in sorted(self.acceptable_contents(acknowledged_before).items()):
            try:
                data = read(path)
            except Exception as error:  # noqa: BLE001 - every failure is a finding here
                problems[path] = (f"{path}: acknowledged write unreadable: "
                                  f"{type(error).__name__}: {error}")
                continue
            if any(p.matches(data) for p in payloads):
                continue
            try:
                payloads[0].verify(data)
            except DataMismatch as mismatch:
                problems[path] = f"{path}: {mismatch}"
        return problems

    def render(self, last: int | None = None) -> str:
        """A readable table (times in seconds since the scenario began), faults interleaved."""
        with self._lock:
            ops = list(self.ops)
            faults = list(self.faults)
        rows = [(op.invoked, op.line(self.origin)) for op in ops]
        rows += [(at, f"      {at - self.origin:9.3f}           FAULT      {what}")
                 for at, what in faults]
        rows.sort(key=lambda row: row[0])
        if last is not None:
            rows = rows[-last:]
        header = "    # invoked_s completed process    kind    outcome path / data / error"
        summary = ", ".join(f"{outcome} {sum(1 for op in ops if op.outcome == outcome)}"
                            for outcome in ("ok", "fail", "unknown", "invoked"))
        return "\n".join([f"{len(ops)} operations ({summary})", header,
                          *(text for _, text in rows)])
