"""MasterServer: the master daemon as an object (start/stop), so tests can run it in-process.

It wires MasterCore to the gRPC services, the HTTP health/metrics server and a background loop
that detects silent chunk servers and schedules replication and deletion.
"""

from __future__ import annotations

import gc
import json
import logging
import os
import threading

from mooseng.common import rpc, tls
from mooseng.common.log import kv
from mooseng.common.observability import Check, ObservabilityServer, new_registry
from mooseng.common.errors import InvalidArgument
from mooseng.master.changelog import CorruptMetadata, restore
from mooseng.master.core import MasterCore, Settings
from mooseng.master.etcd import Etcd, parse_endpoints
from mooseng.master.exports import Exports, ExportsError
from mooseng.master.ha import Leadership, Peer
from mooseng.master.invalidation import WATCHERS, Hub
from mooseng.master.metrics import MasterMetrics
from mooseng.master.service import MasterService, RegistryService
from mooseng.proto import mooseng_pb2_grpc as pb_grpc

log = logging.getLogger("mooseng.master")

SERVICES = ["mooseng.v1.Master", "mooseng.v1.ChunkServerRegistry"]
LAG_DEGRADED = 1000      # changelog entries a follower may trail the leader by
METALOGGER_SILENT = 5.0  # seconds without a report after which a metalogger is lagging


