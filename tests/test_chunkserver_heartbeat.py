"""The chunk server's side of the master protocol, against a small registry served over real
gRPC by the test: full report on registration, incremental heartbeats sent at once on a change,
commands (replicate, delete, verify), the scrubber, and re-registration after the master is
lost or asks for it."""

import json
import threading
import urllib.request
from concurrent import futures

import grpc
import pytest

from mooseng.chunkserver.heartbeat import Reporter
from mooseng.chunkserver.store import ChunkStore
from mooseng.proto import mooseng_pb2 as pb
from mooseng.proto import mooseng_pb2_grpc as pb_grpc

from conftest import wait_for
from test_chunkserver_service import (free_port, metric, pattern, read_chunk,
                                      start_chunkserver, write_chunk)


class Registry(pb_grpc.ChunkServerRegistryServicer):
    """What the master keeps about chunk servers, reduced to what these tests look at."""

    def __init__(self):
        self.lock = threading.Lock()
        self.registrations: list[pb.RegisterRequest] = []
        self.heartbeats: list[pb.HeartbeatRequest] = []
        self.commands: dict[str, list[pb.Command]] = {}
        self.reregister: set[str] = set()

    def Register(self, request, context):  # noqa: N802
        with self.lock:
            self.registrations.append(request)
        return pb.RegisterReply(chunk_size=4 * 1024 * 1024, heartbeat_interval=0.2)

    def Heartbeat(self, request, context):  # noqa: N802
        with self.lock:
            self.heartbeats.append(request)
            commands = self.commands.pop(request.server_id, [])
            again = request.server_id in self.reregister
            self.reregister.discard(request.server_id)
        return pb.HeartbeatReply(commands=commands, reregister=again)

    def reported(self, field: str, server_id: str) -> set[tuple[int, int]]:
        with self.lock:
            return {(r.chunk_id, r.version) for hb in self.heartbeats
                    if hb.server_id == server_id for r in getattr(hb, field)}

    def registered(self, server_id: str) -> list[pb.RegisterRequest]:
        with self.lock:
            return [r for r in self.registrations if r.server_id == server_id]


def serve_registry(registry: Registry, port: int = 0) -> tuple[grpc.Server, int]:
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=8))
    pb_grpc.add_ChunkServerRegistryServicer_to_server(registry, server)
    port = server.add_insecure_port(f"127.0.0.1:{port}")
    server.start()
    return server, port


@pytest.fixture
def cluster(tmp_path):
    registry = Registry()
    master, port = serve_registry(registry)
    servers = []

    def add(name: str, **settings):
        server = start_chunkserver(tmp_path / name, f"127.0.0.1:{port}", **settings)
        servers.append(server)
        return server

    channels = []

    def stub(server):
        channel = grpc.insecure_channel(server.address)
        channels.append(channel)
        return pb_grpc.ChunkServerStub(channel)

    yield registry, add, stub, master, port
    for channel in channels:
        channel.close()
    for server in servers:
        server.stop()
    master.stop(None)


def test_registers_with_labels_and_full_report(cluster, tmp_path):
    registry, add, stub, *_ = cluster
    cs = add("cs1", label={"tier": "ssd", "region": "eu-west"})
    wait_for(lambda: cs.links[0].registered, "the first registration")
    write_chunk(stub(cs), b"kept across restarts", 5, 2)
    cs.stop()
    again = add("cs1", label={"tier": "ssd"})
    registration = wait_for(lambda: registry.registered(again.store.server_id)[-1:]
                            if len(registry.registered(again.store.server_id)) >= 2 else None,
                            "the restarted chunk server to register again")[0]
    assert registration.address == again.address
    assert registration.http_address == again.http_address
    assert dict(registration.labels) == {"tier": "ssd"}
    assert [(c.chunk_id, c.version, c.length) for c in registration.chunks] == [(5, 2, 20)]
    assert registration.capacity_bytes > 0
    assert again.store.chunk_size == 4 * 1024 * 1024  # told by the master
    wait_for(lambda: again.links[0].registered, "registered state")
    status = stub(again).GetStatus(pb.ChunkServerStatusRequest(), timeout=5)
    assert status.registered


def test_changes_are_reported_at_once(cluster):
    registry, add, stub, *_ = cluster
    cs = add("cs1")
    wait_for(lambda: cs.links[0].registered, "registration")
    write_chunk(stub(cs), b"x" * 1000, 7, 1)
    wait_for(lambda: (7, 1) in registry.reported("added", cs.store.server_id), "added report")
    cs.links[0].interval = 60.0  # from now on only a change can trigger a heartbeat
    registry.commands[cs.store.server_id] = []
    cs.store.delete(7, 1)
    wait_for(lambda: (7, 1) in registry.reported("removed", cs.store.server_id),
             "removed report without waiting for the interval", timeout=5)


