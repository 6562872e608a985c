"""Free ports on 127.0.0.1 that a driver fixes for a node before the node binds them."""

from __future__ import annotations

from mooseng.bench import hacluster

from support.drivers.base import BackendUnavailable


def free_port() -> int:
    try:
        return hacluster.free_port()
    except RuntimeError as error:
        raise BackendUnavailable(str(error)) from None
