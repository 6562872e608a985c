"""Regions: a write waits for the copies of the writer's region; the replicator makes the
others afterwards, and the master tells how far behind each region is."""

import pytest

from conftest import start_cluster, wait_for
from mooseng.bench.hacluster import free_port
from mooseng.common import classes
from mooseng.wan import Proxy, Shape

REGIONS = ("eu-west", "eu-west", "us-east")     # chunk servers 0, 1 and 2
SPREAD = ["2*region=eu-west", "region=us-east"]


@pytest.mark.parametrize("region, now, later", [
    ("eu-west", ("region=eu-west", "region=eu-west"), ("region=us-east",)),
    ("us-east", ("region=us-east",), ("region=eu-west", "region=eu-west")),
    ("ap-south", ("region=eu-west", "region=eu-west", "region=us-east"), ()),
    (None, ("region=eu-west", "region=eu-west", "region=us-east"), ()),
])
def test_a_writer_waits_for_the_copies_of_its_region_only(region, now, later):
    """A writer of no region, or of one the class has no copy in, writes every copy."""
    assert classes.split_by_region(classes.parse_copies(SPREAD), region) == (now, later)


def test_copies_of_any_region_are_written_with_the_data():
    copies = classes.parse_copies(["region=eu-west&tier=ssd", "*"])
    assert [classes.region_of(c) for c in copies] == ["eu-west", None]
    assert classes.split_by_region(copies, "us-east") == (("*",), ("region=eu-west&tier=ssd",))


@pytest.fixture
def regions(tmp_path):
    cluster = start_cluster(tmp_path, regions=REGIONS)
    yield cluster
    cluster.teardown()


def _spread_file(cluster, path, data):
    client = cluster.client(labels={"region": "eu-west"})
    client.define_class("spread", SPREAD)
    client.mkdir("/spread")
    client.setclass("/spread", "spread")
    client.write_bytes(path, data)
    return client


def _regions(client):
    return {r["region"]: r for r in client.status()["regions"]}


def _copy_regions(client, path):
    return sorted(c["labels"]["region"] for chunk in client.placement(path)["chunks"]
                  for c in chunk["copies"])


def test_a_new_chunk_is_written_to_the_writers_region_and_copied_to_the_others(regions):
    client = _spread_file(regions, "/spread/f", b"r" * 5000)
    core = regions.master.core
    inode = core.state.lookup("/spread/f").inode
    allocation = core.allocate(inode, 1, [], near={"region": "eu-west"})
    us_east = regions.server_id(2)
    assert len(allocation.chain) == 2 and us_east not in dict(allocation.chain), \
        f"a writer in eu-west waited for us-east: chain {allocation.chain}"
    wait_for(lambda: _copy_regions(client, "/spread/f") == ["eu-west", "eu-west", "us-east"],
             "the replicator to make the copy in us-east")
    wait_for(lambda: _regions(client)["us-east"]["chunks_pending"] == 0, "us-east caught up")


def test_rewriting_a_chunk_waits_for_its_own_region_and_the_far_copy_is_made_again(regions):
    client = _spread_file(regions, "/spread/f", b"r" * 5000)
    wait_for(lambda: _copy_regions(client, "/spread/f") == ["eu-west", "eu-west", "us-east"],
             "every copy in place")
    core = regions.master.core
    allocation = core.allocate(core.state.lookup("/spread/f").inode, 0, [],
                               near={"region": "eu-west"})
    assert regions.server_id(2) not in dict(allocation.chain)
    client.write_bytes("/spread/f", b"s" * 5000)
    wait_for(lambda: _copy_regions(client, "/spread/f") == ["eu-west", "eu-west", "us-east"],
             "the us-east copy of the new version")
    assert client.read_bytes("/spread/f") == b"s" * 5000