class MasterServer:
    def __init__(self, config):
        self.config = config
        self.tls = tls.load(config.tls)
        self.registry = new_registry("master")
        self.metrics = MasterMetrics(self.registry)
        self.invalidations = Hub(self.metrics.invalidations_sent.inc,
                                 self.metrics.cache_watchers.set)
        self.core = MasterCore(Settings(
            data_dir=config.data_dir, chunk_size=config.chunk_size,
            default_goal=config.default_goal, heartbeat_interval=config.heartbeat_interval,
            offline_timeout=config.offline_timeout, replication_limit=config.replication_limit,
            snapshot_every=config.snapshot_every, move_rate=config.move_rate * 1e6),
            invalidations=self.invalidations)
        self.metrics.changelog_version.set_function(lambda: self.core.state.version)
        self.http = ObservabilityServer("master", "master", self.registry, self.checks,
                                        self.ready)
        self.grpc_server = None
        self.health_servicer = None
        self.port = 0
        self.http_port = 0
        self._serving = False
        self._stopping = threading.Event()
        self._wake = threading.Event()
        self._loop_thread: threading.Thread | None = None
        self._replications_counted = 0
        self._moves_counted = (0, 0)
        self.ha: Leadership | None = None

    # ------------------------------------------------------------------ life cycle

    def start(self) -> None:
        config = self.config
        if config.restore_from:
            self._restore()
        try:
            replayed = self.core.open(follow=bool(config.etcd))
        except CorruptMetadata as error:
            raise OSError(f"metadata in {config.data_dir} cannot be loaded: {error}") from None
        gc.freeze()     # the recovered metadata lives forever: keep it out of GC passes
        server, health_servicer = rpc.make_server(32 + WATCHERS)   # a thread per watcher
        self.service = MasterService(self.core, self.metrics, self.checks)
        self.service.exports = self._exports()
        pb_grpc.add_MasterServicer_to_server(self.service, server)
        pb_grpc.add_ChunkServerRegistryServicer_to_server(
            RegistryService(self.core, self._wake.set), server)
        try:
            port = rpc.listen(server, f"{config.host}:{config.port}", self.tls)
        except RuntimeError as error:
            raise OSError(f"cannot listen on {config.host}:{config.port}: {error}") from None
        if not port:
            raise OSError(f"cannot listen on {config.host}:{config.port}")
        self.grpc_server, self.health_servicer, self.port = server, health_servicer, port
        server.start()
        self.http_port = self.http.start(config.host, config.http_port)
        self.service.http_address = f"{self._reachable_host()}:{self.http_port}"
        if config.etcd:
            self._start_leadership()
        self._write_ports()
        self._loop_thread = threading.Thread(target=self._loop, name="master-loop", daemon=True)
        self._loop_thread.start()
        self._serving = True
        rpc.set_serving(health_servicer, SERVICES, True)
        log.info("started", extra=kv(grpc_port=port, http_port=self.http_port, host=config.host,
                                     data_dir=config.data_dir,
                                     metadata_version=self.core.state.version,
                                     replayed=replayed, chunk_size=self.core.chunk_size))

    def _exports(self) -> Exports:
        return Exports.load(self.config.exports) if self.config.exports else Exports.default()

    def reload(self) -> None:
        """SIGHUP: read the exports file again; a bad one leaves the rules in force as they
        were."""
        try:
            exports = self._exports()
        except ExportsError as error:
            log.error("exports not reloaded, the rules in force stay: %s", error)
            self.metrics.exports_reloads.labels("refused").inc()
            return
        self.service.exports = exports
        self.metrics.exports_reloads.labels("loaded").inc()
        log.info("exports reloaded", extra=kv(source=exports.source, rules=len(exports.rules)))

    def _restore(self) -> None:
        try:
            restored = restore(self.config.restore_from, self.config.data_dir)
        except InvalidArgument as error:
            raise OSError(str(error)) from None
        log.warning("metadata restored", extra=kv(
            source=self.config.restore_from, version=restored.version,
            entries=restored.entries, damaged=restored.damaged or "none"))

    def _reachable_host(self) -> str:
        """The host others use for this master: --advertise's, else the listening one."""
        config = self.config
        if config.advertise:
            return config.advertise.rsplit(":", 1)[0]
        return config.host if config.host not in ("0.0.0.0", "::", "") else "127.0.0.1"

    def _start_leadership(self) -> None:
        config = self.config
        address = config.advertise or f"{self._reachable_host()}:{self.port}"
        me = Peer(config.name or address, address, f"{self._reachable_host()}:{self.http_port}")
        self.ha = Leadership(self.core, Etcd(parse_endpoints(config.etcd), self.tls),
                             config.cluster_id,
                             me, config.lease_ttl, config.region, self.tls)
        self.ha.start()
        self.service.leadership = self.ha

    def stop(self, snapshot: bool = True) -> None:
        """Clean stop; snapshot=False leaves the metadata as a crash would (tests use it).
        A leader hands over first: what it had not committed is refused as NotLeader, which
        clients retry with the new leader."""
        self._serving = False
        if self.health_servicer:
            rpc.set_serving(self.health_servicer, SERVICES, False)
        if self.ha:
            self.ha.stop()
            self.ha.drain()
        self._stopping.set()
        self._wake.set()
        self.invalidations.close()
        if self.grpc_server:
            self.grpc_server.stop(grace=2.0).wait()
        if self._loop_thread:
            self._loop_thread.join()
        self.http.stop()
        self.core.close(snapshot=snapshot)
        if self.grpc_server:
            log.info("stopped", extra=kv(metadata_version=self.core.state.version))

    def _write_ports(self) -> None:
        path = os.path.join(self.config.data_dir, "ports.json")
        tmp = path + ".tmp"
        with open(tmp, "w", encoding="utf-8") as handle:
            json.dump({"grpc": self.port, "http": self.http_port}, handle)
        os.replace(tmp, path)

    # ------------------------------------------------------------------ background loop

    def _loop(self) -> None:
        interval = max(0.05, min(0.5, self.config.heartbeat_interval / 2))
        while not self._stopping.is_set():
            try:
                plan = self.core.tick()
                self._update_gauges(plan)
                self.core.archive()
            except Exception:  # the loop must survive a bug in one pass
                log.exception("background pass failed")
            self._wake.wait(interval)
            self._wake.clear()

    def _update_gauges(self, plan) -> None:
        metrics, core = self.metrics, self.core
        with core.lock:
            states = {"online": 0, "offline": 0, "maintenance": 0, "draining": 0}
            for server in core.servers.values():
                states[server.state] += 1
            issued = core.replications_issued
            moved = core.moves
            metrics.replications_pending.set(len(core.replicating))
            metrics.files.set(core.state.files)
            metrics.directories.set(core.state.directories)
        for state, count in states.items():
            metrics.chunkservers.labels(state).set(count)
        metrics.replications.inc(issued - self._replications_counted)
        self._replications_counted = issued
        metrics.moves.inc(moved[0] - self._moves_counted[0])
        metrics.moved_bytes.inc(moved[1] - self._moves_counted[1])
        self._moves_counted = moved
        metrics.chunks.set(plan.chunks)
        metrics.undergoal.set(plan.undergoal)
        metrics.overgoal.set(plan.overgoal)
        metrics.missing.set(plan.missing)
        metrics.misplaced.set(plan.misplaced)
        for region, lag in plan.regions.items():
            metrics.region_pending.labels(region).set(lag.pending)
            metrics.region_lag.labels(region).set(lag.seconds)

    # ------------------------------------------------------------------ health

    def ready(self) -> tuple[bool, str]:
        if not self._serving:
            return False, "metadata not loaded or gRPC not serving"
        return True, f"metadata version {self.core.state.version} loaded, serving"

    def checks(self) -> list[Check]:
        core = self.core
        if core.state is None:
            return [Check("metadata", "critical", "metadata not loaded")]
        counts = core.counts()
        with core.lock:
            servers = list(core.servers.values())
            failed, version = core.failed, core.state.version
        offline = [s for s in servers if s.state == "offline"]
        if not servers:
            chunkservers = Check("chunkservers", "degraded", "no chunk server registered")
        elif offline:
            names = ", ".join(f"{s.server_id} ({s.address})" for s in offline)
            chunkservers = Check("chunkservers", "degraded",
                                 f"{len(offline)} of {len(servers)} chunk servers offline: "
                                 f"{names}")
        else:
            maintenance = sum(1 for s in servers if s.state == "maintenance")
            chunkservers = Check("chunkservers", "healthy",
                                 f"{len(servers) - maintenance} online, "
                                 f"{maintenance} in maintenance")
        if counts.undergoal:
            replication = Check("replication", "degraded",
                                f"{counts.undergoal} chunks under goal")
        elif counts.misplaced:
            replication = Check("replication", "degraded",
                                f"{counts.misplaced} chunks have copies where their storage "
                                "class does not allow them")
        else:
            replication = Check("replication", "healthy",
                                f"every chunk at goal or above ({counts.overgoal} over goal)")
        if counts.missing and core.in_grace():
            data = Check("data", "degraded", f"{counts.missing} chunks have no known copy yet "
                                             "(waiting for chunk servers to register)")
        elif counts.missing:
            data = Check("data", "critical", f"{counts.missing} chunks have no valid copy")
        else:
            data = Check("data", "healthy", f"{counts.chunks} chunks readable")
        if failed:
            metadata = Check("metadata", "critical", failed)
        else:
            metadata = Check("metadata", "healthy", f"version {version}")
        checks = [chunkservers, replication, data, metadata]
        if self.ha:
            checks += self._ha_checks()
        return checks

    def _ha_checks(self) -> list[Check]:
        ha = self.ha
        members = ha.member_health()
        down = [f"{endpoint} ({detail})" for endpoint, ok, detail in members if not ok]
        if not members:
            etcd = Check("etcd", "degraded", "etcd members not asked yet")
        elif len(down) * 2 >= len(members):
            etcd = Check("etcd", "critical", f"{len(down)} of {len(members)} etcd members "
                                             f"down, no majority: {', '.join(down)}")
        elif down:
            etcd = Check("etcd", "degraded", f"{len(down)} of {len(members)} etcd members "
                                             f"down: {', '.join(down)}")
        else:
            etcd = Check("etcd", "healthy", f"{len(members)} etcd members answer")
        if ha.leading and not ha.certain():
            role = Check("leadership", "degraded", "leading, but etcd has not renewed the "
                                                   f"lease yet: {ha.last_error or 'waiting'}")
        elif ha.leading:
            lagging = [f"{m['name']} ({m['lag_entries']} entries behind)"
                       for m in ha.known_masters() if m["role"] == "follower"
                       and m["lag_entries"] > LAG_DEGRADED]
            role = Check("leadership", "degraded" if lagging else "healthy",
                         f"leading; lagging followers: {', '.join(lagging)}" if lagging
                         else "leading")
        elif ha.leader:
            role = Check("leadership", "healthy", f"following {ha.leader.address}"
                                                  + _behind(ha.staleness()))
        else:
            role = Check("leadership", "critical", "no leader elected: "
                                                   f"{ha.last_error or 'election in progress'}")
        return [etcd, role, self._metalogger_check()]

    def _metalogger_check(self) -> Check:
        """The recovery point depends on the metaloggers: one that falls behind or stops
        reporting (dead, paused, cut off) is worth an operator's look."""
        found = self.ha.known_metaloggers()
        lagging = [f"{m['name']} (version {m['metadata_version']}, "
                   + (f"{m['lag_entries']} entries behind)" if m["lag_entries"] > LAG_DEGRADED
                      else f"no report for {m['report_age_seconds']:.1f} s)")
                   for m in found if m["lag_entries"] > LAG_DEGRADED
                   or m["report_age_seconds"] > METALOGGER_SILENT]
        if lagging:
            return Check("metaloggers", "degraded", f"lagging: {', '.join(lagging)}")
        return Check("metaloggers", "healthy", f"up to date: {', '.join(m['name'] for m in found)}"
                     if found else "no metalogger reports")


def _behind(staleness: float) -> str:
    return f", {staleness:.1f} s behind" if staleness >= 0 else ", not caught up yet"
