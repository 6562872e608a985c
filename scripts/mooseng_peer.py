"""A MooseNG cluster of the MooseFS peer's shape on loopback: one master and chunk server
processes started from this Python environment's console scripts (`mooseng-master`,
`mooseng-chunkserver`), on free ports, each with its data directory under `root`."""

import json
import sys
from pathlib import Path
from typing import Callable

from mooseng import __version__
from mooseng.client import Client
from peer_processes import Daemon, wait_until

BIN = Path(sys.executable).parent


class MooseNGPeer:
    def __init__(self, root: Path, progress: Callable[[str], None], chunkservers: int = 3,
                 goal: int = 2, chunk_size: str = "64MiB",
                 labels: list[dict[str, str]] | None = None):
        """`labels`: of each chunk server, in order (default: none)."""
        self.root = root
        self.labels = labels or [{}] * chunkservers
        self.progress = progress
        self.chunkservers = chunkservers
        self.goal = goal
        self.chunk_size = chunk_size
        self.address = ""
        self.daemons: list[Daemon] = []

    def _daemon(self, name: str, program: str, data: Path, *flags: str) -> Daemon:
        if not (BIN / program).exists():
            raise RuntimeError(f"{BIN / program} is missing: run with the Python of the "
                               "project's .venv (make bench-vs-moosefs)")
        data.mkdir(parents=True)
        daemon = Daemon(name, [str(BIN / program), "--data-dir", str(data), "--port", "0",
                               "--http-port", "0", *flags], self.root / f"{name}.log").start()
        self.daemons.append(daemon)
        wait_until(lambda: _ports(data), f"{name} to listen", [daemon])
        return daemon

    def start(self) -> None:
        self.root.mkdir(parents=True)
        self._daemon("master", "mooseng-master", self.root / "master",
                     "--chunk-size", self.chunk_size, "--default-goal", str(self.goal))
        self.address = f"127.0.0.1:{_ports(self.root / 'master')['grpc']}"
        for number in range(self.chunkservers):
            self.add_chunkserver(self.labels[number], number)
        with Client(self.address, timeout=10) as client:
            wait_until(lambda: sum(s["state"] == "online" for s in client.chunkservers())
                       == self.chunkservers,
                       f"{self.chunkservers} MooseNG chunk servers online", self.daemons)
        self.progress(f"MooseNG {__version__} on {self.address} ({self.chunkservers} chunk "
                      f"servers, {self.chunk_size} chunks, goal {self.goal})")

    def add_chunkserver(self, labels: dict[str, str], number: int) -> Daemon:
        flags = [flag for key, value in labels.items() for flag in ("--label", f"{key}={value}")]
        return self._daemon(f"chunkserver{number}", "mooseng-chunkserver",
                            self.root / f"cs{number}", "--master", self.address, *flags)

    def stop(self) -> None:
        for daemon in self.daemons[::-1]:
            daemon.stop()


def _ports(data: Path) -> dict | None:
    try:
        return json.loads((data / "ports.json").read_text())
    except (OSError, ValueError):
        return None
