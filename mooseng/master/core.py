"""The master's runtime: metadata changed through the changelog, plus what is only in memory
(chunk servers, where the copies are, write leases, queued commands).

One lock guards everything; a call applies and appends under it, then waits for the fsync
outside it so concurrent callers share one fsync. Every reply, reads included, waits until the
metadata version it saw is durable, so no client ever observes something a crash could undo.
"""

from __future__ import annotations

import collections
import dataclasses
import fcntl
import json
import logging
import os
import random
import threading
import time

from mooseng.common import classes, leases
from mooseng.common.errors import (InvalidArgument, MooseNGError, NotFound, NotLeader,
                                   ResourceExhausted, Unavailable)
from mooseng.common.log import kv
from mooseng.master import goals, placement
from mooseng.master.changelog import Changelog, apply, recover, state_json, write_snapshot
from mooseng.master.invalidation import EVERYTHING, Hub, chunk_event, events_for
from mooseng.master.namespace import DIRECTORY, Inode, Namespace
from mooseng.master.placement import DRAINING, MAINTENANCE, OFFLINE, ONLINE, Candidate
from mooseng.master.repair import Repair
from mooseng.master.server_admin import ServerAdmin
from mooseng.master.storage_admin import StorageAdmin

log = logging.getLogger("mooseng.master")

ID_BATCH = 10000          # counter values reserved per changelog entry
LEASE_SECONDS = 60.0      # a write (allocate .. commit) must finish within this
MAX_COMMANDS = 2000       # per heartbeat reply; the rest waits for the next heartbeat


@dataclasses.dataclass(frozen=True)
class AttrView:
    """An immutable copy of an inode's attributes, safe to use outside the lock."""
    inode: int
    type: str
    size: int
    goal: int
    mtime: float
    ctime: float
    nlink: int
    name: str
    storage_class: str = ""


@dataclasses.dataclass(frozen=True)
class ChunkPlace:
    index: int
    chunk_id: int
    version: int
    length: int
    servers: tuple[tuple[str, str], ...]      # (server_id, address) of valid copies
    registering: bool = False                 # none known yet, right after start: not lost


@dataclasses.dataclass(frozen=True)
class Allocation:
    chunk_id: int
    version: int
    base_version: int
    chain: tuple[tuple[str, str], ...]        # (server_id, address)
    lease_id: int
    chunk_length: int
    lease_token: bytes = b""                  # what the chain's servers store data under
    lease_expires: float = 0.0                # seconds since the epoch


@dataclasses.dataclass
class Server:
    server_id: str
    address: str
    http_address: str
    labels: dict[str, str]
    capacity: int
    used: int
    last_seen: float          # monotonic
    last_heartbeat: float     # wall clock, for display
    online: bool = True
    maintenance: bool = False
    maintenance_until: float = 0.0   # monotonic: then a server in maintenance counts as lost
    draining: bool = False           # its copies are moved off; it gets no new ones
    commands: list[goals.Action] = dataclasses.field(default_factory=list)
    region_addresses: dict[str, str] = dataclasses.field(default_factory=dict)

    def reached_from(self, region: str | None) -> str:
        """The address a node of `region` uses: another region's may be a WAN link's."""
        return self.region_addresses.get(region, self.address) if region else self.address

    @property
    def state(self) -> str:
        if self.maintenance:
            return MAINTENANCE
        if not self.online:
            return OFFLINE
        return DRAINING if self.draining else ONLINE


@dataclasses.dataclass
class Lease:
    chunk_id: int
    version: int
    expires: float


@dataclasses.dataclass(frozen=True)
class Settings:
    data_dir: str
    chunk_size: int
    default_goal: int = 2
    heartbeat_interval: float = 1.0
    offline_timeout: float = 10.0
    replication_limit: int = 4
    snapshot_every: int = 10000
    move_rate: float = 50e6         # bytes/s of copies moved for storage classes


