"""`mooseng bench failover`: the time from `kill -9` of the leading master to the first write a
client has acknowledged after it, over several rounds.

It disrupts only a cluster it starts itself (hacluster.py): 3 etcd members, 3 masters, 3 chunk
servers on loopback. Each round kills the leader, writes 4 KiB files in a loop until one is
acknowledged, then starts the killed master again and waits until it follows.
"""

from __future__ import annotations

import statistics
import time
from typing import Callable

from mooseng.client import Client
from mooseng.common.errors import MooseNGError

from .hacluster import HaCluster

Progress = Callable[[str], None]
WAIT = 30.0


def _until(condition, what: str, timeout: float = WAIT):
    deadline = time.monotonic() + timeout
    while True:
        try:
            value = condition()
            if value:
                return value
        except MooseNGError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"gave up waiting for {what} after {timeout:g} s")
        time.sleep(0.02)


def _leader(client: Client, cluster: HaCluster) -> str:
    status = client.status()
    for name in cluster.master_ports:
        if cluster.address(name) == status["leader"]:
            return name
    return ""


def run(rounds: int, lease_ttl: int, progress: Progress) -> dict:
    cluster = HaCluster(lease_ttl=lease_ttl)
    times: list[float] = []
    try:
        progress(f"starting 3 etcd members, 3 masters and 3 chunk servers in {cluster.root}")
        cluster.start()
        client = Client(cluster.masters, timeout=10.0)
        try:
            _until(lambda: _leader(client, cluster), "a leader")
            _until(lambda: client.status()["servers_by_state"]["online"] == 3,
                   "3 chunk servers online")
            client.write_bytes("/warm-up", b"x" * 4096)
            for number in range(1, rounds + 1):
                times.append(_one_round(client, cluster, number))
                progress(f"round {number}/{rounds}: {times[-1] * 1000:.0f} ms")
        finally:
            client.close()
    finally:
        cluster.close()
    return {"rounds": rounds, "lease_ttl_s": lease_ttl,
            "median_s": round(statistics.median(times), 3), "max_s": round(max(times), 3),
            "min_s": round(min(times), 3), "each_s": [round(t, 3) for t in times]}


def _one_round(client: Client, cluster: HaCluster, number: int) -> float:
    leader = _until(lambda: _leader(client, cluster), "a leader")
    cluster.kill(leader)
    killed = time.monotonic()
    attempt = 0
    while True:
        attempt += 1
        try:
            client.write_bytes(f"/round-{number}-{attempt}", b"x" * 4096)
            break
        except MooseNGError:
            if time.monotonic() - killed > WAIT:
                raise RuntimeError(f"no write acknowledged within {WAIT:g} s of killing "
                                   f"{leader}") from None
    took = time.monotonic() - killed
    cluster.start_master(leader)
    _until(lambda: any(m["name"] == leader and m["role"] == "follower"
                       for m in client.status()["masters"]), f"{leader} to follow again")
    return took
