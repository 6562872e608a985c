"""One MooseNG daemon in its own container: its life cycle (start, stop, kill, pause, a lost disk),
and network faults (partition, one-sided cuts with iptables inside the container); what is on
its disk is in docker_disk.py.

Ports are published on 127.0.0.1 only, on host ports chosen when the node is created, so a node
keeps its addresses across stop/start and a partition as on `local`.
"""

from __future__ import annotations

# First: it sets testcontainers' configuration, which is read when testcontainers is imported.
from support.drivers import docker_engine  # noqa: F401  isort: skip

import pathlib
from typing import TYPE_CHECKING

import docker
import docker.errors
from docker.types import EndpointConfig
from testcontainers.core.container import DockerContainer
from testcontainers.core.transferable import build_transfer_tar

from mooseng.bench import hacluster

from support import endpoints
from support.drivers import chunk_files, docker_disk
from support.drivers.docker_disk import DATA_DIR
from support.drivers.base import (START_TIMEOUT, DaemonRun, LoopbackNode, Node,
                                  topology_flags, vm_rss)
from support.drivers.ports import free_port
from support.waiting import GiveUp, within

if TYPE_CHECKING:
    from support.drivers.docker import DockerCluster

PORTS = {"master": {"grpc": 9421, "http": 9423}, "chunkserver": {"grpc": 9420, "http": 9425},
         "metalogger": {"http": 9426}, "etcd": {"grpc": 2379}}
ETCD_PEER_PORT = 2380
EXPORTS = "/etc/mooseng-exports.cfg"
TLS_DIR = "/tls"
CPU_PERIOD = 100_000            # microseconds: the CFS period of limit_cpu's quota
CREATE_ATTEMPTS = 3             # a picked port can still be taken before docker binds it


