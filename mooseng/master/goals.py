"""Goal accounting: from the chunk map and the servers' states, count under-goal, over-goal and
missing chunks and decide which copies to make or drop. Pure: the master executes the result.

A copy is valid when it has the chunk's current version and sits on an ONLINE or MAINTENANCE
server (maintenance is not a loss). A copy on a DRAINING server does not count towards the
goal, but it is read and copied from until the chunk has its copies elsewhere, then deleted.

With a storage class, each copy has a label constraint: a chunk with enough copies of which
some sit on servers its class does not allow is misplaced; the planner copies it to allowed
servers and only then drops the misplaced copies, so a class change never lowers the number of
copies. Of more copies than wanted, those on the fullest servers are the spare ones.

Versions of an unexpired write lease are never deleted (a write is in flight); other versions
are stale and deleted, unless the chunk has no valid copy left (then an old copy may be all that
remains of the data).
"""

from __future__ import annotations

import dataclasses
import random
from typing import Collection, Iterable, Mapping

from mooseng.common import classes
from mooseng.master import placement
from mooseng.master.placement import DRAINING, MAINTENANCE, ONLINE, Candidate

REPLICATE = "replicate"
DELETE = "delete"
VERIFY = "verify"            # check every block of a copy now (an administrator's repair)

# what a chunk of the metadata is, by its valid copies
AT_GOAL, UNDERGOAL, OVERGOAL, MISSING = "at goal", "undergoal", "overgoal", "missing"
MISPLACED = "misplaced"


@dataclasses.dataclass(frozen=True)
class ChunkView:
    chunk_id: int
    version: int                 # current committed version; 0 = not in the metadata
    goal: int
    copies: Mapping[str, Collection[int]]   # server_id -> versions of the copies it holds
    wants: tuple[str, ...] = ()             # one label constraint per copy; () = goal x any

    def constraints(self) -> tuple[str, ...]:
        return self.wants or classes.plain(self.goal)


@dataclasses.dataclass(frozen=True)
class Action:
    type: str                    # REPLICATE | DELETE | VERIFY
    server_id: str               # the server that executes it
    chunk_id: int
    version: int
    sources: tuple[str, ...] = ()    # REPLICATE: server ids holding a valid copy, best first
    reason: str = ""


@dataclasses.dataclass
class Plan:
    chunks: int = 0
    undergoal: int = 0
    overgoal: int = 0
    missing: int = 0
    misplaced: int = 0
    actions: list[Action] = dataclasses.field(default_factory=list)
    regions: dict[str, "RegionLag"] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class RegionLag:
    """Chunks still waiting for a copy in a region, and for how long the oldest has waited."""
    pending: int
    seconds: float


def valid_copies(chunk: ChunkView, servers: Mapping) -> list[str]:
    """Servers holding the current version while ONLINE or in MAINTENANCE (`servers` maps a
    server id to anything with a `state`)."""
    valid = []
    for sid, versions in chunk.copies.items():
        server = servers.get(sid)
        if chunk.version in versions and server and server.state in (ONLINE, MAINTENANCE):
            valid.append(sid)
    return valid


def draining_copies(chunk: ChunkView, servers: Mapping) -> list[str]:
    """Servers holding the current version while DRAINING."""
    return [sid for sid, versions in chunk.copies.items()
            if chunk.version in versions and sid in servers and servers[sid].state == DRAINING]


@dataclasses.dataclass(frozen=True)
class Assessment:
    status: str
    valid: list[str]                 # copies that count towards the goal
    draining: list[str]              # copies on draining servers (sources, not counted)
    where: dict[int, str]            # wanted copy index -> the valid copy that fills it


def assess(chunk: ChunkView, servers: Mapping) -> Assessment:
    valid = valid_copies(chunk, servers)
    draining = draining_copies(chunk, servers)
    where = placed(chunk, valid, servers)
    status = classify(chunk.goal, len(valid), len(where))
    if status == MISSING and draining:
        status = UNDERGOAL           # still readable from the server being drained
    return Assessment(status, valid, draining, where)


def regions_short(chunk: ChunkView, where: Mapping[int, str]) -> frozenset[str]:
    """Regions in which a copy the chunk's class wants there is not made yet."""
    return frozenset(region for index, want in enumerate(chunk.constraints())
                     if index not in where and (region := classes.region_of(want)))


def placed(chunk: ChunkView, holders: Collection[str], servers: Mapping) -> dict[int, str]:
    """{copy index: server id}: which of the chunk's wanted copies `holders` satisfy, the least
    used servers first (so the copies of the fullest are the spare ones)."""
    wants = chunk.constraints()
    known = sorted((sid for sid in holders if sid in servers),
                   key=lambda sid: (servers[sid].load(), sid))
    if all(want == classes.ANY for want in wants):
        return dict(enumerate(known[:len(wants)]))
    return classes.assign(wants, {sid: servers[sid].labels for sid in known}, prefer=known)


