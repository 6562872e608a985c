"""Balancing disk usage: copies moved from the fullest chunk servers to the emptiest until every
online server holds within TOLERANCE of the mean, never breaking a chunk's storage class and
never putting two copies on one server. Pure: the master passes what each server holds."""

from __future__ import annotations

import dataclasses
from typing import Iterable, Mapping

from mooseng.common import classes
from mooseng.master.placement import ONLINE, Candidate

TOLERANCE = 0.10          # of the mean usage


@dataclasses.dataclass(frozen=True)
class Held:
    chunk_id: int
    version: int
    size: int
    holders: tuple[str, ...]         # servers with a valid copy (the chunk is at goal)
    wants: tuple[str, ...]           # one constraint per copy


@dataclasses.dataclass(frozen=True)
class Move:
    chunk_id: int
    version: int
    source: str
    target: str
    size: int


def usage(chunks: Iterable[Held], servers: Mapping[str, Candidate]) -> dict[str, int]:
    """Bytes of copies on every online server."""
    used = {sid: 0 for sid, s in servers.items() if s.state == ONLINE}
    for chunk in chunks:
        for sid in chunk.holders:
            if sid in used:
                used[sid] += chunk.size
    return used


def balanced(used: Mapping[str, int], tolerance: float = TOLERANCE) -> bool:
    if len(used) < 2:
        return True
    mean = sum(used.values()) / len(used)
    return all(abs(u - mean) <= tolerance * mean for u in used.values())


def plan(chunks: list[Held], servers: Mapping[str, Candidate], tolerance: float = TOLERANCE,
         limit: int = 10_000) -> list[Move]:
    """Moves (at most `limit`), fullest server to emptiest first, until usage is balanced or no
    copy can move without breaking its class. Each chunk moves at most once per plan."""
    used = usage(chunks, servers)
    labels = {sid: s.labels for sid, s in servers.items()}
    on: dict[str, list[Held]] = {sid: [] for sid in used}
    for chunk in sorted(chunks, key=lambda c: -c.size):
        for sid in chunk.holders:
            if sid in on:
                on[sid].append(chunk)
    moved: set[int] = set()
    moves: list[Move] = []
    while len(moves) < limit and not balanced(used, tolerance):
        order = sorted(used, key=lambda sid: (used[sid], sid))
        targets = [sid for sid in order[:-1] if not servers[sid].full]
        move = _best(order[-1], targets, on, used, labels, moved)
        if move is None:
            break
        moves.append(move)
        moved.add(move.chunk_id)
        used[move.source] -= move.size
        used[move.target] += move.size
    return moves


def _best(source: str, targets: list[str], on: Mapping[str, list[Held]],
          used: Mapping[str, int], labels: Mapping, moved: set[int]) -> Move | None:
    """The largest copy on `source` that narrows the gap to the emptiest target able to take it
    (by its class, and holding no copy of it yet)."""
    for target in targets:
        gap = used[source] - used[target]
        for chunk in on[source]:
            if chunk.chunk_id in moved or target in chunk.holders or chunk.size * 2 > gap:
                continue
            after = {sid: labels[sid] for sid in chunk.holders if sid != source}
            after[target] = labels[target]
            if not classes.unmet(chunk.wants, after):
                return Move(chunk.chunk_id, chunk.version, source, target, chunk.size)
    return None
