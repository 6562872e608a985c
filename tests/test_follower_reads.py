"""A follower of the client's region answers its metadata reads, as far as the client's
consistency level allows: master-3 is in region ap-south and reaches etcd through an emulated
WAN link, which the tests slow down to make it lag."""

import shutil

import grpc
import pytest

from conftest import wait_for
from mooseng.bench.hacluster import ETCD_MISSING
from mooseng.client import Client
from mooseng.client.cache import CacheSettings
from mooseng.common.consistency import (BOUND_KEY, LEVEL_KEY, Consistency, from_metadata)
from mooseng.common.errors import InvalidArgument, NotFound
from mooseng.proto import mooseng_pb2 as pb
from mooseng.proto import mooseng_pb2_grpc as pb_grpc
from mooseng.wan import Proxy, Shape
from test_master_ha import HaCluster

pytestmark = pytest.mark.skipif(shutil.which("etcd") is None, reason=ETCD_MISSING)
REGIONAL = "master-3"


@pytest.fixture
def ha(tmp_path):
    cluster = HaCluster(tmp_path)
    wan = Proxy(Shape())
    try:
        cluster.etcd.start()
        links = [f"127.0.0.1:{wan.add(('127.0.0.1', 0), ('127.0.0.1', int(e.rsplit(':')[1])))}"
                 for e in cluster.etcd.endpoints.split(",")]
        cluster.etcd.start = lambda: None
        cluster.start(",".join(links), ("--region", "ap-south"))
        wait_for(cluster.leader, "one master to lead")
        assert cluster.leader() != REGIONAL      # it started last, behind its link
        staleness = cluster.masters[REGIONAL].ha.staleness
        wait_for(lambda: 0 <= staleness() < 1, "the regional master to catch up")
        cluster.wan = wan
        yield cluster
    finally:
        cluster.teardown()
        wan.close()


def _client(ha, level, bound=5.0, **kwargs):
    client = Client(ha.master_list, timeout=10.0, labels={"region": "ap-south"},
                    consistency=Consistency(level, bound), **kwargs)
    ha.clients.append(client)
    return client


def _reads(client, master):
    return client.registry.get_sample_value("mooseng_client_metadata_reads_total",
                                            {"master": master}) or 0


def _watchers(ha):
    """Clients watching the regional master for cache invalidations."""
    return ha.masters[REGIONAL].registry.get_sample_value("mooseng_master_cache_watchers")


def _cut_off(ha):
    """Hold the regional master's etcd traffic for a minute: it can no longer follow."""
    ha.wan.shape = Shape(delay=60.0)
    staleness = ha.masters[REGIONAL].ha.staleness
    wait_for(lambda: staleness() > 1.5, "the regional master to fall behind", timeout=20)


def test_the_regional_master_answers_reads_and_reports_its_region(ha):
    ha.client().write_bytes("/a.bin", b"a" * 10)
    client = _client(ha, "bounded")
    wait_for(lambda: client.exists("/a.bin"), "the file to be seen")
    assert _reads(client, "regional") >= 1 and _reads(client, "leader") == 0
    reported = wait_for(lambda: [m for m in client.status()["masters"] if m["name"] == REGIONAL
                                 and 0 <= m["staleness_seconds"] < 5],
                        "its next report to etcd")
    assert reported[0]["region"] == "ap-south"


def test_a_follower_beyond_the_bound_refuses_bounded_reads_and_the_leader_answers(ha):
    writer = ha.client()
    _cut_off(ha)
    writer.write_bytes("/after-cut.bin", b"n" * 10)
    bounded, eventual = _client(ha, "bounded", 1.0), _client(ha, "eventual")
    assert bounded.exists("/after-cut.bin")
    assert _reads(bounded, "leader") == 1 and _reads(bounded, "regional") == 0
    assert not eventual.exists("/after-cut.bin")           # stale, as eventual allows
    assert _reads(eventual, "regional") == 1
    address = ha.addresses[REGIONAL]
    with grpc.insecure_channel(address) as channel:
        with pytest.raises(grpc.RpcError) as refused:
            pb_grpc.MasterStub(channel).GetAttr(
                pb.PathRequest(path="/"), timeout=5,
                metadata=Consistency("bounded", 1.0).metadata())
    assert refused.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "more than the staleness bound of 1 s" in refused.value.details()
    assert dict(refused.value.trailing_metadata())["mooseng-leader"] == \
        ha.addresses[ha.leader()]


def _size(client, path):
    try:
        return client.stat(path).size
    except NotFound:
        return -1


def test_read_your_writes_holds_through_a_lagging_regional_master(ha):
    ha.wan.shape = Shape(delay=0.3)
    uncached = CacheSettings(entries=0)         # every read asks a master
    session = _client(ha, "read-your-writes", cache=uncached)
    eventual = _client(ha, "eventual", cache=uncached)
    missed = 0
    for number in range(5):
        eventual.write_bytes(f"/eventual-{number}.bin", b"e" * 100)
        missed += _size(eventual, f"/eventual-{number}.bin") != 100
        session.write_bytes(f"/session-{number}.bin", b"s" * 100)
        assert _size(session, f"/session-{number}.bin") == 100
    assert _reads(session, "regional") >= 5
    assert missed >= 1          # without the session's version, a lagging master misses them


def test_the_regional_master_invalidates_its_clients_caches(ha):
    cached = _client(ha, "bounded")
    with pytest.raises(NotFound):
        cached.stat("/late.bin")                  # cached as missing
    wait_for(lambda: _watchers(ha) == 1, "the client to watch the regional master")
    ha.client().write_bytes("/late.bin", b"l")
    wait_for(lambda: cached.exists("/late.bin"), "the regional master's invalidation")


def test_a_stale_regional_master_ends_its_invalidation_stream(ha):
    cached = _client(ha, "bounded", 1.0)
    wait_for(lambda: _watchers(ha) == 1, "the client to watch the regional master")
    _cut_off(ha)
    wait_for(lambda: _watchers(ha) == 0, "the stream to end", timeout=5)
    assert not cached.cache_stats()["live"]


@pytest.mark.parametrize("level, bound, message", [
    ("linearizable", 5.0, "unknown consistency level 'linearizable': choose one of strong, "
                          "bounded, read-your-writes, eventual"),
    ("bounded", 0.0, "a staleness bound must be more than 0 seconds (got 0)"),
    ("bounded", -2.0, "a staleness bound must be more than 0 seconds (got -2)"),
])
def test_a_bad_level_or_bound_is_a_clear_error(level, bound, message):
    with pytest.raises(InvalidArgument) as refused:
        Consistency(level, bound)
    assert message in str(refused.value)


def test_a_read_names_its_level_and_a_plain_one_is_strong():
    assert from_metadata(()) == (Consistency(), 0)
    assert from_metadata(Consistency("eventual", 2).metadata(after=7)) == \
        (Consistency("eventual", 2.0), 7)
    with pytest.raises(InvalidArgument, match="bad consistency metadata"):
        from_metadata(((LEVEL_KEY, "bounded"), (BOUND_KEY, "soon")))
