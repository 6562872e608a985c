"""etcd members on loopback for the HA topology and the tests: Debian's `etcd` 3.4 binary.

Timings are the HA topology's defaults: a 50 ms heartbeat and a 500 ms election timeout let
etcd elect its own leader in well under a second, and grant leases of 1 s (etcd raises any TTL
below 1.5 election timeouts).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import requests

from support.drivers.ports import free_port
from support.waiting import within

TUNING = ["--heartbeat-interval", "50", "--election-timeout", "500",
          "--snapshot-count", "10000", "--auto-compaction-mode", "revision",
          "--auto-compaction-retention", "100000"]
INSTALL_HINT = "install Debian's etcd-server (make tools does it as root)"


def binary() -> str | None:
    return shutil.which("etcd")


def command(name: str, data_dir: Path, client_port: int, peer_port: int,
            peers: dict[str, int]) -> list[str]:
    """The command line of member `name`; `peers` maps every member's name to its peer port."""
    client = f"http://127.0.0.1:{client_port}"
    peer = f"http://127.0.0.1:{peer_port}"
    initial = ",".join(f"{n}=http://127.0.0.1:{p}" for n, p in sorted(peers.items()))
    return [binary() or "etcd", "--name", name, "--data-dir", str(data_dir),
            "--listen-client-urls", client, "--advertise-client-urls", client,
            "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
            "--initial-cluster", initial, "--initial-cluster-token", "mooseng", *TUNING]


def healthy(client_port: int) -> bool:
    try:
        reply = requests.get(f"http://127.0.0.1:{client_port}/health", timeout=1.0)
    except requests.RequestException:
        return False
    return reply.status_code == 200 and reply.json().get("health") == "true"


class Members:
    """N members started together, each with its log file, for a test of its own."""

    def __init__(self, root: Path, count: int = 3):
        names = [f"etcd-{i + 1}" for i in range(count)]
        self.root = root
        self.client_ports = {n: free_port() for n in names}
        self.peer_ports = {n: free_port() for n in names}
        self.processes: dict[str, subprocess.Popen] = {}

    @property
    def endpoints(self) -> str:
        return ",".join(f"127.0.0.1:{p}" for p in self.client_ports.values())

    def start(self, name: str | None = None) -> None:
        for member in [name] if name else list(self.client_ports):
            log = open(self.root / f"{member}.log", "ab")
            self.processes[member] = subprocess.Popen(
                command(member, self.root / member, self.client_ports[member],
                        self.peer_ports[member], self.peer_ports),
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                start_new_session=True)
            log.close()
        within(30, lambda: all(healthy(p) for n, p in self.client_ports.items()
                               if n in self.processes and self.processes[n].poll() is None),
               "the etcd members to answer /health")

    def kill(self, name: str) -> None:
        process = self.processes.pop(name)
        process.kill()
        process.wait()

    def stop(self) -> None:
        for name in list(self.processes):
            self.kill(name)
