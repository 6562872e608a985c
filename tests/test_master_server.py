"""MasterServer through a real gRPC channel: namespace RPCs, chunk allocation and commit,
chunk server registration and heartbeat commands, offline detection, restart after a crash."""

import json
import time
import urllib.request

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from conftest import wait_for

from mooseng.common.config import load
from mooseng.master.main import MasterConfig
from mooseng.master.server import MasterServer
from mooseng.proto import mooseng_pb2 as pb
from mooseng.proto import mooseng_pb2_grpc as pb_grpc

CHUNK = 256 * 1024
OFFLINE_TIMEOUT = 0.5




class Running:
    def __init__(self, data_dir):
        config = load(MasterConfig, ["--data-dir", str(data_dir), "--port", "0",
                                     "--http-port", "0", "--heartbeat-interval", "0.1",
                                     "--offline-timeout", str(OFFLINE_TIMEOUT), "--chunk-size", str(CHUNK)])
        self.server = MasterServer(config)
        self.server.start()
        ports = json.loads((data_dir / "ports.json").read_text())
        self.address = f"127.0.0.1:{ports['grpc']}"
        self.channel = grpc.insecure_channel(self.address)
        self.http = f"http://127.0.0.1:{ports['http']}"
        self.master = pb_grpc.MasterStub(self.channel)
        self.registry = pb_grpc.ChunkServerRegistryStub(self.channel)

    def stop(self, snapshot=True):
        self.channel.close()
        self.server.stop(snapshot=snapshot)

    def register(self, sid, chunks=()):
        return self.registry.Register(pb.RegisterRequest(
            server_id=sid, address=f"127.0.0.1:{1000 + int(sid[-1])}", capacity_bytes=10**9,
            chunks=[pb.ChunkRef(chunk_id=c, version=v) for c, v in chunks]))

    def heartbeat(self, sid, **refs):
        request = pb.HeartbeatRequest(server_id=sid, capacity_bytes=10**9)
        for field, items in refs.items():
            getattr(request, field).extend(pb.ChunkRef(chunk_id=c, version=v) for c, v in items)
        return self.registry.Heartbeat(request)

    def health(self):
        try:
            with urllib.request.urlopen(self.http + "/health") as reply:
                return json.load(reply)
        except urllib.error.HTTPError as error:
            return json.load(error)


@pytest.fixture
def running(tmp_path):
    master = Running(tmp_path)
    yield master
    master.stop()


def code_of(call):
    with pytest.raises(grpc.RpcError) as error:
        call()
    return error.value.code(), error.value.details()


def test_namespace_rpcs_and_errors(running):
    m = running.master
    m.Mkdir(pb.MkdirRequest(path="/a/b", parents=True))
    attr = m.Create(pb.CreateRequest(path="/a/b/f", exclusive=True)).attr
    assert attr.type == pb.FILE and attr.goal == 2 and attr.chunk_size == CHUNK
    assert code_of(lambda: m.Mkdir(pb.MkdirRequest(path="/x/y")))[0] == grpc.StatusCode.NOT_FOUND
    assert code_of(lambda: m.Create(pb.CreateRequest(path="/a/b/f", exclusive=True)))[0] \
        == grpc.StatusCode.ALREADY_EXISTS
    code, details = code_of(lambda: m.Mkdir(pb.MkdirRequest(path="/" + "n" * 256)))
    assert code == grpc.StatusCode.INVALID_ARGUMENT and "256" in details
    assert code_of(lambda: m.Remove(pb.RemoveRequest(path="/a")))[0] \
        == grpc.StatusCode.FAILED_PRECONDITION
    assert code_of(lambda: m.Rename(pb.RenameRequest(source="/a", destination="/a/b/c")))[0] \
        == grpc.StatusCode.INVALID_ARGUMENT
    code, details = code_of(lambda: m.SetGoal(pb.SetGoalRequest(path="/a", goal=3)))
    assert code == grpc.StatusCode.RESOURCE_EXHAUSTED and "3" in details and "(0)" in details
    assert code_of(lambda: m.SetGoal(pb.SetGoalRequest(path="/a", goal=0)))[0] \
        == grpc.StatusCode.INVALID_ARGUMENT
    assert code_of(lambda: m.Create(pb.CreateRequest(path="/a/g", goal=2)))[0] \
        == grpc.StatusCode.RESOURCE_EXHAUSTED
    for n in range(5):
        m.Create(pb.CreateRequest(path=f"/a/b/g{n}"))
    names, after = [], ""
    while True:
        page = m.ReadDir(pb.ReadDirRequest(path="/a/b", start_after=after, limit=2))
        names += [e.name for e in page.entries]
        if not page.more:
            break
        after = page.entries[-1].name
    assert names == ["f", "g0", "g1", "g2", "g3", "g4"]
    metrics = urllib.request.urlopen(running.http + "/metrics").read().decode()
    assert 'mooseng_master_metadata_operations_total{operation="Mkdir",status="not_found"} 1.0' \
        in metrics
    assert "mooseng_master_metadata_operation_duration_seconds_bucket" in metrics


