"""One scenario's world: its cluster, clients, CLI, data and operation history.

Steps talk to this object in the domain's words; it turns them into client calls, records every
operation in the history and remembers what was written so later steps can verify it.
"""

from __future__ import annotations

import dataclasses
import itertools
import re
import zlib
from typing import Callable

from mooseng.client import Client, StatResult
from mooseng.client.cache import CacheSettings
from mooseng.common.consistency import Consistency

from support import endpoints, metrics, rpc
from support.browser import Browser
from support.cli import CliRunner
from support.data import Payload, parse_size
from support.drivers.base import (Cluster, ClusterDriver, MasterSettings, Node, Region,
                                  Topology)
from support.history import History

# The suite's default topology: small chunks and quick failure detection keep runs short.
FAST = dict(heartbeat_interval=0.3, offline_timeout=1.5, chunk_size=1024 * 1024,
            default_goal=2, scrub_interval=0.0)


def topology(chunkservers: int, labels: list[dict[str, str]] | None = None,
             start_master_first: bool = True, masters: int = 1, metaloggers: int = 0,
             regions: list[Region] | None = None, disk: int = 0, tls: bool = False,
             **settings) -> Topology:
    """With several masters, 3 etcd members under them (the HA topology); with regions, the
    chunk servers are the regions'; `disk`: bytes of every chunk server's own disk; `tls`: every
    link on mutual TLS."""
    return Topology(chunkservers=chunkservers, labels=labels or [], tls=tls,
                    master=MasterSettings(**{**FAST, **settings}),
                    start_master_first=start_master_first, masters=masters,
                    etcd=3 if masters > 1 else 0, metaloggers=metaloggers,
                    regions=regions or [], disk=disk)


@dataclasses.dataclass
class ChunkCopies:
    """Where the master says the copies of one chunk of a file are."""

    path: str
    index: int
    chunk_id: int
    version: int
    nodes: list[str]     # node names of the servers holding a valid copy

    def __str__(self) -> str:
        return (f"{self.path} chunk {self.index} (id {self.chunk_id} v{self.version}): "
                f"{len(self.nodes)} copies on {self.nodes}")


