"""Node control on the `local` backend: one daemon (a MooseNG node or an etcd member) as a
process on 127.0.0.1.

Each node runs in its own process group (so Ctrl-C in the terminal never reaches it and a kill
takes the whole group), writes one log file, picks free ports (port 0, read back from
`<data_dir>/ports.json`) and keeps them when it is started again on the same data.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from mooseng.bench import hacluster

from support import endpoints
from support.drivers import chunk_files, local_disk, regions
from support.drivers.base import (START_TIMEOUT, BackendUnavailable, DaemonRun, LoopbackNode,
                                  topology_flags, vm_rss)
from support.drivers.ports import free_port
from support.waiting import GiveUp, within


EXPORTS = "exports.cfg"
DEFAULT_EXPORTS = "127.0.0.0/8 / rw,admin\n"     # every client of the suite is on loopback


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
    def __init__(self, cluster, name: str, role: str, labels: dict[str, str]):
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
        self.once: list[str] = []     # flags for the next start only (e.g. --restore-from)

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
        etcd = ["--etcd", self.cluster.etcd_in(self.labels.get("region", "")), "--name", self.name]
        pki = self.cluster.pki
        tls = ["--tls", str(pki.issue(self.name))] if pki else []
        if self.role == "metalogger":
            return [_executable("mooseng-metalogger"), "--data-dir", str(self.data_dir),
                    "--host", "127.0.0.1", "--http-port", str(http_port), *etcd, *tls]
        common += tls + topology_flags(self.role, self.cluster.topology.master, self.labels)
        if self.role == "master":
            if self.cluster.etcd:
                common += etcd
            exports = self.home / EXPORTS
            if not exports.exists():
                exports.write_text(DEFAULT_EXPORTS)
            return [_executable("mooseng-master"), *common, "--exports", str(exports), *self.once]
        advertise = [a for region, address in self.cluster.advertised_to(self).items()
                     for a in ("--advertise-to", f"{region}={address}")]
        return [_executable("mooseng-chunkserver"), *common, *advertise,
                "--master", self.cluster.internal_master_in(self.labels.get("region", ""))]

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
        self.once = []
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
        self.cluster.speaks_tls(self)

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

    def lose_data(self) -> None:
        if self.is_running():
            raise RuntimeError(f"{self.name} is running: kill it before its disk is lost")
        shutil.rmtree(self.data_dir)
        self.data_dir.mkdir()

    def set_exports(self, text: str) -> None:
        (self.home / EXPORTS).write_text(text)
        if self.process is not None and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGHUP)

    def fill_disk(self) -> None:
        local_disk.fill(self.data_dir)

    def free_disk(self) -> None:
        local_disk.free(self.data_dir)

    def restore_from(self, source: "LocalNode") -> None:
        self.once = ["--restore-from", str(source.data_dir)]
        self.start()

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
        chunk_files.flip_bytes(path, chunk_files.offsets_to_flip(path.stat().st_size))
        return cid


class LocalEtcdMember(LocalNode):
    """An etcd member: its client port is both its `address` and `http_address`."""

    def __init__(self, cluster, name: str, labels: dict[str, str]):
        super().__init__(cluster, name, "etcd", labels)
        if not shutil.which("etcd"):
            raise BackendUnavailable(hacluster.ETCD_MISSING)

    def reserve_ports(self) -> None:
        if self.ports is None:
            client = free_port()
            self.ports = {"grpc": client, "http": client, "peer": free_port()}

    def _command(self) -> list[str]:
        peers = {m.name: f"127.0.0.1:{m.ports['peer']}" for m in self.cluster.etcd}
        pki = self.cluster.pki
        return hacluster.etcd_command(self.name, self.data_dir, self.ports["grpc"],
                                      self.ports["peer"], peers,
                                      tls=str(pki.issue(self.name)) if pki else "")

    def wait_ready(self) -> None:
        def probe() -> bool:
            if self.process is None or self.process.poll() is not None:
                raise GiveUp(f"{self.name} exited before it was healthy; its log ends with:\n"
                             f"{self.logs(tail=15)}")
            return hacluster.etcd_healthy(self.ports["grpc"], self.cluster.client_tls)

        within(START_TIMEOUT, probe, f"{self.name} to answer /health (with a majority)")

    def stored_chunks(self) -> dict[int, int]:
        raise RuntimeError(f"{self.name} is an etcd member; only chunk servers store chunks")

    def corrupt_chunk(self, chunk_id: int | None = None) -> int:
        raise RuntimeError(f"{self.name} is an etcd member; only chunk servers store chunks")

    def run_beside(self, timeout: float) -> DaemonRun:
        raise RuntimeError(f"{self.name} is an etcd member, not a MooseNG daemon")


class LocalWanLink(LocalNode):
    """The WAN link between two regions: one `mooseng-wan` process forwarding a port of its own
    to every node that the other region reaches through it, with the pair's delay."""

    def __init__(self, cluster, pair: regions.Pair):
        super().__init__(cluster, pair.name, "wan", {"region-a": pair.a.name,
                                                    "region-b": pair.b.name})
        self.pair = pair
        self.listen: dict[tuple[str, str], int] = {}   # (node name, seen from region) -> port

    def reserve_ports(self) -> None:
        if self.ports is None:
            self.listen = {(c.node.name, c.seen_from): free_port() for c in self.pair.crossings}
            first = next(iter(self.listen.values()))
            self.ports = {"grpc": first, "http": first}

    def address_for(self, node: LocalNode, region: str) -> str:
        """Where nodes of `region` reach `node` through this link."""
        return f"127.0.0.1:{self.listen[(node.name, region)]}"

    def _command(self) -> list[str]:
        command = regions.wan_command(self.pair, lambda c: (
            self.address_for(c.node, c.seen_from), f"127.0.0.1:{c.node.ports['grpc']}"))
        return [_executable(command[0]), *command[1:]]

    def wait_ready(self) -> None:
        """It logs each link once it listens on it."""
        def probe() -> int:
            if self.process is None or self.process.poll() is not None:
                raise GiveUp(f"{self.name} exited before it listened; its log ends with:\n"
                             f"{self.logs(tail=15)}")
            return self.logs().rsplit("=== ", 1)[-1].count(" link ")   # since this start

        within(START_TIMEOUT, probe, f"{self.name} to listen on its {len(self.listen)} links",
               until=lambda count: count >= len(self.listen))
