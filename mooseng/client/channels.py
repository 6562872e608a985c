"""gRPC channels for a client: reconnect within a second or two of a master or chunk server
coming back (gRPC's default backoff grows to 120 s, far too long after a restart).

gRPC also uses the minimum reconnect backoff as the time a connection attempt may take, so it
stays at 1 s: short enough to give up on a frozen server quickly, long enough for a busy one."""

import grpc

from mooseng.common.rpc import OPTIONS, Channels

CLIENT_OPTIONS = OPTIONS + [
    ("grpc.initial_reconnect_backoff_ms", 200),
    ("grpc.min_reconnect_backoff_ms", 1000),
    ("grpc.max_reconnect_backoff_ms", 1000),
]


class ClientChannels(Channels):
    def get(self, address: str) -> grpc.Channel:
        with self._lock:
            channel = self._channels.get(address)
            if channel is None:
                channel = grpc.insecure_channel(address, options=CLIENT_OPTIONS)
                self._channels[address] = channel
            return channel
