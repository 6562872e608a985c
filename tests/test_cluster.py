"""The client against a real in-process cluster: the file-like API, namespace errors,
fall-back reads and retried writes, and self-healing after a chunk server stops."""

import os
import random
import threading

import pytest

from conftest import CHUNK_SIZE, wait_for
from mooseng.client import namespace as client_namespace
from mooseng.common.errors import (AlreadyExists, DataLoss, FailedPrecondition, InvalidArgument,
                                   NotFound, ResourceExhausted, Unavailable)

CS = CHUNK_SIZE


def pattern(size: int, seed: int = 0) -> bytes:
    return random.Random(seed).randbytes(size)


# ---------------------------------------------------------------- file-like API (shared cluster)

def test_multi_chunk_file_round_trip(cluster):
    c = cluster.client()
    data = pattern(3 * CS + 12345, seed=1)
    result = c.write_bytes("/round.bin", data, goal=2)
    assert result.size == len(data) and result.goal == 2
    assert [ch.index for ch in result.chunks] == [0, 1, 2, 3]
    assert all(len(set(ch.servers)) == 2 for ch in result.chunks)
    assert c.read_bytes("/round.bin") == data


def test_empty_file(cluster):
    c = cluster.client()
    result = c.write_bytes("/empty.bin", b"")
    assert result.size == 0 and result.chunks == ()
    assert c.read_bytes("/empty.bin") == b""
    with c.open("/empty.bin", "rb") as handle:
        assert handle.read(10) == b""


@pytest.mark.parametrize("fresh_for, allocations", [(10.0, []), (0.0, ["AllocateChunk"])],
                         ids=["grant-used", "grant-too-old"])
def test_a_small_file_uses_the_chunk_grant_that_came_with_its_creation(
        cluster, monkeypatch, fresh_for, allocations):
    """Create brings the first chunk's grant: a small file is Create, WriteChunkInline,
    CommitChunk. A grant older than FIRST_CHUNK_FRESH (its lease may be gone) is not used."""
    from mooseng.client import io as client_io
    from mooseng.client.master import MasterSession

    monkeypatch.setattr(client_io, "FIRST_CHUNK_FRESH", fresh_for)
    calls = []
    real = MasterSession.call
    monkeypatch.setattr(MasterSession, "call",
                        lambda self, method, *a, **k: calls.append(method) or real(
                            self, method, *a, **k))
    c = cluster.client()
    with c.open(f"/granted-{fresh_for}.bin", "xb", goal=2) as handle:
        handle.write(b"small")
    assert calls == ["Create", *allocations, "CommitChunk"]
    assert c.read_bytes(f"/granted-{fresh_for}.bin") == b"small"


def test_link_counts_follow_posix(cluster):
    c = cluster.client()
    c.mkdir("/links/a", parents=True)
    c.mkdir("/links/b")
    c.write_bytes("/links/f", b"x")
    assert c.stat("/links").nlink == 4      # its entry, its own ".", one ".." per subdirectory
    assert (c.stat("/links/a").nlink, c.stat("/links/f").nlink) == (2, 1)


def test_seek_and_partial_reads_across_chunk_boundaries(cluster):
    c = cluster.client()
    data = pattern(2 * CS + 999, seed=2)
    c.write_bytes("/seek.bin", data)
    with c.open("/seek.bin", "rb") as handle:
        for offset, length in [(0, 10), (CS - 5, 10), (CS, CS), (2 * CS + 990, 100),
                               (len(data) + 10, 5), (7, 2 * CS)]:
            handle.seek(offset)
            assert handle.read(length) == data[offset:offset + length], (offset, length)
        handle.seek(-4, os.SEEK_END)
        assert handle.tell() == len(data) - 4 and handle.read() == data[-4:]
        handle.seek(CS - 1)
        handle.seek(2, os.SEEK_CUR)
        assert handle.read(3) == data[CS + 1:CS + 4]


