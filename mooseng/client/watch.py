"""Keeps the master's invalidation stream open for the metadata cache.

The cache serves only while the stream is live: from the master's SUBSCRIBED on, for as long as
something (an event or a KEEPALIVE) arrives at least every few keepalive periods. Any error or
silence ends it: the cache forgets everything and the watcher subscribes again with backoff.
"""

from __future__ import annotations

import logging
import threading

import grpc

from mooseng.common.errors import MooseNGError, NotLeader, from_rpc_error
from mooseng.common.log import kv
from mooseng.common.rpc import channel
from mooseng.proto import mooseng_pb2 as pb
from mooseng.proto import mooseng_pb2_grpc as pb_grpc

from .cache import MetadataCache
from .regional import RegionalReads
from .watchdog import Watchdog

log = logging.getLogger("mooseng.client")

Kind = pb.Invalidation.Kind
SILENT_PERIODS = 3          # keepalive periods without a message before the stream is broken
MAX_BACKOFF = 2.0


class InvalidationWatcher:
    """Uses a channel of its own: its reconnect attempts while the master is away must not
    put the client's calls into gRPC's reconnect backoff. Watches the master the client reads
    from: its region's, else the leader the session follows, moving with it. A regional
    master ends the stream once the client's consistency level no longer lets it serve."""

    def __init__(self, reads: RegionalReads, cache: MetadataCache):
        self._reads = reads
        self._session = session = reads.session
        self._address = session.address
        self._channel = channel(self._address, session.tls)
        self._stub = pb_grpc.MasterStub(self._channel)
        self._cache = cache
        self._stopping = threading.Event()
        self._lock = threading.Lock()      # a call is either cancelled by stop() or never made
        self._call = None
        self._thread = threading.Thread(target=self._run, name="mooseng-cache-watch",
                                        daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        with self._lock:
            call = self._call
        if call is not None:
            call.cancel()
        self._thread.join()
        self._channel.close()
        self._cache.set_live(False)

    def _run(self) -> None:
        backoff = 0.1
        while not self._stopping.is_set():
            watchdog = None
            try:
                with self._lock:
                    if self._stopping.is_set():
                        return
                    regional = self._reads.regional_master()
                    self._reconnect_to(regional or self._session.address)
                    self._call = call = self._stub.WatchInvalidations(
                        pb.WatchRequest(), metadata=(*(self._reads.metadata() if regional else ()),
                                                     *self._session.credentials))
                for batch in call:
                    for event in batch.events:
                        if event.kind == Kind.SUBSCRIBED:
                            silence = SILENT_PERIODS * event.keepalive_seconds
                            self._cache.set_live(True, silence)
                            watchdog = Watchdog(silence)
                            watchdog.watch(call)
                            backoff = 0.1
                        elif event.kind != Kind.KEEPALIVE:
                            self._cache.invalidate(event)
                    self._cache.heard()
                    if watchdog:
                        watchdog.progress()
            except grpc.RpcError as error:
                if not self._stopping.is_set():
                    self._move_on(error)
                    log.info("cache invalidation stream broken; cache dropped", extra=kv(
                        error=f"{error.code().name} {error.details() or ''}".strip()))
            except MooseNGError as error:       # asking which masters serve the region
                log.info("no master to watch for cache invalidations yet",
                         extra=kv(error=error))
            finally:
                if watchdog:
                    watchdog.stop()
                self._cache.set_live(False)
            self._stopping.wait(backoff)
            backoff = min(MAX_BACKOFF, backoff * 2)

    def _reconnect_to(self, address: str) -> None:
        if address != self._address:
            self._channel.close()
            self._address = address
            self._channel = channel(address, self._session.tls)
            self._stub = pb_grpc.MasterStub(self._channel)

    def _move_on(self, error: grpc.RpcError) -> None:
        """A follower named the leader, or this master is gone: watch another one."""
        translated = from_rpc_error(error)
        if isinstance(translated, NotLeader) and translated.leader:
            self._session.follow(translated.leader)
        elif error.code() == grpc.StatusCode.UNAVAILABLE and len(self._session.masters) > 1:
            self._session.skip(self._address)