class World:
    def __init__(self, driver: ClusterDriver, scenario: str, add_cleanup: Callable):
        self.driver = driver
        self.scenario = scenario
        self._add_cleanup = add_cleanup
        self.history = History()
        self.cluster: Cluster | None = None
        self.cli: CliRunner | None = None
        self.files: dict[str, Payload] = {}          # what each path should hold
        self._clients: dict[tuple[str, float], Client] = {}
        self._seeds = itertools.count(1)
        self.remembered: dict[str, object] = {}      # facts a Given step noted for a Then step
        self.browser: Browser | None = None          # the dashboard scenarios' page

    # ------------------------------------------------------------------ cluster
    def start_cluster(self, topo: Topology) -> Cluster:
        if self.cluster is not None:
            raise RuntimeError("this scenario already has a cluster")
        self.cluster = self.driver.start_cluster(topo, self.scenario)
        self._add_cleanup(self.cluster.teardown)
        self.cli = CliRunner(self.cluster)
        return self.cluster

    @property
    def master(self) -> Node:
        return self.cluster.master

    def node(self, name: str) -> Node:
        return self.cluster.node(name)

    def node_by_address(self, address: str) -> Node:
        mapped = self.cluster.address_map()(address)
        for node in self.cluster.chunkservers:
            if node.address == mapped:
                return node
        raise AssertionError(f"no chunk server of this cluster listens at {address} "
                             f"(nodes: {[(n.name, n.address) for n in self.cluster.chunkservers]})")

    def server_id(self, node: Node) -> str:
        """The stable id a chunk server registers with (asked from the server itself)."""
        key = f"server_id:{node.name}"
        if key not in self.remembered:
            status = rpc.chunkserver(node.address).GetStatus(
                rpc.pb.ChunkServerStatusRequest(), timeout=5)
            self.remembered[key] = status.server_id
        return self.remembered[key]

    def advertised_address(self, node: Node) -> str:
        """The address the master lists for a chunk server (what its messages name)."""
        key = f"advertised:{node.name}"
        if key not in self.remembered:
            reach = self.cluster.address_map()
            for server in rpc.chunkservers(self.master.address):
                if reach(server.address) == node.address:
                    self.remembered[key] = server.address
        return self.remembered.get(key, node.address)

    def listed_state(self, node: Node, by: str = "address") -> str:
        """The state the master lists for chunk server `node`, or "NOT LISTED".

        The entry is found by="address": the address the node advertised, which stays known
        while the node is down; or by="id": the server id it registered with, asked from the
        node before a fault cut the test process off it."""
        wanted = {"address": self.advertised_address, "id": self.server_id}[by](node)
        for server in rpc.chunkservers(self.master.address):
            if getattr(server, by) == wanted:
                return rpc.state_name(server.state)
        return "NOT LISTED"

    # ------------------------------------------------------------------ clients
    def client(self, timeout: float = 30.0, name: str = "scenario",
               cache: CacheSettings | None = None, labels: dict[str, str] | None = None,
               consistency: Consistency | None = None, credential: str = "") -> Client:
        """The scenario's client called `name` (made on first use, with `cache` settings, the
        `labels` of where it is, its `consistency` level, and the `credential` it gives: one
        with a region reaches the masters as that region does)."""
        key = (name, timeout)
        if key not in self._clients:
            region = (labels or {}).get("region", "")
            client = Client(self.cluster.master_address_in(region), timeout=timeout,
                            address_map=self.cluster.address_map_in(region), cache=cache,
                            labels=labels, consistency=consistency, credential=credential,
                            tls=self.cluster.client_tls)
            self._clients[key] = client
            self._add_cleanup(client.close)
        return self._clients[key]

    def size(self, text: str) -> int:
        """'256 KB' or '3.5 chunks' (of this cluster's chunk size) -> bytes."""
        match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*chunks?\s*", text)
        if match:
            return int(float(match.group(1)) * self.cluster.topology.master.chunk_size)
        return parse_size(text)

    def new_payload(self, size: int) -> Payload:
        return Payload(seed=next(self._seeds) * 7919 + zlib.crc32(self.scenario.encode()) % 7919, size=size)

    # ------------------------------------------------------------------ recorded operations
    def write(self, path: str, payload: Payload, goal: int | None = None,
              process: str = "scenario", client: Client | None = None) -> StatResult:
        with self.history.record(process, "write", path, payload):
            with (client or self.client()).open(path, "wb", goal=goal) as handle:
                for piece in payload.pieces(4 * 1024 * 1024):
                    handle.write(piece)
        self.files[path] = payload
        return self.client().stat(path)

    def read(self, path: str, process: str = "scenario", client: Client | None = None) -> bytes:
        with self.history.record(process, "read", path):
            return (client or self.client()).read_bytes(path)

    def mkdir(self, path: str, parents: bool = True) -> StatResult:
        with self.history.record("scenario", "mkdir", path):
            return self.client().mkdir(path, parents=parents)

    def verify(self, path: str, client: Client | None = None) -> None:
        """The file reads back exactly as last written."""
        self.files[path].verify(self.read(path, client=client))

    # ------------------------------------------------------------------ chunk placement
    def copies(self, path: str) -> list[ChunkCopies]:
        stat = self.client().stat(path)
        return [ChunkCopies(path, c.index, c.chunk_id, c.version,
                            sorted(self.node_by_address(a).name for a in c.servers))
                for c in stat.chunks]

    def all_copies(self) -> list[ChunkCopies]:
        return [copy for path in sorted(self.files) for copy in self.copies(path)]

    def master_replications(self) -> float:
        """Replications the master has ordered since it started."""
        return metrics.value(endpoints.metrics_text(self.master.http_address),
                             "mooseng_master_replications_total") or 0.0

    def disk_copies(self) -> dict[int, list[str]]:
        """chunk id -> names of the chunk servers that have a copy of it on disk."""
        found: dict[int, list[str]] = {}
        for node in self.cluster.chunkservers:
            for chunk_id in node.stored_chunks():
                found.setdefault(chunk_id, []).append(node.name)
        return found

    def open_browser(self) -> Browser:
        if self.browser is None:
            self.browser = Browser()
        return self.browser

    def close(self) -> None:
        if self.browser is not None:
            self.browser.close()
            self.browser = None
        for client in self._clients.values():
            client.close()
        self._clients.clear()
