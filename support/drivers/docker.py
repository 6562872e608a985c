"""The `docker` backend: every MooseNG daemon in its own container, started with testcontainers.

One bridge network per scenario with a subnet of its own, so every node has a fixed IP that
survives stop/start and a partition (disconnect/reconnect); peers address each other by IP (no
DNS: looking up a stopped peer's name stalls). The test process talks to nothing else:
`address_map()` turns a chunk server's advertised container address into its published port.
This module holds the cluster (network, nodes, teardown) and the driver; a node is in
docker_node.py, a WAN link between regions in docker_wan.py, the admin CLI's container in
docker_cli.py, engine plumbing in docker_engine.py.
"""

from __future__ import annotations

# First: it sets testcontainers' configuration, which is read when testcontainers is imported.
from support.drivers import docker_engine  # isort: skip

import concurrent.futures
import io
import ipaddress
import pathlib
import random
import re
import shutil
import tarfile
import tempfile
import uuid
from typing import Callable

import docker.errors
import requests
from docker.types import IPAMConfig, IPAMPool
from testcontainers.core.network import Network

import mooseng
from support import docker_images
from support.drivers import regions
from support.drivers.base import (BackendUnavailable, CapabilityMissing, CliResult, Cluster,
                                  ClusterDriver, DaemonRun, Node, Setting, Topology,
                                  daemon_settings)
from support.drivers.docker_cli import CliBox
from support.drivers.docker_engine import (HOST_BINDING, LABEL, LABEL_OWNER, LABEL_RUN,
                                           engine_available, host_routes, in_parallel,
                                           owner_token, pick_subnet, to_sweep, translate)
from support.drivers.docker_node import DockerNode
from support.drivers.docker_wan import DockerWanLink
from support.drivers.pki import Pki

__all__ = ["DockerDriver", "engine_available"]

WAN_IPS = 230          # the WAN links' addresses in a scenario's subnet start here


