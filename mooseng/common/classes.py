"""Storage classes: a name and one label constraint per copy, e.g. `hot` = two copies on
`tier=ssd`, or `mixed` = one on `tier=ssd` and one on `tier=hdd`. A plain goal N is N copies
on any labels. Pure: which servers may hold which copy is decided here, the master supplies
the servers.

A constraint is `*` (any server) or `key=value` terms joined by `&`, all of which the server's
labels must carry. A class is written as one constraint per copy, `N*constraint` for N alike
copies: `2*tier=ssd`, `tier=ssd tier=hdd`, `3*`.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Iterable, Mapping, Sequence

from mooseng.common.errors import InvalidArgument

ANY = "*"
REGION = "region"            # the label naming a chunk server's (and a client's) region
MAX_COPIES = 9
_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_.-]{0,63}$")
_LABEL = re.compile(r"[A-Za-z0-9_.-]+$")
_COUNT = re.compile(r"(\d+)\*(.*)$")


@dataclasses.dataclass(frozen=True)
class StorageClass:
    name: str
    copies: tuple[str, ...]          # one constraint per copy, in canonical form
    archive_to: str = ""             # class that files move to when not modified for ...
    archive_after: float = 0.0       # ... this many seconds (0: no archive rule)

    def describe(self) -> str:
        return describe(self.copies)


def check_name(name: str) -> str:
    if not isinstance(name, str) or not _NAME.match(name):
        raise InvalidArgument(f"storage class name {name!r} is not valid: use 1-64 letters, "
                              "digits, '_', '.' or '-', starting with a letter")
    return name


def parse_constraint(text: str) -> str:
    """The canonical form of one copy's constraint (terms sorted), or INVALID_ARGUMENT."""
    text = text.strip()
    if text in ("", ANY):
        return ANY
    terms = {}
    for term in text.split("&"):
        key, sep, value = term.strip().partition("=")
        if not sep or not _LABEL.match(key.strip()) or not _LABEL.match(value.strip()):
            raise InvalidArgument(f"label expression {text!r} is malformed at {term.strip()!r}: "
                                  "write key=value terms joined by '&' (e.g. tier=ssd&rack=r1) "
                                  "or '*' for any server")
        if terms.get(key.strip(), value.strip()) != value.strip():
            raise InvalidArgument(f"label expression {text!r} asks for two values of "
                                  f"{key.strip()!r}: no server can match it")
        terms[key.strip()] = value.strip()
    return "&".join(f"{k}={v}" for k, v in sorted(terms.items()))


def parse_copies(specs: Iterable[str]) -> tuple[str, ...]:
    """`["2*tier=ssd", "tier=hdd"]` -> ("tier=ssd", "tier=ssd", "tier=hdd"), most specific
    first so that placing copies in this order never wastes a scarce server on `*`."""
    copies: list[str] = []
    for spec in specs:
        found = _COUNT.match(spec.strip())
        count, text = (int(found.group(1)), found.group(2)) if found else (1, spec)
        if count < 1:
            raise InvalidArgument(f"{spec!r} asks for {count} copies: at least 1")
        copies.extend([parse_constraint(text)] * count)
    if not copies:
        raise InvalidArgument("a storage class needs at least one copy (e.g. 2*tier=ssd)")
    if len(copies) > MAX_COPIES:
        raise InvalidArgument(f"a storage class may have at most {MAX_COPIES} copies, "
                              f"got {len(copies)}")
    return tuple(sorted(copies, key=lambda c: (c == ANY, -c.count("&"), c)))


def plain(goal: int) -> tuple[str, ...]:
    return (ANY,) * goal


def describe(copies: Sequence[str]) -> str:
    """`2*tier=ssd + 1*tier=hdd`, as people write it."""
    counts: dict[str, int] = {}
    for constraint in copies:
        counts[constraint] = counts.get(constraint, 0) + 1
    return " + ".join(f"{n}*{c}" if c != ANY else f"{n}*any" for c, n in counts.items())


def region_of(constraint: str) -> str | None:
    """The region a copy's constraint puts it in, if it names one."""
    if constraint == ANY:
        return None
    terms = dict(term.partition("=")[::2] for term in constraint.split("&"))
    return terms.get(REGION)


def split_by_region(copies: Sequence[str], region: str | None) -> tuple[tuple[str, ...],
                                                                         tuple[str, ...]]:
    """(copies written with the data, copies the replicator makes afterwards) for a writer in
    `region`: a write waits for the copies of its own region, not for a WAN. With no copy
    allowed in the writer's region (or a writer of no region), every copy is written with
    the data."""
    later = tuple(c for c in copies if region and region_of(c) not in (None, region))
    now = tuple(c for c in copies if c not in later)
    return (now, later) if now else (tuple(copies), ())


def matches(constraint: str, labels: Mapping[str, str]) -> bool:
    if constraint == ANY:
        return True
    return all(labels.get(key) == value for key, _, value in
               (term.partition("=") for term in constraint.split("&")))


def assign(copies: Sequence[str], holders: Mapping[str, Mapping[str, str]],
           prefer: Sequence[str] = ()) -> dict[int, str]:
    """The most copies that the holders (server id -> labels) can satisfy at once, each server
    holding at most one: {copy index: server id}. A maximum bipartite matching, taking the
    servers in the order `prefer` gives (by default by id)."""
    owner: dict[str, int] = {}
    order = [sid for sid in prefer if sid in holders] or sorted(holders)

    def place(index: int, seen: set[str]) -> bool:
        for sid in order:
            if sid in seen or not matches(copies[index], holders[sid]):
                continue
            seen.add(sid)
            if sid not in owner or place(owner[sid], seen):
                owner[sid] = index
                return True
        return False

    for index in range(len(copies)):
        place(index, set())
    return {index: sid for sid, index in owner.items()}


def unmet(copies: Sequence[str], servers: Mapping[str, Mapping[str, str]]) -> list[str]:
    """The constraints that `servers` cannot satisfy together (empty: the class can be met)."""
    placed = assign(copies, servers)
    return [copies[i] for i in range(len(copies)) if i not in placed]
