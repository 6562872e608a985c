"""Step tables whose rows name an action of the step library ("a client makes these mistakes:")."""

from __future__ import annotations

from typing import TypeVar

T = TypeVar("T")


def action(actions: dict[str, T], name: str, kind: str) -> T:
    """The action a row names. A name the library lacks is a gap in the suite, not a verdict on
    MooseNG: say so, with the names it has."""
    if name not in actions:
        raise NotImplementedError(f"no such {kind} in the step library: {name!r}; "
                                  f"known: {sorted(actions)}")
    return actions[name]