def test_grpc_health_and_http_endpoints(running):
    health = health_pb2_grpc.HealthStub(running.channel)
    for service in ("", "mooseng.v1.Master"):
        reply = health.Check(health_pb2.HealthCheckRequest(service=service))
        assert reply.status == health_pb2.HealthCheckResponse.SERVING
    body = running.health()
    assert body["status"] == "degraded"
    checks = {c["name"]: c for c in body["checks"]}
    assert set(checks) == {"chunkservers", "replication", "data", "metadata"}
    assert "no chunk server" in checks["chunkservers"]["message"]
    ready = json.load(urllib.request.urlopen(running.http + "/ready"))
    assert ready["ready"] is True


def test_a_stopping_master_is_not_ready(tmp_path):
    """An orchestrator sends no new work once a stop has begun: while the master drains its
    calls, /ready answers 503 and the gRPC health service NOT_SERVING."""
    master = Running(tmp_path)
    channel = grpc.insecure_channel(master.address)
    health = health_pb2_grpc.HealthStub(channel)
    seen = []
    grpc_server = master.server.grpc_server
    drain = grpc_server.stop

    def observe_then_drain(grace):
        try:
            urllib.request.urlopen(master.http + "/ready")
            seen.append(200)
        except urllib.error.HTTPError as error:
            seen.append(error.code)
        seen.append(health.Check(health_pb2.HealthCheckRequest(service="")).status)
        return drain(grace)

    grpc_server.stop = observe_then_drain
    master.stop()
    channel.close()
    assert seen == [503, health_pb2.HealthCheckResponse.NOT_SERVING]


def write_chunk(running, inode, index, length, file_size):
    grant = running.master.AllocateChunk(pb.AllocateChunkRequest(inode=inode, chunk_index=index))
    running.master.CommitChunk(pb.CommitChunkRequest(
        inode=inode, chunk_index=index, chunk_id=grant.chunk_id, version=grant.version,
        lease_id=grant.lease_id, server_ids=list(grant.chain_ids), chunk_length=length,
        file_size=file_size))
    return grant


