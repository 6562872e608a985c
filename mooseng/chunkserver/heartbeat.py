"""Talking to the master: registration with a full chunk report, heartbeats with what changed
since the last one, and the commands the master sends back (replicate, delete, verify).

Any failed call drops the registration: the next successful contact is a Register with a full
report, so nothing that happened while the master was away is lost.
"""

import logging
import threading
from concurrent import futures

import grpc

from mooseng import CHUNK_SIZE
from mooseng.chunkserver.metrics import ChunkServerMetrics
from mooseng.chunkserver.service import pull
from mooseng.chunkserver.store import ChunkCopy, ChunkStore, describe
from mooseng.common.errors import MooseNGError, NotFound
from mooseng.common.leases import LeaseKeys
from mooseng.common.log import kv
from mooseng.common.rpc import Channels, channel
from mooseng.common.tls import Tls
from mooseng.proto import mooseng_pb2 as pb
from mooseng.proto import mooseng_pb2_grpc as pb_grpc

log = logging.getLogger("mooseng.chunkserver.heartbeat")

MAX_BACKOFF = 2.0
CALL_TIMEOUT = 10.0
MIN_SPACING = 0.05  # seconds between heartbeats, so a burst of writes sends a few, not one each


def _ref(copy: ChunkCopy) -> pb.ChunkRef:
    return pb.ChunkRef(chunk_id=copy.chunk_id, version=copy.version, length=copy.length)


class Reporter:
    """Store listener collecting the changes for the next heartbeat.

    What the master is waiting for (replicated copies, copies deleted on its request, damaged
    copies) wakes the heartbeat loop at once; a copy written by a client waits for the next
    regular heartbeat, as the master already learns of it from CommitChunk.

    A copy added then removed within one interval is reported only as removed (and the reverse
    only as added), so the order in which the master reads the lists does not matter."""

    def __init__(self):
        self._lock = threading.Lock()
        self.wake = threading.Event()
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self._added: dict = {}
            self._removed: dict = {}
            self._damaged: dict = {}

    def __call__(self, event: str, copy: ChunkCopy) -> None:
        key = (copy.chunk_id, copy.version)
        with self._lock:
            if event in ("added", "replicated"):
                self._removed.pop(key, None)
                self._damaged.pop(key, None)
                self._added[key] = copy
            else:
                self._added.pop(key, None)
                (self._damaged if event == "damaged" else self._removed)[key] = copy
        if event != "added":
            self.wake.set()

    def take(self) -> tuple[list[ChunkCopy], list[ChunkCopy], list[ChunkCopy]]:
        with self._lock:
            taken = (list(self._added.values()), list(self._removed.values()),
                     list(self._damaged.values()))
            self._added, self._removed, self._damaged = {}, {}, {}
        return taken


