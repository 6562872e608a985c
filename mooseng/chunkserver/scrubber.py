"""Background verification of every stored copy, one full pass per `scrub_interval` seconds.

A copy that fails is dropped and reported as damaged (through the store's listeners), so the
master schedules a new copy from a good one before a reader ever meets the bad one.
"""

import logging
import threading
import time

from mooseng.chunkserver.metrics import ChunkServerMetrics
from mooseng.chunkserver.store import ChunkStore, describe
from mooseng.common.errors import NotFound
from mooseng.common.log import kv

log = logging.getLogger("mooseng.chunkserver.scrubber")


class Scrubber:
    def __init__(self, store: ChunkStore, metrics: ChunkServerMetrics, interval: float):
        self.store = store
        self.metrics = metrics
        self.interval = interval
        self.passes = 0
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="scrubber", daemon=True)

    def start(self) -> None:
        if self.interval > 0:
            self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        if self._thread.is_alive():
            self._thread.join()

    def _loop(self) -> None:
        while not self._stopping.is_set():
            started = time.monotonic()
            copies = self.store.copies()
            pause = self.interval / max(1, len(copies))
            for number, copy in enumerate(copies, 1):
                if self._stopping.is_set():
                    return
                self._scrub(copy.chunk_id, copy.version)
                self._stopping.wait(max(0.0, started + number * pause - time.monotonic()))
            self.passes += 1
            if not copies:
                self._stopping.wait(self.interval)

    def _scrub(self, chunk_id: int, version: int) -> None:
        try:
            bad = self.store.verify_or_drop(chunk_id, version)
        except NotFound:
            return
        except OSError as error:
            log.warning("scrub could not read a copy", extra=kv(
                chunk=describe(chunk_id, version), error=str(error)))
            return
        self.metrics.scrubbed.inc()
        if bad:
            log.warning("scrub found a corrupt copy", extra=kv(
                chunk=describe(chunk_id, version), bad_blocks=",".join(map(str, bad[:10]))))