def copy_tls(tc: DockerContainer, folder) -> None:
    """A certificate directory of the host into TLS_DIR of a container about to be created."""
    for name in ("ca.crt", "node.crt", "node.key"):
        tc.with_copy_into_container((folder / name).read_bytes(), f"{TLS_DIR}/{name}",
                                    0o600 if name == "node.key" else 0o644)


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
        self._lost_logs = ""            # of containers it had before it lost its disk
        self._seed: pathlib.Path | None = None

    # ------------------------------------------------------------------ addresses
    @property
    def inner_ports(self) -> dict[str, int]:
        """{kind: port it listens on in its container}, each published on 127.0.0.1."""
        return PORTS[self.role]

    @property
    def internal_address(self) -> str:
        """Where the other nodes reach its gRPC service (what a chunk server advertises)."""
        inner = self.inner_ports
        return f"{self.ip}:{inner.get('grpc') or inner['http']}"

    def _check_ports(self) -> None:
        """The published ports must be the reserved ones on 127.0.0.1 after every (re)start and
        reconnect (docker would hand out new random ports if they were not fixed)."""
        self.container.reload()
        published = self.container.attrs["NetworkSettings"]["Ports"] or {}
        for kind, port in self.inner_ports.items():
            bindings = [(b.get("HostIp"), int(b.get("HostPort") or 0))
                        for b in published.get(f"{port}/tcp") or []]
            if bindings != [("127.0.0.1", self.ports[kind])]:
                raise RuntimeError(f"{self.name}: port {port} is published as {bindings}, "
                                   f"expected 127.0.0.1:{self.ports[kind]} only")

    # ------------------------------------------------------------------ life cycle
    def _command(self) -> list[str]:
        inner = self.inner_ports
        cluster = self.cluster
        etcd = ["--etcd", cluster.etcd_in(self.labels.get("region", "")), "--name", self.name]
        tls = ["--tls", TLS_DIR] if cluster.pki else []
        if self.role == "etcd":
            return hacluster.etcd_command(
                self.name, f"{DATA_DIR}/etcd", inner["grpc"], ETCD_PEER_PORT,
                {m.name: f"{m.ip}:{ETCD_PEER_PORT}" for m in cluster.etcd}, host=self.ip,
                listen="0.0.0.0", tls=TLS_DIR if cluster.pki else "")
        if self.role == "metalogger":
            return ["mooseng-metalogger", "--data-dir", DATA_DIR, "--host", "0.0.0.0",
                    "--http-port", str(inner["http"]), *etcd, *tls]
        common = ["--data-dir", DATA_DIR, "--host", "0.0.0.0",
                  "--port", str(inner["grpc"]), "--http-port", str(inner["http"]), *tls]
        common += topology_flags(self.role, cluster.topology.master, self.labels)
        if self.role == "master":
            return ["mooseng-master", *common, "--advertise", self.internal_address,
                    "--exports", EXPORTS, *(etcd if cluster.etcd else [])]
        advertise = [a for region, address in cluster.advertised_to(self).items()
                     for a in ("--advertise-to", f"{region}={address}")]
        return ["mooseng-chunkserver", *common, *advertise,
                "--master", cluster.internal_master_in(self.labels.get("region", "")),
                "--advertise", self.internal_address]

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self._ports()['grpc' if 'grpc' in self.inner_ports else 'http']}"

    @property
    def http_address(self) -> str:
        return f"127.0.0.1:{self._ports()['http' if 'http' in self.inner_ports else 'grpc']}"

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
                self.ports = None

    def _try_create(self) -> None:
        tc = (DockerContainer(self.cluster.driver.image)
              .with_command(self._command())
              .with_network(self.cluster.network)
              .with_name(f"mooseng-{self.cluster.driver.run_id}-{self.cluster.number:03d}-"
                         f"{self.name}"))
        if self._seed is not None:         # a restored data directory, there before it starts
            tc.with_copy_into_container(self._seed, "/")
        if self.ports is None:             # a node made anew keeps its addresses
            self.ports = {kind: free_port() for kind in self.inner_ports}
        for kind, port in self.inner_ports.items():
            tc.ports[f"{port}/tcp"] = ("127.0.0.1", self.ports[kind])
        tc.with_kwargs(
            hostname=self.name,
            labels={**self.cluster.driver.labels, "mooseng.node": self.name},
            cap_add=["NET_ADMIN"],
            dns_opt=["timeout:1", "attempts:1"],
            networking_config={self.cluster.network.name: EndpointConfig(
                docker.version.__version__, ipv4_address=self.ip)})
        if self.cluster.pki and self.role != "wan":
            # etcd members check their peers by address: their own, or a WAN link's
            links = tuple(link.ip for link in self.cluster.wan) if self.role == "etcd" else ()
            copy_tls(tc, self.cluster.pki.issue(self.name, (self.ip, "127.0.0.1", *links)))
        if self.role == "master":          # the suite's clients and every node are in the subnet
            tc.with_copy_into_container(
                f"{self.cluster.subnet} / rw,admin\n127.0.0.0/8 / rw,admin\n".encode(), EXPORTS)
        if self.role == "chunkserver" and self.cluster.topology.disk:
            tc.with_tmpfs_mount(DATA_DIR, f"size={self.cluster.topology.disk}")
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
                self.run_inside("iptables", "-I", "OUTPUT", "-d", ip, "-j", "DROP")
        self._check_ports()

    def wait_ready(self) -> None:
        def probe() -> bool:
            self.container.reload()
            state = self.container.attrs["State"]
            if not state["Running"]:
                raise GiveUp(f"{self.name} exited with code {state['ExitCode']} before it was "
                             f"ready; its log ends with:\n{self.logs(tail=15)}")
            if self.role == "etcd":
                return hacluster.etcd_healthy(self.ports["grpc"], self.cluster.client_tls)
            return endpoints.is_ready(self.http_address)

        within(START_TIMEOUT, probe, f"{self.name} (container) to answer /ready with 200")
        self.cluster.speaks_tls(self)

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
                self._last_logs = self._lost_logs + self.container.logs(
                    stdout=True, stderr=True).decode(errors="replace")
            except docker.errors.NotFound:
                pass
        if tail is None:
            return self._last_logs
        return "\n".join(self._last_logs.splitlines()[-tail:])

    def lose_data(self) -> None:
        """Its disk is its container's: the container goes, and the node is made anew (same
        name, address and ports, empty /data) when it starts again."""
        if self.is_running():
            raise RuntimeError(f"{self.name} is running: kill it before its disk is lost")
        self.remove()
        self._lost_logs = self._last_logs + f"\n# {self.name} lost its disk here\n"
        self.container = None

    def restore_from(self, source: "Node") -> None:
        """As an operator would: `mooseng admin restore` on the metalogger's host, then the
        restored data directory copied to this master's (empty) disk before it starts."""
        if not isinstance(source, DockerNode):
            raise ValueError(f"cannot restore {self.name} from {source!r}")
        if self.container is not None:
            raise RuntimeError(f"{self.name} still has its disk: lose_data() before a restore")
        with docker_disk.restored_data_dir(source, self.name) as self._seed:
            try:
                self.start()
            finally:
                self._seed = None

    # ------------------------------------------------------------------ inside the container
    def run_inside(self, *command: str) -> str:
        if self.container is None or not self.is_running() or self.paused:
            raise RuntimeError(f"{self.name} is not running, cannot run {command[0]} in it")
        code, output = self.container.exec_run(list(command))
        text = output.decode(errors="replace")
        if code != 0:
            raise RuntimeError(f"`{' '.join(command)}` in {self.name} failed ({code}): {text}")
        return text

    def set_exports(self, text: str) -> None:
        self.container.put_archive("/", build_transfer_tar(text.encode(), EXPORTS))
        self.container.kill(signal="SIGHUP")

    def fill_disk(self) -> None:
        self.run_inside("sh", "-c", f"cat /dev/zero > {DATA_DIR}/{chunk_files.FILLER} 2>/dev/null; true")

    def free_disk(self) -> None:
        self.run_inside("rm", "-f", f"{DATA_DIR}/{chunk_files.FILLER}")

    def resident_bytes(self) -> int:
        return vm_rss(self.run_inside("cat", "/proc/1/status"))     # the daemon is PID 1

    def stored_chunks(self) -> dict[int, int]:
        return chunk_files.newest_versions(docker_disk.chunk_files_of(self))

    def corrupt_chunk(self, chunk_id: int | None = None) -> int:
        return docker_disk.corrupt_chunk(self, chunk_id)

    def run_beside(self, timeout: float) -> DaemonRun:
        command = [f"mooseng-{self.role}", "--data-dir", DATA_DIR, "--host", "127.0.0.1",
                   "--port", "0", "--http-port", "0"]
        code, (out, err) = self.container.exec_run(
            ["timeout", "-s", "KILL", str(max(1, int(timeout))), *command], demux=True)
        text = [(part or b"").decode(errors="replace") for part in (out, err)]
        return DaemonRun(command, {}, None if code == 137 else code, *text)

    def limit_cpu(self, cpus: float | None) -> None:
        """`docker update --cpus` (a CFS quota per 100 ms period; -1 lifts it)."""
        self.container.update(cpu_period=CPU_PERIOD,
                              cpu_quota=int(cpus * CPU_PERIOD) if cpus else -1)

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
            self.run_inside("iptables", "-I", "OUTPUT", "-d", ip, "-j", "DROP")
            self.cuts.add(ip)

    def restore_to(self, other: "Node | str") -> None:
        ip = self._peer_ip(other)
        if ip in self.cuts:
            self.run_inside("iptables", "-D", "OUTPUT", "-d", ip, "-j", "DROP")
            self.cuts.discard(ip)

    def remove(self) -> None:
        if self.container is None:
            return
        self.logs()   # keep the last logs for a report made after teardown
        try:
            self.container.remove(force=True, v=True)
        except docker.errors.NotFound:
            pass

