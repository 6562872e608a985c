"""Calls to the master: one deadline on every call, gRPC errors turned into MooseNG errors."""

import grpc

from mooseng.common.errors import DeadlineExceeded, Unavailable, from_rpc_error
from mooseng.common.rpc import Channels
from mooseng.proto import mooseng_pb2_grpc as pb_grpc

_CONNECT_FAILURES = ("failed to connect", "connection refused", "dns resolution failed",
                     "socket closed", "connection reset", "connection timed out",
                     "name resolution", "no route to host", "channel closed", "resolving",
                     "lookup", "network is unreachable")


class MasterUnreachable(Unavailable):
    """The master did not answer at all (down, wrong address, or cut off)."""

    def __init__(self, address: str, reason: str):
        super().__init__(f"cannot reach the master at {address}: {reason}")
        self.address = address


class MasterSession:
    """Unary calls to one master; `call("Mkdir", request)` returns the reply or raises."""

    def __init__(self, address: str, channels: Channels, timeout: float):
        self.address = address
        self.timeout = timeout
        self._stub = pb_grpc.MasterStub(channels.get(address))

    def call(self, method: str, request, timeout: float | None = None):
        try:
            return getattr(self._stub, method)(request, timeout=timeout or self.timeout)
        except grpc.RpcError as error:
            raise self._translate(error) from None

    def _translate(self, error: grpc.RpcError):
        code = error.code() if hasattr(error, "code") else None
        details = (error.details() if hasattr(error, "details") else "") or ""
        if code == grpc.StatusCode.UNAVAILABLE and (
                not details or any(s in details.lower() for s in _CONNECT_FAILURES)):
            return MasterUnreachable(self.address, _short(details) or "no answer")
        if code == grpc.StatusCode.DEADLINE_EXCEEDED and details.lower() in (
                "", "deadline exceeded"):
            return DeadlineExceeded(
                f"the master at {self.address} did not answer within {self.timeout:g} s")
        return from_rpc_error(error)


def _short(details: str) -> str:
    """The useful tail of a gRPC core message ('... Connection refused')."""
    return details.rsplit(": ", 1)[-1].strip(" ]") if details else ""
