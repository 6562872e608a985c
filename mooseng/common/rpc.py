"""gRPC plumbing shared by every role: servers with the standard health service, channels.

Every channel (client to master and chunk servers, chunk server to master and peers) uses
OPTIONS: reconnect within about 2 s of a server coming back (gRPC's default backoff grows to
120 s). gRPC also uses the minimum reconnect backoff as the time one connection attempt may
take, so it stays at 1 s: short enough to give up on a frozen server quickly, long enough for
a busy one under load. Each channel keeps its own connections: daemons and clients sharing a
process (as in tests) would otherwise share one connection per target, and with it the
reconnect backoff another one's failed calls started.
"""

import threading
from concurrent import futures

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from mooseng.common.errors import InvalidArgument, Unavailable
from mooseng.common.tls import SERVER_NAME, Tls

CREDENTIAL_KEY = "mooseng-credential"   # metadata a client's export secret travels in
FRAME = 1024 * 1024                  # data frames in ReadChunk / WriteChunk streams
MAX_MESSAGE = 8 * FRAME
OPTIONS = [
    ("grpc.max_send_message_length", MAX_MESSAGE),
    ("grpc.max_receive_message_length", MAX_MESSAGE),
    ("grpc.initial_reconnect_backoff_ms", 200),
    ("grpc.min_reconnect_backoff_ms", 1000),
    ("grpc.max_reconnect_backoff_ms", 2000),
    ("grpc.use_local_subchannel_pool", 1),
]


def channel(address: str, tls: Tls | None = None, options=OPTIONS) -> grpc.Channel:
    """A channel to `address`: plain text, or mutual TLS with the cluster's certificates."""
    if tls is None:
        return grpc.insecure_channel(address, options=options)
    return grpc.secure_channel(address, tls.channel_credentials(),
                               options=[*options, ("grpc.ssl_target_name_override", SERVER_NAME)])


def listen(server: grpc.Server, address: str, tls: Tls | None = None) -> int:
    """Add a port: plain text, or TLS that only peers with a certificate of the cluster's CA
    get through."""
    if tls is None:
        return server.add_insecure_port(address)
    return server.add_secure_port(address, tls.server_credentials())


def make_server(max_workers: int = 32) -> tuple[grpc.Server, health.HealthServicer]:
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=max_workers), options=OPTIONS)
    health_servicer = health.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    return server, health_servicer


def set_serving(health_servicer: health.HealthServicer, services: list[str], serving: bool):
    """Mark the overall server ("") and each named service SERVING or NOT_SERVING."""
    status = (health_pb2.HealthCheckResponse.SERVING if serving
              else health_pb2.HealthCheckResponse.NOT_SERVING)
    for name in ["", *services]:
        health_servicer.set(name, status)


def check_address(address: str) -> str:
    """An address a request names for this daemon to call (a write chain, a replication
    source) must be printable host:port: anything else is refused before it is dialled, and
    never echoed into gRPC metadata, which rejects control characters."""
    host, _, port = address.rpartition(":")
    if not (host and port.isdigit() and 0 < int(port) < 65536 and address.isascii()
            and address.isprintable() and " " not in address):
        raise InvalidArgument(f"address {address!r} is not host:port")
    return address


class Channels:
    """One channel per address, reused across calls (thread-safe). Closing them ends every
    call in progress; no new channel is opened after that (a stopping daemon stays stopped)."""

    def __init__(self, tls: Tls | None = None):
        self.tls = tls
        self._lock = threading.Lock()
        self._channels: dict[str, grpc.Channel] = {}
        self._closed = False

    def get(self, address: str) -> grpc.Channel:
        with self._lock:
            if self._closed:
                raise Unavailable(f"cannot call {address}: shutting down (channels closed)")
            opened = self._channels.get(address)
            if opened is None:
                opened = self._channels[address] = channel(address, self.tls)
            return opened

    def forget(self, address: str) -> None:
        with self._lock:
            channel = self._channels.pop(address, None)
        if channel is not None:
            channel.close()

    def close(self) -> None:
        with self._lock:
            self._closed = True
            channels, self._channels = list(self._channels.values()), {}
        for channel in channels:
            channel.close()


def parse_masters(text: str) -> list[str]:
    """'a:9421,b:9421' (commas or spaces) -> ['a:9421', 'b:9421']: a master, or several."""
    masters = text.replace(",", " ").split()
    if not masters:
        raise ValueError("no master address given")
    return masters
