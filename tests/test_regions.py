"""Regions: a write waits for the copies of the writer's region; the replicator makes the
others afterwards, and the master tells how far behind each region is."""

import pytest

from conftest import start_cluster, wait_for
from mooseng.common import classes

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
