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


def test_masters_take_the_regions_in_turn_and_reach_etcd_in_the_first_across_the_wan():
    topology = Topology(regions=REGIONS, masters=3, etcd=3)
    masters = [_node(f"m{i + 1}", labels["region"])
               for i, labels in enumerate(topology.master_labels())]
    etcd = [_node("etcd-1")]
    found = {p.name: sorted((c.node.name, c.seen_from) for c in p.crossings)
             for p in regions.pairs(topology, masters, [], etcd)}
    assert found == {
        "wan-us-east-eu-west": [("etcd-1", "eu-west"), ("m1", "eu-west"), ("m2", "us-east")],
        "wan-us-east-ap-south": [("etcd-1", "ap-south"), ("m1", "ap-south"),
                                 ("m3", "us-east")],
        "wan-eu-west-ap-south": [("m2", "ap-south"), ("m3", "eu-west")]}


class _Link:
    def __init__(self, a, b):
        self.labels = {"region-a": a, "region-b": b}

    def address_for(self, node, region):
        return f"{'-'.join(self.labels.values())}:{node.name}:{region}"


class _Cluster(regions.Addressing):
    def __init__(self):
        self.topology = Topology(regions=REGIONS, masters=3, etcd=3)
        self.masters = [_node(f"m{i + 1}", labels["region"])
                        for i, labels in enumerate(self.topology.master_labels())]
        self.etcd = [_node("etcd-1")]
        self.wan = [_Link("us-east", "eu-west"), _Link("us-east", "ap-south"),
                    _Link("eu-west", "ap-south")]
        for node in [*self.masters, *self.etcd]:
            node.address = f"inside:{node.name}"

    def address_map(self):
        return lambda address: f"dial {address}"


def test_a_region_reaches_its_own_master_directly_and_the_others_through_links():
    cluster = _Cluster()
    assert cluster.internal_master_in("ap-south") == (
        "us-east-ap-south:m1:ap-south,eu-west-ap-south:m2:ap-south,inside:m3")
    assert cluster.etcd_in("eu-west") == "us-east-eu-west:etcd-1:eu-west"
    assert cluster.etcd_in("us-east") == "inside:etcd-1"
    assert cluster.internal_master_in("") == "inside:m1,inside:m2,inside:m3"
    follow = cluster.address_map_in("ap-south")      # a follower names the leader m1
    assert follow("inside:m1") == "dial us-east-ap-south:m1:ap-south"
    assert follow("inside:m3") == "dial inside:m3"


def test_etcd_members_placed_per_region_are_asked_nearest_first():
    topology = Topology(regions=[Region("us-east", 1, 0.085, etcd=1),
                                 Region("eu-west", 1, 0.180, etcd=1),
                                 Region("ap-south", 1, 0.120, etcd=1)], masters=3)
    assert topology.etcd == 3
    assert [l["region"] for l in topology.etcd_labels()] == ["us-east", "eu-west", "ap-south"]
    cluster = _Cluster()
    cluster.topology = topology
    cluster.etcd = [_node(f"etcd-{i + 1}", l["region"])
                    for i, l in enumerate(topology.etcd_labels())]
    for node in cluster.etcd:
        node.address = f"inside:{node.name}"
    assert cluster.etcd_in("eu-west") == ("inside:etcd-2,us-east-eu-west:etcd-1:eu-west,"
                                          "eu-west-ap-south:etcd-3:eu-west")
    assert Topology(regions=REGIONS, masters=3, etcd=3).etcd_labels() == [{}, {}, {}]
