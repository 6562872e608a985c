"""The `docker` backend: every MooseNG daemon in its own container, started with testcontainers.

One bridge network per scenario with a subnet of its own, so every node has a fixed IP that
survives stop/start and a partition (disconnect/reconnect); peers address each other by IP (no
DNS: looking up a stopped peer's name stalls). Ports are published on 127.0.0.1 only, on host
ports chosen when a node is created, so a node keeps its addresses across stop/start and a
partition as on `local`. The test process talks to nothing else: `address_map()` turns a chunk
server's advertised container address into its published port. The Ryuk reaper cannot be
pulled here, so every container and network carries labels naming the run and its owner, and
`sweep()` removes what a dead run left behind. The admin CLI runs in a small client container
on the scenario network (see DockerCluster._cli_box).
"""

from __future__ import annotations

import concurrent.futures
import io
import ipaddress
import os
import posixpath
import pathlib
import random
import re
import subprocess
import tarfile
import tempfile
import uuid
from typing import Callable, Iterable

# Set before testcontainers is imported: its config is read at import time.
os.environ["TESTCONTAINERS_RYUK_DISABLED"] = "true"            # the reaper image cannot be pulled
os.environ["TESTCONTAINERS_CONNECTION_MODE"] = "docker_host"    # /.dockerenv exists on the host
os.environ["TESTCONTAINERS_HOST_OVERRIDE"] = "127.0.0.1"

import docker  # noqa: E402
import requests  # noqa: E402
import docker.errors  # noqa: E402
from docker.types import EndpointConfig, IPAMConfig, IPAMPool  # noqa: E402
from testcontainers.core.container import DockerContainer  # noqa: E402
from testcontainers.core.network import Network  # noqa: E402

import mooseng  # noqa: E402
from support import docker_images, endpoints  # noqa: E402
from support.drivers import chunk_files  # noqa: E402
from support.drivers.base import (START_TIMEOUT, BackendUnavailable, CliResult,  # noqa: E402
                                  Cluster, ClusterDriver, DaemonRun, LoopbackNode, Node,
                                  Setting, Topology, daemon_settings, topology_flags)
from support.drivers.ports import free_port  # noqa: E402
from support.waiting import GiveUp, within  # noqa: E402

PORTS = {"master": {"grpc": 9421, "http": 9423}, "chunkserver": {"grpc": 9420, "http": 9425}}
DATA_DIR = "/data"
LABEL = "mooseng.test"
LABEL_RUN = "mooseng.run"
LABEL_OWNER = "mooseng.run.owner"        # "<pid>:<kernel start time of pid>" of the test process
SUBNET_POOL = ipaddress.ip_network("10.213.0.0/16")   # one /24 per scenario network
CREATE_ATTEMPTS = 3             # a picked port can still be taken before docker binds it
HOST_BINDING = {"com.docker.network.bridge.host_binding_ipv4": "127.0.0.1"}


def _client(timeout: float = 60.0) -> docker.DockerClient:
    return docker.from_env(timeout=timeout)


def engine_available() -> bool:
    """Does a Docker engine answer on the default socket? (fast, prints nothing)"""
    try:
        client = _client(timeout=3.0)
        try:
            return bool(client.ping())
        finally:
            client.close()
    except Exception:  # noqa: BLE001 - any failure means "no engine"
        return False


def _start_time(pid: int) -> str | None:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


def owner_token(pid: int | None = None) -> str:
    pid = os.getpid() if pid is None else pid
    return f"{pid}:{_start_time(pid)}"


def owner_alive(token: str) -> bool:
    """Is the test process that labelled a resource with `token` still running?"""
    pid, _, started = token.partition(":")
    return pid.isdigit() and started != "None" and _start_time(int(pid)) == started


def to_sweep(labels_of: Iterable[tuple[str, dict[str, str]]], run_id: str,
             alive: Callable[[str], bool] = owner_alive) -> list[str]:
    """Ids of the labelled resources to remove: this run's, and those of runs that are gone.

    A resource of another run whose test process still lives is left alone (two people may
    run the suite on one engine at once)."""
    chosen = []
    for ident, labels in labels_of:
        if labels.get(LABEL) != "1":
            continue
        if labels.get(LABEL_RUN) == run_id or not alive(labels.get(LABEL_OWNER, "")):
            chosen.append(ident)
    return chosen


def translate(address: str, table: dict[str, str]) -> str:
    """Map an advertised `ip:port` through `table`; addresses not in it are left as they are."""
    return table.get(address, address)


