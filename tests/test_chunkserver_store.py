"""The chunk store: exact on-disk layout, CRCs, versions, partial writes, corruption, start-up."""

import os
import struct
import zlib

import pytest

from mooseng import BLOCK_SIZE
from mooseng.chunkserver.store import ChunkCopy, ChunkStore
from mooseng.common.errors import DataLoss, InvalidArgument, NotFound

B = BLOCK_SIZE


@pytest.fixture
def store(tmp_path):
    s = ChunkStore(str(tmp_path / "cs"))
    s.open()
    return s


def pattern(n: int, seed: int = 0) -> bytes:
    """Self-describing bytes: every position holds a different value than its neighbours."""
    return bytes((i * 7 + seed) % 251 for i in range(n))


def put(store, chunk_id, version, data, base=0, offset=0):
    writer = store.begin(chunk_id, version, base)
    writer.write(offset, data)
    return writer.commit()


def read(store, chunk_id, version, offset=0, length=0):
    return b"".join(store.read(chunk_id, version, offset, length))


def expected_crcs(data: bytes) -> bytes:
    return b"".join(struct.pack(">I", zlib.crc32(data[i:i + B])) for i in range(0, len(data), B))


def test_layout_and_crc_file(store, tmp_path):
    data = pattern(3 * B + 1000)
    copy = put(store, 0x1234, 7, data)
    assert copy == ChunkCopy(0x1234, 7, len(data))
    chk = tmp_path / "cs" / "chunks" / "34" / "chunk_0000000000001234_00000007.chk"
    crc = chk.with_suffix(".crc")
    assert chk.read_bytes() == data
    assert crc.read_bytes() == expected_crcs(data)
    assert sorted(os.listdir(chk.parent)) == [chk.name, crc.name]
    assert read(store, 0x1234, 7) == data


def test_reads_at_any_offset_and_length(store):
    data = pattern(5 * B + 123)
    put(store, 1, 1, data)
    for offset, length in [(0, 1), (B - 1, 2), (100, 3 * B), (5 * B, 0), (4 * B + 7, 10 ** 9),
                           (len(data), 0)]:
        want = data[offset:] if length == 0 else data[offset:offset + length]
        assert read(store, 1, 1, offset, length) == want


def test_frames_are_at_most_one_mib(store):
    data = pattern(3 * 1024 * 1024 + 5)
    put(store, 1, 1, data)
    frames = list(store.read(1, 1, 10))
    assert max(len(f) for f in frames) <= 1024 * 1024
    assert b"".join(frames) == data[10:]


def test_new_version_from_base_keeps_the_base(store):
    base = pattern(2 * B + 10)
    put(store, 5, 1, base)
    put(store, 5, 2, b"XYZ", base=1, offset=B + 5)
    assert read(store, 5, 1) == base
    assert read(store, 5, 2) == base[:B + 5] + b"XYZ" + base[B + 8:]
    assert {(c.chunk_id, c.version) for c in store.copies()} == {(5, 1), (5, 2)}
    assert store.verify(5, 2) == []


def test_partial_writes_and_holes_read_as_zeros(store):
    writer = store.begin(9, 1)
    writer.write(3 * B + 10, b"tail")
    writer.write(5, b"head")
    writer.write(B - 2, b"span")
    copy = writer.commit()
    want = bytearray(3 * B + 14)
    want[5:9] = b"head"
    want[B - 2:B + 2] = b"span"
    want[3 * B + 10:] = b"tail"
    assert copy.length == len(want)
    assert read(store, 9, 1) == want
    assert store.verify(9, 1) == []


def test_unaligned_sequential_frames(store):
    data = pattern(20 * B + 999, seed=3)
    writer = store.begin(2, 1)
    for pos in range(0, len(data), 300001):     # large enough for O_DIRECT, never aligned
        writer.write(77 + pos, data[pos:pos + 300001])
    writer.commit()
    assert read(store, 2, 1) == bytes(77) + data
    assert store.verify(2, 1) == []


def test_truncate_shrinks_and_extends(store):
    data = pattern(3 * B)
    put(store, 3, 1, data)
    writer = store.begin(3, 2, 1)
    writer.truncate(B + 100)
    writer.commit()
    assert read(store, 3, 2) == data[:B + 100]
    writer = store.begin(3, 3, 2)
    writer.truncate(2 * B + 1)
    writer.commit()
    assert read(store, 3, 3) == data[:B + 100] + bytes(B - 99)
    assert store.verify(3, 3) == []
    assert read(store, 3, 1) == data


def test_write_past_chunk_size_is_refused(store):
    store.chunk_size = 4 * B
    writer = store.begin(4, 1)
    with pytest.raises(InvalidArgument, match="past the chunk size"):
        writer.write(4 * B - 1, b"ab")
    writer.abort()


def test_corrupt_byte_detected_on_read_and_verify(store):
    data = pattern(4 * B)
    put(store, 0xabc, 2, data)
    chk, _ = store.paths(0xabc, 2)
    with open(chk, "r+b") as handle:
        handle.seek(2 * B + 17)
        handle.write(bytes([data[2 * B + 17] ^ 0xFF]))
    assert read(store, 0xabc, 2, 0, B) == data[:B]  # untouched blocks still read
    with pytest.raises(DataLoss, match=rf"chunk_0000000000000abc_00000002.*block 2 "
                                       rf"\(bytes {2 * B}-{3 * B - 1}\) fails its CRC check"):
        read(store, 0xabc, 2)
    assert store.verify(0xabc, 2) == [2]


