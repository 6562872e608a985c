"""The HTTP side of every daemon: /health, /ready and /metrics.

/health answers JSON {status, component, node_id, version, timestamp, checks: [...]} where status
is the worst of the named checks; HTTP 200 for healthy or degraded, 503 for critical.
"""

import dataclasses
import http.server
import json
import threading
import time
from typing import Callable

import prometheus_client

from mooseng import __version__

SEVERITY = {"healthy": 0, "degraded": 1, "critical": 2}


@dataclasses.dataclass(frozen=True)
class Check:
    name: str
    status: str  # healthy | degraded | critical
    message: str = ""


def overall(checks: list[Check]) -> str:
    return max((c.status for c in checks), key=SEVERITY.__getitem__, default="healthy")


def new_registry(component: str) -> prometheus_client.CollectorRegistry:
    """A registry per daemon (so several daemons can share a test process) with build info."""
    registry = prometheus_client.CollectorRegistry()
    info = prometheus_client.Gauge("mooseng_build_info", "MooseNG build information",
                                   ["version", "component"], registry=registry)
    info.labels(version=__version__, component=component).set(1)
    return registry


class ObservabilityServer:
    def __init__(self, component: str, node_id: str,
                 registry: prometheus_client.CollectorRegistry,
                 checks: Callable[[], list[Check]],
                 ready: Callable[[], tuple[bool, str]],
                 actions: dict[str, Callable[[], dict]] | None = None):
        """`actions`: POST endpoints, each answering the JSON its function returns."""
        self.actions = actions or {}
        self.component = component
        self.node_id = node_id
        self.registry = registry
        self.checks = checks
        self.ready = ready
        self._server: http.server.ThreadingHTTPServer | None = None

    def health(self) -> dict:
        checks = self.checks()
        return {
            "status": overall(checks),
            "component": self.component,
            "node_id": self.node_id,
            "version": __version__,
            "timestamp": time.time(),
            "checks": [dataclasses.asdict(c) for c in checks],
        }

    def start(self, host: str, port: int) -> int:
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 (http.server API)
                path = self.path.split("?", 1)[0]
                if path == "/health":
                    body = owner.health()
                    self._json(503 if body["status"] == "critical" else 200, body)
                elif path == "/ready":
                    ok, reason = owner.ready()
                    self._json(200 if ok else 503, {"ready": ok, "reason": reason})
                elif path == "/metrics":
                    data = prometheus_client.generate_latest(owner.registry)
                    self._send(200, prometheus_client.CONTENT_TYPE_LATEST, data)
                else:
                    self._json(404, {"error": f"no such endpoint {path}; "
                                              "try /health, /ready or /metrics"})

            def do_POST(self):  # noqa: N802 (http.server API)
                path = self.path.split("?", 1)[0]
                action = owner.actions.get(path)
                if action is None:
                    self._json(404, {"error": f"no such action {path}; try "
                                              f"{', '.join(sorted(owner.actions)) or 'none'}"})
                else:
                    self._json(200, action())

            def _json(self, code, body):
                self._send(code, "application/json", json.dumps(body).encode())

            def _send(self, code, content_type, data):
                self.send_response(code)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self._server = http.server.ThreadingHTTPServer((host, port), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, name="http", daemon=True).start()
        return self._server.server_address[1]

    def stop(self) -> None:
        if self._server:
            self._server.shutdown()
            self._server.server_close()
