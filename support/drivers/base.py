"""The one interface every backend implements; steps and support code use nothing else.

A driver starts clusters of MooseNG nodes for a scenario and removes everything it started.
Backends: `local` (processes on 127.0.0.1) and `docker` (containers via testcontainers).
"""

from __future__ import annotations

import abc
import dataclasses
import json
import os
import re
from typing import Callable

from support import rpc
from support.waiting import within

START_TIMEOUT = 30.0   # seconds for a node to answer /ready, and for the master to see a cluster


class BackendUnavailable(RuntimeError):
    """The backend cannot run here (no Docker engine, missing image, ...); says what to do."""


class CapabilityMissing(RuntimeError):
    """A node operation this backend cannot perform (e.g. a network partition on `local`)."""


@dataclasses.dataclass
class MasterSettings:
    heartbeat_interval: float = 0.5      # seconds
    offline_timeout: float = 2.0         # seconds without heartbeat before a server is offline
    chunk_size: int = 1024 * 1024        # small chunks give multi-chunk files cheaply
    default_goal: int = 2
    scrub_interval: float = 0.0          # chunk server background scrub period; 0 = default
    snapshot_every: int = 0              # master metadata snapshot every N changes; 0 = default


def topology_flags(role: str, settings: MasterSettings, labels: dict[str, str]) -> list[str]:
    """The daemon flags a node gets from the scenario's topology, the same on every backend
    (each driver adds only where the node listens and how it finds its master)."""
    if role == "master":
        flags = ["--heartbeat-interval", str(settings.heartbeat_interval),
                 "--offline-timeout", str(settings.offline_timeout),
                 "--chunk-size", str(settings.chunk_size),
                 "--default-goal", str(settings.default_goal)]
        if settings.snapshot_every:
            flags += ["--snapshot-every", str(settings.snapshot_every)]
        if "region" in labels:
            flags += ["--region", labels["region"]]
        return flags
    flags = [flag for key, value in labels.items() for flag in ("--label", f"{key}={value}")]
    if settings.scrub_interval:
        flags += ["--scrub-interval", str(settings.scrub_interval)]
    return flags


@dataclasses.dataclass(frozen=True)
class Setting:
    """One daemon setting as an operator gives it; `place` is "command line", "environment"
    or "configuration file"."""

    key: str
    value: str
    place: str


PLACES = ("command line", "environment", "configuration file")


def daemon_settings(settings: list[Setting],
                    base: dict[str, object]) -> tuple[list[str], dict[str, str], str]:
    """(flags, environment variables, TOML text) that give a daemon `settings`.

    `base` (where the daemon keeps its data, listens, finds its master) goes into the file,
    the lowest of the three places, so that every setting of the scenario overrides it."""
    unknown = sorted({s.place for s in settings} - set(PLACES))
    if unknown:
        raise ValueError(f"no such place for a setting: {unknown}; places: {PLACES}")
    in_file = {**base, **{s.key: s.value for s in settings if s.place == "configuration file"}}
    flags = [part for s in settings if s.place == "command line"
             for part in ("--" + s.key.replace("_", "-"), s.value)]
    env = {"MOOSENG_" + s.key.upper(): s.value for s in settings if s.place == "environment"}
    return flags, env, "".join(f"{key} = {_toml_value(value)}\n" for key, value in in_file.items())


def _toml_value(value: object) -> str:
    """A number as a TOML number (so a bad port in a file is a number, as an operator writes
    it), anything else as a TOML string."""
    text = str(value)
    return text if re.fullmatch(r"-?\d+(\.\d+)?", text) else json.dumps(text)


@dataclasses.dataclass
class DaemonRun:
    """How a daemon the scenario ran itself ended: exit_code None means it was still running
    when its time was up (and was then killed)."""

    command: list[str]
    env: dict[str, str]
    exit_code: int | None
    stdout: str
    stderr: str

    def __str__(self) -> str:
        ended = "still running, killed" if self.exit_code is None else f"exit code {self.exit_code}"
        env = "".join(f"{name}={value} " for name, value in self.env.items())
        return (f"$ {env}{' '.join(self.command)}\n{ended}\n--- stdout ---\n{self.stdout}\n"
                f"--- stderr ---\n{self.stderr}")


@dataclasses.dataclass(frozen=True)
class Region:
    """An emulated region: its chunk servers sit behind WAN links to every other region."""

    name: str
    chunkservers: int
    delay: float          # seconds: its half of the one-way delay of a link between regions
    etcd: int = 0         # etcd members in it (none in any region: all in the first)

    def delay_to(self, other: "Region") -> float:
        """One-way delay between the two (each region adds its own half: as netem on every
        region's egress would, the round trip is the sum of both delays)."""
        return (self.delay + other.delay) / 2


