"""Daemons started by the side-by-side benchmark. Each runs in its own session, so a Ctrl-C in
the terminal reaches only the benchmark, which then stops them in order; its output goes to a
log file whose tail explains a failed start; it is stopped by its own pid, never by name."""

import ctypes
import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Callable, Iterable

PR_SET_CHILD_SUBREAPER = 36


class Daemon:
    def __init__(self, name: str, argv: list[str], log: Path):
        self.name = name
        self.argv = argv
        self.log = log
        self.process: subprocess.Popen | None = None

    def start(self) -> "Daemon":
        with open(self.log, "ab") as out:
            self.process = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL, stdout=out,
                                            stderr=subprocess.STDOUT, start_new_session=True)
        return self

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self, timeout: float = 30.0) -> None:
        """SIGTERM (a clean stop: MooseFS's master saves its metadata), SIGKILL after
        `timeout` seconds."""
        if not self.alive():
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def tail(self, lines: int = 15) -> str:
        try:
            text = self.log.read_text(errors="replace").splitlines()[-lines:]
        except OSError:
            return f"(no log at {self.log})"
        return "\n".join(f"    {line}" for line in text) or "    (empty log)"


def run(argv: list[str], timeout: float = 60.0) -> str:
    """Run a set-up command; its output, or a RuntimeError that quotes it."""
    result = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    if result.returncode:
        raise RuntimeError(f"{' '.join(argv)} failed ({result.returncode}): "
                           f"{(result.stderr or result.stdout).strip()}")
    return result.stdout


def wait_until(condition: Callable[[], object], what: str, daemons: Iterable[Daemon],
               timeout: float = 60.0):
    """Poll until `condition()` is truthy; fail at once, with its log, if a daemon died."""
    deadline = time.monotonic() + timeout
    while True:
        for daemon in daemons:
            if not daemon.alive():
                raise RuntimeError(f"{daemon.name} exited while waiting for {what}; its log "
                                   f"({daemon.log}):\n{daemon.tail()}")
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.2)


def adopt_orphans() -> None:
    """Make the processes our daemons fork (MooseFS's master writes its changelog in a child
    that outlives it) our children when their parent exits, so `reap_orphans` can wait for
    them instead of leaving them to init."""
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)


def reap_orphans(timeout: float = 10.0) -> list[int]:
    """Wait for every child left (call after stopping every Daemon); the pids still running
    after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return []
        if pid:
            continue
        if time.monotonic() > deadline:
            return [int(p) for p in Path(f"/proc/{os.getpid()}/task/{os.getpid()}/children")
                    .read_text().split()]
        time.sleep(0.1)