def classify(goal: int, valid: int, satisfied: int | None = None) -> str:
    """AT_GOAL, UNDERGOAL, OVERGOAL, MISPLACED or MISSING for a chunk with `valid` valid copies
    of which `satisfied` (default: all up to the goal) sit where its class wants them."""
    if not valid:
        return MISSING
    if valid < goal:
        return UNDERGOAL
    if satisfied is not None and satisfied < goal:
        return MISPLACED
    return OVERGOAL if valid > goal else AT_GOAL


def plan(chunks: Iterable[ChunkView], servers: Mapping[str, Candidate], *,
         leases: Mapping[int, set[int]] | None = None,
         replicating: Mapping[int, set[str]] | None = None,
         busy: Mapping[str, int] | None = None, limit: int = 4, act: bool = True,
         rng: random.Random | None = None) -> Plan:
    """Counts and (with act=True) actions for every chunk.

    leases: chunk_id -> versions being written; replicating: chunk_id -> target servers with a
    replication in flight; busy: server -> replications in flight (as source or target);
    limit: at most that many concurrent replications per server."""
    leases, replicating = leases or {}, replicating or {}
    load = dict(busy or {})
    result = Plan()

    def state(server_id: str) -> str | None:
        server = servers.get(server_id)
        return server.state if server else None

    for chunk in chunks:
        protected = leases.get(chunk.chunk_id, ())
        if not chunk.version:
            if act:
                for sid, version in _each(chunk):
                    if version not in protected and state(sid) == ONLINE:
                        result.actions.append(Action(DELETE, sid, chunk.chunk_id, version,
                                                     reason="unknown chunk"))
            continue
        result.chunks += 1
        found = assess(chunk, servers)
        status, valid, where = found.status, found.valid, found.where
        if status == MISSING:
            result.missing += 1
            continue
        if act:
            for sid, version in _each(chunk):
                if version != chunk.version and version not in protected \
                        and state(sid) in (ONLINE, DRAINING):
                    result.actions.append(Action(DELETE, sid, chunk.chunk_id, version,
                                                 reason="stale version"))
        if status in (UNDERGOAL, MISPLACED):
            if status == UNDERGOAL:
                result.undergoal += 1
            else:
                result.misplaced += 1
            if act:
                result.actions.extend(_replicate(chunk, valid, found.draining, servers,
                                                 replicating, load, limit, rng))
        if status == OVERGOAL:
            result.overgoal += 1
        if act and len(where) == chunk.goal and len(valid) > chunk.goal:
            # every wanted copy is in place: drop the others, keeping `goal` copies on ONLINE
            # servers (a maintenance copy may go away soon)
            online = [sid for sid in valid if state(sid) == ONLINE]
            spare = [sid for sid in online if sid not in where.values()]
            spare.sort(key=lambda sid: (servers[sid].load(), sid), reverse=True)
            extra = min(len(valid), len(online)) - chunk.goal
            wants = chunk.constraints()
            for sid in spare[:max(0, extra)]:
                allowed = any(classes.matches(w, servers[sid].labels) for w in wants)
                result.actions.append(Action(DELETE, sid, chunk.chunk_id, chunk.version,
                                             reason="over goal" if allowed else "misplaced"))
        if act and len(where) == chunk.goal:
            for sid in found.draining:       # made elsewhere: off the server being drained
                result.actions.append(Action(DELETE, sid, chunk.chunk_id, chunk.version,
                                             reason="drained"))
    return result


def _each(chunk: ChunkView) -> list[tuple[str, int]]:
    return [(sid, version) for sid, versions in chunk.copies.items()
            for version in sorted(versions)]


def _replicate(chunk: ChunkView, valid: list[str], draining: list[str],
               servers: Mapping[str, Candidate], replicating: Mapping[int, set[str]],
               load: dict[str, int], limit: int, rng: random.Random | None) -> list[Action]:
    """Copies for the wanted copies that neither a valid copy nor a replication in flight
    satisfies, each on a server its constraint allows."""
    in_flight = replicating.get(chunk.chunk_id, set())
    wants = chunk.constraints()
    where = placed(chunk, list(valid) + sorted(in_flight - set(valid)), servers)
    missing = [want for i, want in enumerate(wants) if i not in where]
    if not missing:
        return []
    # ONLINE first; a server being drained or in maintenance can still serve a copy
    sources = list(valid) + list(draining)
    sources.sort(key=lambda sid: (servers[sid].state != ONLINE, load.get(sid, 0), sid))
    if not sources or load.get(sources[0], 0) >= limit:
        return []
    candidates = [s for s in servers.values() if load.get(s.server_id, 0) < limit]
    targets = placement.choose_for(candidates, missing, exclude=set(chunk.copies) | in_flight,
                                   rng=rng)
    actions = []
    for target in targets:
        sources.sort(key=lambda sid: (servers[sid].state != ONLINE, load.get(sid, 0), sid))
        if load.get(sources[0], 0) >= limit:
            break
        load[sources[0]] = load.get(sources[0], 0) + 1
        load[target] = load.get(target, 0) + 1
        actions.append(Action(REPLICATE, target, chunk.chunk_id, chunk.version,
                              sources=tuple(sources),
                              reason="under goal" if len(valid) < chunk.goal else "misplaced"))
    return actions
