"""The client's metadata cache: attributes, directory listings, names that do not exist and
chunk lists, each kind with its TTL, all in one LRU bounded by entries.

It answers only while the master's invalidation stream is live (see watch.py): the stream
tells it what changed, the TTL is the safety net. Every lookup is a hit or a miss, and every
miss is exactly one request to the master, so the client's misses equal the master's count.
"""

from __future__ import annotations

import collections
import dataclasses
import threading
import time

import prometheus_client as prom

from mooseng.proto import mooseng_pb2 as pb

KINDS = ("attr", "dir", "negative", "chunks")
Kind = pb.Invalidation.Kind


@dataclasses.dataclass(frozen=True)
class CacheSettings:
    """TTLs in seconds (0 turns a kind off); `entries` bounds all kinds together."""

    entries: int = 100_000
    attr_ttl: float = 10.0
    dir_ttl: float = 5.0
    negative_ttl: float = 2.0
    chunks_ttl: float = 10.0

    def __post_init__(self):
        if self.entries < 0:
            raise ValueError(f"cache entries must be 0 or more, not {self.entries}")
        for kind in KINDS:
            ttl = self.ttl(kind)
            if ttl < 0:
                raise ValueError(f"cache TTL of {kind} must be 0 (off) or more seconds, "
                                 f"not {ttl}")

    @classmethod
    def off(cls) -> "CacheSettings":
        """No caching at all (every TTL 0): no invalidation stream either."""
        return cls(attr_ttl=0.0, dir_ttl=0.0, negative_ttl=0.0, chunks_ttl=0.0)

    def ttl(self, kind: str) -> float:
        if kind not in KINDS:
            raise ValueError(f"unknown cache kind {kind!r} (known: {', '.join(KINDS)})")
        return getattr(self, f"{kind}_ttl")


class CacheMetrics:
    def __init__(self, registry: prom.CollectorRegistry):
        self.hits = prom.Counter("mooseng_client_metadata_cache_hits",
                                 "Lookups answered from the metadata cache", ["kind"],
                                 registry=registry)
        self.misses = prom.Counter("mooseng_client_metadata_cache_misses",
                                   "Lookups that asked the master", ["kind"], registry=registry)
        self.invalidations = prom.Counter("mooseng_client_metadata_cache_invalidations",
                                          "Invalidation events applied", registry=registry)
        self.entries = prom.Gauge("mooseng_client_metadata_cache_entries",
                                  "Entries in the metadata cache", registry=registry)
        self.evictions = prom.Counter("mooseng_client_metadata_cache_evictions",
                                      "Entries dropped to stay within the bound",
                                      registry=registry)
        for kind in KINDS:      # every series exists from the start, at 0
            self.hits.labels(kind)
            self.misses.labels(kind)


def parent(path: str) -> str:
    return path.rsplit("/", 1)[0] or "/"