class CommandRunner:
    """Executes the master's commands; replications and verifications run in a small pool."""

    def __init__(self, store: ChunkStore, peers: Channels, metrics: ChunkServerMetrics,
                 workers: int = 4):
        self.store = store
        self.peers = peers
        self.metrics = metrics
        self._pool = futures.ThreadPoolExecutor(max_workers=workers,
                                                thread_name_prefix="replicate")
        self._lock = threading.Lock()
        self._in_flight: set[tuple[int, int, int]] = set()

    @property
    def active(self) -> int:
        with self._lock:
            return len(self._in_flight)

    def run(self, command: pb.Command) -> None:
        if command.type == pb.DELETE:
            if self.store.delete(command.chunk_id, command.version):
                log.info("chunk copy deleted on the master's request",
                         extra=kv(chunk=describe(command.chunk_id, command.version)))
            return
        if command.type not in (pb.REPLICATE, pb.VERIFY):
            log.warning("unknown command from the master ignored", extra=kv(type=command.type))
            return
        key = (command.type, command.chunk_id, command.version)
        with self._lock:
            if key in self._in_flight:
                return
            self._in_flight.add(key)
        self._pool.submit(self._execute, key, command)

    def _execute(self, key, command: pb.Command) -> None:
        chunk = describe(command.chunk_id, command.version)
        try:
            if command.type == pb.REPLICATE:
                copy = pull(self.store, self.peers, command.chunk_id, command.version,
                            list(command.sources), self.metrics.bytes_written.inc)
                self.metrics.replications.inc()
                log.info("chunk replicated", extra=kv(chunk=chunk, bytes=copy.length,
                                                      sources=",".join(command.sources)))
            else:
                bad = self.store.verify_or_drop(command.chunk_id, command.version)
                log.info("chunk verified", extra=kv(chunk=chunk, bad_blocks=len(bad)))
        except NotFound:
            log.info("chunk to verify is gone", extra=kv(chunk=chunk))
        except (MooseNGError, OSError) as error:
            if command.type == pb.REPLICATE:
                self.metrics.replication_failures.inc()
            log.warning("command failed", extra=kv(chunk=chunk, command=pb.CommandType.Name(
                command.type), error=str(error)))
        except Exception:
            log.exception("command failed unexpectedly", extra=kv(chunk=chunk))
        finally:
            with self._lock:
                self._in_flight.discard(key)

    def stop(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


class MasterLink:
    """Keeps this chunk server registered with its master and reports to it."""

    def __init__(self, master: str, store: ChunkStore, reporter: Reporter,
                 runner: CommandRunner, identity, lease_keys: LeaseKeys, tls: Tls | None,
                 active=lambda: 0):
        """`identity()` returns (address, http_address, labels, region -> address) as others
        should see them; `lease_keys` learns the master's key; `active()` the number of reads
        and writes in progress."""
        self.master = master
        self.lease_keys = lease_keys
        self.store = store
        self.reporter = reporter
        self.runner = runner
        self.identity = identity
        self.active = active
        self.registered = False
        self.last_error = ""
        self.interval = 1.0
        self._stopping = threading.Event()
        self._channel = channel(master, tls)
        self._stub = pb_grpc.ChunkServerRegistryStub(self._channel)
        self._thread = threading.Thread(target=self._loop, name="heartbeat", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        self.reporter.wake.set()
        self._channel.close()  # ends a call in progress at once
        if self._thread.is_alive():
            self._thread.join()

    def _loop(self) -> None:
        backoff = 0.1
        while not self._stopping.is_set():
            try:
                if self.registered:
                    self._heartbeat()
                else:
                    self._register()
                backoff = 0.1
            except (grpc.RpcError, ValueError) as error:  # ValueError: channel closed by stop()
                if self._stopping.is_set():
                    return
                self.registered = False
                self.last_error = f"{error.code().name}: {error.details()}"
                log.warning("cannot reach the master, retrying", extra=kv(
                    master=self.master, error=self.last_error, retry_in=f"{backoff:.1f}s"))
                self._stopping.wait(backoff)
                backoff = min(MAX_BACKOFF, backoff * 2)
                continue
            if self.registered:
                self._stopping.wait(MIN_SPACING)
                self.reporter.wake.wait(self.interval)
                self.reporter.wake.clear()

    def _register(self) -> None:
        address, http_address, labels, region_addresses = self.identity()
        chunks = [_ref(c) for c in self.store.full_report(self.reporter.reset)]
        request = pb.RegisterRequest(
            server_id=self.store.server_id, address=address, http_address=http_address,
            labels=labels, capacity_bytes=self.store.capacity_bytes(),
            used_bytes=self.store.used_bytes(), chunks=chunks,
            region_addresses=region_addresses)
        reply = self._stub.Register(request, timeout=CALL_TIMEOUT)
        self.interval = reply.heartbeat_interval or 1.0
        self.store.chunk_size = reply.chunk_size or CHUNK_SIZE
        self.lease_keys.learn(self.master, reply.lease_key)
        self.registered = True
        self.last_error = ""
        log.info("registered with the master", extra=kv(
            master=self.master, server_id=self.store.server_id, address=address,
            chunks=len(chunks), heartbeat_interval=self.interval))

    def _heartbeat(self) -> None:
        added, removed, damaged = self.reporter.take()
        request = pb.HeartbeatRequest(
            server_id=self.store.server_id, capacity_bytes=self.store.capacity_bytes(),
            used_bytes=self.store.used_bytes(), chunk_count=self.store.count(),
            added=[_ref(c) for c in added], removed=[_ref(c) for c in removed],
            damaged=[_ref(c) for c in damaged],
            active_operations=self.runner.active + self.active())
        reply = self._stub.Heartbeat(request, timeout=max(CALL_TIMEOUT, 2 * self.interval))
        if reply.reregister:
            log.info("the master asks to register again", extra=kv(master=self.master))
            self.registered = False
        for command in reply.commands:
            self.runner.run(command)
