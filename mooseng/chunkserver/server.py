"""ChunkServerDaemon: the store, the gRPC service, the master link, the scrubber and /health,
wired together with start() and stop() so tests can run several in one process."""

import errno
import json
import logging
import os
import shutil
import socket
import tempfile

from mooseng import __version__
from mooseng.chunkserver.config import ChunkServerConfig
from mooseng.chunkserver.heartbeat import CommandRunner, MasterLink, Reporter
from mooseng.chunkserver.metrics import ChunkServerMetrics
from mooseng.chunkserver.scrubber import Scrubber
from mooseng.chunkserver.service import ChunkService
from mooseng.chunkserver.store import ChunkStore
from mooseng.common.leases import LeaseKeys
from mooseng.common.log import kv
from mooseng.common.observability import Check, ObservabilityServer, new_registry
from mooseng.common import tls
from mooseng.common.rpc import Channels, listen, make_server, parse_masters, set_serving
from mooseng.proto import mooseng_pb2 as pb
from mooseng.proto import mooseng_pb2_grpc as pb_grpc

log = logging.getLogger("mooseng.chunkserver")

SERVICE_NAME = "mooseng.v1.ChunkServer"


def _join(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host and not host.startswith("[") else f"{host}:{port}"


def split_address(address: str) -> tuple[str, int | None]:
    """'host:port', '[v6]:port' or 'host' -> (host, port or None); ValueError if malformed."""
    if address.startswith("["):
        host, _, rest = address[1:].partition("]")
        return host, int(rest[1:]) if rest.startswith(":") else None
    if address.count(":") == 1:
        host, port = address.split(":")
        return host, int(port)
    return address, None


def advertised(config: ChunkServerConfig, port: int) -> tuple[str, int]:
    """Where others reach this server: --advertise (its port defaults to the real one), else
    --host, or with host 0.0.0.0 the IP of this machine's hostname, as in a container."""
    if config.advertise:
        host, given = split_address(config.advertise)
        return host, given or port
    if config.host in ("", "0.0.0.0", "::"):
        return socket.gethostbyname(socket.gethostname()), port
    return config.host, port


class ChunkServerDaemon:
    def __init__(self, config: ChunkServerConfig):
        self.config = config
        self.store = ChunkStore(config.data_dir, config.capacity)
        self.registry = new_registry("chunkserver")
        self.metrics = ChunkServerMetrics(self.registry, self.store)
        self.masters = parse_masters(config.master)
        self.tls = tls.load(config.tls)
        self.peers = Channels(self.tls)
        self.runner = CommandRunner(self.store, self.peers, self.metrics)
        self.lease_keys = LeaseKeys()
        # one link per master (with several masters each keeps its own view of the copies)
        self.links = [MasterLink(master, self.store, Reporter(), self.runner, self._identity,
                                 self.lease_keys, self.tls,
                                 lambda: self.service.active_operations)
                      for master in self.masters]
        self.scrubber = Scrubber(self.store, self.metrics, config.scrub_interval)
        self.service = ChunkService(self.store, self.metrics, self.peers,
                                    lambda: self.address, self.status, self.lease_keys)
        self.address = ""
        self.http_address = ""
        self.port = 0
        self.http_port = 0
        self._grpc = None
        self._health = None
        self._http: ObservabilityServer | None = None
        self._serving = False

    # ------------------------------------------------------------ life cycle

    def start(self) -> None:
        self.store.open()
        for link in self.links:
            self.store.subscribe(link.reporter)
        self.store.subscribe(self.metrics.store_event)
        self._grpc, self._health = make_server()
        pb_grpc.add_ChunkServerServicer_to_server(self.service, self._grpc)
        try:
            self.port = listen(self._grpc, _join(self.config.host, self.config.port), self.tls)
        except RuntimeError as error:
            raise OSError(f"cannot listen on {_join(self.config.host, self.config.port)} "
                          f"(gRPC): {error}") from None
        host, port = advertised(self.config, self.port)
        self.address = _join(host, port)
        self._http = ObservabilityServer("chunkserver", self.store.server_id, self.registry,
                                         self.checks, self.ready)
        self.http_port = self._http.start(self.config.host, self.config.http_port)
        self.http_address = _join(host, self.http_port)
        self._grpc.start()
        set_serving(self._health, [SERVICE_NAME], True)
        self._serving = True
        self._write_ports()
        for link in self.links:
            link.start()
        self.scrubber.start()
        log.info("chunk server started", extra=kv(
            server_id=self.store.server_id, grpc_port=self.port, http_port=self.http_port,
            address=self.address, master=self.config.master, chunks=self.store.count(),
            labels=",".join(f"{k}={v}" for k, v in sorted(self.config.label.items()))))

    def stop(self) -> None:
        self._serving = False
        if self._health:
            set_serving(self._health, [SERVICE_NAME], False)
        for link in self.links:
            link.stop()
        self.scrubber.stop()
        if self._grpc:
            self._grpc.stop(grace=2.0).wait()
        self.peers.close()  # cancels replications still copying
        self.runner.stop()
        if self._http:
            self._http.stop()
        log.info("chunk server stopped", extra=kv(server_id=self.store.server_id))

    def _write_ports(self) -> None:
        path = os.path.join(self.store.data_dir, "ports.json")
        with tempfile.NamedTemporaryFile("w", dir=self.store.data_dir, delete=False,
                                         prefix=".ports.") as handle:
            json.dump({"grpc": self.port, "http": self.http_port}, handle)
        os.replace(handle.name, path)

    # ------------------------------------------------------------ what others see

    def _identity(self):
        return self.address, self.http_address, dict(self.config.label), \
            dict(self.config.advertise_to)

    def status(self) -> pb.ChunkServerStatus:
        return pb.ChunkServerStatus(
            server_id=self.store.server_id, address=self.address, labels=self.config.label,
            capacity_bytes=self.store.capacity_bytes(), used_bytes=self.store.used_bytes(),
            chunk_count=self.store.count(), registered=any(link.registered for link in self.links),
            master=self.config.master, version=__version__)

    def ready(self) -> tuple[bool, str]:
        if not self.store.opened:
            return False, "chunk store not opened yet"
        if not self._serving:
            return False, "gRPC service not serving"
        return True, "chunk store open and gRPC serving"

    def checks(self) -> list[Check]:
        return [self._master_check(), self._storage_check()]

    def _master_check(self) -> Check:
        """Healthy while registered with a master (with several, the leader may be any)."""
        registered = [link.master for link in self.links if link.registered]
        missing = [f"{link.master} ({link.last_error or 'registering'})"
                   for link in self.links if not link.registered]
        if registered and not missing:
            return Check("master", "healthy", f"registered with master {', '.join(registered)}")
        if registered:
            return Check("master", "healthy", f"registered with {', '.join(registered)}; "
                                              f"not with {', '.join(missing)}; retrying")
        if any(link.last_error for link in self.links):
            return Check("master", "degraded", f"cannot reach master {', '.join(missing)}; "
                                               "retrying")
        return Check("master", "degraded", f"registering with master {', '.join(missing)}")

    def _storage_check(self) -> Check:
        data_dir = self.store.data_dir
        try:
            with tempfile.TemporaryFile(dir=data_dir) as probe:
                probe.write(b"ok")
        except OSError as error:
            if error.errno not in (errno.ENOSPC, errno.EDQUOT):   # full: said below
                return Check("storage", "critical", f"data dir {data_dir} is not writable: "
                                                    f"{error.strerror}")
        capacity, used = self.store.capacity_bytes(), self.store.used_bytes()
        free = min(capacity - used, shutil.disk_usage(data_dir).free)
        message = f"{used} of {capacity} bytes used, {free} bytes free in {data_dir}"
        if free < self.store.chunk_size:
            return Check("storage", "degraded", "full, less than one chunk of space left: "
                                                  + message)
        return Check("storage", "healthy", message)