@dataclasses.dataclass
class Topology:
    chunkservers: int = 3
    labels: list[dict[str, str]] = dataclasses.field(default_factory=list)  # per chunk server
    master: MasterSettings = dataclasses.field(default_factory=MasterSettings)
    # False: start_cluster starts only the chunk servers (already told the master's address)
    # and leaves the master stopped; the scenario starts it with cluster.master.start().
    start_master_first: bool = True
    masters: int = 1      # more than one: masters on etcd, one leading
    etcd: int = 0         # etcd members (3 with several masters)
    metaloggers: int = 0  # with etcd
    # Several regions: chunk servers labelled region=<name> in this order, masters in turn
    # (the first, or the only one, in the first region, with etcd), every region reaching the
    # others through delaying WAN links.
    regions: list[Region] = dataclasses.field(default_factory=list)
    # Bytes of every chunk server's own disk (a tmpfs: on docker it is emptied when the node
    # stops); 0: they share the machine's.
    disk: int = 0
    tls: bool = False     # every link (and etcd) on mutual TLS with a CA of the cluster's own

    def __post_init__(self):
        if self.regions:
            self.chunkservers = sum(r.chunkservers for r in self.regions)
            self.labels = [{"region": r.name} for r in self.regions
                           for _ in range(r.chunkservers)]
            self.etcd = sum(r.etcd for r in self.regions) or self.etcd
        if self.masters > 1 and self.etcd < 1:
            raise ValueError("several masters need etcd members")
        if self.metaloggers and not self.etcd:
            raise ValueError("a metalogger follows the changelog in etcd: give etcd members")
        if self.masters > 1 and not self.start_master_first:
            raise ValueError("several masters start before the chunk servers")

    def master_labels(self) -> list[dict[str, str]]:
        return [{"region": self.regions[i % len(self.regions)].name} if self.regions else {}
                for i in range(self.masters)]

    def etcd_labels(self) -> list[dict[str, str]]:
        placed = [{"region": r.name} for r in self.regions for _ in range(r.etcd)]
        return placed or [{} for _ in range(self.etcd)]

    def master_names(self) -> list[str]:
        """'master' alone; 'master-1', 'master-2', ... on etcd."""
        if self.masters == 1:
            return ["master"]
        return [f"master-{i + 1}" for i in range(self.masters)]


@dataclasses.dataclass
class CliResult:
    args: list[str]
    exit_code: int
    stdout: str
    stderr: str

    def __str__(self) -> str:
        return (f"$ mooseng {' '.join(self.args)}\nexit code: {self.exit_code}\n"
                f"--- stdout ---\n{self.stdout}\n--- stderr ---\n{self.stderr}")


