"""Metalogger: takes every committed changelog entry from etcd, in order, into a changelog of
its own (a CRC per entry, fsynced) and writes snapshots, in the master's file formats, so that
`mooseng-master --restore-from DIR` can rebuild a master from its directory."""

from __future__ import annotations

import json
import logging
import os
import threading
import time

import prometheus_client as prom

from mooseng.common import tls
from mooseng.common.log import kv
from mooseng.common.observability import Check, ObservabilityServer, new_registry
from mooseng.master.changelog import (Changelog, CorruptMetadata, apply, recover, state_json,
                                      write_snapshot)
from mooseng.master.etcd import Etcd, EtcdUnavailable, b64, parse_endpoints
from mooseng.master.ha import (HEAD, LEADER, METALOGGERS, REPORT_EVERY, LogGap, LogTail, Peer,
                               fetch_snapshot)
from mooseng.master.namespace import Namespace

log = logging.getLogger("mooseng.metalogger")

LAG_DEGRADED = 5.0      # seconds behind the newest committed entry


class Metalogger:
    def __init__(self, config):
        self.config = config
        self.tls = tls.load(config.tls)
        self.etcd = Etcd(parse_endpoints(config.etcd), self.tls)
        self.registry = new_registry("metalogger")
        self.entries = prom.Counter("mooseng_metalogger_log_entries",
                                    "Changelog entries taken from etcd and stored",
                                    registry=self.registry)
        self.version = prom.Gauge("mooseng_metalogger_log_version",
                                  "Last changelog version stored", registry=self.registry)
        self.lag = prom.Gauge("mooseng_metalogger_log_replication_lag_seconds",
                              "Age of the oldest committed entry not stored yet (0: none)",
                              registry=self.registry)
        self.lag.set_function(self.lag_seconds)
        self.http = ObservabilityServer("metalogger", config.name, self.registry, self.checks,
                                        self.ready)
        self.http_port = 0
        self.state = None
        self.changelog: Changelog | None = None
        self.snapshot_version = 0
        self.last_time = 0.0           # wall clock of the newest entry stored
        self.last_error = ""
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="metalogger", daemon=True)
        self._reporter = threading.Thread(target=self._report_loop, name="metalogger-report",
                                          daemon=True)

    # ------------------------------------------------------------------ life cycle

    def start(self) -> None:
        os.makedirs(self.config.data_dir, exist_ok=True)
        try:
            self.state, replayed = recover(self.config.data_dir, 0)
        except CorruptMetadata as error:
            raise OSError(f"the copy in {self.config.data_dir} cannot be loaded: {error}") \
                from None
        self.snapshot_version = self.state.version - replayed
        self.changelog = Changelog(self.config.data_dir, self.state.version + 1)
        self.version.set(self.state.version)
        self.http_port = self.http.start(self.config.host, self.config.http_port)
        path = os.path.join(self.config.data_dir, "ports.json")
        with open(path + ".tmp", "w", encoding="utf-8") as handle:
            json.dump({"grpc": self.http_port, "http": self.http_port}, handle)
        os.replace(path + ".tmp", path)
        self._tail = LogTail(self.etcd, lambda: self.state.version, self._take)
        self._thread.start()
        self._reporter.start()
        log.info("started", extra=kv(http_port=self.http_port, version=self.state.version,
                                     etcd=self.etcd.describe()))

    def stop(self) -> None:
        self._stopping.set()
        for thread in (self._thread, self._reporter):
            if thread.ident:
                thread.join()
        self.http.stop()
        if self.changelog:
            self.changelog.close()
            self.changelog = None

    # ------------------------------------------------------------------ following

    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                _, record = self.etcd.get(HEAD)
                self._tail.catch_up()
                self._tail.follow(record["revision"] + 1, stopping=self._stopping)
                self.last_error = ""
            except LogGap as gap:
                self.last_error = str(gap)
                self._install_from_leader(gap)
            except EtcdUnavailable as error:
                self.last_error = str(error)
                self._stopping.wait(0.2)
            except Exception as error:  # noqa: BLE001 - the loop must outlive one bad pass
                self.last_error = str(error)
                log.exception("following the changelog failed")
                self._stopping.wait(0.5)

    def _install_from_leader(self, gap: LogGap) -> None:
        value, _ = self.etcd.get(LEADER)
        if not value:
            self._stopping.wait(0.5)       # no leader to ask yet
            return
        leader = Peer.decode(value)
        log.warning("taking the leader's snapshot", extra=kv(reason=gap,
                                                             leader=leader.address))
        version, text = fetch_snapshot(leader.address, self.tls)
        with self._lock:
            write_snapshot(self.config.data_dir, text)
            self.changelog.rotate(version + 1)
            self.changelog.prune(version)
            self.state = Namespace.from_dict(json.loads(text))
            self.snapshot_version = version
            self.version.set(version)

    def _take(self, version: int, entry: dict) -> None:
        with self._lock:
            if version <= self.state.version:
                return
            apply(self.state, dict(entry, v=version))
            self.changelog.append(version, entry)
            self.changelog.wait_durable(version)
            self.last_time = entry.get("t", time.time())
            self.entries.inc()
            self.version.set(version)
            if version - self.snapshot_version >= self.config.snapshot_every:
                self.changelog.rotate(version + 1)
                write_snapshot(self.config.data_dir, state_json(self.state))
                self.changelog.prune(version)
                self.snapshot_version = version
                log.info("snapshot written", extra=kv(version=version))

    def _report_loop(self) -> None:
        """Say in etcd how far the copy got, for the masters' status and health. The report
        has no lease: a metalogger that dies stays listed, with a report growing old, until
        it comes back; a clean stop removes it."""
        key = b64(METALOGGERS + self.config.name)
        while not self._stopping.is_set():
            try:
                self.etcd.post("/kv/put", {"key": key, "value": b64(json.dumps(
                    {"id": self.config.name, "version": self.state.version,
                     "time": time.time()}))})
            except EtcdUnavailable as error:
                self.last_error = str(error)
            self._stopping.wait(REPORT_EVERY)
        try:
            self.etcd.post("/kv/deleterange", {"key": key})
        except EtcdUnavailable as error:
            log.warning("could not withdraw this metalogger's report", extra=kv(error=error))

    # ------------------------------------------------------------------ health

    def head(self) -> int:
        value, _ = self.etcd.get(HEAD)
        return int(value) if value else 0

    def lag_seconds(self, head: int | None = None) -> float:
        """`head`: the newest committed version if already read (None: read it now)."""
        if head is None:
            try:
                head = self.head()
            except EtcdUnavailable:
                head = self.state.version + 1      # unknown: assume behind
        behind = head > self.state.version
        return max(0.0, time.time() - self.last_time) if behind and self.last_time else 0.0

    def ready(self) -> tuple[bool, str]:
        if self.state is None:
            return False, "changelog copy not loaded"
        return True, f"changelog copy at version {self.state.version}"

    def checks(self) -> list[Check]:
        try:
            head = self.head()
            etcd = Check("etcd", "healthy", f"reading the changelog from {self.etcd.describe()}")
        except EtcdUnavailable as error:
            head = None
            etcd = Check("etcd", "degraded", str(error))
        version = self.state.version if self.state else 0
        lag = self.lag_seconds(version + 1 if head is None else head)
        if head is not None and head > version and lag > LAG_DEGRADED:
            copy = Check("changelog", "degraded", f"version {version} of {head}, {lag:.1f} s "
                                                  "behind")
        else:
            copy = Check("changelog", "healthy", f"version {version}"
                         + (f" of {head}" if head is not None else ""))
        return [etcd, copy]
