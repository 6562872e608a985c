"""Container plumbing for the docker backend: the engine, testcontainers' settings, labels that
say which run owns a container or network, sweeping what dead runs left, scenario subnets.

The Ryuk reaper cannot be pulled here, so every container and network carries labels naming the
run and its owner, and the driver's `sweep()` removes what a dead run left behind.
"""

from __future__ import annotations

import concurrent.futures
import ipaddress
import os
import random
import subprocess
from typing import Callable, Iterable

# Set before testcontainers is imported: its config is read at import time.
os.environ["TESTCONTAINERS_RYUK_DISABLED"] = "true"            # the reaper image cannot be pulled
os.environ["TESTCONTAINERS_CONNECTION_MODE"] = "docker_host"    # /.dockerenv exists on the host
os.environ["TESTCONTAINERS_HOST_OVERRIDE"] = "127.0.0.1"

import docker  # noqa: E402

from support.drivers.base import BackendUnavailable  # noqa: E402

LABEL = "mooseng.test"
LABEL_RUN = "mooseng.run"
LABEL_OWNER = "mooseng.run.owner"        # "<pid>:<kernel start time of pid>" of the test process
SUBNET_POOL = ipaddress.ip_network("10.213.0.0/16")   # one /24 per scenario network
HOST_BINDING = {"com.docker.network.bridge.host_binding_ipv4": "127.0.0.1"}


def client(timeout: float = 60.0) -> docker.DockerClient:
    return docker.from_env(timeout=timeout)


def engine_available() -> bool:
    """Does a Docker engine answer on the default socket? (fast, prints nothing)"""
    try:
        engine = client(timeout=3.0)
        try:
            return bool(engine.ping())
        finally:
            engine.close()
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


def host_routes() -> list[ipaddress.IPv4Network]:
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


def in_parallel(calls: list[Callable[[], object]]) -> None:
    """Run docker calls side by side (each takes ~0.3 s of mostly waiting on the engine);
    the first error is raised once all have finished."""
    if not calls:
        return
    with concurrent.futures.ThreadPoolExecutor(max_workers=len(calls)) as pool:
        futures = [pool.submit(call) for call in calls]
    for future in futures:
        future.result()
