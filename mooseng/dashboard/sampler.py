"""What the dashboard shows, sampled once a period in one thread: the master's status and
named checks, the chunk servers, rates from the nodes' counters, and the benchmark results.

Pages never wait on the cluster: they read the newest sample, and a master that does not answer
becomes "master unreachable" on the page, with the last known servers kept, until it answers
again (its gRPC channel reconnects by itself)."""

from __future__ import annotations

import collections
import os
import threading
import time
import urllib.request

from prometheus_client.parser import text_string_to_metric_families

from mooseng.bench import history
from mooseng.bench.store import ResultStore
from mooseng.client import CacheSettings, Client
from mooseng.common.errors import MooseNGError

PERIOD = 1.0            # seconds between samples
HISTORY = 300           # samples kept for the live charts (5 minutes)
SCRAPE_TIMEOUT = 0.8    # seconds a node's /metrics may take
MB = 1e6

# counter -> rate shown on the page (per second)
COUNTERS = {
    "mooseng_chunkserver_bytes_read_total": "read_mb_s",
    "mooseng_chunkserver_bytes_written_total": "write_mb_s",
    "mooseng_master_metadata_operations_total": "metadata_ops_s",
}
SCALE = {"read_mb_s": 1 / MB, "write_mb_s": 1 / MB, "metadata_ops_s": 1.0}


def scrape(address: str) -> dict[str, float]:
    """The counters of COUNTERS one node exposes, summed over their labels."""
    with urllib.request.urlopen(f"http://{address}/metrics", timeout=SCRAPE_TIMEOUT) as reply:
        text = reply.read().decode()
    totals: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name in COUNTERS:
                totals[sample.name] = totals.get(sample.name, 0.0) + sample.value
    return totals


class Sampler:
    def __init__(self, masters: str, db_path: str, timeout: float, credential: str = "",
                 tls: str = ""):
        self.client = Client(masters, timeout=timeout, cache=CacheSettings.off(),
                             credential=credential, tls=tls)
        self.masters = masters
        self.db_path = db_path
        self.history: collections.deque = collections.deque(maxlen=HISTORY)
        self.cluster: dict = {}
        self.generation = 0             # bumped by every sample
        self.bench_generation = 0       # bumped when the stored results change
        self.changed = threading.Condition()
        self._counters: dict[str, tuple[float, dict[str, float]]] = {}
        self._bench_signature: tuple | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self.sample()
        self._thread = threading.Thread(target=self._loop, name="dashboard-sampler",
                                        daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        with self.changed:
            self.changed.notify_all()
        if self._thread:
            self._thread.join(timeout=5)
        self.client.close()

    def _loop(self) -> None:
        while not self._stop.wait(PERIOD):
            self.sample()

    # ------------------------------------------------------------------ cluster

    def sample(self) -> None:
        now = time.time()
        try:
            status = self.client.status()
            servers = self.client.chunkservers()
        except MooseNGError as error:
            previous = self.cluster.get("master", {})
            since = now if previous.get("reachable", True) else previous["since"]
            cluster = dict(self.cluster, time=now, master={
                "reachable": False, "error": str(error), "addresses": self.masters,
                "since": since})
        else:
            nodes = {status["http_address"]: "master"} if status["http_address"] else {}
            nodes.update({s["http_address"]: s["id"] for s in servers if s["http_address"]})
            scraped, rates = self._scrape(nodes, now)
            for server in servers:
                server["metrics_reachable"] = scraped.get(server["id"], False)
            self.history.append({"time": now, **rates})
            cluster = {"time": now, "master": {
                "reachable": True, "address": self.client.master_address,
                "addresses": self.masters}, "status": status, "chunkservers": servers,
                "rates": rates}
        bench_changed = self._bench_changed()
        with self.changed:
            self.cluster = cluster
            self.generation += 1
            self.bench_generation += bench_changed
            self.changed.notify_all()

    def _scrape(self, nodes: dict[str, str], now: float) -> tuple[dict[str, bool], dict]:
        """Reads every node's counters and turns the change since its last reading at the same
        address into rates. A node that does not answer loses its reading, so a restart
        (counters from zero) never shows as a negative rate; after a failover the new leader
        (another address) is never compared with the old one."""
        reached, rates = {}, {rate: 0.0 for rate in SCALE}
        for address, name in nodes.items():
            try:
                counters = scrape(address)
            except OSError:
                self._counters.pop(address, None)
                reached[name] = False
                continue
            reached[name] = True
            before = self._counters.get(address)
            self._counters[address] = (now, counters)
            if before is None or now <= before[0]:
                continue
            for counter, value in counters.items():
                delta = value - before[1].get(counter, 0.0)
                if delta >= 0:
                    rate = COUNTERS[counter]
                    rates[rate] += delta * SCALE[rate] / (now - before[0])
        for address in set(self._counters) - set(nodes):
            del self._counters[address]
        return reached, {rate: round(value, 3) for rate, value in rates.items()}

    # ------------------------------------------------------------------ benchmarks

    def _bench_changed(self) -> bool:
        try:
            info = os.stat(self.db_path)
            signature = (info.st_mtime_ns, info.st_size)
        except OSError:
            signature = None
        changed = signature != self._bench_signature
        self._bench_signature = signature
        return changed

    def benchmarks(self) -> dict:
        """The stored runs, newest first, with the medians of their workloads."""
        if not os.path.exists(self.db_path):
            return {"database": self.db_path, "error": f"no benchmark database at "
                    f"{self.db_path} yet: `mooseng bench run` creates it", "runs": []}
        try:
            with ResultStore(self.db_path) as store:
                runs, baseline = store.runs(), store.baseline()
        except MooseNGError as error:
            return {"database": self.db_path, "error": str(error), "runs": []}
        return {"database": self.db_path, "error": "", "runs": [
            {"id": r.id, "started": r.started, "suite": r.suite, "repeat": r.repeat,
             "version": r.version, "commit": r.git_commit, "topology": r.topology,
             "baseline": r.id == baseline, "workloads": history.medians(r)}
            for r in reversed(runs)]}

    def trend(self, workload: str) -> list[dict]:
        if not os.path.exists(self.db_path):
            return []
        with ResultStore(self.db_path) as store:
            return history.trend(store.runs(workload), workload)