class MetadataCache:
    """Thread-safe. `get` returns the value or None (a miss); `put` needs the `token(kind)` taken
    before the request, so an answer older than an invalidation applied meanwhile is not
    stored. Nothing is served unless the stream is live and was heard from lately."""

    def __init__(self, settings: CacheSettings, metrics: CacheMetrics, clock=time.monotonic):
        self.settings = settings
        self.metrics = metrics
        self.clock = clock
        self._lock = threading.Lock()
        self._entries: collections.OrderedDict = collections.OrderedDict()  # (kind, key) ->
        self._inode_paths: dict[int, set[str]] = {}                        # (value, expiry)
        self._chunk_inodes: dict[int, set[int]] = {}
        self._inode_dirs: dict[int, set[str]] = {}      # listings showing that inode's size
        self._sequence = dict.fromkeys(KINDS, 0)   # invalidations applied, by kind touched
        self._live = False
        self._silence = 0.0
        self._heard_until = 0.0

    # ------------------------------------------------------------------ lookups

    def get(self, kind: str, key):
        """The cached value (a hit) or None (a miss: the caller asks the master)."""
        with self._lock:
            if self._live and self.clock() > self._heard_until:
                self._live = False      # the stream went silent: it may have missed changes
                self._clear()
            item = self._entries.get((kind, key)) if self._live else None
            if item is not None and item[1] < self.clock():
                self._remove((kind, key))
                item = None
            if item is None:
                return None
            self._entries.move_to_end((kind, key))
            self.metrics.hits.labels(kind).inc()
            return item[0]

    def missed(self, kind: str) -> None:
        """Count one request to the master for `kind`."""
        self.metrics.misses.labels(kind).inc()

    def token(self, kind: str) -> int:
        """Take before asking the master for a value of `kind`; hand to `put`."""
        with self._lock:
            return self._sequence[kind]

    def put(self, kind: str, key, value, token: int) -> None:
        """Values: attr a pb.Attr, dir a list, negative the master's message, chunks a
        pb.GetChunksReply (keyed by inode)."""
        ttl = self.settings.ttl(kind)
        with self._lock:
            if not self._live or not ttl or not self.settings.entries \
                    or token != self._sequence[kind] or self.clock() > self._heard_until:
                return
            self._remove((kind, key))
            self._entries[(kind, key)] = (value, self.clock() + ttl)
            if kind == "attr":
                self._inode_paths.setdefault(value.inode, set()).add(key)
            elif kind == "dir":
                for entry in value:
                    self._inode_dirs.setdefault(entry.inode, set()).add(key)
            elif kind == "chunks":
                for location in value.chunks:
                    self._chunk_inodes.setdefault(location.chunk_id, set()).add(key)
            while len(self._entries) > self.settings.entries:
                self._remove(next(iter(self._entries)))
                self.metrics.evictions.inc()
            self.metrics.entries.set(len(self._entries))

    # ------------------------------------------------------------------ invalidation

    def set_live(self, live: bool, silence: float = 0.0) -> None:
        """Live: the invalidation stream is open and trusted for `silence` seconds (see
        `heard`). Not live: forget everything, serve nothing."""
        with self._lock:
            self._live = live
            self._silence = silence
            self._heard_until = self.clock() + silence
            if not live:
                self._clear()

    def heard(self) -> None:
        """The stream delivered something: trust it for another `silence` seconds."""
        with self._lock:
            self._heard_until = self.clock() + self._silence

    @property
    def live(self) -> bool:
        return self._live

    def invalidate(self, event: pb.Invalidation, count: bool = True) -> None:
        """Apply one event from the master (or one this client caused itself)."""
        with self._lock:
            if event.kind == Kind.PATH:
                self._bump("attr", "dir", "negative")
                self._forget_path(event.path, event.subtree)
            elif event.kind == Kind.INODE:
                self._bump("attr", "dir", "chunks")
                self._forget_inode(event.inode)
            elif event.kind == Kind.CHUNK:
                self._bump("chunks")
                for inode in self._chunk_inodes.pop(event.chunk_id, ()):
                    self._remove(("chunks", inode))
            else:
                self._bump(*KINDS)
                self._clear()
            self.metrics.entries.set(len(self._entries))
        if count:
            self.metrics.invalidations.inc()

    def clear(self) -> None:
        with self._lock:
            self._bump(*KINDS)
            self._clear()

    def _bump(self, *kinds: str) -> None:
        for kind in kinds:
            self._sequence[kind] += 1

    def __len__(self) -> int:
        return len(self._entries)

    def _forget_path(self, path: str, subtree: bool) -> None:
        up = parent(path)
        for key in (("attr", path), ("negative", path), ("dir", path), ("dir", up),
                    ("attr", up)):
            self._remove(key)
        if subtree:
            prefix = path.rstrip("/") + "/"
            for key in [k for k in self._entries if isinstance(k[1], str)
                        and k[1].startswith(prefix)]:
                self._remove(key)

    def _forget_inode(self, inode: int) -> None:
        self._remove(("chunks", inode))
        for path in list(self._inode_paths.get(inode, ())):
            self._remove(("attr", path))
        for path in list(self._inode_dirs.get(inode, ())):
            self._remove(("dir", path))

    def _remove(self, key) -> None:
        item = self._entries.pop(key, None)
        if item is None:
            return
        kind, name = key
        if kind == "attr":
            _discard(self._inode_paths, item[0].inode, name)
        elif kind == "dir":
            for entry in item[0]:
                _discard(self._inode_dirs, entry.inode, name)
        elif kind == "chunks":
            for location in item[0].chunks:
                _discard(self._chunk_inodes, location.chunk_id, name)

    def _clear(self) -> None:
        self._entries.clear()
        self._inode_paths.clear()
        self._inode_dirs.clear()
        self._chunk_inodes.clear()
        self.metrics.entries.set(0)


def _discard(index: dict, key, member) -> None:
    """Take `member` out of index[key], and the key with its last member."""
    members = index.get(key)
    if members is not None:
        members.discard(member)
        if not members:
            del index[key]