class Node(abc.ABC):
    """One MooseNG daemon of a cluster. Addresses are reachable from the test process."""

    name: str   # "master", "chunkserver-1", ...
    role: str   # "master" | "chunkserver"
    labels: dict[str, str]   # chunk servers: the labels it was started with

    def __repr__(self) -> str:
        return self.name      # what a failed step's message names

    @property
    @abc.abstractmethod
    def address(self) -> str:
        """host:port of its gRPC service, as the test process reaches it."""

    @property
    @abc.abstractmethod
    def http_address(self) -> str:
        """host:port of /health, /ready, /metrics, as the test process reaches it."""

    @abc.abstractmethod
    def start(self) -> None:
        """Start (again) on the same data directory and wait until /ready answers."""

    @abc.abstractmethod
    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM and wait for a clean exit."""

    @abc.abstractmethod
    def kill(self) -> None:
        """SIGKILL: no chance to clean up."""

    @abc.abstractmethod
    def pause(self) -> None:
        """Freeze every process of the node (SIGSTOP / docker pause)."""

    @abc.abstractmethod
    def resume(self) -> None: ...

    @abc.abstractmethod
    def is_running(self) -> bool: ...

    @abc.abstractmethod
    def resident_bytes(self) -> int:
        """Resident memory (VmRSS) of the node's daemon process now."""

    @abc.abstractmethod
    def logs(self, tail: int | None = None) -> str: ...

    @abc.abstractmethod
    def corrupt_chunk(self, chunk_id: int | None = None) -> int:
        """Flip bytes in the data of one stored chunk copy (a chunk server only).

        Returns the id of the chunk corrupted; with chunk_id=None any stored chunk."""

    @abc.abstractmethod
    def stored_chunks(self) -> dict[int, int]:
        """{chunk_id: version} of the copies on this chunk server's disk."""

    @abc.abstractmethod
    def run_beside(self, timeout: float) -> DaemonRun:
        """Run a second daemon of this node's role on this node's data, with free ports, for
        at most `timeout` seconds (a master must refuse to share its data with another)."""

    def lose_data(self) -> None:
        """Empty the (stopped) node's data directory, as a lost disk would."""
        raise CapabilityMissing(f"{type(self).__name__} cannot lose its data yet")

    def set_exports(self, text: str) -> None:
        """Give this master the exports file `text` and have it read it again (SIGHUP), as an
        operator would."""
        raise CapabilityMissing(f"{self.name} cannot be given exports on this backend")

    def fill_disk(self) -> None:
        """Fill the rest of the node's disk (a topology `disk`) with a file that is not a chunk,
        as another program would."""
        raise CapabilityMissing(f"{self.name} cannot fill its disk on this backend")

    def free_disk(self) -> None:
        """Remove what fill_disk wrote."""
        raise CapabilityMissing(f"{self.name} cannot free its disk on this backend")

    def restore_from(self, source: "Node") -> None:
        """Start this (master) node after rebuilding its metadata from `source`'s directory
        (a metalogger's): mooseng-master --restore-from."""
        raise CapabilityMissing(f"{type(self).__name__} cannot restore a master yet")

    def limit_cpu(self, cpus: float | None) -> None:
        """Let the node use at most `cpus` of one CPU, or any again with None (capability
        'cpu_limit'): a real slowdown of that node."""
        raise CapabilityMissing(f"{type(self).__name__} cannot limit a node's CPU")

    def partition(self) -> None:
        """Cut the node off the cluster network (capability 'partition')."""
        raise CapabilityMissing(f"{type(self).__name__} cannot partition a node")

    def heal(self) -> None:
        """Undo partition()."""
        raise CapabilityMissing(f"{type(self).__name__} cannot partition a node")

    def cut_from(self, other: "Node | str") -> None:
        """Drop traffic from this node to `other` (a node, or 'client' for the test process),
        leaving the other direction alone (capability 'one_sided_cut')."""
        raise CapabilityMissing(f"{type(self).__name__} cannot cut a single link")

    def restore_to(self, other: "Node | str") -> None:
        raise CapabilityMissing(f"{type(self).__name__} cannot cut a single link")


class LoopbackNode(Node):
    """A node the test process reaches on 127.0.0.1, at the ports its driver keeps in `ports`."""

    ports: dict[str, int] | None = None   # {"grpc": P, "http": H}; None until first started

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self._ports()['grpc']}"

    @property
    def http_address(self) -> str:
        return f"127.0.0.1:{self._ports()['http']}"

    def _ports(self) -> dict[str, int]:
        if self.ports is None:
            raise RuntimeError(f"{self.name} has never been started, so it has no address yet")
        return self.ports


