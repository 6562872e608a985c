"""Step tables whose rows name an action of the step library ("a client makes these mistakes:")."""

from __future__ import annotations

from typing import TypeVar

T = TypeVar("T")

# Culprits of the mistake and bad-request tables: one name over the 255-byte limit, one path
# over the 1024-byte limit made of names within it.
LONG_NAME = "n" * 256
LONG_PATH = "/docs" + ("/" + "p" * 203) * 5


def action(actions: dict[str, T], name: str, kind: str) -> T:
    """The action a row names. A name the library lacks is a gap in the suite, not a verdict on
    MooseNG: say so, with the names it has."""
    if name not in actions:
        raise NotImplementedError(f"no such {kind} in the step library: {name!r}; "
                                  f"known: {sorted(actions)}")
    return actions[name]