def pick_subnet(taken: Iterable[ipaddress.IPv4Network], rng: random.Random) -> ipaddress.IPv4Network:
    """A free /24 of SUBNET_POOL that overlaps none of `taken` (docker networks, host routes)."""
    taken = list(taken)
    candidates = list(SUBNET_POOL.subnets(new_prefix=24))
    rng.shuffle(candidates)
    for subnet in candidates:
        if not any(subnet.overlaps(other) for other in taken):
            return subnet
    raise BackendUnavailable(f"no free /24 left in {SUBNET_POOL} for a scenario network; "
                             f"remove old networks (docker network prune)")


def _host_routes() -> list[ipaddress.IPv4Network]:
    try:
        out = subprocess.run(["ip", "-4", "route", "show"], capture_output=True, text=True,
                             timeout=5).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    routes = []
    for line in out.splitlines():
        first = line.split()[0] if line.split() else ""
        if first and first != "default":
            try:
                routes.append(ipaddress.ip_network(first, strict=False))
            except ValueError:
                pass
    return routes


class DockerNode(LoopbackNode):
    def __init__(self, cluster: "DockerCluster", name: str, role: str, ip: str,
                 labels: dict[str, str]):
        self.cluster = cluster
        self.name = name
        self.role = role
        self.ip = ip
        self.labels = dict(labels)
        self.container = None          # docker-py Container once created
        self.ports: dict[str, int] | None = None
        self.partitioned = False
        self.cuts: set[str] = set()
        self._last_logs = ""

    # ------------------------------------------------------------------ addresses
    @property
    def internal_address(self) -> str:
        """Where the other nodes reach its gRPC service (what a chunk server advertises)."""
        return f"{self.ip}:{PORTS[self.role]['grpc']}"

    def _check_ports(self) -> None:
        """The published ports must be the reserved ones on 127.0.0.1 after every (re)start and
        reconnect (docker would hand out new random ports if they were not fixed)."""
        self.container.reload()
        published = self.container.attrs["NetworkSettings"]["Ports"] or {}
        for kind, port in PORTS[self.role].items():
            bindings = [(b.get("HostIp"), int(b.get("HostPort") or 0))
                        for b in published.get(f"{port}/tcp") or []]
            if bindings != [("127.0.0.1", self.ports[kind])]:
                raise RuntimeError(f"{self.name}: port {port} is published as {bindings}, "
                                   f"expected 127.0.0.1:{self.ports[kind]} only")

    # ------------------------------------------------------------------ life cycle
    def _command(self) -> list[str]:
        inner = PORTS[self.role]
        common = ["--data-dir", DATA_DIR, "--host", "0.0.0.0",
                  "--port", str(inner["grpc"]), "--http-port", str(inner["http"])]
        common += topology_flags(self.role, self.cluster.topology.master, self.labels)
        if self.role == "master":
            return ["mooseng-master", *common]
        return ["mooseng-chunkserver", *common,
                "--master", self.cluster.master.internal_address,
                "--advertise", self.internal_address]

    def _create(self) -> None:
        for attempt in range(1, CREATE_ATTEMPTS + 1):
            try:
                return self._try_create()
            except docker.errors.APIError as error:
                taken = "address already in use" in str(error) or "already allocated" in str(error)
                if not taken or attempt == CREATE_ATTEMPTS:
                    raise
                self.remove()
                self.container = None

    def _try_create(self) -> None:
        tc = (DockerContainer(self.cluster.driver.image)
              .with_command(self._command())
              .with_network(self.cluster.network)
              .with_name(f"mooseng-{self.cluster.driver.run_id}-{self.cluster.number:03d}-"
                         f"{self.name}"))
        self.ports = {kind: free_port() for kind in PORTS[self.role]}
        for kind, port in PORTS[self.role].items():
            tc.ports[f"{port}/tcp"] = ("127.0.0.1", self.ports[kind])
        tc.with_kwargs(
            hostname=self.name,
            labels={**self.cluster.driver.labels, "mooseng.node": self.name},
            cap_add=["NET_ADMIN"],
            dns_opt=["timeout:1", "attempts:1"],
            networking_config={self.cluster.network.name: EndpointConfig(
                docker.version.__version__, ipv4_address=self.ip)})
        try:
            tc.start()
        finally:
            self.container = tc._container     # created even if it failed to start: removable
        self.container.reload()

    def launch(self) -> None:
        """Start the container without waiting for readiness (so several start in parallel)."""
        if self.partitioned:
            raise RuntimeError(f"{self.name} is partitioned: heal() it before start(), "
                               f"else its /ready cannot be reached")
        if self.container is None:
            self._create()
        else:
            if self.is_running():
                raise RuntimeError(f"{self.name} is already running")
            self.container.start()
            for ip in self.cuts:      # a restart makes a new network namespace: cut it again
                self._exec("iptables", "-I", "OUTPUT", "-d", ip, "-j", "DROP")
        self._check_ports()

    def wait_ready(self) -> None:
        def probe() -> bool:
            self.container.reload()
            state = self.container.attrs["State"]
            if not state["Running"]:
                raise GiveUp(f"{self.name} exited with code {state['ExitCode']} before it was "
                             f"ready; its log ends with:\n{self.logs(tail=15)}")
            return endpoints.is_ready(self.http_address)

        within(START_TIMEOUT, probe, f"{self.name} (container) to answer /ready with 200")

    def start(self) -> None:
        self.launch()
        self.wait_ready()

    def stop(self, timeout: float = 10.0) -> None:
        if not self.is_running():
            return
        if self.paused:
            self.resume()
        self.container.stop(timeout=int(max(1, round(timeout))))
        self.container.reload()
        code = self.container.attrs["State"]["ExitCode"]
        if code == 137:
            raise AssertionError(f"{self.name} did not exit within {timeout} s of SIGTERM "
                                 f"(docker killed it); its log ends with:\n{self.logs(tail=15)}")

    def kill(self) -> None:
        if self.container is None:
            return
        try:
            self.container.kill()
        except docker.errors.APIError as error:
            if "is not running" not in str(error):
                raise
        self.container.wait()

    @property
    def paused(self) -> bool:
        if self.container is None:
            return False
        self.container.reload()
        return bool(self.container.attrs["State"]["Paused"])

    def pause(self) -> None:
        self.container.pause()

    def resume(self) -> None:
        self.container.unpause()

    def is_running(self) -> bool:
        if self.container is None:
            return False
        try:
            self.container.reload()
        except docker.errors.NotFound:
            return False
        return bool(self.container.attrs["State"]["Running"])

    def logs(self, tail: int | None = None) -> str:
        if self.container is not None:
            try:
                self._last_logs = self.container.logs(stdout=True, stderr=True).decode(
                    errors="replace")
            except docker.errors.NotFound:
                pass
        if tail is None:
            return self._last_logs
        return "\n".join(self._last_logs.splitlines()[-tail:])

    # ------------------------------------------------------------------ inside the container
    def _exec(self, *command: str) -> str:
        if self.container is None or not self.is_running() or self.paused:
            raise RuntimeError(f"{self.name} is not running, cannot run {command[0]} in it")
        code, output = self.container.exec_run(list(command))
        text = output.decode(errors="replace")
        if code != 0:
            raise RuntimeError(f"`{' '.join(command)}` in {self.name} failed ({code}): {text}")
        return text

    def _chunk_files(self) -> list[tuple[int, int, str, int]]:
        """(chunk_id, version, path, size) of every .chk file; works on a stopped node too."""
        if self.role != "chunkserver":
            raise RuntimeError(f"{self.name} is a {self.role}; only chunk servers store chunks")
        if self.is_running() and not self.paused:
            listing = self._exec("find", f"{DATA_DIR}/chunks", "-name", "chunk_*.chk",
                                 "-printf", "%p %s\\n")
            entries = [line.rsplit(" ", 1) for line in listing.splitlines() if line.strip()]
        else:
            entries = self._archive_listing(f"{DATA_DIR}/chunks")
        found = []
        for path, size in entries:
            named = chunk_files.parse(path)
            if named:
                found.append((*named, path, int(size)))
        return found

    def _archive_listing(self, folder: str) -> list[tuple[str, int]]:
        try:
            stream, _ = self.container.get_archive(folder)
        except docker.errors.NotFound:
            return []
        with tarfile.open(fileobj=io.BytesIO(b"".join(stream))) as tar:
            parent = folder.rsplit("/", 1)[0]
            return [(f"{parent}/{m.name}", m.size) for m in tar.getmembers() if m.isfile()]

    def stored_chunks(self) -> dict[int, int]:
        return chunk_files.newest_versions(self._chunk_files())

    def corrupt_chunk(self, chunk_id: int | None = None) -> int:
        cid, _, path, size = chunk_files.copy_to_corrupt(self.name, self._chunk_files(), chunk_id,
                                                         size=lambda c: c[3])
        offsets = chunk_files.offsets_to_flip(size)
        if self.is_running() and not self.paused:
            self._exec("python3", "-c", _FLIP_BYTES, path, *map(str, offsets))
        else:
            self._flip_in_archive(path, offsets)
        return cid

    def _flip_in_archive(self, path: str, offsets: list[int]) -> None:
        stream, _ = self.container.get_archive(path)
        with tarfile.open(fileobj=io.BytesIO(b"".join(stream))) as tar:
            member = tar.getmembers()[0]
            data = bytearray(tar.extractfile(member).read())
        for offset in offsets:
            data[offset] ^= 0xFF
        out = io.BytesIO()
        with tarfile.open(fileobj=out, mode="w") as tar:
            tar.addfile(member, io.BytesIO(bytes(data)))
        self.container.put_archive(path.rsplit("/", 1)[0], out.getvalue())

    def run_beside(self, timeout: float) -> DaemonRun:
        command = [f"mooseng-{self.role}", "--data-dir", DATA_DIR, "--host", "127.0.0.1",
                   "--port", "0", "--http-port", "0"]
        code, (out, err) = self.container.exec_run(
            ["timeout", "-s", "KILL", str(max(1, int(timeout))), *command], demux=True)
        text = [(part or b"").decode(errors="replace") for part in (out, err)]
        return DaemonRun(command, {}, None if code == 137 else code, *text)

    # ------------------------------------------------------------------ network faults
    def partition(self) -> None:
        self.cluster.network_object().disconnect(self.container, force=True)
        self.partitioned = True

    def heal(self) -> None:
        if not self.partitioned:
            return
        self.cluster.network_object().connect(self.container, ipv4_address=self.ip)
        self.partitioned = False
        if self.is_running():        # a stopped node gets its address and ports when started
            self._check_ports()
            networks = self.container.attrs["NetworkSettings"]["Networks"]
            got = networks.get(self.cluster.network.name, {}).get("IPAddress")
            if got != self.ip:
                raise RuntimeError(f"{self.name} came back with IP {got}, expected {self.ip}")

    def _peer_ip(self, other: "Node | str") -> str:
        if other == "client":
            return self.cluster.gateway   # the test process reaches containers via the gateway
        if isinstance(other, DockerNode):
            return other.ip
        raise ValueError(f"cannot cut {self.name} from {other!r}: give a node or 'client'")

    def cut_from(self, other: "Node | str") -> None:
        ip = self._peer_ip(other)
        if ip not in self.cuts:
            self._exec("iptables", "-I", "OUTPUT", "-d", ip, "-j", "DROP")
            self.cuts.add(ip)

    def restore_to(self, other: "Node | str") -> None:
        ip = self._peer_ip(other)
        if ip in self.cuts:
            self._exec("iptables", "-D", "OUTPUT", "-d", ip, "-j", "DROP")
            self.cuts.discard(ip)

    def remove(self) -> None:
        if self.container is None:
            return
        self.logs()   # keep the last logs for a report made after teardown
        try:
            self.container.remove(force=True, v=True)
        except docker.errors.NotFound:
            pass


