"""Choosing chunk servers for a new chunk or a new replica. Pure: the caller passes the view.

A storage class asks for one server per copy whose labels satisfy that copy's constraint.
Only ONLINE servers qualify (not offline, in maintenance or draining), none whose disk has no
room for one more chunk (full), and no server is chosen twice.
The cluster-wide allocation policy orders the servers that qualify:

- least-used (default): fraction of capacity in 1 % steps, then number of chunks, ties broken
  by the caller's random generator so equal servers share the load;
- round-robin: by server id, starting one further for every new chunk;
- random: uniformly at random;
- locality-aware: servers sharing the most labels with the writing client first (its rack,
  its region), least used among equals.
"""

from __future__ import annotations

import dataclasses
import random
from typing import Iterable, Mapping, Sequence

from mooseng.common.errors import ResourceExhausted
from mooseng.common import classes

LEAST_USED, ROUND_ROBIN, RANDOM, LOCALITY = ("least-used", "round-robin", "random",
                                             "locality-aware")
POLICIES = (LEAST_USED, ROUND_ROBIN, RANDOM, LOCALITY)

ONLINE = "online"
OFFLINE = "offline"
MAINTENANCE = "maintenance"
DRAINING = "draining"


@dataclasses.dataclass(frozen=True)
class Candidate:
    server_id: str
    state: str
    capacity: int = 0
    used: int = 0
    chunks: int = 0
    labels: Mapping[str, str] = dataclasses.field(default_factory=dict)
    full: bool = False       # less than one chunk of room left on its disk

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
    eligible, full = [], 0
    for server in servers:
        if server.state == ONLINE and server.server_id not in excluded \
                and server.server_id not in seen:
            seen.add(server.server_id)
            if server.full:
                full += 1
            else:
                eligible.append(server)
    if len(eligible) < minimum:
        raise ResourceExhausted(f"no chunk server available: need {minimum}, "
                                f"{len(eligible)} online and eligible"
                                + (f", {full} full (free space on their disks, or add "
                                   f"chunk servers)" if full else ""))
    if rng is None:
        eligible.sort(key=lambda s: (s.load(), s.server_id))
    else:
        keyed = [(s.load(), rng.random(), s) for s in eligible]
        keyed.sort(key=lambda item: item[:2])
        eligible = [item[2] for item in keyed]
    return [s.server_id for s in eligible[:count]]


def choose_for(servers: Iterable[Candidate], wants: Sequence[str], exclude: Iterable[str] = (),
               rng: random.Random | None = None, policy: str = LEAST_USED, turn: int = 0,
               near: Mapping[str, str] | None = None) -> list[str]:
    """For each wanted copy (label constraints, most specific first) the first server in the
    policy's order that satisfies it and was not chosen yet; a copy no such server satisfies is
    left out, never placed on a server its constraint does not allow. `turn` counts new chunks
    (round-robin), `near` holds the writing client's labels (locality-aware)."""
    servers = list(servers)
    labels = {s.server_id: s.labels for s in servers}
    ranked = choose(servers, len(servers), exclude, minimum=0, rng=rng)
    if policy == ROUND_ROBIN and ranked:
        ranked.sort()
        start = turn % len(ranked)
        ranked = ranked[start:] + ranked[:start]
    elif policy == RANDOM:
        (rng or random.Random()).shuffle(ranked)
    elif policy == LOCALITY and near:
        ranked.sort(key=lambda sid: -sum(labels[sid].get(k) == v for k, v in near.items()))
    chosen: list[str] = []
    for want in wants:
        for sid in ranked:
            if sid not in chosen and classes.matches(want, labels[sid]):
                chosen.append(sid)
                break
    return chosen
