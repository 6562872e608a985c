"""Cancel a streaming call that stops making progress."""

import threading
import time


class Watchdog:
    """Cancels a streaming call that makes no progress for `stall` seconds: a frozen chunk
    server costs seconds, not the whole deadline; a silent invalidation stream is ended."""

    def __init__(self, stall: float):
        self.stall = stall
        self.fired = False
        self._grace = 0.0
        self._last = time.monotonic()
        self._done = threading.Event()
        self._call = None

    def watch(self, call) -> None:
        self._call = call
        threading.Thread(target=self._run, name="mooseng-watchdog", daemon=True).start()

    def progress(self, grace: float = 0.0) -> None:
        """Data moved; `grace` extends the next wait (e.g. the fsync after the last frame)."""
        self._last = time.monotonic()
        self._grace = grace

    def stop(self) -> None:
        self._done.set()

    def _run(self) -> None:
        while not self._done.wait(min(0.25, self.stall / 4)):
            if time.monotonic() - self._last > self.stall + self._grace:
                self.fired = True
                self._call.cancel()
                return