class Cluster(abc.ABC):
    """A running MooseNG cluster started for one scenario."""

    masters: list[Node]
    etcd: list[Node]          # etcd members (none with a single master)
    metaloggers: list[Node]
    chunkservers: list[Node]
    wan: list[Node]           # WAN links between regions, one node per pair of regions
    topology: Topology
    workdir: "os.PathLike"   # where the cluster's files and node logs are (or are copied to)
    keep_files: bool = False  # set before teardown() to keep workdir (-D preserve=failed)

    @property
    def nodes(self) -> list[Node]:
        return [*self.etcd, *self.masters, *self.metaloggers, *self.chunkservers, *self.wan]

    @property
    def master(self) -> Node:
        """The master, or with several the one leading now (waits for an election)."""
        if len(self.masters) == 1:
            return self.masters[0]
        return self.leader()

    def leader(self, timeout: float = START_TIMEOUT) -> Node:
        def leading():
            found = [m for m in self.masters if m.is_running()
                     and rpc.role(m.address) == "leader"]
            return found[0] if len(found) == 1 else None
        return within(timeout, leading, "one master to lead", until=lambda node: node)

    @property
    def master_addresses(self) -> str:
        """Every master, as clients, the CLI and chunk servers are given them."""
        return ",".join(m.address for m in self.masters)

    pki = None            # support.drivers.pki.Pki of a topology on TLS

    @property
    def client_tls(self) -> str:
        """The directory of the suite's client certificate on a TLS topology, else ""."""
        return self.pki.client if self.pki else ""

    def speaks_tls(self, node: "Node") -> None:
        """Once `node` listens: the suite's direct gRPC calls to it use TLS (support.rpc)."""
        if self.pki is not None and node.role in ("master", "chunkserver"):
            rpc.on_tls(node.address, self.client_tls)
            self.pki.addresses.add(node.address)

    def forget_tls(self) -> None:
        """At teardown: the suite's direct calls to these addresses use plain text again."""
        if self.pki is not None:
            rpc.forget(self.pki.addresses)

    def give_foreign_certificate(self, node: "Node") -> None:
        """Before its first start: `node` gets a certificate of another CA."""
        if self.pki is None:
            raise CapabilityMissing("only a topology on TLS has certificates to give")
        self.pki.foreign(node.name)

    @property
    def client_network(self) -> str:
        """Where this suite's clients (and its admin CLI) come from, as the masters see them
        (a CIDR)."""
        return "127.0.0.1/32"

    def master_address_in(self, region: str) -> str:
        """Where a client in `region` reaches the masters (past its WAN link, outside the
        master's region)."""
        return self.master_addresses

    def address_map_in(self, region: str) -> Callable[[str], str]:
        """The address map of a client in `region`."""
        return self.address_map()

    def region_links(self, region: str) -> list[Node]:
        """The WAN link nodes `region` is part of: halting them cuts the region off."""
        found = [link for link in self.wan if region in link.labels.values()]
        if not found:
            raise KeyError(f"no WAN link of a region {region!r}; regions: "
                           f"{[r.name for r in self.topology.regions]}")
        return found

    def node(self, name: str) -> Node:
        for node in self.nodes:
            if node.name == name:
                return node
        raise KeyError(f"no node named {name!r}; nodes: {[n.name for n in self.nodes]}")

    def wait_online(self, count: int) -> None:
        """Wait until the master lists at least `count` chunk servers online."""
        within(START_TIMEOUT, lambda: rpc.online_count(self.master.address),
               f"the master to see {count} chunk server(s) online",
               until=lambda online: online >= count)

    @abc.abstractmethod
    def add_chunkserver(self, labels: dict[str, str] | None = None, start: bool = True) -> Node:
        """Another chunk server registered with this cluster's master."""

    @abc.abstractmethod
    def address_map(self) -> Callable[[str], str]:
        """Translate an address the cluster advertises (e.g. a chunk server's) into one the
        test process can reach. Identity on `local`."""

    @abc.abstractmethod
    def cli(self, *args: str, timeout: float = 60.0) -> CliResult:
        """Run the admin CLI `mooseng --master <master> ARGS...` against this cluster."""

    @abc.abstractmethod
    def dashboard(self) -> str:
        """Start `mooseng dashboard` for this cluster where the CLI runs (once; it shows the
        benchmark results the CLI stored) and return the URL a browser on this host opens."""

    @abc.abstractmethod
    def dashboard_log(self, tail: int) -> str:
        """The last `tail` lines the dashboard logged; empty when none was started."""

    @abc.abstractmethod
    def run_daemon(self, role: str, settings: list[Setting], timeout: float) -> DaemonRun:
        """Run a new daemon of `role` outside the cluster (its own empty data, free ports; a
        chunk server names this cluster's master) with `settings`, for at most `timeout`
        seconds: how a daemon treats the settings an operator gives it."""

    @abc.abstractmethod
    def teardown(self) -> None:
        """Stop and remove every node and resource of the cluster (idempotent)."""


class ClusterDriver(abc.ABC):
    name: str
    capabilities: frozenset[str] = frozenset()   # e.g. {"partition", "one_sided_cut"}

    @abc.abstractmethod
    def start_cluster(self, topology: Topology, scenario: str) -> Cluster:
        """Start a cluster and wait until the master sees every chunk server online."""

    @abc.abstractmethod
    def versions(self) -> dict[str, str]:
        """What runs the cluster (backend, image or Python version, engine version)."""

    @abc.abstractmethod
    def leftovers(self) -> list[str]:
        """Anything this driver started that is still alive (should be empty at the end)."""

    @abc.abstractmethod
    def sweep(self) -> None:
        """Remove everything this driver (or an earlier, interrupted run) left behind."""


def vm_rss(proc_status: str) -> int:
    """Bytes of VmRSS in the text of /proc/<pid>/status."""
    for line in proc_status.splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise ValueError("no VmRSS line in /proc/<pid>/status (not a running process?)")