def test_an_unreachable_region_catches_up_with_nothing_lost_and_its_lag_is_told(regions):
    regions.stop_chunkserver(2)
    wait_for(lambda: regions.online() == 2, "us-east's chunk server offline")
    client = _spread_file(regions, "/spread/f0", b"0" * 3000)
    for number in range(1, 4):
        client.write_bytes(f"/spread/f{number}", bytes([48 + number]) * 3000)
    lag = wait_for(lambda: (r := _regions(client)["us-east"])["lag_seconds"] > 0.5 and r,
                   "us-east to lag")
    assert lag["chunks_pending"] == 4 and _regions(client)["eu-west"]["chunks_pending"] == 0
    with regions.master.core.lock:
        regions.master.core._recount = True      # as after a promotion: every chunk looked at
    assert _regions(client)["us-east"]["lag_seconds"] >= lag["lag_seconds"], \
        "looking at a chunk again restarted its wait"
    registry = regions.master.registry
    assert registry.get_sample_value("mooseng_master_chunks_pending_replication",
                                     {"region": "us-east"}) == 4
    assert registry.get_sample_value("mooseng_master_replication_lag_seconds",
                                     {"region": "us-east"}) > 0
    regions.start_chunkserver(2)
    wait_for(lambda: _regions(client)["us-east"] == {"region": "us-east", "chunks_pending": 0,
                                                     "lag_seconds": 0.0}, "us-east caught up")
    for number in range(4):
        assert _copy_regions(client, f"/spread/f{number}") == ["eu-west", "eu-west", "us-east"]
        assert client.read_bytes(f"/spread/f{number}") == bytes([48 + number]) * 3000


def test_another_regions_server_is_reached_through_its_link(tmp_path):
    """A server of us-east that eu-west reaches through a WAN link (`--advertise-to`): the
    master names the link to eu-west's clients and the server itself to us-east's."""
    cluster = start_cluster(tmp_path, chunkservers=2, regions=REGIONS)
    proxy = Proxy(Shape(delay=0.002))
    try:
        port = free_port()
        link = proxy.add(("127.0.0.1", 0), ("127.0.0.1", port))
        cluster.start_chunkserver(2, "--port", str(port),
                                  "--advertise-to", f"eu-west=127.0.0.1:{link}")
        wait_for(lambda: cluster.online() == 3, "3 chunk servers online")
        client = _spread_file(cluster, "/spread/f", b"w" * 50_000)
        wait_for(lambda: _copy_regions(client, "/spread/f") == ["eu-west", "eu-west", "us-east"],
                 "the copy in us-east")
        core, far = cluster.master.core, cluster.server_id(2)
        inode = core.state.lookup("/spread/f").inode
        seen = {region: dict(core.get_chunks(inode, 0, 0, {"region": region})[1][0].servers)
                for region in ("eu-west", "us-east")}
        assert seen["eu-west"][far] == f"127.0.0.1:{link}"
        assert seen["us-east"][far] == f"127.0.0.1:{port}"
        cluster.stop_chunkserver(0)
        cluster.stop_chunkserver(1)
        wait_for(lambda: cluster.online() == 1, "eu-west's servers offline")
        before = proxy.forwarded
        assert cluster.client(labels={"region": "eu-west"}).read_bytes("/spread/f") == \
            b"w" * 50_000
        assert proxy.forwarded - before >= 50_000, "eu-west read us-east's copy past the link"
        cluster.start_chunkserver(0)
        cluster.start_chunkserver(1)
        wait_for(lambda: cluster.online() == 3, "eu-west's servers back")
        before = proxy.forwarded
        cluster.client(labels={"region": "us-east"}).write_bytes("/spread/g", b"g" * 50_000)
        wait_for(lambda: _copy_regions(client, "/spread/g") == ["eu-west", "eu-west", "us-east"],
                 "eu-west's copies of a file written in us-east")
        assert proxy.forwarded - before >= 2 * 50_000, "eu-west copied from us-east past the link"
    finally:
        cluster.teardown()
        proxy.close()


def test_a_bad_region_address_is_refused_at_start(capsys):
    from mooseng.chunkserver.main import main

    assert main(["--data-dir", "/nonexistent", "--advertise-to", "us-east=nowhere"]) != 0
    assert "bad value for 'advertise_to': us-east='nowhere' (use REGION=HOST:PORT" in \
        capsys.readouterr().err
