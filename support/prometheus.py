"""A real Prometheus server for a scenario: scrapes the cluster's nodes every second from a
generated config, on a free loopback port, with its own data dir; answers instant PromQL
queries. And promtool, to lint a node's /metrics.

Counters are compared with the raw values of the newest scrape (no rate() or increase(),
which extrapolate)."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

import requests

from support.waiting import within

PROGRAMS = ("prometheus", "promtool")
SCRAPE_INTERVAL = 1.0


def unavailable() -> str | None:
    """Why the scenarios that need Prometheus cannot run here, or None."""
    missing = [p for p in PROGRAMS if shutil.which(p) is None]
    if missing:
        return (f"{' and '.join(missing)} not installed (make test and make acceptance install "
                "the Debian package prometheus as root)")
    return None


def lint(metrics_text: str) -> str:
    """promtool's complaints about an exposition ('' when there are none)."""
    done = subprocess.run(["promtool", "check", "metrics"], input=metrics_text, text=True,
                          capture_output=True, timeout=30)
    return (done.stdout + done.stderr).strip() if done.returncode else ""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class PrometheusServer:
    def __init__(self, jobs: dict[str, list[str]]):
        """`jobs`: job name -> host:port of each target's /metrics."""
        self.jobs = jobs
        self.workdir = Path(tempfile.mkdtemp(prefix="mooseng-prometheus-"))
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        config = {
            "global": {"scrape_interval": f"{SCRAPE_INTERVAL:g}s",
                       "scrape_timeout": f"{SCRAPE_INTERVAL:g}s"},
            "scrape_configs": [{"job_name": job, "static_configs": [{"targets": targets}]}
                               for job, targets in self.jobs.items()],
        }
        path = self.workdir / "prometheus.yml"      # JSON is YAML
        path.write_text(json.dumps(config, indent=2))
        log = open(self.workdir / "prometheus.log", "wb")
        self.process = subprocess.Popen(
            ["prometheus", f"--config.file={path}", f"--storage.tsdb.path={self.workdir}/data",
             f"--web.listen-address=127.0.0.1:{self.port}", "--log.level=warn"],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        log.close()
        within(30, self._ready, f"Prometheus to be ready on {self.url}")

    def _ready(self) -> bool:
        if self.process.poll() is not None:
            raise AssertionError(f"Prometheus exited with {self.process.returncode}: "
                                 f"{self.log()[-2000:]}")
        return requests.get(f"{self.url}/-/ready", timeout=2).status_code == 200

    def log(self) -> str:
        return (self.workdir / "prometheus.log").read_text(errors="replace")

    def targets(self) -> list[dict]:
        reply = requests.get(f"{self.url}/api/v1/targets", timeout=5).json()
        return reply["data"]["activeTargets"]

    def query(self, promql: str) -> list[tuple[dict, float]]:
        """An instant query: (labels, value) of every series."""
        reply = requests.get(f"{self.url}/api/v1/query", params={"query": promql},
                             timeout=5).json()
        if reply.get("status") != "success":
            raise AssertionError(f"PromQL {promql!r} failed: {reply}")
        return [(item["metric"], float(item["value"][1])) for item in reply["data"]["result"]]

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        shutil.rmtree(self.workdir, ignore_errors=True)