def test_corrupt_base_block_is_not_hidden_by_a_new_version(store):
    data = pattern(2 * B)
    put(store, 8, 1, data)
    chk, _ = store.paths(8, 1)
    with open(chk, "r+b") as handle:
        handle.seek(10)
        handle.write(b"\x00\x00")
    writer = store.begin(8, 2, 1)
    with pytest.raises(DataLoss, match="block 0"):
        writer.write(100, b"partial overwrite")
    writer.abort()


def test_drop_and_delete_notify_listeners(store):
    events = []
    store.subscribe(lambda event, copy: events.append((event, copy.chunk_id, copy.version)))
    put(store, 1, 1, b"a")
    put(store, 2, 1, b"b")
    assert store.delete(1, 1)
    assert not store.delete(1, 1)
    assert store.drop_damaged(2, 1, "test")
    assert events == [("added", 1, 1), ("added", 2, 1), ("removed", 1, 1), ("damaged", 2, 1)]
    assert store.copies() == [] and store.used_bytes() == 0
    with pytest.raises(NotFound):
        read(store, 1, 1)


def test_startup_cleanup_and_reindex(tmp_path):
    store = ChunkStore(str(tmp_path / "cs"))
    store.open()
    put(store, 0x101, 3, pattern(B + 1))
    aborted = store.begin(0x101, 4, 3)
    aborted.write(0, b"never committed")       # left behind as a temp file, as after a crash
    chk, crc = store.paths(0x101, 3)
    directory = os.path.dirname(chk)
    stray_crc = os.path.join(directory, "chunk_0000000000000101_00000009.crc")
    with open(stray_crc, "wb") as handle:
        handle.write(b"\0\0\0\0")
    orphan_chk = os.path.join(directory, "chunk_0000000000000101_0000000a.chk")
    with open(orphan_chk, "wb") as handle:       # data without CRCs cannot be checked
        handle.write(b"unverifiable")
    again = ChunkStore(str(tmp_path / "cs"))
    again.open()
    assert sorted(os.listdir(directory)) == sorted([os.path.basename(chk), os.path.basename(crc)])
    assert again.copies() == [ChunkCopy(0x101, 3, B + 1)]
    assert again.used_bytes() == B + 1 + 8
    assert read(again, 0x101, 3) == pattern(B + 1)


def test_server_id_is_created_once(tmp_path):
    first = ChunkStore(str(tmp_path / "cs"))
    first.open()
    assert len(first.server_id) == 12
    second = ChunkStore(str(tmp_path / "cs"))
    second.open()
    assert second.server_id == first.server_id
    assert (tmp_path / "cs" / "server_id").read_text().strip() == first.server_id


def test_empty_chunk(store):
    writer = store.begin(6, 1)
    assert writer.commit().length == 0
    assert read(store, 6, 1) == b""
    assert store.verify(6, 1) == []


def test_without_o_direct(store, monkeypatch):
    """File systems or platforms without O_DIRECT take the ordinary write path."""
    monkeypatch.delattr("os.O_DIRECT", raising=False)
    data = pattern(10 * B + 5000)
    writer = store.begin(7, 1)
    writer.write(3, data)
    writer.commit()
    assert read(store, 7, 1) == bytes(3) + data
    assert store.verify(7, 1) == []


def _record_sync_events(store, monkeypatch) -> list:
    """(fsync|rename, file name, whether the store already listed the copy) in order."""
    events = []
    real_fsync, real_rename = os.fsync, os.rename

    def fsync(fd):
        path = os.readlink(f"/proc/self/fd/{fd}")
        real_fsync(fd)
        events.append(("fsync", os.path.basename(path).split(".tmp")[0], store.count()))

    def rename(src, dst):
        real_rename(src, dst)
        events.append(("rename", os.path.basename(dst), store.count()))

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "rename", rename)
    return events


NAME = "chunk_0000000000000042_00000007"


def test_a_client_write_is_named_then_data_crcs_and_directory_are_synced_in_one_round(
        store, monkeypatch):
    """One journal commit covers data, CRCs and names; the copy is listed only after it."""
    events = _record_sync_events(store, monkeypatch)
    put(store, 0x42, 7, b"durable")
    assert events[:2] == [("rename", f"{NAME}.crc", 0), ("rename", f"{NAME}.chk", 0)]
    assert sorted(events[2:]) == [("fsync", "42", 0), ("fsync", f"{NAME}.chk", 0),
                                  ("fsync", f"{NAME}.crc", 0)]
    assert store.has(0x42, 7)


def test_a_replicated_copy_is_durable_before_it_is_named(store, monkeypatch):
    """A replica is of a committed version: a power cut must never leave it named but torn."""
    events = _record_sync_events(store, monkeypatch)
    writer = store.begin(0x42, 7, replica=True)
    writer.write(0, b"durable")
    writer.commit()
    assert sorted(events[:2]) == [("fsync", f"{NAME}.chk", 0), ("fsync", f"{NAME}.crc", 0)]
    assert events[2:] == [("rename", f"{NAME}.crc", 0), ("rename", f"{NAME}.chk", 0),
                          ("fsync", "42", 0)]


def test_a_copy_whose_sync_fails_after_naming_leaves_no_file_behind(store, monkeypatch):
    def fsync(fd):
        raise OSError(5, "Input/output error")

    writer = store.begin(0x42, 7)
    writer.write(0, b"lost")
    monkeypatch.setattr(os, "fsync", fsync)
    with pytest.raises(OSError):
        writer.commit()
    monkeypatch.undo()
    assert not store.has(0x42, 7)
    assert [name for _, _, names in os.walk(store.data_dir) for name in names
            if name.startswith("chunk_")] == []
