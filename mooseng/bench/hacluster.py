"""A throwaway cluster of several masters on etcd, on loopback, for benchmarks that must disrupt
it (kill its leader): etcd members, masters and chunk servers as processes of their own in a
temporary directory, all removed afterwards.

etcd timings are the HA defaults (see DESIGN.md "Several masters on etcd"): a 50 ms heartbeat
and a 500 ms election timeout.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import requests

ETCD_TUNING = ["--heartbeat-interval", "50", "--election-timeout", "500",
               "--snapshot-count", "10000", "--auto-compaction-mode", "revision",
               "--auto-compaction-retention", "100000"]
ETCD_MISSING = "no `etcd` command here: install Debian's etcd-server (3.4)"


def etcd_command(name: str, data_dir: str, client_port: int, peer_port: int,
                 peers: dict[str, str], host: str = "127.0.0.1",
                 listen: str = "127.0.0.1", tls: str = "") -> list[str]:
    """Member `name`, reached at `host`, listening on `listen`; `peers` maps every member's
    name to its peer HOST:PORT. `tls`: a directory of mooseng admin certs issue (whose
    certificate names the member's addresses): clients and peers then need one of its CA."""
    scheme = "https" if tls else "http"
    initial = ",".join(f"{n}={scheme}://{address}" for n, address in sorted(peers.items()))
    secure = [] if not tls else [
        f"--{side}{flag}={tls}/{name}" for side in ("", "peer-")
        for flag, name in (("cert-file", "node.crt"), ("key-file", "node.key"),
                           ("trusted-ca-file", "ca.crt"))
    ] + ["--client-cert-auth", "--peer-client-cert-auth"]
    return ["etcd", "--name", name, "--data-dir", str(data_dir),
            "--listen-client-urls", f"{scheme}://{listen}:{client_port}",
            "--advertise-client-urls", f"{scheme}://{host}:{client_port}",
            "--listen-peer-urls", f"{scheme}://{listen}:{peer_port}",
            "--initial-advertise-peer-urls", f"{scheme}://{host}:{peer_port}",
            "--initial-cluster", initial, "--initial-cluster-token", "mooseng", *secure,
            *ETCD_TUNING]


def etcd_healthy(client_port: int, tls: str = "") -> bool:
    """`tls`: a directory of a certificate of the members' CA."""
    try:
        if tls:
            from mooseng.common.tls import Tls
            from mooseng.master.etcd import tls_session
            reply = tls_session(Tls.load(tls)).get(f"https://127.0.0.1:{client_port}/health",
                                                    timeout=1.0)
        else:
            reply = requests.get(f"http://127.0.0.1:{client_port}/health", timeout=1.0)
    except requests.RequestException:
        return False
    return reply.status_code == 200 and reply.json().get("health") == "true"


PORTS = (20000, 32000)     # below the kernel's ephemeral range (32768+)
_RNG = random.Random()
HELD = 300.0
_HANDED_OUT: dict[int, float] = {}    # port -> when free_port handed it out
_HANDING_OUT = threading.Lock()       # drivers start nodes from several threads


def free_port() -> int:
    """A free port on 127.0.0.1 BELOW the kernel's ephemeral range: a port from bind(0) is an
    ephemeral one, and any outgoing connection may take it before the node binds it. A port
    handed out in the last HELD seconds is not handed out again: its node may not have bound it
    yet (a topology reserves dozens before it starts anything)."""
    with _HANDING_OUT:
        now = time.monotonic()
        for port in [p for p, when in _HANDED_OUT.items() if now - when > HELD]:
            del _HANDED_OUT[port]
        for _ in range(200):
            port = _RNG.randrange(*PORTS)
            if port in _HANDED_OUT:
                continue
            with socket.socket() as sock:
                try:
                    sock.bind(("127.0.0.1", port))
                except OSError:
                    continue
                _HANDED_OUT[port] = now
                return port
    raise RuntimeError(f"no free port on 127.0.0.1 in {PORTS[0]}-{PORTS[1]}")


def _script(name: str) -> str:
    beside = Path(sys.executable).parent / name
    return str(beside) if beside.exists() else (shutil.which(name) or name)


def _wait(condition, what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise RuntimeError(f"the benchmark cluster did not come up: {what} after "
                               f"{timeout:g} s")
        time.sleep(0.05)


class _Processes:
    """Named processes under `root`, each in a session of its own with one log file."""

    def __init__(self, root: Path):
        self.root = root
        self.processes: dict[str, subprocess.Popen] = {}

    def _launch(self, name: str, command: list[str]) -> None:
        with open(self.root / f"{name}.log", "ab") as log:
            self.processes[name] = subprocess.Popen(
                command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                start_new_session=True)

    def kill(self, name: str) -> None:
        process = self.processes.pop(name)
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()

    def stop(self) -> None:
        for name in list(self.processes):
            self.kill(name)


class EtcdMembers(_Processes):
    """`count` members started together under `root`."""

    def __init__(self, root: Path, count: int = 3):
        if not shutil.which("etcd"):
            raise RuntimeError(ETCD_MISSING)
        super().__init__(root)
        self.ports = {f"etcd-{i + 1}": (free_port(), free_port()) for i in range(count)}

    @property
    def endpoints(self) -> str:
        return ",".join(f"127.0.0.1:{client}" for client, _ in self.ports.values())

    def start(self) -> None:
        peers = {name: f"127.0.0.1:{peer}" for name, (_, peer) in self.ports.items()}
        for name, (client, peer) in self.ports.items():
            self._launch(name, etcd_command(name, self.root / name, client, peer, peers))
        _wait(lambda: all(etcd_healthy(client) for client, _ in self.ports.values()),
              "etcd members healthy")


class HaCluster(_Processes):
    def __init__(self, masters: int = 3, chunkservers: int = 3, lease_ttl: int = 1):
        super().__init__(Path(tempfile.mkdtemp(prefix="mooseng-bench-ha-")))
        self.etcd = EtcdMembers(self.root)
        self.lease_ttl = lease_ttl
        self.master_ports = {f"master-{i + 1}": free_port() for i in range(masters)}
        self.chunkservers = chunkservers

    @property
    def masters(self) -> str:
        return ",".join(f"127.0.0.1:{p}" for p in self.master_ports.values())

    def address(self, master: str) -> str:
        return f"127.0.0.1:{self.master_ports[master]}"

    def start(self) -> None:
        self.etcd.start()
        for name in self.master_ports:
            self.start_master(name)
        for number in range(self.chunkservers):
            name = f"chunkserver-{number + 1}"
            self._launch(name, [_script("mooseng-chunkserver"), "--data-dir",
                                str(self.root / name), "--port", "0", "--http-port", "0",
                                "--master", self.masters])

    def start_master(self, name: str) -> None:
        self._launch(name, [_script("mooseng-master"), "--data-dir", str(self.root / name),
                            "--port", str(self.master_ports[name]), "--http-port", "0",
                            "--etcd", self.etcd.endpoints, "--name", name,
                            "--lease-ttl", str(self.lease_ttl)])

    def close(self) -> None:
        self.stop()
        self.etcd.stop()
        shutil.rmtree(self.root, ignore_errors=True)