def test_write_path_replication_offline_and_cleanup(running):
    m = running.master
    for sid in ("cs1", "cs2", "cs3"):
        running.register(sid)
    m.SetGoal(pb.SetGoalRequest(path="/", goal=2))
    inode = m.Create(pb.CreateRequest(path="/f")).attr.inode
    grant = write_chunk(running, inode, 0, CHUNK, CHUNK)
    assert grant.base_version == 0 and len(set(grant.chain_ids)) == 2
    second = write_chunk(running, inode, 0, 100, CHUNK)        # overwrite: new version
    assert second.chunk_id == grant.chunk_id and second.base_version == grant.version
    assert list(second.chain_ids) == sorted(grant.chain_ids)
    chunks = m.GetChunks(pb.GetChunksRequest(inode=inode))
    assert chunks.attr.size == CHUNK
    [location] = chunks.chunks
    assert location.version == second.version and sorted(location.server_ids) \
        == sorted(grant.chain_ids)

    # the old version is stale: the holders are told to delete it
    holder = grant.chain_ids[0]
    deletes = set()

    def old_version_deleted():
        for sid in ("cs1", "cs2", "cs3"):
            deletes.update((sid, c.chunk_id, c.version) for c in running.heartbeat(sid).commands
                           if c.type == pb.DELETE)
        return {(sid, grant.chunk_id, grant.version) for sid in grant.chain_ids} <= deletes
    wait_for(old_version_deleted, "DELETE of the base version on both holders")
    assert all(version == grant.version for _, _, version in deletes)

    # one holder goes silent: offline, under goal, replicate to the third server
    silent = grant.chain_ids[1]
    alive = [s for s in ("cs1", "cs2", "cs3") if s != silent]
    third = [s for s in alive if s not in grant.chain_ids][0]

    def replicate_command():
        for sid in alive:
            for command in running.heartbeat(sid).commands:
                if command.type == pb.REPLICATE:
                    return sid, command
        return None
    target, command = wait_for(replicate_command, "a REPLICATE command")
    assert target == third and command.version == second.version
    assert command.sources == ["127.0.0.1:100" + holder[-1]]
    body = running.health()
    assert body["status"] == "degraded"
    assert silent in {c["name"]: c for c in body["checks"]}["chunkservers"]["message"]
    status = m.GetClusterStatus(pb.ClusterStatusRequest())
    assert status.servers_by_state["offline"] == 1 and status.chunks_undergoal == 1
    assert status.replications_pending == 1
    running.heartbeat(third, added=[(grant.chunk_id, second.version)])
    status = m.GetClusterStatus(pb.ClusterStatusRequest())
    assert status.chunks_undergoal == 0 and status.chunks == 1 and status.files == 1

    # remove frees the chunk: every holder gets a DELETE
    m.Remove(pb.RemoveRequest(path="/f"))
    seen = set()

    def all_deleted():
        for sid in alive:
            seen.update(sid for c in running.heartbeat(sid).commands
                        if c.type == pb.DELETE and c.chunk_id == grant.chunk_id)
        return seen == {holder, third}
    wait_for(all_deleted, "DELETE of the removed file's chunk on both live holders")


def test_create_of_an_empty_file_can_bring_the_first_chunk_grant(running):
    """A small file's first chunk comes with its creation: one round trip less."""
    m = running.master
    created = m.Create(pb.CreateRequest(path="/early", allocate_first_chunk=True))
    assert not created.HasField("first_chunk"), "no chunk server yet: the file only"
    assert created.attr.size == 0
    running.register("cs1")
    running.register("cs2")
    m.SetGoal(pb.SetGoalRequest(path="/", goal=2))
    plain = m.Create(pb.CreateRequest(path="/plain"))
    assert not plain.HasField("first_chunk")
    created = m.Create(pb.CreateRequest(path="/f", allocate_first_chunk=True))
    grant = created.first_chunk
    assert grant.base_version == 0 and sorted(grant.chain_ids) == ["cs1", "cs2"]
    m.CommitChunk(pb.CommitChunkRequest(
        inode=created.attr.inode, chunk_index=0, chunk_id=grant.chunk_id, version=grant.version,
        lease_id=grant.lease_id, server_ids=list(grant.chain_ids), chunk_length=5,
        file_size=5))
    again = m.Create(pb.CreateRequest(path="/f", allocate_first_chunk=True))
    assert again.attr.size == 5 and not again.HasField("first_chunk"), \
        "a file with data gets no grant: its writer allocates what it writes"


def test_watchers_hear_every_change_in_order_and_are_counted(running):
    m = running.master
    stream = m.WatchInvalidations(pb.WatchRequest())
    [first] = next(stream).events
    assert first.kind == pb.Invalidation.SUBSCRIBED and first.keepalive_seconds > 0
    wait_for(lambda: running.server.registry.get_sample_value("mooseng_master_cache_watchers")
             == 1, "the watcher to be counted")
    m.Mkdir(pb.MkdirRequest(path="/d"))
    m.Create(pb.CreateRequest(path="/d/f"))
    m.Rename(pb.RenameRequest(source="/d", destination="/e"))
    events = []
    for batch in stream:
        events += [(pb.Invalidation.Kind.Name(e.kind), e.path, e.subtree) for e in batch.events
                   if e.kind != pb.Invalidation.KEEPALIVE]
        if len(events) >= 4:
            break
    stream.cancel()
    assert events == [("PATH", "/d", False), ("PATH", "/d/f", False), ("PATH", "/d", True),
                      ("PATH", "/e", True)]
    assert running.server.registry.get_sample_value(
        "mooseng_master_invalidations_sent_total") == 4
    wait_for(lambda: running.server.registry.get_sample_value("mooseng_master_cache_watchers")
             == 0, "the watcher to be gone")


