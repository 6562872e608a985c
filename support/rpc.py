"""Direct gRPC access to nodes: the generated stubs and the standard health service.

Used where a scenario checks the protocol itself (status codes, deadlines, health service) and
by drivers to see what the master knows; file operations go through `mooseng.client` instead.
"""

from __future__ import annotations

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from mooseng.common import rpc as mooseng_rpc
from mooseng.common.tls import Tls
from mooseng.proto import mooseng_pb2 as pb
from mooseng.proto import mooseng_pb2_grpc as pb_grpc

SERVICES = {
    "master": ["mooseng.v1.Master", "mooseng.v1.ChunkServerRegistry"],
    "chunkserver": ["mooseng.v1.ChunkServer"],
}


_TLS: dict[str, Tls] = {}     # address -> the suite's client certificate, for nodes on TLS


def on_tls(address: str, tls_dir: str) -> None:
    """The node at `address` speaks TLS only: dial it with the certificate in `tls_dir`."""
    _TLS[address] = Tls.load(tls_dir)


def forget(addresses) -> None:
    """A cluster that goes: a later node on the same port may speak plain text."""
    for address in addresses:
        _TLS.pop(address, None)


def channel(address: str) -> grpc.Channel:
    """gRPC's own options: a scenario sees the protocol as any client would."""
    return mooseng_rpc.channel(address, _TLS.get(address), options=())


def master(address: str) -> pb_grpc.MasterStub:
    return pb_grpc.MasterStub(channel(address))


def chunkserver(address: str) -> pb_grpc.ChunkServerStub:
    return pb_grpc.ChunkServerStub(channel(address))


def health_status(address: str, service: str = "", timeout: float = 2.0) -> str:
    """The standard grpc.health.v1 answer for `service` ("" = the whole server): SERVING, ..."""
    with channel(address) as ch:
        reply = health_pb2_grpc.HealthStub(ch).Check(
            health_pb2.HealthCheckRequest(service=service), timeout=timeout)
    return health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status)


def chunkservers(master_address: str, timeout: float = 2.0) -> list[pb.ChunkServerInfo]:
    with channel(master_address) as ch:
        reply = pb_grpc.MasterStub(ch).ListChunkServers(pb.ListChunkServersRequest(),
                                                        timeout=timeout)
    return list(reply.servers)


def role(master_address: str, timeout: float = 1.0) -> str:
    """single, leader or follower: what the master says it is; "" when it does not answer."""
    try:
        with channel(master_address) as ch:
            return pb_grpc.MasterStub(ch).GetClusterStatus(pb.ClusterStatusRequest(),
                                                           timeout=timeout).role
    except grpc.RpcError:
        return ""


def master_status(master_address: str, timeout: float = 2.0) -> pb.ClusterStatus:
    with channel(master_address) as ch:
        return pb_grpc.MasterStub(ch).GetClusterStatus(pb.ClusterStatusRequest(),
                                                       timeout=timeout)


def state_name(state: int) -> str:
    return pb.ServerState.Name(state)


def online_count(master_address: str) -> int:
    return sum(1 for s in chunkservers(master_address) if s.state == pb.ONLINE)