def test_writes_at_any_offset_match_a_local_model(cluster):
    c = cluster.client()
    rng = random.Random(3)
    model = bytearray(pattern(CS + 100, seed=3))
    c.write_bytes("/model.bin", bytes(model))
    with c.open("/model.bin", "r+b") as handle:
        for step in range(25):
            offset = rng.randrange(0, 3 * CS)
            if rng.random() < 0.2:
                size = rng.randrange(0, 3 * CS)
                handle.truncate(size)
                model[size:] = b""
                model.extend(bytes(size - len(model)))
            else:
                chunk = rng.randbytes(rng.choice([1, 100, CS // 3, CS + 7]))
                handle.seek(offset)
                handle.write(chunk)
                if offset > len(model):
                    model.extend(bytes(offset - len(model)))
                model[offset:offset + len(chunk)] = chunk
            if step % 5 == 4:
                handle.seek(0)
                assert handle.read() == bytes(model), f"after step {step}"
    assert c.stat("/model.bin").size == len(model)
    assert c.read_bytes("/model.bin") == bytes(model)


def test_append(cluster):
    c = cluster.client()
    first, second = pattern(CS - 10, seed=4), pattern(30, seed=5)
    c.write_bytes("/append.bin", first)
    with c.open("/append.bin", "ab") as handle:
        handle.write(second)
        handle.seek(0)                      # append mode writes at the end whatever the position
        handle.write(b"tail")
    assert c.read_bytes("/append.bin") == first + second + b"tail"
    with c.open("/append-new.bin", "ab") as handle:
        handle.write(b"fresh")
    assert c.read_bytes("/append-new.bin") == b"fresh"


def test_truncate_shrinks_then_grows_with_zeros(cluster):
    c = cluster.client()
    data = pattern(3 * CS, seed=6)
    c.write_bytes("/trunc.bin", data)
    cut = CS + 17
    result = c.truncate("/trunc.bin", cut)
    assert result.size == cut and len(result.chunks) == 2
    assert c.read_bytes("/trunc.bin") == data[:cut]
    c.truncate("/trunc.bin", 2 * CS + 5)     # the old bytes past the cut must not come back
    assert c.read_bytes("/trunc.bin") == data[:cut] + bytes(2 * CS + 5 - cut)
    c.truncate("/trunc.bin", 0)
    assert c.read_bytes("/trunc.bin") == b"" and c.stat("/trunc.bin").chunks == ()


def test_holes_read_as_zeros(cluster):
    c = cluster.client()
    with c.open("/sparse.bin", "wb") as handle:
        handle.seek(2 * CS + 10)
        handle.write(b"end")
    data = c.read_bytes("/sparse.bin")
    assert data == bytes(2 * CS + 10) + b"end"
    assert [ch.index for ch in c.stat("/sparse.bin").chunks] == [2]


def test_overwrite_replaces_the_content(cluster, tmp_path):
    c = cluster.client()
    c.write_bytes("/over.bin", pattern(2 * CS, seed=7))
    c.write_bytes("/over.bin", b"short")
    assert c.read_bytes("/over.bin") == b"short"
    local = tmp_path / "local.bin"
    local.write_bytes(pattern(CS + 1, seed=8))
    c.put(str(local), "/over.bin")
    c.get("/over.bin", str(tmp_path / "back.bin"))
    assert (tmp_path / "back.bin").read_bytes() == local.read_bytes()


def test_concurrent_writers_to_different_files(cluster):
    c = cluster.client()
    c.mkdir("/concurrent", parents=True)
    errors = []

    def writer(n: int) -> None:
        try:
            with c.open(f"/concurrent/f{n}", "wb") as handle:
                for part in range(4):
                    handle.write(pattern(CS // 2 + n, seed=100 * n + part))
        except Exception as error:  # noqa: BLE001 (reported by the assertion below)
            errors.append(error)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    for n in range(6):
        expected = b"".join(pattern(CS // 2 + n, seed=100 * n + part) for part in range(4))
        assert c.read_bytes(f"/concurrent/f{n}") == expected


def test_namespace_operations_and_errors(cluster, monkeypatch):
    c = cluster.client()
    c.mkdir("/ns/a/b", parents=True)
    with pytest.raises(AlreadyExists):
        c.mkdir("/ns/a")
    with pytest.raises(NotFound, match="missing"):
        c.mkdir("/ns/nope/x")
    with pytest.raises(InvalidArgument, match="255"):
        c.mkdir("/ns/" + "n" * 256)
    c.write_bytes("/ns/a/file", b"x")
    with pytest.raises(FailedPrecondition):
        c.remove("/ns/a")
    with pytest.raises(FailedPrecondition):
        c.open("/ns/a", "rb")
    with pytest.raises(NotFound):
        c.stat("/ns/absent")
    with pytest.raises(ResourceExhausted, match="3"):
        c.setgoal("/ns/a/file", 4)
    assert c.setgoal("/ns/a", 1, recursive=True) >= 2
    assert c.stat("/ns/a/file").goal == 1
    c.rename("/ns/a/file", "/ns/moved")
    assert c.read_bytes("/ns/moved") == b"x" and not c.exists("/ns/a/file")
    for n in range(7):
        c.write_bytes(f"/ns/a/b/f{n}", b"")
    monkeypatch.setattr(client_namespace, "_PAGE", 3)     # make ReadDir paginate
    assert [e.name for e in c.listdir("/ns/a/b")] == [f"f{n}" for n in range(7)]
    c.remove("/ns/a", recursive=True)
    assert [e.name for e in c.listdir("/ns")] == ["moved"]


# ---------------------------------------------------------------- failures (own cluster)

def _holder(cluster, stat) -> int:
    """Number of a running chunk server that holds a copy of the file's first chunk."""
    ids = {cluster.server_id(n): n for n, d in enumerate(cluster.chunkservers) if d}
    return ids[stat.chunks[0].server_ids[0]]


def test_rereplication_restores_the_goal_after_a_chunk_server_stops(fresh_cluster):
    cluster = fresh_cluster
    c = cluster.client()
    data = pattern(4 * CS + 321, seed=9)
    c.mkdir("/heal")
    before = c.write_bytes("/heal/data.bin", data, goal=2)
    assert all(len(ch.servers) == 2 for ch in before.chunks)
    victim = _holder(cluster, before)
    victim_id = cluster.server_id(victim)
    cluster.stop_chunkserver(victim)

    def healed():
        chunks = c.stat("/heal/data.bin").chunks
        states = {s["id"]: s["state"] for s in c.chunkservers()}
        ok = states.get(victim_id) == "offline" and all(
            len(set(ch.server_ids)) == 2 and victim_id not in ch.server_ids for ch in chunks)
        return ok and c.status()["chunks_undergoal"] == 0 and chunks

    chunks = wait_for(healed, "every chunk back at 2 valid copies without the stopped server")
    assert [ch.version for ch in chunks] == [ch.version for ch in before.chunks]
    assert c.read_bytes("/heal/data.bin") == data


def test_reads_fall_back_when_a_copy_is_down_or_corrupt(fresh_cluster, caplog):
    caplog.set_level("INFO", logger="mooseng.client")
    cluster = fresh_cluster
    c = cluster.client()
    data = pattern(2 * CS + 5, seed=10)
    stat = c.write_bytes("/fallback.bin", data, goal=2)
    first = _holder(cluster, stat)
    chunk = stat.chunks[0]
    name = f"chunk_{chunk.chunk_id:016x}_{chunk.version:08x}.chk"
    path = cluster.root / f"cs{first}" / "chunks" / f"{chunk.chunk_id % 256:02x}" / name
    raw = bytearray(path.read_bytes())
    raw[10] ^= 0xFF
    path.write_bytes(bytes(raw))
    assert c.read_bytes("/fallback.bin") == data          # DATA_LOSS -> the other copy
    assert "DATA_LOSS" in caplog.text
    cluster.stop_chunkserver(first)
    assert c.read_bytes("/fallback.bin") == data          # UNAVAILABLE -> the other copy


def test_write_retries_without_a_stopped_chunk_server(fresh_cluster, caplog):
    caplog.set_level("INFO", logger="mooseng.client")
    cluster = fresh_cluster
    c = cluster.client()
    cluster.stop_chunkserver(0)          # the master still believes it is online for a while
    data = pattern(3 * CS, seed=11)
    for n in range(3):                   # placement will offer the stopped one at least once
        assert c.write_bytes(f"/retry{n}.bin", data, goal=2).size == len(data)
        assert c.read_bytes(f"/retry{n}.bin") == data
    assert "retrying without" in caplog.text
    stopped = cluster.server_id(0)
    for n in range(3):
        for ch in c.stat(f"/retry{n}.bin").chunks:
            assert stopped not in ch.server_ids


def test_lowering_the_goal_removes_extra_copies(fresh_cluster):
    c = fresh_cluster.client()
    data = pattern(2 * CS + 1, seed=12)
    c.write_bytes("/lower.bin", data, goal=3)
    assert all(len(ch.servers) == 3 for ch in c.stat("/lower.bin").chunks)
    c.setgoal("/lower.bin", 1)

    def trimmed():
        chunks = c.stat("/lower.bin").chunks
        stored = sum(s["chunk_count"] for s in c.chunkservers())
        return (all(len(ch.servers) == 1 for ch in chunks) and stored == len(chunks)
                and c.status()["chunks_overgoal"] == 0)

    wait_for(trimmed, "one copy per chunk, on the master's map and on the chunk servers")
    assert c.read_bytes("/lower.bin") == data


def test_a_chunk_server_coming_back_leaves_no_extra_or_stale_copies(fresh_cluster):
    cluster = fresh_cluster
    c = cluster.client()
    data = pattern(CS + 7, seed=13)
    stat = c.write_bytes("/back.bin", data, goal=2)
    victim = _holder(cluster, stat)
    cluster.stop_chunkserver(victim)
    wait_for(lambda: c.status()["chunks_undergoal"] == 0 and all(
        cluster.server_id(victim) not in ch.server_ids for ch in c.stat("/back.bin").chunks),
        "re-replication without the stopped server")
    newer = pattern(CS + 7, seed=14)
    c.write_bytes("/back.bin", newer)            # the stopped server's copies are now stale
    cluster.start_chunkserver(victim)

    def settled():
        chunks = c.stat("/back.bin").chunks
        stored = {s["id"]: s["chunk_count"] for s in c.chunkservers()}
        status = c.status()
        return (status["chunks_overgoal"] == 0 and status["chunks_undergoal"] == 0
                and all(len(ch.servers) == 2 for ch in chunks)
                and sum(stored.values()) == 2 * len(chunks)) and stored

    wait_for(settled, "exactly two copies of each chunk once the server is back")
    assert c.read_bytes("/back.bin") == newer


def test_a_client_carries_on_after_a_master_restart(fresh_cluster):
    cluster = fresh_cluster
    c = cluster.client()
    data = pattern(2 * CS + 3, seed=15)
    c.write_bytes("/kept.bin", data, goal=2)
    cluster.restart_master()
    # Chunk locations come back with the chunk servers' registrations.
    wait_for(lambda: all(len(ch.servers) == 2 for ch in c.stat("/kept.bin").chunks),
             "both copies of every chunk known to the restarted master")
    assert c.read_bytes("/kept.bin") == data
    c.write_bytes("/after.bin", b"after restart")
    assert c.read_bytes("/after.bin") == b"after restart"


def test_right_after_a_master_restart_a_chunk_not_yet_reported_is_unavailable_not_lost(
        fresh_cluster):
    cluster = fresh_cluster
    c = cluster.client()
    c.write_bytes("/waiting.bin", pattern(100, seed=17), goal=1)
    for number in range(len(cluster.chunkservers)):
        cluster.stop_chunkserver(number)
    cluster.restart_master()
    chunk, = c.stat("/waiting.bin").chunks
    assert chunk.servers == () and chunk.registering
    with pytest.raises(Unavailable, match="no chunk server holding it has registered yet"):
        c.read_bytes("/waiting.bin")


def test_a_chunk_without_any_valid_copy_reads_as_data_loss(fresh_cluster):
    cluster = fresh_cluster
    c = cluster.client()
    stat = c.write_bytes("/lonely.bin", pattern(100, seed=16), goal=1)
    cluster.stop_chunkserver(_holder(cluster, stat))
    wait_for(lambda: c.status()["chunks_missing"] == 1, "the chunk counted as missing")
    assert c.stat("/lonely.bin").chunks[0].servers == ()
    with pytest.raises(DataLoss, match="no valid copy"):
        c.read_bytes("/lonely.bin")


def test_address_map_translates_chunk_server_addresses(cluster):
    seen = set()

    def translate(address: str) -> str:
        seen.add(address)
        return address

    c = cluster.client(address_map=translate)
    c.write_bytes("/mapped.bin", pattern(CS + 1, seed=17), goal=2)
    assert c.read_bytes("/mapped.bin") == pattern(CS + 1, seed=17)
    servers = {s["address"] for s in c.chunkservers()}
    assert seen and seen <= servers          # every chunk server dialled went through the map


def test_open_always_asks_the_master_even_with_the_name_cached(cluster, monkeypatch):
    """Close-to-open: opening revalidates attributes and chunk list, whatever the cache holds."""
    from mooseng.client.master import MasterSession

    c = cluster.client()
    wait_for(lambda: c.cache_stats()["live"], "the client's cache to hear the master")
    c.write_bytes("/c2o.bin", b"first")
    c.stat("/c2o.bin")
    calls = []
    real = MasterSession.call
    monkeypatch.setattr(MasterSession, "call", lambda self, method, *a, **k: calls.append(
        method) or real(self, method, *a, **k))
    c.stat("/c2o.bin")
    assert calls == [], "a second stat is answered from the cache"
    assert c.read_bytes("/c2o.bin") == b"first"
    assert calls == ["GetAttr", "GetChunks"]


def test_a_client_closed_at_once_stops_its_cache_watcher(cluster):
    """Closing a client while its invalidation stream is being opened must not hang."""
    import threading

    for _ in range(30):
        client = cluster.client()
        closing = threading.Thread(target=client.close)
        closing.start()
        closing.join(5)
        assert not closing.is_alive(), "Client.close() hung on its cache watcher"
