"""Choosing chunk servers for a new chunk or a new replica. Pure: the caller passes the view.

Default policy: least used first (fraction of capacity in 1 % steps, then number of chunks),
ties broken by the caller's random generator so equal servers share the load. Only ONLINE
servers qualify (not offline, not in maintenance) and no server is chosen twice.
"""

from __future__ import annotations

import dataclasses
import random
from typing import Iterable, Mapping

from mooseng.common.errors import ResourceExhausted

ONLINE = "online"
OFFLINE = "offline"
MAINTENANCE = "maintenance"


@dataclasses.dataclass(frozen=True)
class Candidate:
    server_id: str
    state: str
    capacity: int = 0
    used: int = 0
    chunks: int = 0
    labels: Mapping[str, str] = dataclasses.field(default_factory=dict)

    def load(self) -> tuple:
        fraction = self.used / self.capacity if self.capacity else 0.0
        return (round(fraction, 2), self.chunks)


def choose(servers: Iterable[Candidate], count: int, exclude: Iterable[str] = (),
           minimum: int = 1, rng: random.Random | None = None) -> list[str]:
    """Up to `count` distinct ONLINE servers not in `exclude`, least used first.

    Fewer than `count` is fine as long as at least `minimum` qualify; otherwise
    RESOURCE_EXHAUSTED saying how many were needed and how many were available."""
    excluded = set(exclude)
    seen: set[str] = set()
    eligible = []
    for server in servers:
        if server.state == ONLINE and server.server_id not in excluded \
                and server.server_id not in seen:
            seen.add(server.server_id)
            eligible.append(server)
    if len(eligible) < minimum:
        raise ResourceExhausted(f"no chunk server available: need {minimum}, "
                                f"{len(eligible)} online and eligible")
    if rng is None:
        eligible.sort(key=lambda s: (s.load(), s.server_id))
    else:
        keyed = [(s.load(), rng.random(), s) for s in eligible]
        keyed.sort(key=lambda item: item[:2])
        eligible = [item[2] for item in keyed]
    return [s.server_id for s in eligible[:count]]
