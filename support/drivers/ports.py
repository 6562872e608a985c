"""Free ports on 127.0.0.1 that a driver fixes for a node before the node binds them."""

from __future__ import annotations

import random
import socket

from support.drivers.base import BackendUnavailable

HOST_PORTS = (20000, 32000)     # below the kernel's ephemeral range (32768+)
_RNG = random.Random()


def free_port() -> int:
    """A free port on 127.0.0.1 BELOW the kernel's ephemeral range: a port from bind(0) is an
    ephemeral one, and any outgoing connection may take it before the node binds it."""
    for _ in range(200):
        port = _RNG.randrange(*HOST_PORTS)
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise BackendUnavailable(f"no free port on 127.0.0.1 in {HOST_PORTS[0]}-{HOST_PORTS[1]}")
