"""`mooseng dashboard`: the page, its scripts and styles (served from the package, so it works
with no internet), the REST endpoints under /api/ and one Server-Sent Events stream that pushes
every new sample to the open pages."""

from __future__ import annotations

import errno
import http.server
import json
import pathlib
import threading
import urllib.parse

from mooseng.bench.suite import WORKLOADS
from mooseng.common.errors import InvalidArgument, MooseNGError

from .sampler import Sampler

STATIC = pathlib.Path(__file__).parent / "static"
TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
         ".css": "text/css; charset=utf-8"}
KEEPALIVE = 15.0        # seconds between comments on an idle event stream


class Dashboard:
    def __init__(self, sampler: Sampler):
        self.sampler = sampler
        self._server: http.server.ThreadingHTTPServer | None = None
        self._stopping = threading.Event()

    def start(self, host: str, port: int) -> int:
        """Listens first, so a port in use fails before anything else starts."""
        try:
            self._server = http.server.ThreadingHTTPServer((host, port), self._handler())
        except OSError as error:
            if error.errno == errno.EADDRINUSE:
                raise InvalidArgument(f"port {port} on {host} is already in use: choose "
                                      "another with --port") from None
            raise InvalidArgument(f"cannot listen on {host}:{port}: {error.strerror}") from None
        self._server.daemon_threads = True
        self.sampler.start()
        threading.Thread(target=self._server.serve_forever, name="dashboard-http",
                         daemon=True).start()
        return self._server.server_address[1]

    def stop(self) -> None:
        self._stopping.set()
        self.sampler.stop()
        if self._server:
            self._server.shutdown()
            self._server.server_close()

    # ------------------------------------------------------------------ routes

    def api(self, path: str):
        """(status, body) of a GET under /api/."""
        parts = [urllib.parse.unquote(p) for p in path.strip("/").split("/")[1:]]
        sampler = self.sampler
        if parts == ["cluster"]:
            return 200, sampler.cluster
        if parts == ["throughput"]:
            return 200, list(sampler.history)
        if parts == ["benchmarks"]:
            return 200, sampler.benchmarks()
        if len(parts) == 2 and parts[0] == "trends":
            if parts[1] not in WORKLOADS:
                return 404, {"error": f"unknown workload {parts[1]!r}: workloads are "
                                      f"{', '.join(WORKLOADS)}"}
            try:
                return 200, {"workload": parts[1], "points": sampler.trend(parts[1])}
            except MooseNGError as error:
                return 500, {"error": str(error)}
        return 404, {"error": f"no such endpoint {path}: try /api/cluster, /api/throughput, "
                              "/api/benchmarks, /api/trends/WORKLOAD or /api/events"}

    def events(self, write) -> None:
        """Pushes `cluster` with every sample and `benchmarks` when the stored results change,
        until the page goes away or the dashboard stops."""
        sampler = self.sampler
        seen = bench_seen = -1
        while not self._stopping.is_set():
            with sampler.changed:
                sampler.changed.wait_for(
                    lambda: sampler.generation != seen or self._stopping.is_set(), KEEPALIVE)
                generation, bench_generation = sampler.generation, sampler.bench_generation
                cluster = sampler.cluster
            if generation == seen:
                write(b": keepalive\n\n")
                continue
            seen = generation
            latest = sampler.history[-1] if sampler.history else None
            write(_event("cluster", {"cluster": cluster, "point": latest}))
            if bench_generation != bench_seen:
                bench_seen = bench_generation
                write(_event("benchmarks", {"generation": bench_generation}))

    def _handler(self):
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 (http.server API)
                path = urllib.parse.urlsplit(self.path).path
                if path == "/api/events":
                    self._stream()
                elif path.startswith("/api/"):
                    code, body = owner.api(path)
                    self._send(code, "application/json", json.dumps(body).encode())
                elif path in ("/", "/index.html"):
                    self._file("index.html")
                elif path.startswith("/static/"):
                    self._file(path.removeprefix("/static/"))
                else:
                    self._send(404, "text/plain", f"no page {path}: the dashboard is at /\n"
                               .encode())

            def _file(self, name: str):
                target = STATIC / name
                if "/" in name or target.suffix not in TYPES or not target.is_file():
                    self._send(404, "text/plain", f"no file {name}\n".encode())
                else:
                    self._send(200, TYPES[target.suffix], target.read_bytes())

            def _stream(self):
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Cache-Control", "no-cache")
                self.end_headers()

                def write(data: bytes):
                    self.wfile.write(data)
                    self.wfile.flush()
                try:
                    owner.events(write)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def _send(self, code, content_type, data):
                self.send_response(code)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        return Handler


def _event(name: str, data) -> bytes:
    return f"event: {name}\ndata: {json.dumps(data)}\n\n".encode()
