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


def home(topology: Topology) -> str:
    """The first region: a single master's, and etcd's unless the regions place members."""
    return topology.regions[0].name if topology.regions else ""


def region_of(node: Node, topology: Topology) -> str:
    """Every node carries its region as a label; etcd members placed nowhere are in the
    first."""
    return node.labels.get("region", home(topology))


def pairs(topology: Topology, masters: list[Node], chunkservers: list[Node],
          etcd: list[Node] = ()) -> list[Pair]:
    """Every pair of regions with what crosses it: each master, chunk server and etcd member
    for the other region's nodes and clients (etcd members' traffic among themselves goes
    directly). None without regions."""
    if not topology.regions:
        return []
    found = []
    for a, b in itertools.combinations(topology.regions, 2):
        ends = {a.name: b.name, b.name: a.name}
        found.append(Pair(a, b, [Crossing(node, ends[region_of(node, topology)])
                                 for node in [*masters, *chunkservers, *etcd]
                                 if region_of(node, topology) in ends]))
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

    def reached_from(self, node: Node, region: str) -> str:
        """Where nodes of `region` reach `node`: through the link between their regions, or
        directly within one region (and from no region)."""
        link = self.link_between(region_of(node, self.topology), region) if region else None
        return link.address_for(node, region) if link else self.inside(node)

    def internal_master_in(self, region: str) -> str:
        return ",".join(self.reached_from(m, region) for m in self.masters)

    def etcd_in(self, region: str) -> str:
        """The region's own members first: a master asks the nearest member."""
        nearest = sorted(self.etcd, key=lambda m: region_of(m, self.topology) != region)
        return ",".join(self.reached_from(m, region) for m in nearest)

    def master_address_in(self, region: str) -> str:
        reach = self.address_map()
        return ",".join(reach(a) for a in self.internal_master_in(region).split(","))

    def address_map_in(self, region: str) -> Callable[[str], str]:
        """The address map of a client in `region`: a master named by its own address (the
        leader a follower points to) is reached as that region reaches it."""
        reach = self.address_map()
        view = {self.inside(m): self.reached_from(m, region) for m in self.masters}
        return lambda address: reach(view.get(address, address))

    def advertised_to(self, node: Node) -> dict[str, str]:
        """{other region: where its nodes reach chunk server `node`}."""
        own = node.labels.get("region", "")
        return {r.name: self.link_between(own, r.name).address_for(node, r.name)
                for r in self.topology.regions if r.name != own} if self.wan else {}

    def link_between(self, a: str, b: str):
        """The link node between regions a and b; None within one region."""
        return next((link for link in self.wan if {a, b} == set(link.labels.values())), None)
