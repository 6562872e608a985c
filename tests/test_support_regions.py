"""The WAN layout of a multi-region topology: which link carries which connections."""

import types

import pytest

from support.drivers import regions
from support.drivers.base import Region, Topology

REGIONS = [Region("us-east", 1, 0.085), Region("eu-west", 2, 0.180),
           Region("ap-south", 1, 0.120)]


def _node(name, region=None):
    return types.SimpleNamespace(name=name, labels={"region": region} if region else {})


def test_a_region_topology_labels_its_chunk_servers_in_order():
    topology = Topology(regions=REGIONS)
    assert topology.chunkservers == 4
    assert [l["region"] for l in topology.labels] == ["us-east", "eu-west", "eu-west",
                                                       "ap-south"]


def test_every_pair_of_regions_carries_the_crossings_between_them():
    topology = Topology(regions=REGIONS)
    master = _node("master")
    servers = [_node(f"cs{i + 1}", label["region"]) for i, label in enumerate(topology.labels)]
    found = {p.name: sorted((c.node.name, c.seen_from) for c in p.crossings)
             for p in regions.pairs(topology, [master], servers)}
    assert found == {
        "wan-us-east-eu-west": [("cs1", "eu-west"), ("cs2", "us-east"), ("cs3", "us-east"),
                                ("master", "eu-west")],
        "wan-us-east-ap-south": [("cs1", "ap-south"), ("cs4", "us-east"),
                                 ("master", "ap-south")],
        "wan-eu-west-ap-south": [("cs2", "ap-south"), ("cs3", "ap-south"),
                                 ("cs4", "eu-west")]}


def test_a_link_delays_by_half_the_sum_of_its_regions_delays():
    assert REGIONS[0].delay_to(REGIONS[1]) == pytest.approx(0.1325)
    assert REGIONS[1].delay_to(REGIONS[2]) == pytest.approx(0.150)