def test_unknown_heartbeat_reregisters_and_register_replaces_copies(running):
    assert running.heartbeat("cs9").reregister is True
    running.register("cs1")
    running.register("cs2")
    inode = running.master.Create(pb.CreateRequest(path="/f", goal=1)).attr.inode
    grant = write_chunk(running, inode, 0, 10, 10)
    holder = grant.chain_ids[0]
    running.register(holder, chunks=[])                          # restarted with an empty disk
    status = running.master.GetClusterStatus(pb.ClusterStatusRequest())
    assert status.chunks_missing == 1
    wait_for(lambda: running.health()["status"] == "critical", "health critical after the "
             "start-up grace (no copy of a chunk left)")
    running.register(holder, chunks=[(grant.chunk_id, grant.version)])
    status = running.master.GetClusterStatus(pb.ClusterStatusRequest())
    assert status.chunks_missing == 0


def test_maintenance_is_not_lost(running):
    running.register("cs1")
    running.register("cs2")
    inode = running.master.Create(pb.CreateRequest(path="/f", goal=2)).attr.inode
    write_chunk(running, inode, 0, 10, 10)
    running.master.SetMaintenance(pb.SetMaintenanceRequest(server_id="cs2", enabled=True))
    silent_until = time.monotonic() + 2 * OFFLINE_TIMEOUT       # cs2 stays silent past it
    while time.monotonic() < silent_until:
        running.heartbeat("cs1")
        time.sleep(0.05)
    status = running.master.GetClusterStatus(pb.ClusterStatusRequest())
    assert status.servers_by_state["maintenance"] == 1 and status.chunks_undergoal == 0
    assert code_of(lambda: running.master.SetMaintenance(
        pb.SetMaintenanceRequest(server_id="nope", enabled=True)))[0] == grpc.StatusCode.NOT_FOUND


def test_cluster_status_fills_every_field(running):
    running.register("cs1")
    inode = running.master.Create(pb.CreateRequest(path="/f", goal=1)).attr.inode
    write_chunk(running, inode, 0, 10, 10)
    status = running.master.GetClusterStatus(pb.ClusterStatusRequest())
    assert (status.files, status.directories, status.chunks) == (1, 1, 1)
    assert status.capacity_bytes == 10**9 and status.chunk_size == CHUNK
    assert status.default_goal == 2 and status.version and status.metadata_version > 3
    assert status.health in ("healthy", "degraded")
    assert set(status.servers_by_state) == {"online", "offline", "maintenance", "draining"}
    assert status.allocation_policy == "least-used" and not status.balancing


def test_metadata_survives_a_crash_and_restart(tmp_path):
    first = Running(tmp_path)
    first.register("cs1")
    first.master.Mkdir(pb.MkdirRequest(path="/keep/me", parents=True))
    inode = first.master.Create(pb.CreateRequest(path="/keep/me/f", goal=1)).attr.inode
    grant = write_chunk(first, inode, 0, 1000, 1000)
    first.master.Rename(pb.RenameRequest(source="/keep/me/f", destination="/keep/g"))
    first.stop(snapshot=False)                                   # no final snapshot
    second = Running(tmp_path)
    try:
        attr = second.master.GetAttr(pb.PathRequest(path="/keep/g")).attr
        assert attr.inode == inode and attr.size == 1000
        assert second.heartbeat("cs1").reregister is True
        second.register("cs1", chunks=[(grant.chunk_id, grant.version)])
        [location] = second.master.GetChunks(pb.GetChunksRequest(inode=inode)).chunks
        assert location.chunk_id == grant.chunk_id and list(location.server_ids) == ["cs1"]
        again = second.master.AllocateChunk(pb.AllocateChunkRequest(inode=inode, chunk_index=1))
        assert again.chunk_id > grant.version
    finally:
        second.stop()
