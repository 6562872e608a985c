"""Node control for a WAN link between two regions on the `docker` backend: a `mooseng-wan`
container forwarding a port of its own to every node that the other region reaches through it,
each port published on 127.0.0.1 so the test process can be a client of either region."""

from __future__ import annotations

from typing import TYPE_CHECKING

from support.drivers import regions
from support.drivers.base import START_TIMEOUT
from support.drivers.docker_node import DockerNode
from support.waiting import GiveUp, within

if TYPE_CHECKING:
    from support.drivers.docker import DockerCluster

FIRST_PORT = 7000


class DockerWanLink(DockerNode):
    def __init__(self, cluster: "DockerCluster", pair: regions.Pair, ip: str):
        super().__init__(cluster, pair.name, "wan", ip, {"region-a": pair.a.name,
                                                        "region-b": pair.b.name})
        self.pair = pair
        self.link_ports = {(c.node.name, c.seen_from): FIRST_PORT + number
                           for number, c in enumerate(pair.crossings)}

    @property
    def inner_ports(self) -> dict[str, int]:
        return {f"link-{port}": port for port in self.link_ports.values()}

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self._ports()[f'link-{FIRST_PORT}']}"

    http_address = address

    def address_for(self, node: DockerNode, region: str) -> str:
        """Where nodes of `region` reach `node` through this link, inside the network."""
        return f"{self.ip}:{self.link_ports[(node.name, region)]}"

    def _command(self) -> list[str]:
        return regions.wan_command(self.pair, lambda c: (
            f"0.0.0.0:{self.link_ports[(c.node.name, c.seen_from)]}", c.node.internal_address))

    def wait_ready(self) -> None:
        """It logs each link once it listens on it."""
        def probe() -> int:
            self.container.reload()
            if not self.container.attrs["State"]["Running"]:
                raise GiveUp(f"{self.name} exited before it listened; its log ends with:\n"
                             f"{self.logs(tail=15)}")
            return self.logs().count(" link ")

        within(START_TIMEOUT, probe, f"{self.name} to listen on its {len(self.link_ports)} links",
               until=lambda count: count >= len(self.link_ports))