class MasterCore(StorageAdmin, ServerAdmin, Repair):
    def __init__(self, settings: Settings, clock=time.monotonic, wall=time.time,
                 invalidations: Hub | None = None):
        self.settings = settings
        self.invalidations = invalidations or Hub()
        self.clock, self.wall = clock, wall
        self.lease_key = leases.new_key()      # given to chunk servers when they register
        self.lock = threading.RLock()
        self.state: Namespace | None = None
        self.changelog = None     # the local Changelog, or the leader's EtcdJournal
        self.local_changelog: Changelog | None = None
        self.leading = True       # a single master leads; with etcd, Leadership decides
        # whether this master may command chunk servers now: with etcd, only while its lease
        # is certain, so a leader deposed while paused never acts on its stale view
        self.certain = lambda: self.leading
        self.servers: dict[str, Server] = {}
        self.copies: dict[int, dict[str, set[int]]] = {}   # chunk_id -> {server: versions}
        self.server_chunks: dict[str, set[int]] = {}
        self.leases: dict[int, Lease] = {}
        # (chunk, target) -> (issued at, source): replications not yet reported in `added`
        self.replicating: dict[tuple[int, str], tuple[float, str]] = {}
        self.replications_issued = 0
        self.moves = (0, 0)             # copies moved for storage classes, and their bytes
        self._moving: dict[tuple[int, str], int] = {}   # (chunk, target) -> bytes in flight
        self._move_budget = (0.0, 0.0)  # bytes that may still be moved, as of (monotonic)
        self._changes = 0         # bumped on every change of copies, server states, timers
        # goal accounting kept chunk by chunk: status of every chunk of the metadata, how many
        # chunks have each status, and the chunks to look at again (copies or servers changed)
        self._status: dict[int, str] = {}
        self._tally: collections.Counter = collections.Counter()
        self._dirty: set[int] = set()
        self._recount = True      # look at every chunk (after recovery)
        self._short: dict[int, tuple[frozenset[str], float]] = {}   # chunk -> regions, since
        self._acted_key: tuple | None = None
        self._next_plan = 0.0     # monotonic time before which no new full plan is made
        self._inherited_until = 0.0   # after a promotion: until the old leader's leases end
        self.next_id = 1
        self.snapshot_version = 0
        self.failed: str | None = None
        self._lock_fd = -1
        self._snapshot_thread: threading.Thread | None = None
        self._rng = random.Random()
        self.balancing = False          # moving copies until usage is even (admin balance)
        self._turn = 0                  # new chunks placed: the round-robin position
        self._next_archive = 0.0        # monotonic time of the next archive pass
        self.started = clock()

    # ------------------------------------------------------------------ life cycle

    def open(self, follow: bool = False) -> int:
        """Recover the metadata from the data dir; returns the number of entries replayed.
        With `follow` the master starts as a follower (several masters on etcd)."""
        os.makedirs(self.settings.data_dir, exist_ok=True)
        self._lock_data_dir()
        try:
            state, replayed = recover(self.settings.data_dir, self.settings.chunk_size)
        except BaseException:
            self._unlock_data_dir()
            raise
        self.state = state
        self.snapshot_version = state.version - replayed
        self.next_id = state.reserved + 1
        self.changelog = self.local_changelog = Changelog(self.settings.data_dir,
                                                          state.version + 1)
        self.started = self.clock()
        self.leading = not follow
        if state.version == 0 and not follow:
            self._init()
        elif state.chunk_size != self.settings.chunk_size:
            log.warning("chunk size differs from the setting; keeping the metadata's",
                        extra=kv(metadata_chunk_size=state.chunk_size,
                                 setting=self.settings.chunk_size))
        return replayed

    def _init(self) -> None:
        with self.lock:
            self._apply("init", chunk_size=self.settings.chunk_size)
            version = self.state.version
        self._wait(version)

    # ------------------------------------------------------------------ roles (with etcd)

    def apply_committed(self, version: int, entry: dict) -> None:
        """A follower applies an entry the leader committed (in order; repeats are skipped)."""
        with self.lock:
            if version <= self.state.version:
                return
            op = entry["op"]
            self._apply_entry(version, entry)
            for sid in entry.get("servers", ()) if op == "commit" else ():
                # where the copies are, before the chunk servers' next heartbeats say so
                self._add_copy(entry["chunk_id"], sid, entry["version"])
            self.local_changelog.append(version, entry)
            if version - self.snapshot_version >= self.settings.snapshot_every:
                self._start_snapshot()

    def snapshot_text(self) -> tuple[int, str]:
        """(version, the namespace as a snapshot's JSON), durable before it is handed out."""
        with self.lock:
            version, text = self.state.version, state_json(self.state)
        self._wait(version)
        return version, text

    def install_snapshot(self, version: int, text: str) -> None:
        """Take the leader's snapshot in place of the state (a follower whose missing entries
        etcd no longer holds): it becomes the local snapshot, older local files go."""
        state = Namespace.from_dict(json.loads(text))
        with self.lock:
            write_snapshot(self.settings.data_dir, text)
            self.local_changelog.rotate(version + 1)
            self.local_changelog.prune(version)
            self.state, self.snapshot_version = state, version
            self._changed()
            self._recount = True
            self.invalidations.publish([EVERYTHING])
        log.info("snapshot installed from the leader", extra=kv(version=version))

    def promote(self, journal) -> None:
        """Start leading from this master's state: every committed entry is applied."""
        with self.lock:
            self.changelog = journal
            self.next_id = self.state.reserved + 1   # the old leader's unused ids stay unused
            self.leases.clear()
            self._inherited_until = self.clock() + LEASE_SECONDS
            self.started = self.clock()          # chunk servers now register with it
            self._changed()
            self.leading = True
        if self.state.version == 0:
            self._init()

    def demote(self, reason: str) -> None:
        """Stop leading: forget whatever was applied but not committed, by rebuilding the
        state from the local files, which hold committed entries only."""
        with self.lock:
            self.leading = False
            if self.changelog is None:
                return
            self.changelog = self.local_changelog
            self.state, _ = recover(self.settings.data_dir, self.settings.chunk_size)
            self.leases.clear()
            self.replicating.clear()
            for server in self.servers.values():
                server.commands.clear()
            self._changed()
            self._recount = True
            self.invalidations.publish([EVERYTHING])
        log.info("following", extra=kv(reason=reason, version=self.state.version))

    def _lock_data_dir(self) -> None:
        """Two masters on one data dir would interleave changelogs: refuse the second."""
        path = os.path.join(self.settings.data_dir, "master.lock")
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise OSError(f"another master is using {self.settings.data_dir} "
                          f"(it holds {path})") from None
        self._lock_fd = fd

    def _unlock_data_dir(self) -> None:
        if self._lock_fd >= 0:
            os.close(self._lock_fd)
            self._lock_fd = -1

    def close(self, snapshot: bool = True) -> None:
        """Stop persisting; with snapshot=True write a final snapshot first (clean stop)."""
        thread = self._snapshot_thread
        if thread:
            thread.join()
        with self.lock:
            if self.changelog is None:
                return
            if snapshot and not self.failed and self.state.version > self.snapshot_version:
                version = self.state.version
                self.changelog.rotate(version + 1)
                write_snapshot(self.settings.data_dir, state_json(self.state))
                self.changelog.prune(version)
                self.snapshot_version = version
            self.changelog.close()
            self.changelog = None
            self._unlock_data_dir()

    @property
    def chunk_size(self) -> int:
        return self.state.chunk_size

    # ------------------------------------------------------------------ persistence core

    def _apply(self, op: str, **args):
        """Apply one entry and append it to the changelog (caller holds the lock)."""
        if self.failed:
            raise Unavailable(f"metadata is read-only: {self.failed}")
        if self.changelog is None:
            raise Unavailable("the master is shutting down")
        if not self.leading:
            raise NotLeader("this master does not lead (any more); retry with the leader")
        entry = {"op": op, "t": round(self.wall(), 6), **args}
        version = self.state.version + 1
        result = self._apply_entry(version, entry)
        try:
            self.changelog.append(version, entry)
        except OSError as error:
            self.failed = f"changelog write failed: {error}"
            log.error("changelog write failed; refusing further changes",
                      extra=kv(error=error))
            raise Unavailable(f"metadata is read-only: {self.failed}") from None
        if version - self.snapshot_version >= self.settings.snapshot_every:
            self._start_snapshot()
        return result

    def _apply_entry(self, version: int, entry: dict):
        """Apply one entry to the state and tell the watching clients what it made stale."""
        op = entry["op"]
        args = {k: v for k, v in entry.items() if k not in ("op", "t")}
        was_dir = op in ("remove", "rename", "setgoal", "setclass") and self._is_dir(
            args["path"] if "path" in args else args["src"])
        result = apply(self.state, dict(entry, v=version))
        self.invalidations.publish(events_for(op, args, was_dir))
        return result

    def _is_dir(self, path: str) -> bool:
        try:
            return self.state.lookup(path).type == DIRECTORY
        except MooseNGError:
            return False

    def _wait(self, version: int) -> None:
        try:
            self.changelog.wait_durable(version) if self.changelog else None
        except OSError as error:
            self.failed = str(error)
            raise Unavailable(f"metadata is read-only: {error}") from None

    def _start_snapshot(self) -> None:
        if self._snapshot_thread and self._snapshot_thread.is_alive():
            return
        version, text = self.state.version, state_json(self.state)
        self.changelog.rotate(version + 1)

        def write():
            try:
                write_snapshot(self.settings.data_dir, text)
                with self.lock:
                    if self.changelog:
                        self.changelog.prune(version)
                    self.snapshot_version = version
                log.info("snapshot written", extra=kv(version=version))
            except OSError as error:
                log.error("snapshot failed", extra=kv(version=version, error=error))

        self.snapshot_version = version   # do not trigger again while this one is written
        self._snapshot_thread = threading.Thread(target=write, name="snapshot", daemon=True)
        self._snapshot_thread.start()

    def _next_ids(self, count: int) -> list[int]:
        """Counter values for chunk ids / versions, reserving (and logging) a batch first."""
        last = self.next_id + count - 1
        if last > self.state.reserved:
            self._apply("reserve", upto=last + ID_BATCH)
        ids = list(range(self.next_id, last + 1))
        self.next_id = last + 1
        return ids

    # ------------------------------------------------------------------ views

    def _view(self, node: Inode) -> AttrView:
        nlink = (2 + sum(1 for c in node.children.values() if self.state.inodes[c].is_dir)
                 if node.is_dir else 1)
        goal, storage_class = self.state.effective(node, self.settings.default_goal)
        return AttrView(node.inode, node.type, node.size, goal, node.mtime, node.ctime, nlink,
                        node.name, storage_class)

    def _valid_holders(self, chunk_id: int, version: int,
                       states=(ONLINE, MAINTENANCE, DRAINING)):
        holders = []
        for sid, held in self.copies.get(chunk_id, {}).items():
            server = self.servers.get(sid)
            if version in held and server and server.state in states:
                holders.append(server)
        holders.sort(key=lambda s: (s.state != ONLINE, s.server_id))
        return holders

    def candidates(self) -> dict[str, Candidate]:
        return {s.server_id: Candidate(s.server_id, s.state, s.capacity, s.used,
                                       len(self.server_chunks.get(s.server_id, ())), s.labels,
                                       full=s.capacity - s.used < self.state.chunk_size)
                for s in self.servers.values()}

    # ------------------------------------------------------------------ namespace

    def _read(self, build):
        with self.lock:
            result = build()
            version = self.state.version
        self._wait(version)
        return result

    def _write(self, op: str, build, check=None, **args):
        """Apply + log `op`; `check()` runs first under the lock and may add arguments."""
        with self.lock:
            if check:
                args.update(check())
            result = build(self._apply(op, **args))
            version = self.state.version
        self._wait(version)
        return result

    def getattr(self, path: str) -> AttrView:
        return self._read(lambda: self._view(self.state.lookup(path)))

    def mkdir(self, path: str, parents: bool) -> AttrView:
        return self._write("mkdir", self._view, path=path, parents=parents)

    def create(self, path: str, exclusive: bool, goal: int) -> AttrView:
        def check():
            if goal:
                self._check_goal(goal)
                return {"goal": goal}
            inherited, storage_class = self.state.inherited(path, self.settings.default_goal)
            return {"goal": inherited, **({"storage_class": storage_class}
                                          if storage_class else {})}
        return self._write("create", self._view, check, path=path, exclusive=exclusive)

    def remove(self, path: str, recursive: bool) -> int:
        return self._write("remove", len, path=path, recursive=recursive)

    def rename(self, source: str, destination: str) -> AttrView:
        return self._write("rename", lambda result: self._view(result[0]),
                           src=source, dst=destination)

    def readdir(self, path: str, start_after: str, limit: int) -> tuple[list[AttrView], bool]:
        def build():
            nodes, more = self.state.list_dir(path, start_after, limit or 1000)
            return [self._view(n) for n in nodes], more
        return self._read(build)

    def set_goal(self, path: str, goal: int, recursive: bool) -> int:
        if goal < 1:
            raise InvalidArgument(f"goal must be at least 1, got {goal}")

        def check():
            self._check_goal(goal)
            return {}
        return self._write("setgoal", int, check, path=path, goal=goal, recursive=recursive)

    def _check_goal(self, goal: int) -> None:
        """An explicit goal must be reachable: no more copies than registered servers."""
        registered = len(self.servers)
        if goal > registered:
            raise ResourceExhausted(f"goal {goal} is larger than the number of registered "
                                    f"chunk servers ({registered})")

    def truncate(self, inode: int, size: int) -> AttrView:
        return self._write("truncate", lambda result: self._view(result[0]),
                           inode=inode, size=size)

    # ------------------------------------------------------------------ chunks

    def get_chunks(self, inode: int, first: int, count: int,
                   near: dict[str, str] | None = None) -> tuple[AttrView, list[ChunkPlace]]:
        """`near`: the reading client's labels (its region's addresses of the servers)."""
        region = (near or {}).get(classes.REGION)

        def build():
            node = self.state.get_file(inode)
            places = []
            for index in sorted(node.chunks):
                if index < first or (count and index >= first + count):
                    continue
                chunk = self.state.chunks[node.chunks[index]]
                holders = self._valid_holders(chunk.chunk_id, chunk.version)
                registering = not holders and self.in_grace() and not self._valid_holders(
                    chunk.chunk_id, chunk.version, (ONLINE, MAINTENANCE, DRAINING, OFFLINE))
                places.append(ChunkPlace(index, chunk.chunk_id, chunk.version, chunk.length,
                                         tuple((s.server_id, s.reached_from(region))
                                               for s in holders),
                                         registering))
            return self._view(node), places
        return self._read(build)

    def allocate(self, inode: int, index: int, exclude: list[str],
                 near: dict[str, str] | None = None) -> Allocation:
        """A new version (and for a new chunk, a new id) plus the chain to write it to; `near`
        holds the writing client's labels. A writer with a region writes the copies of its
        own region; the replicator makes the others afterwards."""
        excluded = set(exclude)
        with self.lock:
            node = self.state.get_file(inode)
            chunk_id = node.chunks.get(index)
            region = (near or {}).get(classes.REGION)
            if chunk_id is not None:
                chunk = self.state.chunks[chunk_id]
                chain = [s for s in self._valid_holders(chunk_id, chunk.version, (ONLINE,))
                         if s.server_id not in excluded]
                if region:   # other regions' copies go stale; the replicator remakes them
                    chain = [s for s in chain if s.labels.get(classes.REGION) == region] or chain
                if not chain:
                    raise Unavailable(f"no online chunk server holds chunk {chunk_id} version "
                                      f"{chunk.version}"
                                      + (f" (excluded: {', '.join(sorted(excluded))})"
                                         if excluded else ""))
                (version,) = self._next_ids(1)
                base, length = chunk.version, chunk.length
            else:
                wants = self.state.copies_of(node)
                if node.storage_class:
                    self._check_copies(self.state.storage_class(node.storage_class))
                now, _ = classes.split_by_region(wants, region)
                chosen = placement.choose_for(self.candidates().values(), now, excluded,
                                              rng=self._rng, policy=self.state.policy,
                                              turn=self._turn, near=near)
                self._turn += 1
                if not chosen:
                    placement.choose(self.candidates().values(), 1, excluded, minimum=1)
                    raise ResourceExhausted(
                        f"no online chunk server satisfies a copy of {classes.describe(wants)}"
                        ": those that would are offline, in maintenance, full or excluded")
                chain = [self.servers[sid] for sid in chosen]
                chunk_id, version = self._next_ids(2)
                base, length = 0, 0
            lease_id = version           # unique across restarts, like every counter value
            self.leases[lease_id] = Lease(chunk_id, version, self.clock() + LEASE_SECONDS)
            expires = round(self.wall() + LEASE_SECONDS, 3)
            reply = Allocation(chunk_id, version, base,
                               tuple((s.server_id, s.reached_from(region)) for s in chain),
                               lease_id, length,
                               leases.sign(self.lease_key, chunk_id, version, expires), expires)
            seen = self.state.version
        self._wait(seen)
        return reply

    def commit(self, inode: int, index: int, chunk_id: int, version: int, lease_id: int,
               server_ids: list[str], length: int, file_size: int, truncate: bool) -> AttrView:
        if not server_ids:
            raise InvalidArgument("commit needs the ids of the servers that stored the data")
        with self.lock:
            servers = list(dict.fromkeys(server_ids))
            node, _ = self._apply("commit", inode=inode, index=index, chunk_id=chunk_id,
                                  version=version, length=length, file_size=file_size,
                                  truncate=truncate, servers=servers)
            for sid in servers:
                self._add_copy(chunk_id, sid, version)
            self.leases.pop(lease_id, None)
            reply = self._view(node)
            seen = self.state.version
        self._wait(seen)
        return reply

    # ------------------------------------------------------------------ chunk servers

    def _changed(self) -> None:
        self._changes += 1

    def _server_changed(self, server: Server) -> None:
        """A server's state changed: every chunk it holds may have changed its status."""
        self._changed()
        self._dirty.update(self.server_chunks.get(server.server_id, ()))
        self.invalidations.publish([EVERYTHING])    # the locations of all its chunks

    def _key(self) -> tuple:
        """Everything goal accounting depends on; equal keys give equal plans."""
        return (self.state.version, self._changes, self.in_grace(), self._inheriting())

    def _add_copy(self, chunk_id: int, server_id: str, version: int) -> None:
        self._changed()
        self._dirty.add(chunk_id)
        self.copies.setdefault(chunk_id, {}).setdefault(server_id, set()).add(version)
        self.server_chunks.setdefault(server_id, set()).add(chunk_id)

    def _drop_copy(self, chunk_id: int, server_id: str, version: int | None = None) -> None:
        """Forget one version (or with version=None every version) held by a server."""
        self._changed()
        self._dirty.add(chunk_id)
        held = self.copies.get(chunk_id)
        if held is None or server_id not in held:
            return
        versions = held[server_id]
        versions.discard(version) if version is not None else versions.clear()
        if versions:
            return
        del held[server_id]
        if not held:
            del self.copies[chunk_id]
        self.server_chunks.get(server_id, set()).discard(chunk_id)

    def register(self, server_id: str, address: str, http_address: str, labels: dict,
                 capacity: int, used: int, chunks: list[tuple[int, int]],
                 region_addresses: dict[str, str] | None = None) -> None:
        """(Re)register a server; its full report replaces what the master knew of it."""
        if not server_id or not address:
            raise InvalidArgument("register needs server_id and address")
        with self.lock:
            old = self.servers.get(server_id)
            for chunk_id in list(self.server_chunks.get(server_id, ())):
                self._drop_copy(chunk_id, server_id)
            self.server_chunks[server_id] = set()
            for chunk_id, version in chunks:
                self._add_copy(chunk_id, server_id, version)
            for key in [k for k in self.replicating if k[1] == server_id]:
                del self.replicating[key]
            self._changed()
            self.invalidations.publish([EVERYTHING])
            self.servers[server_id] = Server(
                server_id, address, http_address, dict(labels), capacity, used, self.clock(),
                self.wall(), maintenance=bool(old and old.maintenance),
                maintenance_until=old.maintenance_until if old else 0.0,
                draining=bool(old and old.draining),
                region_addresses=dict(region_addresses or {}))
        log.info("chunk server registered",
                 extra=kv(server=server_id, address=address, chunks=len(chunks),
                          again=old is not None))

    def heartbeat(self, server_id: str, capacity: int, used: int,
                  added: list[tuple[int, int]], removed: list[tuple[int, int]],
                  damaged: list[tuple[int, int]]) -> tuple[list[goals.Action], bool]:
        """Returns (commands for the server, reregister)."""
        with self.lock:
            server = self.servers.get(server_id)
            if server is None:
                return [], True
            server.capacity, server.used = capacity, used
            server.last_seen, server.last_heartbeat = self.clock(), self.wall()
            if not server.online:
                server.online = True
                self._server_changed(server)
                log.info("chunk server back online", extra=kv(server=server_id))
            for chunk_id, version in added:
                self._add_copy(chunk_id, server_id, version)
                self.replicating.pop((chunk_id, server_id), None)
                size = self._moving.pop((chunk_id, server_id), None)
                if size is not None:
                    self.moves = (self.moves[0] + 1, self.moves[1] + size)
            for chunk_id, version in list(removed) + list(damaged):
                self._drop_copy(chunk_id, server_id, version)
            for chunk_id, version in damaged:
                log.warning("chunk copy reported damaged",
                            extra=kv(server=server_id, chunk=chunk_id, version=version))
            self.invalidations.publish([chunk_event(chunk_id) for chunk_id in dict.fromkeys(
                c for c, _ in [*added, *removed, *damaged])])
            if not self.certain():
                server.commands.clear()
                return [], False
            commands = server.commands[:MAX_COMMANDS]
            del server.commands[:MAX_COMMANDS]
            return commands, False

    def address_of(self, server_id: str, region: str | None = None) -> str:
        server = self.servers.get(server_id)
        return server.reached_from(region) if server else ""
