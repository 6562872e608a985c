"""The `local` backend: MooseNG clusters as processes on 127.0.0.1 with temporary directories.

Nodes are processes (local_node.py). Every process is tracked by this driver and in a pid
directory so that an interrupted run's leftovers can be swept by the next one.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Callable

import grpc

import mooseng
from support.drivers import local_disk, regions
from support.drivers.pki import Pki
from support.drivers.base import (START_TIMEOUT, CapabilityMissing, CliResult, Cluster,
                                  ClusterDriver, DaemonRun, Node, Setting, Topology,
                                  daemon_settings)
from support.drivers.local_node import (LocalEtcdMember, LocalNode, LocalWanLink, _executable,
                                        _group_alive, _run, _start_time)
from support.waiting import GiveUp, within

PID_DIR = Path(tempfile.gettempdir()) / "mooseng-acceptance-pids"
MOUNT_DIR = Path(tempfile.gettempdir()) / "mooseng-acceptance-mounts"


def _start_together(nodes: list[LocalNode]) -> None:
    """Launch all, then wait for each: they boot in parallel."""
    for node in nodes:
        node.launch()
    for node in nodes:
        node.wait_ready()


class LocalCluster(regions.Addressing, Cluster):
    def __init__(self, driver: "LocalDriver", topology: Topology, workdir: Path):
        self.driver = driver
        self.topology = topology
        self.workdir = workdir
        self.keep_files = False
        self._dashboard: subprocess.Popen | None = None
        self._dashboard_url = ""
        self.etcd = [LocalEtcdMember(self, f"etcd-{i + 1}", labels)
                     for i, labels in enumerate(topology.etcd_labels())]
        self.masters = [LocalNode(self, name, "master", labels) for name, labels
                        in zip(topology.master_names(), topology.master_labels())]
        self.metaloggers = [LocalNode(self, f"metalogger-{i + 1}" if topology.metaloggers > 1
                                      else "metalogger", "metalogger", {})
                            for i in range(topology.metaloggers)]
        self.chunkservers = []
        for index in range(topology.chunkservers):
            labels = topology.labels[index] if index < len(topology.labels) else {}
            self.chunkservers.append(LocalNode(self, f"chunkserver-{index + 1}", "chunkserver",
                                               labels))
        self.wan = [LocalWanLink(self, pair)
                    for pair in regions.pairs(topology, self.masters, self.chunkservers,
                                              self.etcd)]

    def start(self) -> None:
        if self.topology.tls:
            self.pki = Pki(self.workdir / "pki")
        if self.topology.disk:
            for node in self.chunkservers:
                local_disk.mount(node.data_dir, self.topology.disk, MOUNT_DIR)
        fixed = [*self.etcd, *self.masters, *self.wan]
        if self.wan:                  # the links forward to the servers' ports
            fixed += self.chunkservers
        for node in fixed:
            node.reserve_ports()      # everyone knows every address before anything starts
        _start_together(self.wan)
        _start_together(self.etcd)
        if self.topology.start_master_first:
            _start_together(self.masters)
        _start_together(self.metaloggers)
        _start_together(self.chunkservers)
        if self.topology.start_master_first:
            self.wait_online(len(self.chunkservers))

    def add_chunkserver(self, labels: dict[str, str] | None = None, start: bool = True) -> Node:
        if self.wan:
            raise CapabilityMissing("a chunk server cannot join a multi-region cluster after "
                                    "its start (the WAN links are laid out at the start)")
        node = LocalNode(self, f"chunkserver-{len(self.chunkservers) + 1}", "chunkserver",
                         labels or {})
        self.chunkservers.append(node)
        if self.topology.disk:
            local_disk.mount(node.data_dir, self.topology.disk, MOUNT_DIR)
        if start:
            node.start()
        return node

    def address_map(self) -> Callable[[str], str]:
        return lambda address: address

    def _admin(self) -> tuple[Path, dict[str, str]]:
        """The CLI's working directory and environment: an admin's home of its own (so
        ~/.mooseng/bench.db is the scenario's), and no MOOSENG_* settings of the test run."""
        home = self.workdir / "cli-home"
        home.mkdir(exist_ok=True)
        env = {k: v for k, v in os.environ.items() if not k.startswith("MOOSENG_")}
        return home, env | {"HOME": str(home)} | ({"MOOSENG_TLS": self.client_tls}
                                                  if self.pki else {})

    def cli(self, *args: str, timeout: float = 60.0) -> CliResult:
        command = [_executable("mooseng"), "--master", self.master_addresses, *args]
        home, env = self._admin()
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=timeout,
                                  stdin=subprocess.DEVNULL, cwd=home, env=env)
        except subprocess.TimeoutExpired as expired:
            return CliResult(list(args), -1, expired.stdout or "",
                             f"(no answer within {timeout} s) {expired.stderr or ''}")
        return CliResult(list(args), done.returncode, done.stdout, done.stderr)

    def dashboard(self) -> str:
        if self._dashboard_url:
            return self._dashboard_url
        home, env = self._admin()
        log = self.workdir / "dashboard.log"
        with open(log, "ab") as out:
            process = subprocess.Popen(
                [_executable("mooseng"), "--master", self.master_addresses, "dashboard",
                 "--port", "0"], stdin=subprocess.DEVNULL, stdout=out, stderr=out, cwd=home,
                env=env | {"PYTHONUNBUFFERED": "1"}, start_new_session=True)
        self.driver.track(process)
        self._dashboard = process

        def url() -> str:
            if process.poll() is not None:
                raise GiveUp(f"mooseng dashboard exited with code {process.returncode}: "
                             f"{log.read_text()}")
            found = re.search(r" at (http://\S+/) ", log.read_text())
            return found.group(1) if found else ""
        self._dashboard_url = within(START_TIMEOUT, url, "the dashboard to listen")
        return self._dashboard_url

    def dashboard_log(self, tail: int) -> str:
        if not self._dashboard_url:
            return ""
        lines = (self.workdir / "dashboard.log").read_text(errors="replace").splitlines()
        return "\n".join(lines[-tail:])

    def run_daemon(self, role: str, settings: list[Setting], timeout: float) -> DaemonRun:
        home = Path(tempfile.mkdtemp(prefix=f"{role}-run-", dir=self.workdir))
        base = {"data_dir": str(home / "data"), "host": "127.0.0.1", "port": 0, "http_port": 0}
        if role == "chunkserver":
            base["master"] = self.master_addresses
        flags, env, toml = daemon_settings(settings, base)
        config = home / "config.toml"
        config.write_text(toml)
        return _run([_executable(f"mooseng-{role}"), "--config", str(config), *flags], env,
                    timeout)

    def teardown(self) -> None:
        if self._dashboard is not None and self._dashboard.poll() is None:
            os.killpg(self._dashboard.pid, signal.SIGKILL)
            self._dashboard.wait()
        for node in self.nodes:
            node.kill()
        for node in self.chunkservers:
            local_disk.unmount(node.data_dir, MOUNT_DIR)
        self.forget_tls()
        if not self.keep_files:
            shutil.rmtree(self.workdir, ignore_errors=True)
        self.driver.clusters.discard(self)