_FLIP_BYTES = """
import os, sys
path, offsets = sys.argv[1], [int(o) for o in sys.argv[2:]]
with open(path, "r+b") as handle:
    for offset in offsets:
        handle.seek(offset)
        byte = handle.read(1)
        handle.seek(offset)
        handle.write(bytes([byte[0] ^ 0xFF]))
    handle.flush()
    os.fsync(handle.fileno())
"""


class DockerCluster(Cluster):
    CLI_HOME = "/tmp/cli"

    def __init__(self, driver: "DockerDriver", topology: Topology, number: int, slug: str):
        self.driver = driver
        self.topology = topology
        self.number = number
        self.slug = slug
        self.network: Network | None = None
        self.subnet: ipaddress.IPv4Network | None = None
        self.gateway = ""
        self.master: DockerNode | None = None
        self.chunkservers: list[DockerNode] = []
        self._cli_container = None
        self.keep_files = False      # -D preserve: the node logs are written to `workdir`
        self._torn_down = False
        self.workdir = pathlib.Path(tempfile.gettempdir()) / (
            f"mooseng-docker-{driver.run_id}-{number:03d}-{slug}")

    def _ip(self, index: int) -> str:
        return str(self.subnet.network_address + index)

    def create_network(self) -> None:
        rng = random.Random()
        for _ in range(5):
            taken = [ipaddress.ip_network(cfg["Subnet"]) for net in self.driver.client.networks.list()
                     for cfg in (net.attrs.get("IPAM") or {}).get("Config") or [] if "Subnet" in cfg]
            subnet = pick_subnet(taken + _host_routes(), rng)
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
        self.master = DockerNode(self, "master", "master", self._ip(2), {})
        for index in range(self.topology.chunkservers):
            labels = self.topology.labels[index] if index < len(self.topology.labels) else {}
            self._new_chunkserver(labels)
        first = [self.master] if self.topology.start_master_first else []
        for node in first:
            # Its container (its address) exists before the chunk servers start, so their
            # first registration attempts are refused at once and retried within 0.1 s while
            # it boots: no need to wait for its /ready before creating them.
            node.launch()
        _in_parallel([node.launch for node in self.chunkservers])
        for node in first + self.chunkservers:
            node.wait_ready()
        if self.topology.start_master_first:
            self.wait_online(len(self.chunkservers))

    def _new_chunkserver(self, labels: dict[str, str]) -> DockerNode:
        index = len(self.chunkservers) + 1
        if index > 200:
            raise RuntimeError("a scenario network holds at most 200 chunk servers")
        node = DockerNode(self, f"chunkserver-{index}", "chunkserver", self._ip(10 + index),
                          labels)
        self.chunkservers.append(node)
        return node

    def add_chunkserver(self, labels: dict[str, str] | None = None, start: bool = True) -> Node:
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
            grpc_port = PORTS[node.role]["grpc"]
            if node.ports:
                table[f"{node.ip}:{grpc_port}"] = f"127.0.0.1:{node.ports['grpc']}"
        return table

    def address_map(self) -> Callable[[str], str]:
        return lambda address: translate(address, self.address_table())

    # ------------------------------------------------------------------ the admin CLI
    def _cli_box(self):
        """A small container on the scenario network where `mooseng` runs, like an admin host.

        The CLI is not run on the host: chunk servers advertise container addresses, which the
        host could reach only by routing to the bridge, and the CLI has no address map. Not in
        the master's container either: the CLI must keep working (and fail cleanly) while the
        master is stopped, paused or killed."""
        if self._cli_container is None:
            tc = (DockerContainer(self.driver.image)
                  .with_command(["sleep", "infinity"])
                  .with_network(self.network)
                  .with_name(f"mooseng-{self.driver.run_id}-{self.number:03d}-cli"))
            tc.with_kwargs(
                hostname="cli", labels={**self.driver.labels, "mooseng.node": "cli"},
                dns_opt=["timeout:1", "attempts:1"],
                networking_config={self.network.name: EndpointConfig(
                    docker.version.__version__, ipv4_address=self._ip(250))})
            try:
                tc.start()
            finally:
                self._cli_container = tc._container
            self._cli_container.exec_run(["mkdir", "-p", self.CLI_HOME])
        return self._cli_container

    def cli(self, *args: str, timeout: float = 60.0) -> CliResult:
        box = self._cli_box()
        inner, copy_out, renamed = self._cli_files(box, list(args))
        command = ["timeout", "-s", "KILL", str(max(1, int(timeout))), "mooseng",
                   "--master", self.master.internal_address, *inner]
        code, (out, err) = box.exec_run(command, demux=True, workdir=self.CLI_HOME)
        stdout = (out or b"").decode(errors="replace")
        stderr = (err or b"").decode(errors="replace")
        for inside, local in renamed:       # the output names the files as the caller did
            stdout, stderr = stdout.replace(inside, local), stderr.replace(inside, local)
        if code == 137:
            return CliResult(list(args), -1, stdout, f"(no answer within {timeout} s) {stderr}")
        for inside, local in copy_out:
            self._copy_out(box, inside, local)
        return CliResult(list(args), code, stdout, stderr)

    def _cli_files(self, box, args: list[str]):
        """Rewrite the host file of `fs put` / `fs get` to a path in the CLI container: the
        arguments to run, the files to copy out afterwards, and (inside, host) name pairs."""
        inner, copy_out, renamed = list(args), [], []
        for kind, index, remote in _fs_file_positions(args):
            local = args[index]
            if kind == "get" and os.path.isdir(local):    # `fs get PATH DIR` -> DIR/<name>
                local = os.path.join(local, posixpath.basename(remote.rstrip("/")))
            inside = f"{self.CLI_HOME}/{kind}-{index}-{os.path.basename(local) or 'file'}"
            inner[index] = inside
            renamed.append((inside, local))
            if kind == "put":
                self._copy_in(box, local, inside)
            else:
                copy_out.append((inside, local))
        return inner, copy_out, renamed

    def _copy_in(self, box, local: str, inside: str) -> None:
        if not os.path.exists(local):
            return      # let the CLI report the missing file itself
        out = io.BytesIO()
        with tarfile.open(fileobj=out, mode="w") as tar:
            tar.add(local, arcname=os.path.basename(inside))
        box.put_archive(self.CLI_HOME, out.getvalue())

    @staticmethod
    def _copy_out(box, inside: str, local: str) -> None:
        try:
            stream, _ = box.get_archive(inside)
        except docker.errors.NotFound:
            return
        with tarfile.open(fileobj=io.BytesIO(b"".join(stream))) as tar:
            member = tar.getmembers()[0]
            with open(local, "wb") as handle:
                handle.write(tar.extractfile(member).read())

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
        self.driver.in_background(self._remove)

    def _remove(self) -> None:
        _in_parallel([node.remove for node in self.nodes if node is not None]
                     + [self._remove_cli_box])
        if self.network is not None and self.network._network is not None:
            try:
                self.network.remove()
            except docker.errors.NotFound:
                pass
            self.network._network = None

    def _remove_cli_box(self) -> None:
        if self._cli_container is not None:
            try:
                self._cli_container.remove(force=True)
            except docker.errors.NotFound:
                pass
            self._cli_container = None


