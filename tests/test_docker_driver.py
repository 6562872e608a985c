"""The pure parts of the docker driver (sweep selection, address map, subnets, CLI files), and
one real cluster round trip when a Docker engine answers."""

import ipaddress
import os
import random

import pytest

docker_driver = pytest.importorskip("support.drivers.docker",
                                    reason="the docker driver needs the docker and "
                                           "testcontainers packages")
from support.drivers import docker_cli, docker_engine  # noqa: E402
from support.drivers.base import BackendUnavailable  # noqa: E402
from support.drivers.docker_node import PORTS  # noqa: E402

RUN = "run00001"


def _labels(run, owner, test="1"):
    return {docker_engine.LABEL: test, docker_engine.LABEL_RUN: run,
            docker_engine.LABEL_OWNER: owner}


def test_sweep_takes_this_runs_and_dead_runs_resources_only():
    resources = [
        ("mine", _labels(RUN, "alive")),
        ("dead-run", _labels("other", "dead")),
        ("live-run", _labels("other", "alive")),
        ("no-owner", {docker_engine.LABEL: "1", docker_engine.LABEL_RUN: "old"}),
        ("not-ours", {"com.example": "x"}),
        ("not-a-test", _labels("other", "dead", test="0")),
    ]
    chosen = docker_engine.to_sweep(resources, RUN, alive=lambda owner: owner == "alive")
    assert chosen == ["mine", "dead-run", "no-owner"]


def test_owner_token_tells_this_process_from_a_gone_one():
    assert docker_engine.owner_alive(docker_engine.owner_token())
    assert not docker_engine.owner_alive(f"{os.getpid()}:0")       # pid reused later
    assert not docker_engine.owner_alive("999999999:123")
    assert not docker_engine.owner_alive("")


def test_address_map_translates_advertised_addresses_only():
    table = {"10.213.7.11:9420": "127.0.0.1:40001", "10.213.7.2:9421": "127.0.0.1:40002"}
    assert docker_engine.translate("10.213.7.11:9420", table) == "127.0.0.1:40001"
    assert docker_engine.translate("127.0.0.1:5000", table) == "127.0.0.1:5000"


class _Node:
    def __init__(self, role, ip, ports, inner=None):
        self.role, self.ip, self.ports = role, ip, ports
        self.inner_ports = inner or PORTS[role]


def test_address_table_maps_every_node_to_its_published_ports():
    """gRPC ports and a WAN link's ports (what nodes advertise), not HTTP ones."""
    fake = type("FakeCluster", (), {})()
    fake.master = _Node("master", "10.213.7.2", {"grpc": 40002, "http": 40003})
    fake.chunkservers = [_Node("chunkserver", "10.213.7.11", {"grpc": 40001, "http": 40004}),
                         _Node("chunkserver", "10.213.7.12", None)]     # never started
    link = _Node("wan", "10.213.7.230", {"link-7000": 40005, "link-7001": 40006},
                 {"link-7000": 7000, "link-7001": 7001})
    fake.nodes = [fake.master, *fake.chunkservers, link]
    table = docker_driver.DockerCluster.address_table(fake)
    assert table == {"10.213.7.2:9421": "127.0.0.1:40002", "10.213.7.11:9420": "127.0.0.1:40001",
                     "10.213.7.230:7000": "127.0.0.1:40005",
                     "10.213.7.230:7001": "127.0.0.1:40006"}


def test_subnet_avoids_networks_and_routes_in_use():
    rng = random.Random(1)
    pool = list(docker_engine.SUBNET_POOL.subnets(new_prefix=24))
    taken = pool[:-1] + [ipaddress.ip_network("172.17.0.0/16")]
    assert docker_engine.pick_subnet(taken, rng) == pool[-1]
    with pytest.raises(BackendUnavailable):
        docker_engine.pick_subnet([docker_engine.SUBNET_POOL], rng)


@pytest.mark.parametrize("args, expected", [
    (["fs", "put", "/tmp/a.bin", "/a.bin"], [("put", 2, "/a.bin")]),
    (["fs", "put", "--goal", "3", "/tmp/a.bin", "/d/", "--json"], [("put", 4, "/d/")]),
    (["fs", "get", "/a.bin", "/tmp/out.bin"], [("get", 3, "/a.bin")]),
    (["--json", "fs", "get", "/a.bin", "/tmp/out.bin"], [("get", 4, "/a.bin")]),
    (["fs", "ls", "/"], []),
    (["status", "--json"], []),
    (["fs", "put", "/tmp/only-one-arg"], []),
])
def test_cli_host_files_are_found_for_put_and_get(args, expected):
    assert docker_cli.fs_file_positions(args) == expected


@pytest.mark.skipif(not docker_driver.engine_available(), reason="no Docker engine answers")
def test_a_cluster_in_containers_partitions_and_heals():
    from support.drivers.base import MasterSettings, Topology
    from support import rpc
    from support.waiting import within

    driver = docker_driver.DockerDriver()
    try:
        cluster = driver.start_cluster(
            Topology(chunkservers=1, master=MasterSettings(heartbeat_interval=0.2,
                                                           offline_timeout=1.0)), "unit test")
        node = cluster.chunkservers[0]
        assert node.address.startswith("127.0.0.1:")
        listed = rpc.chunkservers(cluster.master.address)
        assert [cluster.address_map()(s.address) for s in listed] == [node.address]
        node.partition()
        within(10, lambda: rpc.online_count(cluster.master.address) == 0, "offline")
        node.heal()
        within(10, lambda: rpc.online_count(cluster.master.address) == 1, "online again")
        result = cluster.cli("status", "--json")
        assert result.exit_code == 0, str(result)
        assert [item for item in driver.leftovers() if "-chunkserver-1 (running)" in item]
    finally:
        driver.teardown_all()
    assert driver.leftovers() == []
