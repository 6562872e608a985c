"""An in-process MooseNG cluster for tests: one MasterServer and three ChunkServerDaemons on
free ports in temporary directories, with short heartbeats and small chunks."""

import dataclasses
import json
import pathlib
import time

import os

import pytest
from hypothesis import HealthCheck, settings

from mooseng.common.config import load

HEARTBEAT = 0.2          # seconds
OFFLINE_TIMEOUT = 1.5    # seconds without heartbeat before a chunk server is offline
CHUNK_SIZE = 256 * 1024  # small chunks: a 1 MiB file has four
WAIT = 30.0              # upper bound of every wait-for-condition

# Hypothesis: `ci` replays the same examples on every run (a red test is never luck); `make
# fuzz` (HYPOTHESIS_PROFILE=fuzz) explores new ones. Calls go to a real cluster: no deadline.
settings.register_profile("ci", derandomize=True, database=None, deadline=None,
                          max_examples=25, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("fuzz", deadline=None, database=None,
                          max_examples=int(os.environ.get("FUZZ_EXAMPLES", "300")),
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


def wait_for(condition, what: str, timeout: float = WAIT, interval: float = 0.05):
    """Poll `condition()` until it returns something truthy; fail naming `what` and the last
    value seen."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = condition()
        if last:
            return last
        time.sleep(interval)
    pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}; last value: {last!r}")


def _ports(data_dir: pathlib.Path) -> dict:
    return wait_for(lambda: (data_dir / "ports.json").exists()
                    and json.loads((data_dir / "ports.json").read_text()),
                    f"{data_dir}/ports.json")


@dataclasses.dataclass
class LocalCluster:
    """Daemons in this process; chunk servers can be stopped and started again on their dir."""

    root: pathlib.Path
    master: object = None
    master_address: str = ""
    chunkservers: list = dataclasses.field(default_factory=list)   # daemon or None (stopped)
    clients: list = dataclasses.field(default_factory=list)
    regions: tuple = ()      # chunk server N is in regions[N] (none: no region label)
    master_flags: tuple = ()

    def start_master(self, port: int = 0) -> None:
        """Start the master (again, on its data dir; `port` keeps the address chunk servers
        know)."""
        from mooseng.master.main import MasterConfig
        from mooseng.master.server import MasterServer

        data_dir = self.root / "master"
        data_dir.mkdir(exist_ok=True)
        (data_dir / "ports.json").unlink(missing_ok=True)
        config = load(MasterConfig, [
            "--data-dir", str(data_dir), "--port", str(port), "--http-port", "0",
            "--heartbeat-interval", str(HEARTBEAT), "--offline-timeout", str(OFFLINE_TIMEOUT),
            "--chunk-size", str(CHUNK_SIZE), "--default-goal", "2", *self.master_flags])
        self.master = MasterServer(config)
        self.master.start()
        self.master_address = f"127.0.0.1:{_ports(data_dir)['grpc']}"

    def restart_master(self) -> None:
        port = int(self.master_address.rsplit(":", 1)[1])
        self.master.stop()
        self.master = None
        self.start_master(port)

    def start_chunkserver(self, number: int, *flags: str) -> None:
        """Start chunk server `number` (0-based), on its existing data dir if it had one;
        `flags` come last (a later --port wins)."""
        from mooseng.chunkserver.main import ChunkServerConfig
        from mooseng.chunkserver.server import ChunkServerDaemon

        data_dir = self.root / f"cs{number}"
        data_dir.mkdir(exist_ok=True)
        (data_dir / "ports.json").unlink(missing_ok=True)
        config = load(ChunkServerConfig, [
            "--data-dir", str(data_dir), "--master", self.master_address, "--port", "0",
            "--http-port", "0", "--scrub-interval", "1", "--label", f"rack=r{number}",
            *(["--label", f"region={self.regions[number]}"] if self.regions else []), *flags])
        daemon = ChunkServerDaemon(config)
        daemon.start()
        _ports(data_dir)
        while len(self.chunkservers) <= number:
            self.chunkservers.append(None)
        self.chunkservers[number] = daemon

    def stop_chunkserver(self, number: int) -> None:
        daemon, self.chunkservers[number] = self.chunkservers[number], None
        daemon.stop()

    def server_id(self, number: int) -> str:
        return (self.root / f"cs{number}" / "server_id").read_text().strip()

    def client(self, **kwargs):
        from mooseng.client import Client

        client = Client(self.master_address, **{"timeout": 10.0, **kwargs})
        self.clients.append(client)
        return client

    def online(self) -> int:
        """How many chunk servers the master lists as online."""
        checker = self.clients[0] if self.clients else self.client()
        return sum(s["state"] == "online" for s in checker.chunkservers())

    def teardown(self) -> None:
        for client in self.clients:
            client.close()
        for number, daemon in enumerate(self.chunkservers):
            if daemon is not None:
                self.stop_chunkserver(number)
        if self.master is not None:
            self.master.stop()


def start_cluster(root: pathlib.Path, chunkservers: int = 3, regions: tuple = ()) -> LocalCluster:
    cluster = LocalCluster(root, regions=regions)
    try:
        cluster.start_master()
        for number in range(chunkservers):
            cluster.start_chunkserver(number)
        wait_for(lambda: cluster.online() == chunkservers,
                 f"{chunkservers} chunk servers online")
    except BaseException:
        cluster.teardown()
        raise
    return cluster


@pytest.fixture
def fresh_cluster(tmp_path):
    """A cluster of its own, for tests that stop or break nodes."""
    cluster = start_cluster(tmp_path)
    yield cluster
    cluster.teardown()


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """A cluster shared by the tests of one module; they must leave every node running."""
    cluster = start_cluster(tmp_path_factory.mktemp("cluster"))
    yield cluster
    cluster.teardown()