def _in_parallel(calls: list[Callable[[], object]]) -> None:
    """Run docker calls side by side (each takes ~0.3 s of mostly waiting on the engine);
    the first error is raised once all have finished."""
    if not calls:
        return
    with concurrent.futures.ThreadPoolExecutor(max_workers=len(calls)) as pool:
        futures = [pool.submit(call) for call in calls]
    for future in futures:
        future.result()


def _fs_file_positions(args: list[str]) -> list[tuple[str, int, str]]:
    """(put|get, index of the host file in `args`, the file system path) for
    `fs put LOCAL PATH` / `fs get PATH LOCAL`; nothing for other commands."""
    with_value = {"--goal", "--master", "--timeout"}
    positional, skip = [], False
    for index, arg in enumerate(args):
        if skip:
            skip = False
            continue
        if arg in with_value:
            skip = True
            continue
        if not arg.startswith("-"):
            positional.append(index)
    words = [args[i] for i in positional]
    if len(words) >= 4 and words[0] == "fs" and words[1] == "put":
        return [("put", positional[2], words[3])]
    if len(words) >= 4 and words[0] == "fs" and words[1] == "get":
        return [("get", positional[3], words[2])]
    return []


class DockerDriver(ClusterDriver):
    name = "docker"
    capabilities = frozenset({"kill", "pause", "corrupt", "partition", "one_sided_cut"})

    def __init__(self):
        if not engine_available():
            raise BackendUnavailable("no Docker engine answers on the default socket; run "
                                     "scripts/ensure-docker.sh (as root) or use -D backend=local")
        self.client = _client()
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

    def _labelled(self) -> tuple[list, list]:
        containers = self.client.containers.list(all=True, filters={"label": f"{LABEL}=1"})
        networks = self.client.networks.list(filters={"label": f"{LABEL}=1"})
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
        mine = f"{LABEL_RUN}={self.run_id}"
        return ([f"container {c.name} ({c.status})" for c in containers
                 if f"{LABEL_RUN}={c.labels.get(LABEL_RUN)}" == mine]
                + [f"network {n.name}" for n in networks
                   if f"{LABEL_RUN}={n.attrs.get('Labels', {}).get(LABEL_RUN)}" == mine])

    def teardown_all(self) -> None:
        for cluster in list(self.clusters):
            cluster.teardown()
        self.wait_for_removals()
        self.sweep()

    def sweep(self) -> None:
        """Remove this run's resources and those of runs whose test process is gone."""
        containers, networks = self._labelled()
        by_id = {c.id: c for c in containers}
        for ident in to_sweep(((c.id, c.labels) for c in containers), self.run_id):
            try:
                by_id[ident].remove(force=True, v=True)
            except docker.errors.NotFound:
                pass
        nets = {n.id: n for n in networks}
        for ident in to_sweep(((n.id, n.attrs.get("Labels") or {}) for n in networks),
                              self.run_id):
            try:
                nets[ident].remove()
            except docker.errors.NotFound:
                pass