class DockerCluster(regions.Addressing, Cluster):
    def __init__(self, driver: "DockerDriver", topology: Topology, number: int, slug: str):
        self.driver = driver
        self.topology = topology
        self.number = number
        self.slug = slug
        self.network: Network | None = None
        self.subnet: ipaddress.IPv4Network | None = None
        self.gateway = ""
        self.masters: list[DockerNode] = []
        self.etcd: list[DockerNode] = []
        self.metaloggers: list[DockerNode] = []
        self.chunkservers: list[DockerNode] = []
        self.wan: list[DockerNode] = []
        self._cli_box: CliBox | None = None
        self.keep_files = False      # -D preserve: the node logs are written to `workdir`
        self._torn_down = False
        self.workdir = pathlib.Path(tempfile.gettempdir()) / (
            f"mooseng-docker-{driver.run_id}-{number:03d}-{slug}")

    def _ip(self, index: int) -> str:
        return str(self.subnet.network_address + index)

    def create_network(self) -> None:
        rng = random.Random()
        for _ in range(5):
            networks = self.driver.client.api.networks()    # listed, not inspected one by one
            taken = [ipaddress.ip_network(cfg["Subnet"]) for net in networks
                     for cfg in (net.get("IPAM") or {}).get("Config") or [] if "Subnet" in cfg]
            subnet = pick_subnet(taken + host_routes(), rng)
            gateway = str(subnet.network_address + 1)
            network = Network(docker_network_kw={
                "driver": "bridge", "options": HOST_BINDING,
                "labels": {**self.driver.labels, "mooseng.scenario": self.slug},
                "ipam": IPAMConfig(pool_configs=[IPAMPool(subnet=str(subnet), gateway=gateway)])})
            network.name = f"mooseng-{self.driver.run_id}-{self.number:03d}-{self.slug}"[:60]
            try:
                network.create()
            except docker.errors.APIError as error:
                if "overlap" in str(error).lower():
                    continue     # another run took the subnet a moment ago
                raise
            self.network, self.subnet, self.gateway = network, subnet, gateway
            return
        raise BackendUnavailable("could not create a scenario network (subnets kept overlapping)")

    def network_object(self):
        return self.driver.client.networks.get(self.network.id)

    def start(self) -> None:
        self.create_network()
        topology = self.topology
        if topology.tls:
            self.pki = Pki(pathlib.Path(tempfile.mkdtemp(prefix="mooseng-pki-")))
        self.masters = [DockerNode(self, name, "master", self._ip(2 + i), labels)
                        for i, (name, labels) in enumerate(zip(topology.master_names(),
                                                               topology.master_labels()))]
        self.etcd = [DockerNode(self, f"etcd-{i + 1}", "etcd", self._ip(5 + i), labels)
                     for i, labels in enumerate(topology.etcd_labels())]
        self.metaloggers = [DockerNode(self, "metalogger", "metalogger", self._ip(8), {})
                            for _ in range(topology.metaloggers)]
        for index in range(topology.chunkservers):
            labels = topology.labels[index] if index < len(topology.labels) else {}
            self._new_chunkserver(labels)
        self.wan = [DockerWanLink(self, pair, self._ip(WAN_IPS + number)) for number, pair in
                    enumerate(regions.pairs(topology, self.masters, self.chunkservers,
                                            self.etcd))]
        in_parallel([node.launch for node in self.wan + self.etcd])
        for node in self.wan:
            node.wait_ready()
        for node in self.etcd:
            node.wait_ready()
        first = [*self.masters, *self.metaloggers] if topology.start_master_first else []
        for node in first:
            # Its container (its address) exists before the chunk servers start, so their
            # first registration attempts are refused at once and retried within 0.1 s while
            # it boots: no need to wait for its /ready before creating them.
            node.launch()
        in_parallel([node.launch for node in self.chunkservers])
        for node in first + self.chunkservers:
            node.wait_ready()
        if topology.start_master_first:
            self.wait_online(len(self.chunkservers))

    def _new_chunkserver(self, labels: dict[str, str]) -> DockerNode:
        index = len(self.chunkservers) + 1
        if 10 + index >= WAN_IPS:
            raise RuntimeError(f"a scenario network holds at most {WAN_IPS - 11} chunk servers")
        node = DockerNode(self, f"chunkserver-{index}", "chunkserver", self._ip(10 + index),
                          labels)
        self.chunkservers.append(node)
        return node

    def add_chunkserver(self, labels: dict[str, str] | None = None, start: bool = True) -> Node:
        if self.wan:
            raise CapabilityMissing("a chunk server cannot join a multi-region cluster after "
                                    "its start (the WAN links are laid out at the start)")
        node = self._new_chunkserver(labels or {})
        if start:
            node.start()
        return node

    def address_table(self) -> dict[str, str]:
        """{advertised container address: address the test process reaches} for every node."""
        table = {}
        for node in self.nodes:
            if node is None:
                continue
            for kind, port in node.inner_ports.items():
                if node.ports and kind != "http":
                    table[f"{node.ip}:{port}"] = f"127.0.0.1:{node.ports[kind]}"
        return table

    def inside(self, node: DockerNode) -> str:
        return node.internal_address

    @property
    def client_network(self) -> str:
        """The suite's clients reach published ports through the network's gateway; the
        admin CLI runs in a container of the network."""
        return str(self.subnet)

    def address_map(self) -> Callable[[str], str]:
        return lambda address: translate(address, self.address_table())

    # ------------------------------------------------------------------ the admin CLI
    def cli(self, *args: str, timeout: float = 60.0) -> CliResult:
        return self._box().run(list(args), timeout)

    def _box(self) -> CliBox:
        if self._cli_box is None:
            self._cli_box = CliBox(self)
        return self._cli_box

    def dashboard(self) -> str:
        return self._box().dashboard()

    def dashboard_log(self, tail: int) -> str:
        return self._box().dashboard_log(tail) if self._cli_box is not None else ""

    def run_daemon(self, role: str, settings: list[Setting], timeout: float) -> DaemonRun:
        """In a container of its own without a network: only how it treats its settings
        counts, and it can disturb nothing."""
        base = {"data_dir": "/tmp/data", "host": "0.0.0.0", "port": 0, "http_port": 0}
        if role == "chunkserver":
            base["master"] = self.master.internal_address
        flags, env, toml = daemon_settings(settings, base)
        command = [f"mooseng-{role}", "--config", "/tmp/config.toml", *flags]
        container = self.driver.client.containers.create(
            self.driver.image, command, environment=env, network_disabled=True,
            labels={**self.driver.labels, "mooseng.node": f"{role}-run"})
        try:
            out = io.BytesIO()
            with tarfile.open(fileobj=out, mode="w") as tar:
                info = tarfile.TarInfo("config.toml")
                info.size = len(toml.encode())
                tar.addfile(info, io.BytesIO(toml.encode()))
            container.put_archive("/tmp", out.getvalue())
            container.start()
            try:
                code = container.wait(timeout=timeout)["StatusCode"]
            except requests.exceptions.RequestException:    # still running when time was up
                container.kill()
                code = None
            return DaemonRun(command, env, code,
                             container.logs(stdout=True, stderr=False).decode(errors="replace"),
                             container.logs(stdout=False, stderr=True).decode(errors="replace"))
        finally:
            container.remove(force=True)

    def teardown(self) -> None:
        """Keep the logs, then let the engine remove the containers and the network in the
        background so the next scenario need not wait; the driver waits for these removals
        before it counts leftovers."""
        if self._torn_down:
            return
        self._torn_down = True
        nodes = [node for node in self.nodes if node is not None]
        for node in nodes:
            node.logs()
        if self.keep_files:
            self.workdir.mkdir(parents=True, exist_ok=True)
            for node in nodes:
                (self.workdir / f"{node.name}.log").write_text(
                    f"# {node.name}: container {node.container.name if node.container else '-'}"
                    f", image {self.driver.image}, address {node.internal_address}\n"
                    f"# command: {' '.join(node._command())}\n{node.logs()}")
        self.driver.clusters.discard(self)
        self.forget_tls()
        if self.pki is not None:
            shutil.rmtree(self.pki.root, ignore_errors=True)
        self.driver.in_background(self._remove)

    def _remove(self) -> None:
        in_parallel([node.remove for node in self.nodes if node is not None]
                     + [self._remove_cli_box])
        if self.network is not None and self.network._network is not None:
            try:
                self.network.remove()
            except docker.errors.NotFound:
                pass
            self.network._network = None

    def _remove_cli_box(self) -> None:
        if self._cli_box is not None:
            self._cli_box.remove()
            self._cli_box = None


