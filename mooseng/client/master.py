"""Calls to the master: one deadline on every call, gRPC errors turned into MooseNG errors.

With several masters the session follows the leader: a follower's NotLeader names it (or says
none is elected yet), and a master that cannot be connected to is skipped. Both mean the call
was not carried out, so it is sent again elsewhere until its deadline; any other failure is the
caller's to see, since the call may have been carried out.
"""

import re
import threading
import time

import grpc

from mooseng.common.consistency import VERSION_KEY
from mooseng.common.errors import (DeadlineExceeded, MooseNGError, NotLeader, Unavailable,
                                   from_rpc_error)
from mooseng.common.rpc import CREDENTIAL_KEY, Channels, parse_masters
from mooseng.proto import mooseng_pb2_grpc as pb_grpc

_CONNECT_FAILURES = ("failed to connect", "connection refused", "dns resolution failed",
                     "socket closed", "connection reset", "connection timed out",
                     "name resolution", "no route to host", "channel closed", "resolving",
                     "lookup", "network is unreachable")
# the call never left this process: safe to send to another master
_NEVER_SENT = ("failed to connect", "connection refused", "no route to host",
               "network is unreachable", "dns resolution failed")
RETRY_PAUSE = 0.05          # between two rounds over every master


class MasterUnreachable(Unavailable):
    """The master did not answer at all (down, wrong address, or cut off)."""

    def __init__(self, address: str, reason: str, never_sent: bool = False):
        super().__init__(f"cannot reach the master at {address}: {reason}")
        self.address = address
        self.never_sent = never_sent


class MasterSession:
    """Unary calls to the leading master; `call("Mkdir", request)` returns the reply or
    raises."""

    def __init__(self, masters: str, channels: Channels, timeout: float,
                 address_map=lambda address: address, credential: str = ""):
        """`address_map`: where this process dials a leader's advertised address;
        `credential`: the secret the masters' export rules for this client's network want."""
        self.credentials = ((CREDENTIAL_KEY, credential),) if credential else ()
        self.masters = parse_masters(masters)
        self._map = address_map
        self.timeout = timeout
        self._channels = channels
        self.tls = channels.tls      # the watcher dials with it too
        self._stubs = {a: pb_grpc.MasterStub(channels.get(a)) for a in self.masters}
        self._lock = threading.Lock()
        self._current = self.masters[0]
        self.seen = 0          # the newest metadata version a master answered with

    def stub(self, address: str):
        """A stub for a master dialled as `address` (after the address map)."""
        with self._lock:
            if address not in self._stubs:
                self._stubs[address] = pb_grpc.MasterStub(self._channels.get(address))
            return self._stubs[address]

    @property
    def address(self) -> str:
        return self._current

    def follow(self, leader: str) -> None:
        """Use `leader` from now on (a master named it)."""
        leader = self._map(leader)
        self.stub(leader)
        with self._lock:
            self._current = leader

    def skip(self, after: str) -> str:
        """Move on from `after` (it cannot be reached or leads no more) to the next master."""
        with self._lock:
            if self._current != after:
                return self._current        # another call already moved on
            order = list(self._stubs)
            self._current = order[(order.index(after) + 1) % len(order)]
            return self._current

    def call(self, method: str, request, timeout: float | None = None):
        timeout = timeout or self.timeout
        deadline = time.monotonic() + timeout
        tried = 0
        while True:
            address = self._current
            try:
                return self._call_one(address, method, request,
                                      max(0.05, deadline - time.monotonic()))
            except NotLeader as error:
                if error.leader:
                    self.follow(error.leader)
                else:
                    self.skip(address)
                last = error
            except MasterUnreachable as error:
                if not error.never_sent or len(self._stubs) == 1:
                    raise
                self.skip(address)
                last = error
            tried += 1
            if time.monotonic() >= deadline:
                if isinstance(last, NotLeader):
                    raise Unavailable(f"no master leads (asked {', '.join(self._stubs)} for "
                                      f"{timeout:g} s); the last said: {last}") from None
                raise last
            if tried % len(self._stubs) == 0:
                time.sleep(RETRY_PAUSE)

    def call_each(self, method: str, request) -> list[tuple[str, object]]:
        """(address, reply or the MooseNGError) from every master given, leader or not."""
        answers = []
        for address in list(self._stubs):
            try:
                answers.append((address, self._call_one(address, method, request,
                                                        self.timeout)))
            except MooseNGError as error:
                answers.append((address, error))
        return answers

    def call_at(self, address: str, method: str, request, metadata=()):
        """One try at the master dialled as `address`, whatever its role."""
        self.stub(address)
        return self._call_one(address, method, request, self.timeout, metadata)

    def _call_one(self, address: str, method: str, request, timeout: float, metadata=()):
        try:
            reply, call = getattr(self._stubs[address], method).with_call(
                request, timeout=timeout, metadata=(*metadata, *self.credentials))
        except grpc.RpcError as error:
            raise self._translate(address, error, timeout) from None
        for key, value in call.trailing_metadata() or ():
            if key == VERSION_KEY:
                with self._lock:
                    self.seen = max(self.seen, int(value))
        return reply

    def _translate(self, address: str, error: grpc.RpcError, timeout: float):
        code = error.code() if hasattr(error, "code") else None
        details = (error.details() if hasattr(error, "details") else "") or ""
        if code == grpc.StatusCode.UNAVAILABLE and (
                not details or any(s in details.lower() for s in _CONNECT_FAILURES)):
            return MasterUnreachable(address, self._why(details) or "no answer",
                                     any(s in details.lower() for s in _NEVER_SENT))
        if code == grpc.StatusCode.DEADLINE_EXCEEDED and details.lower() in (
                "", "deadline exceeded"):
            return DeadlineExceeded(
                f"the master at {address} did not answer within {timeout:g} s")
        return from_rpc_error(error)


    def _why(self, details: str) -> str:
        """What went wrong, with what to do where it is a TLS mismatch."""
        if "handshake failed" in details.lower():
            reason = re.findall(r"OPENSSL_internal:([^:]+)", details)
            return (f"the TLS handshake failed ({reason[-1] if reason else _short(details)}): "
                    f"its certificate and this client's must come from one cluster CA, and "
                    f"neither may have expired")
        if self.tls is None and "socket closed" in details.lower():
            return ("it closed the connection (a master on TLS closes plain-text ones: give "
                    "--tls DIR, or MOOSENG_TLS)")
        return _short(details)


def _short(details: str) -> str:
    """The useful tail of a gRPC core message ('... Connection refused')."""
    return details.rsplit(": ", 1)[-1].strip(" ]") if details else ""
