"""Goal accounting: from the chunk map and the servers' states, count under-goal, over-goal and
missing chunks and decide which copies to make or drop. Pure: the master executes the result.

A copy is valid when it has the chunk's current version and sits on an ONLINE or MAINTENANCE
server (maintenance is not a loss). Versions of an unexpired write lease are never deleted
(a write is in flight); other versions are stale and deleted, unless the chunk has no valid
copy left (then an old copy may be all that remains of the data).
"""

from __future__ import annotations

import dataclasses
import random
from typing import Collection, Iterable, Mapping

from mooseng.master import placement
from mooseng.master.placement import MAINTENANCE, ONLINE, Candidate

REPLICATE = "replicate"
DELETE = "delete"

# what a chunk of the metadata is, by its valid copies
AT_GOAL, UNDERGOAL, OVERGOAL, MISSING = "at goal", "undergoal", "overgoal", "missing"


@dataclasses.dataclass(frozen=True)
class ChunkView:
    chunk_id: int
    version: int                 # current committed version; 0 = not in the metadata
    goal: int
    copies: Mapping[str, Collection[int]]   # server_id -> versions of the copies it holds


@dataclasses.dataclass(frozen=True)
class Action:
    type: str                    # REPLICATE | DELETE
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
    actions: list[Action] = dataclasses.field(default_factory=list)


def valid_copies(chunk: ChunkView, servers: Mapping) -> list[str]:
    """Servers holding the current version while ONLINE or in MAINTENANCE (`servers` maps a
    server id to anything with a `state`)."""
    valid = []
    for sid, versions in chunk.copies.items():
        server = servers.get(sid)
        if chunk.version in versions and server and server.state in (ONLINE, MAINTENANCE):
            valid.append(sid)
    return valid


def classify(goal: int, valid: int) -> str:
    """AT_GOAL, UNDERGOAL, OVERGOAL or MISSING for a chunk with `valid` valid copies."""
    if not valid:
        return MISSING
    if valid < goal:
        return UNDERGOAL
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
        valid = valid_copies(chunk, servers)
        status = classify(chunk.goal, len(valid))
        if status == MISSING:
            result.missing += 1
            continue
        if act:
            for sid, version in _each(chunk):
                if version != chunk.version and version not in protected \
                        and state(sid) == ONLINE:
                    result.actions.append(Action(DELETE, sid, chunk.chunk_id, version,
                                                 reason="stale version"))
        if status == UNDERGOAL:
            result.undergoal += 1
            if act:
                result.actions.extend(_replicate(chunk, valid, servers, replicating, load,
                                                 limit, rng))
        elif status == OVERGOAL:
            result.overgoal += 1
            if act:
                # keep `goal` copies on ONLINE servers: a maintenance copy may go away soon
                online = [sid for sid in valid if state(sid) == ONLINE]
                online.sort(key=lambda sid: (servers[sid].load(), sid), reverse=True)
                extra = min(len(valid), len(online)) - chunk.goal
                for sid in online[:max(0, extra)]:
                    result.actions.append(Action(DELETE, sid, chunk.chunk_id, chunk.version,
                                                 reason="over goal"))
    return result


def _each(chunk: ChunkView) -> list[tuple[str, int]]:
    return [(sid, version) for sid, versions in chunk.copies.items()
            for version in sorted(versions)]


def _replicate(chunk: ChunkView, valid: list[str], servers: Mapping[str, Candidate],
               replicating: Mapping[int, set[str]], load: dict[str, int], limit: int,
               rng: random.Random | None) -> list[Action]:
    in_flight = replicating.get(chunk.chunk_id, set())
    needed = chunk.goal - len(valid) - len(in_flight)
    if needed <= 0:
        return []
    sources = list(valid)     # ONLINE first; a server in maintenance can still serve a copy
    sources.sort(key=lambda sid: (servers[sid].state != ONLINE, load.get(sid, 0), sid))
    if not sources or load.get(sources[0], 0) >= limit:
        return []
    candidates = [s for s in servers.values() if load.get(s.server_id, 0) < limit]
    targets = placement.choose(candidates, needed,
                               exclude=set(chunk.copies) | set(in_flight), minimum=0, rng=rng)
    actions = []
    for target in targets:
        sources.sort(key=lambda sid: (servers[sid].state != ONLINE, load.get(sid, 0), sid))
        if load.get(sources[0], 0) >= limit:
            break
        load[sources[0]] = load.get(sources[0], 0) + 1
        load[target] = load.get(target, 0) + 1
        actions.append(Action(REPLICATE, target, chunk.chunk_id, chunk.version,
                              sources=tuple(sources), reason="under goal"))
    return actions