class LocalDriver(ClusterDriver):
    name = "local"
    capabilities = frozenset({"kill", "pause", "corrupt", "regions"}
                             | ({"etcd", "restore"} if shutil.which("etcd") else set())
                             | (set() if local_disk.unavailable() else {"small_disk"}))

    def __init__(self, root: str | None = None):
        self._root = Path(root) if root else None
        self.clusters: set[LocalCluster] = set()
        self.processes: list[subprocess.Popen] = []
        self._count = 0

    def track(self, process: subprocess.Popen) -> None:
        self.processes.append(process)
        PID_DIR.mkdir(exist_ok=True)
        (PID_DIR / str(process.pid)).write_text(json.dumps(
            {"run": os.getpid(), "started": _start_time(process.pid), "args": process.args}))

    @property
    def root(self) -> Path:
        """Made on first use, so a driver that only sweeps or checks leaves no directory."""
        if self._root is None:
            self._root = Path(tempfile.mkdtemp(prefix="mooseng-acceptance-"))
        return self._root

    def start_cluster(self, topology: Topology, scenario: str) -> LocalCluster:
        self._count += 1
        slug = re.sub(r"[^a-z0-9]+", "-", scenario.lower()).strip("-")[:40]
        workdir = self.root / f"{self._count:03d}-{slug}"
        workdir.mkdir(parents=True)   # (re)creates the root after an earlier teardown_all
        cluster = LocalCluster(self, topology, workdir)
        self.clusters.add(cluster)
        try:
            cluster.start()
        except BaseException:
            cluster.keep_files = True
            cluster.teardown()
            raise
        return cluster

    def versions(self) -> dict[str, str]:
        return {"backend": "local", "mooseng": mooseng.__version__,
                "python": sys.version.split()[0], "grpcio": grpc.__version__}

    def leftovers(self) -> list[str]:
        alive = []
        for process in self.processes:
            process.poll()   # reap a daemon that exited by itself, so it is not counted
            if _group_alive(process.pid):
                args = process.args if isinstance(process.args, list) else [process.args]
                alive.append(f"pid {process.pid} (process group): {' '.join(map(str, args))}")
        return alive

    def teardown_all(self) -> None:
        """Kill every process this driver started (Ctrl-C, end of run)."""
        for cluster in list(self.clusters):
            cluster.teardown()
        for process in self.processes:
            if _group_alive(process.pid):
                try:
                    os.killpg(process.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                process.wait()
            (PID_DIR / str(process.pid)).unlink(missing_ok=True)
        if self._root is not None and self._root.is_dir() and not any(self._root.iterdir()):
            self._root.rmdir()   # kept only while it holds a preserved cluster

    def sweep(self) -> None:
        """Kill what an interrupted earlier run left behind (its pid files say what) and
        unmount its disks."""
        local_disk.sweep(MOUNT_DIR, lambda run: _start_time(run) is not None)
        if not PID_DIR.is_dir():
            return
        for entry in PID_DIR.iterdir():
            try:
                pid = int(entry.name)
                record = json.loads(entry.read_text())
            except (ValueError, OSError):
                entry.unlink(missing_ok=True)
                continue
            owner_alive = record.get("run") != os.getpid() and _start_time(record["run"])
            if owner_alive:
                continue   # another run, still going: not ours to sweep
            if _start_time(pid) == record.get("started") and _group_alive(pid):
                try:
                    os.killpg(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            entry.unlink(missing_ok=True)
