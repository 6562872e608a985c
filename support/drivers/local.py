"""The `local` backend: MooseNG daemons as processes on 127.0.0.1 with temporary directories.

Each node runs in its own process group (so Ctrl-C in the terminal never reaches it and a kill
takes the whole group), writes one log file, picks free ports (port 0, read back from
`<data_dir>/ports.json`) and keeps them when it is started again on the same data. Every process
is tracked by this driver and in a pid directory so that an interrupted run's leftovers can be
swept by the next one.
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
import time
from pathlib import Path
from typing import Callable

import grpc

import mooseng
from support import endpoints
from support.drivers import chunk_files
from support.drivers.base import (START_TIMEOUT, BackendUnavailable, CliResult, Cluster,
                                  ClusterDriver, DaemonRun, LoopbackNode, Node, Setting,
                                  Topology, daemon_settings, topology_flags, vm_rss)
from support.drivers.ports import free_port
from support.waiting import GiveUp, within

PID_DIR = Path(tempfile.gettempdir()) / "mooseng-acceptance-pids"


def _executable(name: str) -> str:
    """The console script next to the running Python (the venv's), else on PATH."""
    beside = Path(sys.executable).parent / name
    if beside.exists():
        return str(beside)
    found = shutil.which(name)
    if not found:
        raise BackendUnavailable(f"cannot find the `{name}` command; install MooseNG into this "
                                 f"environment (pip install -e .)")
    return found


def _start_time(pid: int) -> str | None:
    """The kernel's start time of `pid` (to tell a tracked process from a recycled pid)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


def _run(command: list[str], env: dict[str, str], timeout: float) -> DaemonRun:
    """Run a daemon in the foreground for at most `timeout` seconds (then kill it)."""
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout,
                              stdin=subprocess.DEVNULL, env={**os.environ, **env})
    except subprocess.TimeoutExpired as expired:
        return DaemonRun(command, env, None, _text(expired.stdout), _text(expired.stderr))
    return DaemonRun(command, env, done.returncode, done.stdout, done.stderr)


def _text(output: bytes | str | None) -> str:
    return output.decode(errors="replace") if isinstance(output, bytes) else output or ""


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class LocalNode(LoopbackNode):
    def __init__(self, cluster: "LocalCluster", name: str, role: str, labels: dict[str, str]):
        self.cluster = cluster
        self.name = name
        self.role = role
        self.labels = dict(labels)
        self.home = cluster.workdir / name
        self.data_dir = self.home / "data"
        self.log_path = self.home / f"{name}.log"
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.process: subprocess.Popen | None = None
        self.ports: dict[str, int] | None = None
        self.paused = False

    # ------------------------------------------------------------------ addresses
    def reserve_ports(self) -> None:
        """Fix the ports before the first start (a chunk server started before its master
        must know where the master will listen)."""
        if self.ports is None:
            self.ports = {"grpc": free_port(), "http": free_port()}

    # ------------------------------------------------------------------ life cycle
    def _command(self) -> list[str]:
        grpc_port, http_port = (self.ports["grpc"], self.ports["http"]) if self.ports else (0, 0)
        common = ["--data-dir", str(self.data_dir), "--host", "127.0.0.1",
                  "--port", str(grpc_port), "--http-port", str(http_port)]
        common += topology_flags(self.role, self.cluster.topology.master, self.labels)
        if self.role == "master":
            return [_executable("mooseng-master"), *common]
        return [_executable("mooseng-chunkserver"), *common,
                "--master", self.cluster.master.address]

    def launch(self) -> None:
        """Start the process without waiting for readiness (so several start in parallel)."""
        if self.is_running():
            raise RuntimeError(f"{self.name} is already running")
        ports_file = self.data_dir / "ports.json"
        ports_file.unlink(missing_ok=True)
        command = self._command()
        with open(self.log_path, "ab") as log:
            log.write(f"=== {time.strftime('%H:%M:%S')} driver starts {self.name}: "
                      f"{' '.join(command)}\n".encode())
            log.flush()
            self.process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=log,
                                            stderr=subprocess.STDOUT, start_new_session=True,
                                            env={**os.environ, "PYTHONUNBUFFERED": "1"})
        self.paused = False
        self.cluster.driver.track(self.process)

    def wait_ready(self) -> None:
        ports_file = self.data_dir / "ports.json"

        def probe() -> bool:
            if self.process is None or self.process.poll() is not None:
                code = None if self.process is None else self.process.returncode
                raise GiveUp(f"{self.name} exited with code {code} before it was ready; "
                             f"its log ends with:\n{self.logs(tail=15)}")
            ports = json.loads(ports_file.read_text())
            self.ports = {"grpc": int(ports["grpc"]), "http": int(ports["http"])}
            return endpoints.ready(self.http_address)

        within(START_TIMEOUT, probe, f"{self.name} to write its ports and answer /ready with 200",
               until=lambda answer: answer[0] == 200)

    def start(self) -> None:
        self.launch()
        self.wait_ready()

    def _signal(self, sig: int) -> None:
        if self.process is None:
            raise RuntimeError(f"{self.name} was never started")
        try:
            os.killpg(self.process.pid, sig)
        except ProcessLookupError:
            pass

    def stop(self, timeout: float = 10.0) -> None:
        if not self.is_running():
            return
        if self.paused:
            self.resume()
        self._signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self._reap(signal.SIGKILL)
            raise AssertionError(f"{self.name} did not exit within {timeout} s of SIGTERM "
                                 f"(killed it); its log ends with:\n{self.logs(tail=15)}")
        self._reap(signal.SIGKILL)

    def kill(self) -> None:
        if self.process is not None:
            self._reap(signal.SIGKILL)

    def _reap(self, sig: int) -> None:
        """Send `sig` to the whole group and collect the exit status (no zombie is left)."""
        self._signal(sig)
        self.process.wait()
        self.paused = False

    def pause(self) -> None:
        self._signal(signal.SIGSTOP)
        self.paused = True

    def resume(self) -> None:
        self._signal(signal.SIGCONT)
        self.paused = False

    def is_running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def resident_bytes(self) -> int:
        if not self.is_running():
            raise RuntimeError(f"{self.name} is not running: no memory to measure")
        return vm_rss(Path(f"/proc/{self.process.pid}/status").read_text())

    def logs(self, tail: int | None = None) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""
        if tail is None:
            return text
        return "\n".join(text.splitlines()[-tail:])

    def run_beside(self, timeout: float) -> DaemonRun:
        command = [_executable(f"mooseng-{self.role}"), "--data-dir", str(self.data_dir),
                   "--host", "127.0.0.1", "--port", "0", "--http-port", "0"]
        return _run(command, {}, timeout)

    # ------------------------------------------------------------------ stored chunks
    def _chunk_files(self) -> list[tuple[int, int, Path]]:
        found = []
        for path in (self.data_dir / "chunks").glob("*/chunk_*.chk"):
            named = chunk_files.parse(path.name)
            if named:
                found.append((*named, path))
        return found

    def stored_chunks(self) -> dict[int, int]:
        if self.role != "chunkserver":
            raise RuntimeError(f"{self.name} is a {self.role}; only chunk servers store chunks")
        return chunk_files.newest_versions(self._chunk_files())

    def corrupt_chunk(self, chunk_id: int | None = None) -> int:
        cid, _, path = chunk_files.copy_to_corrupt(self.name, self._chunk_files(), chunk_id,
                                                   size=lambda c: c[2].stat().st_size)
        size = path.stat().st_size
        with open(path, "r+b") as handle:
            for offset in chunk_files.offsets_to_flip(size):
                handle.seek(offset)
                byte = handle.read(1)
                handle.seek(offset)
                handle.write(bytes([byte[0] ^ 0xFF]))
            handle.flush()
            os.fsync(handle.fileno())
        return cid


class LocalCluster(Cluster):
    def __init__(self, driver: "LocalDriver", topology: Topology, workdir: Path):
        self.driver = driver
        self.topology = topology
        self.workdir = workdir
        self.keep_files = False
        self.master = LocalNode(self, "master", "master", {})
        self.chunkservers = []
        for index in range(topology.chunkservers):
            labels = topology.labels[index] if index < len(topology.labels) else {}
            self.chunkservers.append(LocalNode(self, f"chunkserver-{index + 1}", "chunkserver",
                                               labels))

    def start(self) -> None:
        if self.topology.start_master_first:
            self.master.start()
        else:
            self.master.reserve_ports()
        for node in self.chunkservers:
            node.launch()
        for node in self.chunkservers:
            node.wait_ready()
        if self.topology.start_master_first:
            self.wait_online(len(self.chunkservers))

    def add_chunkserver(self, labels: dict[str, str] | None = None, start: bool = True) -> Node:
        node = LocalNode(self, f"chunkserver-{len(self.chunkservers) + 1}", "chunkserver",
                         labels or {})
        self.chunkservers.append(node)
        if start:
            node.start()
        return node

    def address_map(self) -> Callable[[str], str]:
        return lambda address: address

    def cli(self, *args: str, timeout: float = 60.0) -> CliResult:
        command = [_executable("mooseng"), "--master", self.master.address, *args]
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=timeout,
                                  stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired as expired:
            return CliResult(list(args), -1, expired.stdout or "",
                             f"(no answer within {timeout} s) {expired.stderr or ''}")
        return CliResult(list(args), done.returncode, done.stdout, done.stderr)

    def run_daemon(self, role: str, settings: list[Setting], timeout: float) -> DaemonRun:
        home = Path(tempfile.mkdtemp(prefix=f"{role}-run-", dir=self.workdir))
        base = {"data_dir": str(home / "data"), "host": "127.0.0.1", "port": 0, "http_port": 0}
        if role == "chunkserver":
            base["master"] = self.master.address
        flags, env, toml = daemon_settings(settings, base)
        config = home / "config.toml"
        config.write_text(toml)
        return _run([_executable(f"mooseng-{role}"), "--config", str(config), *flags], env,
                    timeout)

    def teardown(self) -> None:
        for node in self.nodes:
            node.kill()
        if not self.keep_files:
            shutil.rmtree(self.workdir, ignore_errors=True)
        self.driver.clusters.discard(self)


class LocalDriver(ClusterDriver):
    name = "local"
    capabilities = frozenset({"kill", "pause", "corrupt"})

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
        """Kill what an interrupted earlier run left behind (its pid files say what)."""
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
