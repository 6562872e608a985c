"""The client's metadata cache on its own: TTLs, the LRU bound, invalidation events, the live
stream rule and exact hit accounting."""

import prometheus_client as prom
import pytest

from mooseng.client.cache import CacheMetrics, CacheSettings, MetadataCache
from mooseng.proto import mooseng_pb2 as pb

Kind = pb.Invalidation.Kind


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def attr(inode: int, kind=pb.FILE) -> pb.Attr:
    return pb.Attr(inode=inode, type=kind, size=inode)


def chunks(inode: int, *chunk_ids: int) -> pb.GetChunksReply:
    return pb.GetChunksReply(attr=attr(inode), chunks=[
        pb.ChunkLocation(chunk_index=i, chunk_id=c) for i, c in enumerate(chunk_ids)])


def make(**settings):
    registry = prom.CollectorRegistry()
    clock = Clock()
    cache = MetadataCache(CacheSettings(**settings), CacheMetrics(registry), clock)
    cache.set_live(True, silence=1.5)
    return cache, clock, registry


def sample(registry, name, **labels):
    return registry.get_sample_value(name, labels or None)


def test_a_value_is_served_until_its_ttl_and_each_hit_is_counted():
    cache, clock, registry = make(attr_ttl=10.0)
    cache.put("attr", "/f", attr(3), cache.token("attr"))
    clock.now += 1.0
    cache.heard()
    assert cache.get("attr", "/f").inode == 3
    clock.now += 9.5
    cache.heard()
    assert cache.get("attr", "/f") is None
    assert sample(registry, "mooseng_client_metadata_cache_hits_total", kind="attr") == 1


@pytest.mark.parametrize("kind", ["attr", "dir", "negative", "chunks"])
def test_a_ttl_of_zero_turns_a_kind_off(kind):
    cache, _, registry = make(**{f"{kind}_ttl": 0.0})
    value = {"attr": attr(3), "dir": (), "negative": "no such file", "chunks": chunks(3)}[kind]
    cache.put(kind, 3 if kind == "chunks" else "/f", value, cache.token(kind))
    assert cache.get(kind, 3 if kind == "chunks" else "/f") is None
    assert len(cache) == 0


def test_the_least_recently_used_entries_are_evicted_first():
    cache, _, registry = make(entries=3)
    for number in range(3):
        cache.put("attr", f"/f{number}", attr(number + 1), cache.token("attr"))
    assert cache.get("attr", "/f0") is not None      # /f0 is used again: /f1 is now the oldest
    cache.put("attr", "/f3", attr(4), cache.token("attr"))
    assert [cache.get("attr", f"/f{n}") is not None for n in range(4)] == [True, False, True,
                                                                          True]
    assert sample(registry, "mooseng_client_metadata_cache_evictions_total") == 1
    assert sample(registry, "mooseng_client_metadata_cache_entries") == 3


def test_a_path_event_forgets_the_path_its_parent_and_with_subtree_everything_below():
    cache, _, registry = make()
    for path, inode in (("/d", 2), ("/d/a", 3), ("/d/a/b", 4), ("/e", 5)):
        cache.put("attr", path, attr(inode), cache.token("attr"))
    cache.put("dir", "/d", (), cache.token("dir"))
    cache.put("negative", "/d/x", "no such file", cache.token("negative"))
    cache.invalidate(pb.Invalidation(kind=Kind.PATH, path="/d/x"))
    assert cache.get("negative", "/d/x") is None and cache.get("dir", "/d") is None
    assert cache.get("attr", "/d") is None and cache.get("attr", "/d/a") is not None
    cache.invalidate(pb.Invalidation(kind=Kind.PATH, path="/d/a", subtree=True))
    assert cache.get("attr", "/d/a") is None and cache.get("attr", "/d/a/b") is None
    assert cache.get("attr", "/e") is not None
    assert sample(registry, "mooseng_client_metadata_cache_invalidations_total") == 2


def test_inode_and_chunk_events_reach_every_entry_of_that_file():
    cache, _, _ = make()
    cache.put("attr", "/f", attr(7), cache.token("attr"))
    cache.put("attr", "/g", attr(8), cache.token("attr"))
    cache.put("chunks", 7, chunks(7, 70, 71), cache.token("chunks"))
    cache.put("chunks", 8, chunks(8, 80), cache.token("chunks"))
    cache.invalidate(pb.Invalidation(kind=Kind.CHUNK, chunk_id=71))
    assert cache.get("chunks", 7) is None and cache.get("attr", "/f") is not None
    cache.invalidate(pb.Invalidation(kind=Kind.INODE, inode=8))
    assert cache.get("attr", "/g") is None and cache.get("chunks", 8) is None
    cache.invalidate(pb.Invalidation(kind=Kind.EVERYTHING))
    assert len(cache) == 0


def test_an_answer_older_than_an_invalidation_is_not_stored():
    """The request went out, the change's event arrived, then the (old) answer: not cached.
    An event of another kind (a chunk's copies) does not stop an attribute being cached."""
    cache, _, _ = make()
    token = cache.token("attr")
    cache.invalidate(pb.Invalidation(kind=Kind.PATH, path="/f"))
    cache.put("attr", "/f", attr(3), token)
    assert cache.get("attr", "/f") is None
    token = cache.token("attr")
    cache.invalidate(pb.Invalidation(kind=Kind.CHUNK, chunk_id=9))
    cache.put("attr", "/f", attr(3), token)
    assert cache.get("attr", "/f") is not None


def test_nothing_is_served_without_a_live_stream_or_after_a_silence():
    cache, clock, registry = make()
    cache.put("attr", "/f", attr(3), cache.token("attr"))
    clock.now += 1.6                                 # longer than the stream's silence bound
    assert cache.get("attr", "/f") is None and len(cache) == 0
    cache.set_live(True, silence=1.5)
    cache.put("attr", "/f", attr(3), cache.token("attr"))
    cache.set_live(False)
    assert cache.get("attr", "/f") is None and len(cache) == 0
    cache.put("attr", "/f", attr(3), cache.token("attr"))
    assert len(cache) == 0
    assert sample(registry, "mooseng_client_metadata_cache_hits_total", kind="attr") == 0


@pytest.mark.parametrize("settings, message", [
    ({"attr_ttl": -1.0}, r"TTL of attr must be 0 \(off\) or more"),
    ({"entries": -5}, "entries must be 0 or more"),
])
def test_bad_settings_are_refused(settings, message):
    with pytest.raises(ValueError, match=message):
        CacheSettings(**settings)


def test_an_unknown_kind_is_refused():
    with pytest.raises(ValueError, match="unknown cache kind 'inodes'"):
        CacheSettings().ttl("inodes")


def test_a_file_written_elsewhere_drops_the_listings_that_show_its_size():
    from mooseng.client.types import StatResult

    cache, _, _ = make()
    listing = (StatResult.from_attr("/d/f", attr(7)), StatResult.from_attr("/d/g", attr(8)))
    cache.put("dir", "/d", listing, cache.token("dir"))
    cache.put("dir", "/e", (StatResult.from_attr("/e/h", attr(9)),), cache.token("dir"))
    cache.invalidate(pb.Invalidation(kind=Kind.INODE, inode=7))
    assert cache.get("dir", "/d") is None and cache.get("dir", "/e") is not None

