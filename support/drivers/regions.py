"""The WAN of a multi-region topology, the same on every backend: one link node per pair of
regions, carrying every connection between those two regions, so that cutting a region off is
halting the link nodes it is part of."""

from __future__ import annotations

import dataclasses
import itertools
from typing import Callable

from support.drivers.base import Node, Region, Topology

JITTER = 0.05       # of a link's delay, either way


@dataclasses.dataclass(frozen=True)
class Crossing:
    """A node of one region as the other region of a pair reaches it."""

    node: Node
    seen_from: str        # the region whose nodes connect through the link


@dataclasses.dataclass
class Pair:
    a: Region
    b: Region
    crossings: list[Crossing]

    @property
    def name(self) -> str:
        return f"wan-{self.a.name}-{self.b.name}"

    @property
    def delay(self) -> float:
        return self.a.delay_to(self.b)


def pairs(topology: Topology, masters: list[Node], chunkservers: list[Node]) -> list[Pair]:
    """Every pair of regions with what crosses it: the masters (in the first region) for the
    other region's chunk servers and clients, and each chunk server for the other region's
    chunk servers (replication) and clients. None without regions."""
    if not topology.regions:
        return []
    home = topology.regions[0].name
    found = []
    for a, b in itertools.combinations(topology.regions, 2):
        crossings = [Crossing(m, b.name if a.name == home else a.name) for m in masters
                     if home in (a.name, b.name)]
        for server in chunkservers:
            region = server.labels["region"]
            if region in (a.name, b.name):
                crossings.append(Crossing(server, b.name if region == a.name else a.name))
        found.append(Pair(a, b, crossings))
    return found


def wan_command(pair: Pair, link: Callable[[Crossing], tuple[str, str]]) -> list[str]:
    """The `mooseng-wan` command of a pair's link node; `link(crossing)` gives where it listens
    for that crossing and where it forwards to (host:port each)."""
    delay_ms = pair.delay * 1000
    return ["mooseng-wan", *(a for c in pair.crossings for a in ("--link", "=".join(link(c)))),
            "--delay", f"{delay_ms:g}", "--jitter", f"{delay_ms * JITTER:g}"]


class Addressing:
    """Who reaches whom through which link, for a cluster (mixed in before `Cluster`) whose
    `wan` nodes are its pairs' links, each with `address_for(node, region)`: where nodes of
    `region` reach `node` through it, inside the cluster's network."""

    def inside(self, node: Node) -> str:
        """Where the other nodes reach `node` without a link."""
        return node.address

    def internal_master_in(self, region: str) -> str:
        link = self.link_between(self.topology.regions[0].name, region) if self.wan else None
        return ",".join(link.address_for(m, region) if link else self.inside(m)
                        for m in self.masters)

    def master_address_in(self, region: str) -> str:
        reach = self.address_map()
        return ",".join(reach(a) for a in self.internal_master_in(region).split(","))

    def advertised_to(self, node: Node) -> dict[str, str]:
        """{other region: where its nodes reach chunk server `node`}."""
        home = node.labels.get("region", "")
        return {r.name: self.link_between(home, r.name).address_for(node, r.name)
                for r in self.topology.regions if r.name != home} if self.wan else {}

    def link_between(self, a: str, b: str):
        """The link node between regions a and b; None within one region."""
        return next((link for link in self.wan if {a, b} == set(link.labels.values())), None)
