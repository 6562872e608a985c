"""Pure client logic: byte ranges -> chunk pieces, frames, paths, modes, the data model."""

import pytest

from mooseng.client import paths
from mooseng.client.io import parse_mode
from mooseng.client.layout import Piece, chunk_count, frames, pieces
from mooseng.client.types import ChunkInfo, StatResult, server_dict, status_dict
from mooseng.common.errors import InvalidArgument
from mooseng.proto import mooseng_pb2 as pb

CS = 100


@pytest.mark.parametrize("offset,length,expected", [
    (0, 0, []),
    (0, 10, [Piece(0, 0, 10, 0)]),
    (0, 100, [Piece(0, 0, 100, 0)]),
    (95, 10, [Piece(0, 95, 5, 95), Piece(1, 0, 5, 100)]),
    (100, 100, [Piece(1, 0, 100, 100)]),
    (250, 300, [Piece(2, 50, 50, 250), Piece(3, 0, 100, 300), Piece(4, 0, 100, 400),
                Piece(5, 0, 50, 500)]),
])
def test_pieces_split_at_chunk_boundaries(offset, length, expected):
    result = list(pieces(offset, length, CS))
    assert result == expected
    assert sum(p.length for p in result) == length
    assert all(0 < p.end <= CS for p in result)


def test_pieces_reject_nonsense():
    with pytest.raises(ValueError):
        list(pieces(-1, 5, CS))
    with pytest.raises(ValueError):
        list(pieces(0, 5, 0))


@pytest.mark.parametrize("size,count", [(0, 0), (1, 1), (100, 1), (101, 2), (1000, 10)])
def test_chunk_count(size, count):
    assert chunk_count(size, CS) == count


def test_frames_cut_data_and_keep_every_byte():
    data = bytes(range(256)) * 10
    parts = list(frames(data, 1000))
    assert [len(p) for p in parts] == [1000, 1000, 560]
    assert b"".join(parts) == data
    assert list(frames(b"", 1000)) == []


@pytest.mark.parametrize("raw,normal", [
    ("/", "/"), ("", "/"), ("/a/b", "/a/b"), ("a/b/", "/a/b"), ("//a//b", "/a/b"),
    ("/a/./b/../c", "/a/c"), ("/..", "/")])
def test_normalize(raw, normal):
    assert paths.normalize(raw) == normal


def test_join_parent_basename():
    assert paths.join("/a", "b") == "/a/b"
    assert paths.join("/", "b") == "/b"
    assert paths.parent("/a/b") == "/a"
    assert paths.parent("/a") == "/"
    assert paths.basename("/a/b/") == "b"


@pytest.mark.parametrize("mode,expected", [
    ("rb", ("r", True, False)), ("wb", ("w", False, True)), ("ab", ("a", False, True)),
    ("xb", ("x", False, True)), ("r+b", ("r", True, True)), ("w+b", ("w", True, True))])
def test_modes(mode, expected):
    assert parse_mode(mode) == expected


@pytest.mark.parametrize("mode", ["", "rw", "rt", "rbb", "q"])
def test_bad_modes(mode):
    with pytest.raises(InvalidArgument, match="bad mode"):
        parse_mode(mode)


def test_stat_result_from_attr_and_to_dict():
    attr = pb.Attr(inode=7, type=pb.FILE, size=150, goal=2, mtime=1.5, name="f", chunk_size=CS)
    location = pb.ChunkLocation(chunk_index=1, chunk_id=0xAB, version=3, length=50,
                                servers=["h:1", "h:2"], server_ids=["s1", "s2"])
    result = StatResult.from_attr("/d/f", attr, [ChunkInfo.from_proto(location)])
    data = result.to_dict()
    assert data["size"] == 150 and data["goal"] == 2 and data["type"] == "file"
    assert data["chunks"] == [{"index": 1, "chunk_id": 0xAB, "version": 3, "length": 50,
                               "servers": ["h:1", "h:2"], "server_ids": ["s1", "s2"],
                               "registering": False}]
    assert result.name == "f"
    with pytest.raises(AttributeError):
        result.size = 1  # frozen
    directory = StatResult.from_attr("/d", pb.Attr(inode=2, type=pb.DIRECTORY))
    assert "chunks" not in directory.to_dict() and directory.is_dir


def test_server_and_status_dicts_are_plain_json():
    info = pb.ChunkServerInfo(id="abc", address="h:1", labels={"tier": "ssd"}, state=pb.OFFLINE,
                              capacity_bytes=10, used_bytes=4, chunk_count=2)
    assert server_dict(info) | {"last_heartbeat": 0} == {
        "id": "abc", "address": "h:1", "http_address": "", "labels": {"tier": "ssd"},
        "state": "offline", "capacity": 10, "used": 4, "full": False, "chunk_count": 2,
        "last_heartbeat": 0}
    status = status_dict(pb.ClusterStatus(chunks=5, servers_by_state={"online": 3}))
    assert status["chunks"] == 5 and isinstance(status["chunks"], int)
    assert status["servers_by_state"] == {"online": 3, "offline": 0, "maintenance": 0,
                                          "draining": 0}


def test_split_cuts_a_piece_for_parallel_reads():
    from mooseng.client.io import _split

    parts = _split(Piece(3, 10, 25, 310), 10)
    assert parts == [Piece(3, 10, 10, 310), Piece(3, 20, 10, 320), Piece(3, 30, 5, 330)]


class _Call:
    def __init__(self):
        import threading
        self.cancelled = threading.Event()

    def cancel(self):
        self.cancelled.set()


def test_watchdog_cancels_a_stream_without_progress():
    from mooseng.client.watchdog import Watchdog

    watchdog, call = Watchdog(0.2), _Call()
    watchdog.watch(call)
    assert call.cancelled.wait(5) and watchdog.fired


def test_watchdog_leaves_a_moving_stream_alone():
    import time

    from mooseng.client.watchdog import Watchdog

    watchdog, call = Watchdog(0.3), _Call()
    watchdog.watch(call)
    end = time.monotonic() + 1.0
    while time.monotonic() < end:          # the stream delivers data every 50 ms
        watchdog.progress()
        assert not call.cancelled.wait(0.05)
    watchdog.stop()
    assert not watchdog.fired
