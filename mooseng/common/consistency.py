"""Consistency levels of metadata reads (upstream's four): which master may answer a client's
read, and how far behind the leader that master may be.

A client states its level on every read in gRPC metadata; a follower answers only what the level
allows and otherwise refuses with NotLeader, naming the leader. Every master's answer carries
the metadata version it held (trailing metadata), which is how a read-your-writes session knows
what it wrote.
"""

from __future__ import annotations

import dataclasses

from mooseng.common.errors import InvalidArgument

STRONG = "strong"                       # the leader only
BOUNDED = "bounded"                     # a follower at most `bound` seconds behind the leader
READ_YOUR_WRITES = "read-your-writes"   # a follower holding everything this session saw
EVENTUAL = "eventual"                   # any master, however far behind
LEVELS = (STRONG, BOUNDED, READ_YOUR_WRITES, EVENTUAL)
DEFAULT_BOUND = 5.0                     # seconds

LEVEL_KEY = "mooseng-consistency"
BOUND_KEY = "mooseng-staleness-bound"
AFTER_KEY = "mooseng-after-version"
VERSION_KEY = "mooseng-version"         # trailing: the answering master's metadata version


@dataclasses.dataclass(frozen=True)
class Consistency:
    level: str = STRONG
    bound: float = DEFAULT_BOUND        # seconds; bounded reads, and how long a
                                        # read-your-writes read waits for a follower

    def __post_init__(self):
        if self.level not in LEVELS:
            raise InvalidArgument(f"unknown consistency level {self.level!r}: choose one of "
                                  f"{', '.join(LEVELS)}")
        if not self.bound > 0:
            raise InvalidArgument(f"a staleness bound must be more than 0 seconds (got "
                                  f"{self.bound:g}): give e.g. {DEFAULT_BOUND:g}")

    @property
    def follower_may_answer(self) -> bool:
        return self.level != STRONG

    def metadata(self, after: int = 0) -> tuple[tuple[str, str], ...]:
        """What a read carries; `after`: the newest version this session saw."""
        return ((LEVEL_KEY, self.level), (BOUND_KEY, f"{self.bound:g}"),
                (AFTER_KEY, str(after)))


def from_metadata(metadata) -> tuple[Consistency, int]:
    """(the level a call asked for, the version it must see); strong when it names none."""
    found = {key: value for key, value in metadata or ()}
    if LEVEL_KEY not in found:
        return Consistency(), 0
    try:
        bound = float(found.get(BOUND_KEY, DEFAULT_BOUND))
        after = int(found.get(AFTER_KEY, "0"))
    except ValueError:
        raise InvalidArgument(f"bad consistency metadata: {BOUND_KEY}="
                              f"{found.get(BOUND_KEY)!r}, {AFTER_KEY}="
                              f"{found.get(AFTER_KEY)!r}") from None
    return Consistency(found[LEVEL_KEY], bound), after
