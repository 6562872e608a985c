"""Client: the one object the CLI, the benchmark and the acceptance suite use."""

import os
import shutil
from concurrent.futures import ThreadPoolExecutor
from typing import Callable

from mooseng.common.consistency import Consistency
from mooseng.common.errors import FailedPrecondition, NotFound
from mooseng.common.observability import Check, ObservabilityServer, new_registry
from mooseng.common.rpc import Channels
from mooseng.common.tls import load as load_tls
from mooseng.proto import mooseng_pb2 as pb

from . import paths
from .cache import KINDS, CacheMetrics, CacheSettings, MetadataCache
from .datapath import DataPath
from .io import File, parse_mode
from .master import MasterSession
from .namespace import Namespace
from .regional import RegionalReads
from .types import StatResult, class_dict, placement_dict, server_dict, status_dict
from .watch import InvalidationWatcher

_COPY_BLOCK = 8 * 1024 * 1024


class Client:
    """A connection to MooseNG: its master, or the leader of several ("A,B,C"), and through
    it the chunk servers.

    Thread-safe: several threads may use one Client, each with its own open files.
    `address_map` translates the chunk server and leader addresses masters hand out into ones
    this process can dial (identity by default). `timeout` bounds every call; a chunk server
    that moves no data for `stall_timeout` seconds is given up for another copy or chain."""

    def __init__(self, master: str = "127.0.0.1:9421", timeout: float = 30.0,
                 address_map: Callable[[str], str] | None = None, workers: int = 8,
                 stall_timeout: float = 10.0, cache: CacheSettings | None = None,
                 metrics_port: int | None = None, labels: dict[str, str] | None = None,
                 consistency: Consistency | None = None, credential: str = "",
                 tls: str = ""):
        """`cache`: metadata cache bounds and TTLs (CacheSettings(); a TTL of 0 turns that
        kind off). `metrics_port`: serve this client's metrics on 127.0.0.1 (0: any port,
        see `metrics_address`). `labels`: where this client is (e.g. {"rack": "r1"}), for
        the locality-aware allocation policy; with a "region" label and a `consistency`
        level other than strong (the default), attributes and listings are read from a
        master of that region, and its cache is kept by that master's invalidations.
        `credential`: the secret the masters' export rules for this client's network want.
        `tls`: a directory with the cluster's ca.crt and this client's node.crt and node.key
        (mooseng admin certs issue): every call is then mutual TLS."""
        self.timeout = timeout
        self.registry = new_registry("client")
        self._channels = Channels(load_tls(tls))
        address_map = address_map or (lambda address: address)
        self._master = MasterSession(master, self._channels, timeout, address_map, credential)
        self._reads = RegionalReads(self._master, consistency or Consistency(),
                                    (labels or {}).get("region", ""), address_map,
                                    self.registry)
        settings = cache or CacheSettings()
        self._cache = MetadataCache(settings, CacheMetrics(self.registry))
        self._ns = Namespace(self._master, self._cache, labels or {}, self._reads)
        self._data = DataPath(self._master, self._channels, timeout, address_map, stall_timeout,
                              on_commit=lambda inode: self._ns.changed(inode=inode),
                              labels=labels or {})
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="mooseng-io")
        self._watcher = None
        if settings.entries and any(settings.ttl(kind) for kind in KINDS):
            self._watcher = InvalidationWatcher(self._reads, self._cache)
            self._watcher.start()
        self.metrics_address = ""
        self._http = None
        if metrics_port is not None:
            self._http = ObservabilityServer(
                "client", f"client-{os.getpid()}", self.registry, self._checks,
                lambda: (True, ""), {"/cache/drop": self._drop_for_http})
            self.metrics_address = f"127.0.0.1:{self._http.start('127.0.0.1', metrics_port)}"

    @property
    def master_address(self) -> str:
        """The master this client talks to now (the leader, with several masters)."""
        return self._master.address

    # ------------------------------------------------------------------ namespace

    def stat(self, path: str) -> StatResult:
        return self._ns.stat(path)

    def exists(self, path: str) -> bool:
        try:
            self._ns.getattr(path)
            return True
        except NotFound:
            return False

    def mkdir(self, path: str, parents: bool = False) -> StatResult:
        return self._ns.mkdir(path, parents)

    def listdir(self, path: str = "/") -> list[StatResult]:
        return self._ns.listdir(path)

    def remove(self, path: str, recursive: bool = False) -> None:
        self._ns.remove(path, recursive)

    def rename(self, src: str, dst: str) -> StatResult:
        return self._ns.rename(src, dst)

    def setgoal(self, path: str, goal: int, recursive: bool = False) -> int:
        """Set the goal; returns how many files and directories changed."""
        return self._ns.setgoal(path, goal, recursive)

    def setclass(self, path: str, name: str, recursive: bool = False) -> int:
        """Give a file or directory a storage class (new files in a directory inherit it);
        returns how many files and directories changed."""
        return self._ns.setclass(path, name, recursive)

    # ------------------------------------------------------------------ storage classes

    def define_class(self, name: str, copies: list[str], archive_to: str = "",
                     archive_after: float = 0.0, modify: bool = False) -> dict:
        """Create (or with modify=True change) a class: `copies` are label constraints per
        copy, `N*constraint` for N alike (e.g. ["2*tier=ssd"] or ["tier=ssd", "tier=hdd"])."""
        spec = pb.StorageClassSpec(name=name, copies=copies, archive_to=archive_to,
                                   archive_after_seconds=archive_after)
        reply = self._master.call("DefineClass", pb.DefineClassRequest(spec=spec, modify=modify))
        if modify:       # the goal of every file of the class may have changed
            self._ns.changed("/")
        return class_dict(reply)

    def delete_class(self, name: str) -> None:
        self._master.call("DeleteClass", pb.ClassRequest(name=name))

    def classes(self) -> list[dict]:
        return [class_dict(c) for c in self._master.call("ListClasses", pb.Empty()).classes]

    def allocation_policy(self, name: str = "") -> dict:
        """The cluster-wide allocation policy in force (after setting it to `name`, if given)
        and the policies there are."""
        reply = self._master.call("AllocationPolicy", pb.PolicyRequest(name=name))
        return {"policy": reply.name, "choices": list(reply.choices)}

    def placement(self, path: str) -> dict:
        """Where every copy of a file's chunks is and which wanted copy it fills."""
        path = paths.normalize(path)
        reply = self._master.call("GetPlacement", pb.PathRequest(path=path))
        return placement_dict(path, reply)

    # ------------------------------------------------------------------ data

    def open(self, path: str, mode: str = "rb", goal: int | None = None) -> File:
        """'rb' read, 'wb' create or empty, 'ab' append, 'xb' create new only, 'r+b' update."""
        path = paths.normalize(path)
        kind, _, _ = parse_mode(mode)
        first_chunk = None
        if kind in "wax":
            created = self._ns.create(path, goal=goal, exclusive=kind == "x", allocate=True)
            attr = created.attr
            if created.HasField("first_chunk"):
                first_chunk = created.first_chunk
        else:
            attr = self._ns.getattr(path, fresh=True)       # close-to-open
        if attr.type != pb.FILE:
            raise FailedPrecondition(f"{path} is a directory, not a file")
        if kind == "w" and attr.size:
            attr = self._master.call("Truncate", pb.TruncateRequest(inode=attr.inode, size=0)).attr
            self._ns.changed(inode=attr.inode)
        if goal and attr.goal != goal and kind != "x":
            self._ns.setgoal(path, goal)
            first_chunk = None      # its chain was chosen for the old goal
        return File(path, attr, mode, self._ns, self._data, self._pool, first_chunk)

    def write_bytes(self, path: str, data: bytes, goal: int | None = None) -> StatResult:
        with self.open(path, "wb", goal=goal) as handle:
            handle.write(data)
        return self._ns.stat(path, fresh=True)

    def read_bytes(self, path: str) -> bytes:
        with self.open(path, "rb") as handle:
            return handle.read()

    def put(self, local_path: str, path: str, goal: int | None = None) -> StatResult:
        """Copy a local file into MooseNG (replacing an existing file)."""
        with open(local_path, "rb") as source:
            with self.open(path, "wb", goal=goal) as target:
                shutil.copyfileobj(source, target, _COPY_BLOCK)
        return self._ns.stat(path, fresh=True)

    def get(self, path: str, local_path: str) -> int:
        """Copy a MooseNG file to a local path; returns the number of bytes."""
        total = 0
        with self.open(path, "rb") as source, open(local_path, "wb") as target:
            block = max(source.chunk_size, _COPY_BLOCK)
            while data := source.read(block):
                target.write(data)
                total += len(data)
        return total

    def truncate(self, path: str, size: int) -> StatResult:
        with self.open(path, "r+b") as handle:
            handle.truncate(size)
        return self._ns.stat(path, fresh=True)

    # ------------------------------------------------------------------ cluster

    def status(self) -> dict:
        """The leader's view when there is one: a follower answers too, naming it."""
        reply = self._master.call("GetClusterStatus", pb.ClusterStatusRequest())
        if reply.role == "follower" and reply.leader:
            self._master.follow(reply.leader)
            reply = self._master.call("GetClusterStatus", pb.ClusterStatusRequest())
        return status_dict(reply)

    def metadata_checksums(self) -> list[dict]:
        """Every master's metadata version and namespace checksum (equal on masters at the
        same version), or why it did not answer."""
        found = []
        for address, reply in self._master.call_each(
                "GetClusterStatus", pb.ClusterStatusRequest(metadata_checksum=True)):
            if isinstance(reply, Exception):
                found.append({"master": address, "error": str(reply)})
            else:
                found.append({"master": address, "role": reply.role,
                              "metadata_version": reply.metadata_version,
                              "checksum": reply.metadata_checksum})
        return found

    def chunkservers(self) -> list[dict]:
        reply = self._master.call("ListChunkServers", pb.ListChunkServersRequest())
        return sorted((server_dict(s) for s in reply.servers), key=lambda s: s["address"])

    def set_maintenance(self, server: str, enabled: bool = True, seconds: float = 0.0) -> None:
        """`server`: its id or address. For at most `seconds` (0: 30 minutes), after which a
        silent server counts as lost."""
        self._master.call("SetMaintenance", pb.SetMaintenanceRequest(
            server_id=server, enabled=enabled, seconds=seconds))

    def drain(self, server: str) -> None:
        """Move every copy off a chunk server (its id or address) before it is removed."""
        self._master.call("DrainChunkServer", pb.ServerRequest(server_id=server))

    def remove_chunkserver(self, server: str) -> None:
        """Forget a stopped chunk server; refused while it runs or holds a chunk's only copy."""
        self._master.call("RemoveChunkServer", pb.ServerRequest(server_id=server))

    def balance(self, apply: bool = False) -> dict:
        """The copies balancing would move now (server ids) and each online server's usage;
        with `apply`, the master starts moving them (at its move rate)."""
        reply = self._master.call("Balance", pb.BalanceRequest(apply=apply))
        return {"moves": [{"chunk_id": m.chunk_id, "source": m.source, "target": m.target,
                           "bytes": m.bytes} for m in reply.moves],
                "used_bytes": dict(sorted(reply.used_bytes.items())),
                "balancing": reply.balancing}

    def repair(self, path: str) -> dict:
        """Have every copy of the path's chunks checked now (damaged ones are made again)."""
        reply = self._master.call("Repair", pb.PathRequest(path=paths.normalize(path)))
        return {"path": path, "chunks": reply.chunks, "verifications": reply.verifications}

    # ------------------------------------------------------------------ lifetime

    def cache_stats(self) -> dict:
        """The metadata cache's counters: per kind hits, misses and hit ratio; entries,
        invalidations received, evictions; whether it is live (may serve)."""
        value = self.registry.get_sample_value
        kinds = {}
        for kind in KINDS:
            hits = int(value("mooseng_client_metadata_cache_hits_total", {"kind": kind}))
            misses = int(value("mooseng_client_metadata_cache_misses_total", {"kind": kind}))
            kinds[kind] = {"hits": hits, "misses": misses,
                           "hit_ratio": round(hits / (hits + misses), 4) if hits + misses
                           else 0.0}
        return {"kinds": kinds, "entries": len(self._cache),
                "invalidations": int(value("mooseng_client_metadata_cache_invalidations_total")),
                "evictions": int(value("mooseng_client_metadata_cache_evictions_total")),
                "live": self._cache.live}

    def drop_cache(self) -> None:
        """Forget every cached entry (the next lookups ask the master)."""
        self._cache.clear()

    def _drop_for_http(self) -> dict:
        dropped = len(self._cache)
        self.drop_cache()
        return {"dropped": dropped}

    def _checks(self) -> list[Check]:
        if self._watcher is None:
            return [Check("cache", "healthy", "metadata cache off")]
        if self._cache.live:
            return [Check("cache", "healthy")]
        return [Check("cache", "degraded", "not hearing the master's invalidations: the "
                                           "cache serves nothing")]

    def close(self) -> None:
        if self._watcher:
            self._watcher.stop()
        if self._http:
            self._http.stop()
        self._pool.shutdown(wait=True)
        self._channels.close()

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
