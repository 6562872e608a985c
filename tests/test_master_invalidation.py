"""The master's invalidation hub on its own: order, batching, a watcher that falls behind, the
limit on watchers, and which events a changelog entry makes."""

import pytest

from mooseng.common.errors import ResourceExhausted
from mooseng.master import invalidation
from mooseng.master.invalidation import Hub, events_for, path_event
from mooseng.proto import mooseng_pb2 as pb

Kind = pb.Invalidation.Kind


def subscribed(hub: Hub):
    stream = hub.stream()
    assert [e.kind for e in next(stream).events] == [Kind.SUBSCRIBED]
    return stream


def test_a_burst_goes_out_in_order_in_batches():
    sent = []
    hub = Hub(on_sent=sent.append)
    stream = subscribed(hub)
    hub.publish([path_event(f"/f{i}") for i in range(2500)])
    got, sizes = [], []
    while len(got) < 2500:
        batch = next(stream).events
        sizes.append(len(batch))
        got += [e.path for e in batch if e.kind == Kind.PATH]
    assert got == [f"/f{i}" for i in range(2500)]
    assert max(sizes) == invalidation.BATCH and sum(sent) == 2500


def test_a_watcher_that_falls_behind_is_cut_off(monkeypatch):
    """Its stream ends rather than skip an event: the client drops its cache, subscribes again."""
    monkeypatch.setattr(invalidation, "QUEUE_LIMIT", 5)
    hub = Hub()
    stream = subscribed(hub)
    hub.publish([path_event(f"/f{i}") for i in range(8)])
    assert list(stream) == []


def test_watchers_beyond_the_limit_are_refused(monkeypatch):
    monkeypatch.setattr(invalidation, "WATCHERS", 2)
    counts = []
    hub = Hub(on_watchers=counts.append)
    first, second = subscribed(hub), subscribed(hub)
    with pytest.raises(ResourceExhausted, match="at most 2 cache watchers"):
        subscribed(hub)
    first.close()
    assert counts[-1] == 1
    subscribed(hub)


@pytest.mark.parametrize("op, args, was_dir, expected", [
    ("create", {"path": "/d/f"}, False, [("/d/f", False)]),
    ("mkdir", {"path": "/a/b/c", "parents": True}, False, [("/a/b/c", False), ("/a/b", False),
                                                            ("/a", False)]),
    ("remove", {"path": "/d"}, True, [("/d", True)]),
    ("rename", {"src": "/f", "dst": "/g"}, False, [("/f", False), ("/g", False)]),
    ("setgoal", {"path": "/d", "recursive": False}, True, [("/d", False)]),
    ("setgoal", {"path": "/d", "recursive": True}, True, [("/d", True)]),
])
def test_each_namespace_change_names_its_paths(op, args, was_dir, expected):
    assert [(e.path, e.subtree) for e in events_for(op, args, was_dir)] == expected


def test_a_data_change_names_its_inode_and_bookkeeping_names_nothing():
    [event] = events_for("commit", {"inode": 7}, False)
    assert (event.kind, event.inode) == (Kind.INODE, 7)
    assert events_for("reserve", {"upto": 100}, False) == []
