"""Two real chunk servers in one process, talking through real gRPC channels: the write chain,
reads with CRC checks, replication between them, and the HTTP side. No master is needed for
the data path, so the master address points at a port nobody listens on."""

import json
import os
import shutil
import socket
import threading
import time
import urllib.error
import urllib.request

import grpc
import pytest
from conftest import wait_for

from mooseng.chunkserver.config import ChunkServerConfig
from mooseng.chunkserver.server import ChunkServerDaemon
from mooseng.chunkserver.service import FAILED_SERVER_KEY
from mooseng.common import leases
from mooseng.common.errors import Unavailable
from mooseng.common.rpc import FRAME, OPTIONS, Channels
from mooseng.proto import mooseng_pb2 as pb
from mooseng.proto import mooseng_pb2_grpc as pb_grpc


KEY = leases.new_key()      # what the master these servers never meet would give them


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def pattern(n: int, seed: int = 0) -> bytes:
    unit = bytes((i * 7 + seed) % 251 for i in range(251 * 16))
    return (unit * (n // len(unit) + 1))[:n]


def start_chunkserver(data_dir, master: str, **settings) -> ChunkServerDaemon:
    settings = {"scrub_interval": 0.0, **settings}
    config = ChunkServerConfig(data_dir=str(data_dir), master=master, port=0, http_port=0,
                               **settings)
    daemon = ChunkServerDaemon(config)
    daemon.start()
    daemon.lease_keys.learn("the test's master", KEY)
    return daemon


@pytest.fixture
def pair(tmp_path):
    master = f"127.0.0.1:{free_port()}"
    servers = [start_chunkserver(tmp_path / f"cs{i}", master) for i in (1, 2)]
    channels = []

    def stub(server):
        channel = grpc.insecure_channel(server.address, options=OPTIONS)
        channels.append(channel)
        return pb_grpc.ChunkServerStub(channel)

    yield servers, stub
    for channel in channels:
        channel.close()
    for server in servers:
        server.stop()


def leased(header: pb.WriteChunkHeader, key: bytes | None = None) -> pb.WriteChunkHeader:
    """The header with a lease its servers accept (signed with KEY, or `key`)."""
    header.lease_expires = time.time() + 60
    header.lease_token = leases.sign(key or KEY, header.chunk_id, header.version,
                                     header.lease_expires)
    return header


def write_chunk(stub, data: bytes, chunk_id: int, version: int, chain=(), base=0, offset=0,
                timeout=30.0, inline=False, key=None):
    """A WriteChunk stream, or with `inline` the one-message WriteChunkInline, under a lease
    signed with the test's master key (or `key`)."""
    header = leased(pb.WriteChunkHeader(chunk_id=chunk_id, version=version, base_version=base,
                                        offset=offset, chain=list(chain),
                                        data_length=len(data)), key)
    if inline:
        return stub.WriteChunkInline(pb.WriteChunkInlineRequest(header=header, data=data),
                                     timeout=timeout)
    frames = [pb.WriteChunkRequest(header=header)]
    frames += [pb.WriteChunkRequest(data=data[i:i + FRAME]) for i in range(0, len(data), FRAME)]
    return stub.WriteChunk(iter(frames), timeout=timeout)


def read_chunk(stub, chunk_id, version, offset=0, length=0) -> bytes:
    request = pb.ReadChunkRequest(chunk_id=chunk_id, version=version, offset=offset,
                                  length=length)
    return b"".join(reply.data for reply in stub.ReadChunk(request, timeout=30))


def metric(server, name: str) -> float:
    return server.registry.get_sample_value(name) or 0.0


def test_one_set_of_channel_options_and_closed_channels_stay_closed(pair):
    """gRPC takes the minimum reconnect backoff as the connect timeout: 1 s, not less, so a
    busy peer under load is not taken for an unreachable one."""
    options = dict(OPTIONS)
    assert (options["grpc.initial_reconnect_backoff_ms"], options["grpc.min_reconnect_backoff_ms"],
            options["grpc.max_reconnect_backoff_ms"]) == (200, 1000, 2000)
    servers, _ = pair
    assert type(servers[0].peers) is Channels
    channels = Channels()
    channels.get(servers[0].address)
    channels.close()
    with pytest.raises(Unavailable, match="shutting down"):
        channels.get(servers[0].address)


def test_chained_write_lands_on_both_servers_and_reads_back(pair):
    (cs1, cs2), stub = pair
    data = pattern(3 * FRAME + 12345)
    reply = write_chunk(stub(cs1), data, 0x77, 5, chain=[cs2.address])
    assert list(reply.written_ids) == [cs1.store.server_id, cs2.store.server_id]
    assert reply.chunk_length == len(data)
    for server in (cs1, cs2):
        assert server.store.has(0x77, 5)
        assert read_chunk(stub(server), 0x77, 5) == data
    assert read_chunk(stub(cs2), 0x77, 5, FRAME - 3, 100000) == data[FRAME - 3:FRAME + 99997]
    assert metric(cs1, "mooseng_chunkserver_bytes_written_total") == len(data)
    assert metric(cs2, "mooseng_chunkserver_bytes_read_total") == len(data) + 100000


@pytest.mark.parametrize("inline", [False, True], ids=["stream", "inline"])
def test_new_version_from_base_through_the_chain(pair, inline):
    (cs1, cs2), stub = pair
    base = pattern(200000)
    write_chunk(stub(cs1), base, 9, 1, chain=[cs2.address])
    reply = write_chunk(stub(cs1), b"NEW" * 1000, 9, 2, chain=[cs2.address], base=1,
                        offset=150000, inline=inline)
    assert reply.chunk_length == 200000
    want = base[:150000] + b"NEW" * 1000 + base[153000:]
    for server in (cs1, cs2):
        assert read_chunk(stub(server), 9, 2) == want
        assert read_chunk(stub(server), 9, 1) == base


@pytest.mark.parametrize("inline", [False, True], ids=["stream", "inline"])
def test_truncate_through_the_chain(pair, inline):
    (cs1, cs2), stub = pair
    write_chunk(stub(cs1), pattern(300000), 4, 1, chain=[cs2.address])
    header = leased(pb.WriteChunkHeader(chunk_id=4, version=2, base_version=1,
                                        chain=[cs2.address], truncate=True,
                                        truncate_length=1000))
    if inline:
        reply = stub(cs1).WriteChunkInline(pb.WriteChunkInlineRequest(header=header), timeout=10)
    else:
        reply = stub(cs1).WriteChunk(iter([pb.WriteChunkRequest(header=header)]), timeout=10)
    assert reply.chunk_length == 1000
    assert read_chunk(stub(cs2), 4, 2) == pattern(1000)


@pytest.mark.parametrize("inline", [False, True], ids=["stream", "inline"])
def test_failed_downstream_server_is_named(pair, inline):
    (cs1, cs2), stub = pair
    dead = f"127.0.0.1:{free_port()}"
    with pytest.raises(grpc.RpcError) as caught:
        write_chunk(stub(cs1), pattern(FRAME), 10, 1, chain=[cs2.address, dead], inline=inline)
    error = caught.value
    assert error.code() == grpc.StatusCode.UNAVAILABLE
    assert dict(error.trailing_metadata())[FAILED_SERVER_KEY] == dead
    assert dead in error.details()


@pytest.mark.parametrize("inline", [False, True], ids=["stream", "inline"])
def test_missing_base_version_blames_that_server(pair, inline):
    (cs1, cs2), stub = pair
    write_chunk(stub(cs1), b"only here", 11, 1)
    with pytest.raises(grpc.RpcError) as caught:
        write_chunk(stub(cs1), b"x", 11, 2, chain=[cs2.address], base=1, inline=inline)
    assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
    assert dict(caught.value.trailing_metadata())[FAILED_SERVER_KEY] == cs2.address


@pytest.mark.parametrize("inline", [False, True], ids=["stream", "inline"])
def test_a_copy_the_disk_cannot_take_blames_that_server(pair, inline):
    """A disk error starting a copy is a chain failure naming this server (so the client retries
    without it), never an unexplained UNKNOWN status."""
    (_, cs2), stub = pair
    directory = os.path.dirname(cs2.store.paths(12, 1)[0])
    shutil.rmtree(directory, ignore_errors=True)
    with open(directory, "w"):   # the chunk's directory is now a file: opening fails
        pass
    with pytest.raises(grpc.RpcError) as caught:
        write_chunk(stub(cs2), b"x", 12, 1, inline=inline)
    assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
    assert dict(caught.value.trailing_metadata())[FAILED_SERVER_KEY] == cs2.address
    assert "cannot start version 1" in caught.value.details()


@pytest.mark.parametrize("inline", [False, True], ids=["stream", "inline"])
def test_a_full_chunk_server_down_the_chain_is_named_as_full(pair, inline):
    """RESOURCE_EXHAUSTED naming the full server: the client retries without it, and the
    operator sees why in the full server's metrics."""
    (cs1, cs2), stub = pair
    write_chunk(stub(cs2), b"fills it", 13, 1)
    cs2.store.capacity = 1                     # what it stores now is more than it may hold
    with pytest.raises(grpc.RpcError) as caught:
        write_chunk(stub(cs1), pattern(FRAME), 14, 1, chain=[cs2.address], inline=inline)
    assert caught.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert dict(caught.value.trailing_metadata())[FAILED_SERVER_KEY] == cs2.address
    assert "storage is full" in caught.value.details()
    assert "mooseng_chunkserver_writes_refused_full_total 1.0" in http_get(cs2, "/metrics")[1]


@pytest.mark.parametrize("key, expires, why", [
    (None, None, "without a lease token"),
    (leases.new_key(), 60, "not signed by a master of this chunk server"),
    (KEY, -5, "its lease ended 5 s ago"),
])
def test_a_write_without_a_lease_of_one_of_its_masters_stores_nothing(pair, key, expires, why):
    (cs1, _), stub = pair
    header = pb.WriteChunkHeader(chunk_id=15, version=1, data_length=3)
    if expires is not None:
        header.lease_expires = round(time.time() + expires)
        header.lease_token = leases.sign(key, 15, 1, header.lease_expires)
    with pytest.raises(grpc.RpcError) as caught:
        stub(cs1).WriteChunkInline(pb.WriteChunkInlineRequest(header=header, data=b"abc"),
                                   timeout=10)
    assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert why in caught.value.details()
    assert not cs1.store.has(15, 1)


def test_a_lease_is_for_its_chunk_and_version_only(pair):
    (cs1, _), stub = pair
    expires = time.time() + 60
    header = pb.WriteChunkHeader(chunk_id=16, version=2, data_length=1, lease_expires=expires,
                                 lease_token=leases.sign(KEY, 16, 1, expires))
    with pytest.raises(grpc.RpcError) as caught:
        stub(cs1).WriteChunkInline(pb.WriteChunkInlineRequest(header=header, data=b"x"),
                                   timeout=10)
    assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED


def test_write_must_start_with_a_header(pair):
    (cs1, _), stub = pair
    with pytest.raises(grpc.RpcError) as caught:
        stub(cs1).WriteChunk(iter([pb.WriteChunkRequest(data=b"x")]), timeout=10)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_corrupt_copy_answers_data_loss_and_is_dropped(pair):
    (cs1, _), stub = pair
    data = pattern(300000)
    write_chunk(stub(cs1), data, 12, 3)
    chk, crc = cs1.store.paths(12, 3)
    with open(chk, "r+b") as handle:
        handle.seek(200000)
        handle.write(b"\xff\xfe")
    with pytest.raises(grpc.RpcError) as caught:
        read_chunk(stub(cs1), 12, 3)
    assert caught.value.code() == grpc.StatusCode.DATA_LOSS
    assert "block 3" in caught.value.details()
    assert not os.path.exists(chk) and not os.path.exists(crc)
    assert metric(cs1, "mooseng_chunkserver_checksum_failures_total") == 1
    _, _, damaged = cs1.links[0].reporter.take()
    assert [(c.chunk_id, c.version) for c in damaged] == [(12, 3)]
    with pytest.raises(grpc.RpcError) as caught:
        read_chunk(stub(cs1), 12, 3)
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND


def test_verify_chunk_finds_the_bad_block(pair):
    (cs1, _), stub = pair
    write_chunk(stub(cs1), pattern(5 * 65536), 13, 1)
    request = pb.ChunkRequest(chunk_id=13, version=1)
    assert stub(cs1).VerifyChunk(request, timeout=10).valid
    chk, _ = cs1.store.paths(13, 1)
    with open(chk, "r+b") as handle:
        handle.seek(4 * 65536 + 1)
        handle.write(b"!")
    reply = stub(cs1).VerifyChunk(request, timeout=10)
    assert not reply.valid and list(reply.bad_blocks) == [4]
    assert not cs1.store.has(13, 1)


def test_replicate_from_peer_skips_a_dead_source(pair):
    (cs1, cs2), stub = pair
    data = pattern(2 * FRAME + 7)
    write_chunk(stub(cs1), data, 20, 4)
    dead = f"127.0.0.1:{free_port()}"
    request = pb.ReplicateChunkRequest(chunk_id=20, version=4, sources=[dead, cs1.address])
    ref = stub(cs2).ReplicateChunk(request, timeout=30)
    assert (ref.chunk_id, ref.version, ref.length) == (20, 4, len(data))
    assert read_chunk(stub(cs2), 20, 4) == data
    assert metric(cs2, "mooseng_chunkserver_replications_total") == 1
    with pytest.raises(grpc.RpcError) as caught:
        stub(cs2).ReplicateChunk(pb.ReplicateChunkRequest(chunk_id=21, version=1,
                                                          sources=[cs1.address]), timeout=30)
    assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
    assert not cs2.store.has(21, 1)


def test_delete_and_status(pair):
    (cs1, _), stub = pair
    write_chunk(stub(cs1), b"abc", 30, 1)
    status = stub(cs1).GetStatus(pb.ChunkServerStatusRequest(), timeout=10)
    assert (status.server_id, status.address, status.chunk_count) == \
        (cs1.store.server_id, cs1.address, 1)
    assert not status.registered
    stub(cs1).DeleteChunk(pb.ChunkRequest(chunk_id=30, version=1), timeout=10)
    stub(cs1).DeleteChunk(pb.ChunkRequest(chunk_id=30, version=1), timeout=10)
    assert cs1.store.copies() == []


def http_get(server, path):
    try:
        with urllib.request.urlopen(f"http://{server.http_address}{path}", timeout=5) as reply:
            return reply.status, reply.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def test_http_health_ready_metrics_and_ports_file(pair):
    (cs1, _), _ = pair
    code, body = http_get(cs1, "/ready")
    assert code == 200 and json.loads(body)["ready"]
    health = wait_for(lambda: (lambda h: h if "cannot reach" in h["checks"][0]["message"]
                               else None)(json.loads(http_get(cs1, "/health")[1])),
                      "the master check to report the unreachable master")
    assert health["status"] == "degraded"
    assert {c["name"]: c["status"] for c in health["checks"]} == \
        {"master": "degraded", "storage": "healthy"}
    code, text = http_get(cs1, "/metrics")
    for name in ("mooseng_chunkserver_bytes_written_total", "mooseng_chunkserver_chunks_stored",
                 "mooseng_chunkserver_disk_space_total_bytes", "mooseng_build_info"):
        assert name in text
    with open(os.path.join(cs1.store.data_dir, "ports.json")) as handle:
        assert json.load(handle) == {"grpc": cs1.port, "http": cs1.http_port}


def test_grpc_health_service(pair):
    from grpc_health.v1 import health_pb2, health_pb2_grpc
    (cs1, _), _ = pair
    with grpc.insecure_channel(cs1.address) as channel:
        reply = health_pb2_grpc.HealthStub(channel).Check(
            health_pb2.HealthCheckRequest(service="mooseng.v1.ChunkServer"), timeout=5)
    assert reply.status == health_pb2.HealthCheckResponse.SERVING


def test_a_stream_not_carrying_the_announced_bytes_is_refused(pair):
    """gRPC can show a cancelled sender as a normal end of stream: a stream shorter than the
    header's data_length is refused and no server of the chain commits it. A longer one is
    refused by the server that sees the extra bytes (one further down may have received
    exactly the announced bytes: a complete copy of a version the master never commits)."""
    (cs1, cs2), stub = pair
    for chunk_id, announced in ((71, 2 * FRAME), (72, FRAME)):
        header = leased(pb.WriteChunkHeader(chunk_id=chunk_id, version=1, chain=[cs2.address],
                                            data_length=announced))
        frames = [pb.WriteChunkRequest(header=header),
                  pb.WriteChunkRequest(data=pattern(FRAME)), pb.WriteChunkRequest(data=b"x" * 10)]
        with pytest.raises(grpc.RpcError) as error:
            stub(cs1).WriteChunk(iter(frames), timeout=30)
        assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert f"{announced} data bytes" in error.value.details()
        wait_for(lambda: cs1.service.active_operations == cs2.service.active_operations == 0,
                 "both servers to finish the call")
        assert not cs1.store.has(chunk_id, 1)
    assert not cs2.store.has(71, 1)
    assert write_chunk(stub(cs1), pattern(FRAME + 10), 71, 1, chain=[cs2.address]).written_ids


def test_an_inline_write_not_carrying_the_announced_bytes_is_refused(pair):
    (cs1, cs2), stub = pair
    for chunk_id, announced, data in ((73, 100, b"x" * 10), (74, 10, b"x" * 100)):
        header = leased(pb.WriteChunkHeader(chunk_id=chunk_id, version=1, chain=[cs2.address],
                                            data_length=announced))
        with pytest.raises(grpc.RpcError) as error:
            stub(cs1).WriteChunkInline(pb.WriteChunkInlineRequest(header=header, data=data),
                                       timeout=30)
        assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert f"{announced} data bytes" in error.value.details()
        wait_for(lambda: cs1.service.active_operations == cs2.service.active_operations == 0,
                 "both servers to finish the call")
        assert not cs1.store.has(chunk_id, 1) and not cs2.store.has(chunk_id, 1)


def test_cancelled_write_leaves_no_temp_files(pair):
    """A sender that goes away mid-stream gets no success, nothing is committed and temp files
    are removed."""
    (cs1, cs2), stub = pair
    release = threading.Event()

    def frames():
        header = leased(pb.WriteChunkHeader(chunk_id=70, version=1, chain=[cs2.address],
                                            data_length=2 * FRAME))
        yield pb.WriteChunkRequest(header=header)
        yield pb.WriteChunkRequest(data=pattern(FRAME))
        release.wait(30)

    def temp_files(server):
        return [name for _, _, names in os.walk(server.store.chunks_dir) for name in names
                if ".tmp" in name]

    call = stub(cs1).WriteChunk.future(frames(), timeout=30)
    wait_for(lambda: temp_files(cs1) and temp_files(cs2), "temp files on both servers")
    call.cancel()
    release.set()
    with pytest.raises(grpc.FutureCancelledError):
        call.result()
    wait_for(lambda: not temp_files(cs1) and not temp_files(cs2)
             and cs1.service.active_operations == cs2.service.active_operations == 0,
             "both servers to finish the call and remove their temp files")
    assert not cs1.store.has(70, 1) and not cs2.store.has(70, 1)


def test_health_says_when_less_than_one_chunk_of_space_is_left(tmp_path):
    server = start_chunkserver(tmp_path / "cs", f"127.0.0.1:{free_port()}", capacity=1024 * 1024)
    try:
        health = json.loads(http_get(server, "/health")[1])
        storage = {c["name"]: c for c in health["checks"]}["storage"]
        assert storage["status"] == "degraded"
        assert storage["message"].startswith(
            "full, less than one chunk of space left: 0 of 1048576 bytes used")
    finally:
        server.stop()


def test_a_stopped_chunk_server_serves_no_more(tmp_path):
    server = start_chunkserver(tmp_path / "cs", f"127.0.0.1:{free_port()}")
    channel = grpc.insecure_channel(server.address, options=OPTIONS)
    try:
        stub = pb_grpc.ChunkServerStub(channel)
        stub.GetStatus(pb.ChunkServerStatusRequest(), timeout=5)
        server.stop()
        with pytest.raises(grpc.RpcError) as caught:
            stub.GetStatus(pb.ChunkServerStatusRequest(), timeout=5)
        assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
    finally:
        channel.close()