class DockerDriver(ClusterDriver):
    name = "docker"
    capabilities = frozenset({"kill", "pause", "corrupt", "partition", "one_sided_cut", "etcd",
                              "restore", "cpu_limit", "regions", "small_disk"})

    def __init__(self):
        if not engine_available():
            raise BackendUnavailable("no Docker engine answers on the default socket; run "
                                     "scripts/ensure-docker.sh (as root) or use -D backend=local")
        self.client = docker_engine.client()
        try:
            self.image = docker_images.ensure_image(quiet=True)
        except docker_images.ImageBuildError as error:
            raise BackendUnavailable(f"cannot build the MooseNG image: {error}") from None
        self.run_id = uuid.uuid4().hex[:8]
        self.labels = {LABEL: "1", LABEL_RUN: self.run_id, LABEL_OWNER: owner_token()}
        self.clusters: set[DockerCluster] = set()
        self._removals = concurrent.futures.ThreadPoolExecutor(max_workers=2,
                                                               thread_name_prefix="removal")
        self._pending: list[concurrent.futures.Future] = []
        self._count = 0

    def start_cluster(self, topology: Topology, scenario: str) -> DockerCluster:
        self._count += 1
        slug = re.sub(r"[^a-z0-9]+", "-", scenario.lower()).strip("-")[:24] or "scenario"
        cluster = DockerCluster(self, topology, self._count, slug)
        self.clusters.add(cluster)
        try:
            cluster.start()
        except BaseException:
            cluster.teardown()
            raise
        return cluster

    def versions(self) -> dict[str, str]:
        engine = self.client.version()
        return {"backend": "docker", "image": self.image,
                "image_id": self.client.images.get(self.image).short_id,
                "engine": f"Docker {engine.get('Version', '?')} (API {engine.get('ApiVersion')})",
                "mooseng": mooseng.__version__}

    def _labelled(self) -> tuple[list[dict], list[dict]]:
        """Every labelled container and network as the engine lists them (Id, Names or Name,
        Labels, State), without inspecting each one: another run may remove its own meanwhile."""
        containers = self.client.api.containers(all=True, filters={"label": f"{LABEL}=1"})
        networks = self.client.api.networks(filters={"label": f"{LABEL}=1"})
        return containers, networks

    def in_background(self, removal: Callable[[], None]) -> None:
        self._pending.append(self._removals.submit(removal))

    def wait_for_removals(self) -> None:
        """Let the background removals finish; a failed one shows up in leftovers()."""
        pending, self._pending = self._pending, []
        concurrent.futures.wait(pending)

    def leftovers(self) -> list[str]:
        self.wait_for_removals()
        containers, networks = self._labelled()
        return ([f"container {c['Names'][0].lstrip('/')} ({c['State']})" for c in containers
                 if (c.get("Labels") or {}).get(LABEL_RUN) == self.run_id]
                + [f"network {n['Name']}" for n in networks
                   if (n.get("Labels") or {}).get(LABEL_RUN) == self.run_id])

    def teardown_all(self) -> None:
        for cluster in list(self.clusters):
            cluster.teardown()
        self.wait_for_removals()
        self.sweep()

    def sweep(self) -> None:
        """Remove this run's resources and those of runs whose test process is gone."""
        containers, networks = self._labelled()
        for ident in to_sweep(((c["Id"], c.get("Labels") or {}) for c in containers),
                              self.run_id):
            try:
                self.client.api.remove_container(ident, force=True, v=True)
            except docker.errors.NotFound:
                pass
        for ident in to_sweep(((n["Id"], n.get("Labels") or {}) for n in networks),
                              self.run_id):
            try:
                self.client.api.remove_network(ident)
            except docker.errors.NotFound:
                pass