def test_only_what_the_master_waits_for_sends_a_heartbeat_at_once(tmp_path):
    """A client's write is reported with the next regular heartbeat (the master learns of it
    from CommitChunk); replicated, deleted and damaged copies wake the heartbeat loop."""
    store = ChunkStore(str(tmp_path))
    store.open()
    reporter = Reporter()
    store.subscribe(reporter)

    def stored(chunk_id, replica):
        writer = store.begin(chunk_id, 1, replica=replica)
        writer.write(0, b"data")
        writer.commit()

    stored(1, replica=False)
    assert not reporter.wake.is_set()
    assert [(c.chunk_id, c.version) for c in reporter.take()[0]] == [(1, 1)]
    for change in (lambda: stored(2, replica=True), lambda: store.delete(1, 1),
                   lambda: store.drop_damaged(2, 1, "test")):
        reporter.wake.clear()
        change()
        assert reporter.wake.is_set()
    added, removed, damaged = reporter.take()
    assert (added, [(c.chunk_id, c.version) for c in removed],
            [(c.chunk_id, c.version) for c in damaged]) == ([], [(1, 1)], [(2, 1)])


def test_delete_verify_and_replicate_commands(cluster):
    registry, add, stub, *_ = cluster
    cs1, cs2 = add("cs1"), add("cs2")
    wait_for(lambda: cs1.links[0].registered and cs2.links[0].registered, "registrations")
    data = pattern(3 * 1024 * 1024 + 1)
    write_chunk(stub(cs1), data, 40, 3)
    write_chunk(stub(cs1), b"garbage", 41, 1)
    registry.commands[cs2.store.server_id] = [
        pb.Command(type=pb.REPLICATE, chunk_id=40, version=3,
                   sources=[f"127.0.0.1:{free_port()}", cs1.address])]
    wait_for(lambda: (40, 3) in registry.reported("added", cs2.store.server_id),
             "the replicated copy to be reported")
    assert read_chunk(stub(cs2), 40, 3) == data
    assert metric(cs2, "mooseng_chunkserver_replications_total") == 1

    registry.commands[cs1.store.server_id] = [pb.Command(type=pb.DELETE, chunk_id=41, version=1)]
    wait_for(lambda: (41, 1) in registry.reported("removed", cs1.store.server_id),
             "the deleted copy to be reported")
    assert not cs1.store.has(41, 1)

    chk, _ = cs2.store.paths(40, 3)
    with open(chk, "r+b") as handle:
        handle.write(b"\0\0\0")
    registry.commands[cs2.store.server_id] = [pb.Command(type=pb.VERIFY, chunk_id=40, version=3)]
    wait_for(lambda: (40, 3) in registry.reported("damaged", cs2.store.server_id),
             "the corrupt copy to be reported as damaged")
    assert not cs2.store.has(40, 3)
    assert metric(cs2, "mooseng_chunkserver_checksum_failures_total") == 1


def test_scrubber_finds_a_corrupt_copy(cluster):
    registry, add, stub, *_ = cluster
    cs = add("cs1", scrub_interval=0.3)
    wait_for(lambda: cs.links[0].registered, "registration")
    for chunk_id in (50, 51, 52):
        write_chunk(stub(cs), pattern(200000, chunk_id), chunk_id, 1)
    chk, _ = cs.store.paths(51, 1)
    with open(chk, "r+b") as handle:
        handle.seek(150000)
        handle.write(b"rot")
    wait_for(lambda: (51, 1) in registry.reported("damaged", cs.store.server_id),
             "the scrubber to report the corrupt copy")
    assert [c.chunk_id for c in cs.store.copies()] == [50, 52]
    assert metric(cs, "mooseng_chunkserver_checksum_failures_total") == 1


def test_reregisters_on_request(cluster):
    registry, add, _, *_ = cluster
    cs = add("cs1")
    wait_for(lambda: len(registry.registered(cs.store.server_id)) == 1, "registration")
    registry.reregister.add(cs.store.server_id)
    wait_for(lambda: len(registry.registered(cs.store.server_id)) == 2,
             "a second registration after reregister=true")


def test_keeps_retrying_while_the_master_is_down(cluster):
    registry, add, stub, master, port = cluster
    cs = add("cs1")
    wait_for(lambda: cs.links[0].registered, "registration")
    master.stop(None)
    wait_for(lambda: not cs.links[0].registered, "the lost master to be noticed")

    def health():
        with urllib.request.urlopen(f"http://{cs.http_address}/health", timeout=5) as reply:
            return json.loads(reply.read())

    checks = {c["name"]: c for c in health()["checks"]}
    assert checks["master"]["status"] == "degraded"
    assert "cannot reach master" in checks["master"]["message"]
    write_chunk(stub(cs), b"while away", 60, 1)
    back = Registry()
    server, _ = serve_registry(back, port)
    try:
        registration = wait_for(lambda: back.registered(cs.store.server_id),
                                "registration with the master that came back", timeout=10)[0]
        assert (60, 1) in {(c.chunk_id, c.version) for c in registration.chunks}
        wait_for(lambda: {c["name"]: c["status"] for c in health()["checks"]}["master"]
                 == "healthy", "the master check to be healthy again")
    finally:
        server.stop(None)
