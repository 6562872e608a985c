"""Master high availability on etcd: one leader elected with a lease, the changelog in etcd.

The leader appends each group of changelog entries to etcd in one transaction that holds only
while its leader key (bound to its lease) is the one it created and the log's head is where it
last left it; an entry is acknowledged once that transaction succeeded, so a deposed or paused
leader can never acknowledge a write. Every master copies the committed entries into its local
changelog; followers apply them in order from an etcd watch, so a new leader starts from its own
state. A leader rides out a short silence of etcd (etcd electing a leader of its own after
losing one member), refusing changes meanwhile; a leader whose lease expired, or that etcd
leaves silent longer, steps down and rebuilds its state from what was committed.

Keys (etcd serves one MooseNG cluster):
  /mooseng/cluster_id           the cluster's name, set by the first master
  /mooseng/leader               {"id", "address", "http_address"} of the leader, on its lease
  /mooseng/head                 the last version written; its revision fences the next write
  /mooseng/log/<version:020d>   one changelog line (changelog.encode)
  /mooseng/masters/<id>         every master's own report (role, version), on its own lease
"""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
from dataclasses import dataclass

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from mooseng.common import consistency as levels
from mooseng.common.errors import MooseNGError, NotLeader, Unavailable, from_rpc_error
from mooseng.common.log import kv
from mooseng.common import rpc
from mooseng.common.tls import Tls
from mooseng.master.changelog import Changelog, decode, encode
from mooseng.master.etcd import Etcd, EtcdUnavailable, b64, unb64
from mooseng.master.freshness import ASK_EVERY, Freshness
from mooseng.proto import mooseng_pb2 as pb
from mooseng.proto import mooseng_pb2_grpc as pb_grpc

log = logging.getLogger("mooseng.master.ha")

PREFIX = "/mooseng/"
CLUSTER_ID = PREFIX + "cluster_id"
LEADER = PREFIX + "leader"
HEAD = PREFIX + "head"
LOG = PREFIX + "log/"
LOG_END = PREFIX + "log0"      # the key after every log key
MASTERS = PREFIX + "masters/"
METALOGGERS = PREFIX + "metaloggers/"   # no lease: a metalogger that died stays, reporting late
MAX_OPS = 100            # puts per transaction (etcd allows 128 by default)
REPORT_EVERY = 0.5       # seconds between a master's reports of its own state
PROBE_EVERY = 0.5        # seconds between looks at every etcd member, for health
RIDE_OUT = 3.0           # seconds a leader waits for etcd after its lease ran out locally: etcd
                         # elects a leader of its own within a few election timeouts, and its
                         # new leader extends every lease
RETRY_PAUSE = 0.1        # seconds between tries of a commit while etcd does not answer
IDLE_WATCH = 1.0         # a silent watch is renewed after this many seconds
SNAPSHOT_TIMEOUT = 120.0
STEP_BACK = 1.0          # seconds a master that lost leadership waits before it campaigns again:
                         # it was the one in trouble, so a follower gets the first chance
SENTINEL_PERIOD = 0.1     # how often followers ask whether the leader still answers
DRAIN_QUIET = 0.3         # a stopping master serves until no call came for this long...
DRAIN_MAX = 2.0           # ...or this long after it handed over


def log_key(version: int) -> str:
    return f"{LOG}{version:020d}"


@dataclass(frozen=True)
class Peer:
    id: str
    address: str
    http_address: str

    def encode(self) -> str:
        return json.dumps({"id": self.id, "address": self.address,
                           "http_address": self.http_address})

    @classmethod
    def decode(cls, value: bytes) -> "Peer":
        data = json.loads(value)
        return cls(data["id"], data["address"], data.get("http_address", ""))


class EtcdJournal:
    """The leader's changelog (same interface as `Changelog`): appended entries wait in memory
    and are group-committed to etcd by the first caller of `wait_durable`, fenced by leadership.
    A commit is tried again while etcd does not answer, until the leadership ends (`seal`); etcd
    refusing it, or the leadership ending first, is final: this master may no longer lead."""

    def __init__(self, etcd: Etcd, local: Changelog, version: int, leader_revision: int,
                 head_revision: int, on_lost):
        self._etcd = etcd
        self.local = local
        self._on_lost = on_lost
        self._leader_revision = leader_revision
        self._head_revision = head_revision
        self._cond = threading.Condition()
        self._pending: list[tuple[int, dict]] = []
        self._written = self._durable = version
        self._committing = False
        self.lost: str | None = None
        self._refused = False          # etcd said no (nothing written), rather than no answer
        self._sealed = threading.Event()

    @property
    def durable(self) -> int:
        return self._durable

    def append(self, version: int, entry: dict) -> None:
        with self._cond:
            if self.lost:
                raise NotLeader(f"this master stopped leading: {self.lost}")
            self._pending.append((version, entry))
            self._written = version

    def wait_durable(self, version: int) -> None:
        with self._cond:
            while self._durable < version:
                if self.lost and self._refused:
                    raise NotLeader(f"not done: this master stopped leading ({self.lost}); "
                                    "retry with the new leader")
                if self.lost:
                    raise Unavailable(f"outcome unknown: etcd did not answer this master's "
                                      f"write ({self.lost}); it stopped leading")
                if self._committing:
                    self._cond.wait()
                    continue
                self._committing = True
                batch, self._pending = self._pending, []
                self._cond.release()
                try:
                    self._commit(batch)
                except NotLeader as error:
                    self.lost, self._refused = str(error), True
                except (MooseNGError, OSError) as error:
                    self.lost, self._refused = str(error), False
                finally:
                    self._cond.acquire()
                    self._committing = False
                    self._cond.notify_all()
                if self.lost:
                    self._on_lost(self.lost)

    def seal(self, reason: str) -> None:
        """No commit after this one returns: a commit in progress finishes first, and what
        waits uncommitted is refused (nothing of it was written)."""
        with self._cond:
            if not self.lost:
                self.lost, self._refused = reason, True
            self._sealed.set()
            while self._committing:
                self._cond.wait()
            self._cond.notify_all()

    def _commit(self, batch: list[tuple[int, dict]]) -> None:
        for start in range(0, len(batch), MAX_OPS):
            part = batch[start:start + MAX_OPS]
            puts = [{"request_put": {"key": b64(log_key(v)), "value": b64(encode(v, e))}}
                    for v, e in part]
            puts.append({"request_put": {"key": b64(HEAD), "value": b64(str(part[-1][0]))}})
            reply = self._send(
                [{"key": b64(LEADER), "target": "CREATE", "result": "EQUAL",
                  "create_revision": self._leader_revision},
                 {"key": b64(HEAD), "target": "MOD", "result": "EQUAL",
                  "mod_revision": self._head_revision}],
                puts, [{"request_range": {"key": b64(LEADER)}},
                       {"request_range": {"key": b64(HEAD)}}])
            if reply.get("succeeded"):
                self._head_revision = int(reply["header"]["revision"])
            elif not self._landed_before(reply, part[-1][0]):
                raise NotLeader("etcd refused the write: this master's leadership ended "
                                "(its lease expired or another master leads)")
            for version, entry in part:
                self.local.append(version, entry)
            with self._cond:
                self._durable = part[-1][0]

    def _send(self, compare: list, success: list, failure: list) -> dict:
        """The transaction, tried until etcd answers or the leadership ends. Trying again is
        safe: the fence on the head lets at most one try through."""
        while True:
            try:
                return self._etcd.txn(compare, success, failure)
            except EtcdUnavailable:
                if self._sealed.wait(RETRY_PAUSE):
                    raise

    def _landed_before(self, reply: dict, version: int) -> bool:
        """After a refused transaction: did an earlier try of it go through? A member can
        carry out a transaction and fail before answering, and the next try then finds the
        head moved. Only this leader writes the head while the leader key is the one it
        created, so a head at `version` under that key is this very write."""
        found = [(r.get("response_range", {}).get("kvs") or [{}])[0]
                 for r in reply.get("responses", [])]
        if len(found) != 2:
            return False
        leader, head = found
        if (int(leader.get("create_revision", 0)) != self._leader_revision
                or unb64(head.get("value", "")) != str(version).encode()):
            return False
        self._head_revision = int(head["mod_revision"])
        return True

    def rotate(self, next_version: int) -> None:
        self.wait_durable(self._written)
        self.local.rotate(next_version)

    def prune(self, snapshot_version: int) -> None:
        self.local.prune(snapshot_version)

    def close(self) -> None:
        self.local.close()


class LogGap(Exception):
    """etcd no longer holds the entries after the version taken (it was replaced since): only
    the leader's snapshot can bridge the gap."""


def fetch_snapshot(leader: str, tls: Tls | None = None) -> tuple[int, str]:
    """(version, snapshot JSON) from the leader at `leader`."""
    with rpc.channel(leader, tls) as channel:
        try:
            pieces = list(pb_grpc.MasterStub(channel).GetSnapshot(pb.SnapshotRequest(),
                                                                  timeout=SNAPSHOT_TIMEOUT))
        except grpc.RpcError as error:
            raise from_rpc_error(error) from None
    if not pieces:
        raise Unavailable(f"the leader at {leader} sent an empty snapshot")
    return pieces[0].version, b"".join(p.data for p in pieces).decode()


class LogTail:
    """Reads the committed changelog from etcd in order: what is there, then what comes (a
    watch). `applied()` is the last version taken, `take(version, entry)` takes the next."""

    def __init__(self, etcd: Etcd, applied, take):
        self.etcd = etcd
        self.applied = applied
        self.take = take

    def catch_up(self) -> None:
        """Take every entry etcd holds after the version taken; LogGap when the next one is
        not there although later ones were committed."""
        while True:
            pairs, more, _ = self._after()
            if not pairs:
                head, _ = self.etcd.get(HEAD)
                if not head or int(head) <= self.applied():
                    return
                pairs, more, _ = self._after()    # committed since the first look?
            if not pairs or int(pairs[0][0][len(LOG):]) != self.applied() + 1:
                raise LogGap(f"etcd does not hold changelog entry {self.applied() + 1}")
            for _, line in pairs:
                self._take_line(line)
            if not more:
                return

    def _after(self):
        return self.etcd.range(log_key(self.applied() + 1), LOG_END)

    def _take_line(self, line: bytes) -> None:
        decoded = decode(line)
        if decoded is None:
            raise ValueError("a changelog entry in etcd fails its CRC")
        self.take(*decoded)

    def follow(self, revision: int, on_leader=lambda event: False, stopping=None) -> None:
        """Take entries as they come from `revision` on, until the watch is idle or broken,
        `on_leader(event)` returns True for a change of the leader key, or `stopping` is set."""
        for events in self.etcd.watch(PREFIX, revision, IDLE_WATCH):
            for event in events:
                key = event["key"]
                if key == LEADER:
                    if on_leader(event):
                        return
                elif key.startswith(LOG) and event["type"] != "DELETE":
                    version = int(key[len(LOG):])
                    if version == self.applied() + 1:
                        self._take_line(event["value"])
                    elif version > self.applied() + 1:
                        self.catch_up()
            if stopping is not None and stopping.is_set():
                return


class Leadership:
    """Campaigns, leads (lease keep-alive) and follows (applies the log) for one master."""

    def __init__(self, core, etcd: Etcd, cluster_id: str, me: Peer, lease_ttl: int,
                 region: str = "", tls: Tls | None = None):
        self.core = core
        self.region = region
        self.tls = tls              # of the links to the other masters
        core.certain = self.certain
        self.etcd = etcd
        self.cluster_id = cluster_id
        self.me = me
        self.lease_ttl = lease_ttl
        self.leader: Peer | None = None
        self.leading = False
        self.leading_since = 0.0       # wall clock of the last promotion
        self._deadline = 0.0           # monotonic: leadership certain until then
        self._lease = 0
        self._stopping = threading.Event()
        self._lost = threading.Event()
        self._report_now = threading.Event()     # the role changed: say so at once
        self._thread = threading.Thread(target=self._run, name="ha", daemon=True)
        self._reporter = threading.Thread(target=self._report_loop, name="ha-report",
                                          daemon=True)
        self._prober = threading.Thread(target=self._probe_loop, name="ha-etcd-probe",
                                        daemon=True)
        self.freshness = Freshness(self._committed_head, lambda: core.state.version)
        self._tail = LogTail(etcd, lambda: core.state.version, self._take)
        self._fresher = threading.Thread(target=self._freshness_loop, name="ha-freshness",
                                         daemon=True)
        self._sentinel = threading.Thread(target=self._watch_leader, name="ha-leader-watch",
                                          daemon=True)
        self.last_error = ""
        self._members: list[tuple[str, bool, str]] = []
        self._metaloggers: list[dict] = []      # their reports, read by the report loop
        self._last_refusal = 0.0        # monotonic: the last call answered with NotLeader

    # ------------------------------------------------------------------ life cycle

    def start(self) -> None:
        try:
            self._check_cluster_id()
            self._catch_up()
        except LogGap as gap:
            log.warning("behind what etcd holds; waiting for a leader's snapshot",
                        extra=kv(reason=gap))
        except EtcdUnavailable as error:
            raise OSError(f"cannot reach etcd at {self.etcd.describe()}: {error}") from None
        self._thread.start()
        self._reporter.start()
        self._prober.start()
        self._sentinel.start()
        self._fresher.start()

    def stop(self) -> None:
        """Hand over: give up the lease at once, so another master is elected without waiting
        for it to expire."""
        self._stopping.set()
        self._lost.set()
        self._report_now.set()
        for thread in (self._thread, self._reporter, self._prober, self._sentinel,
                       self._fresher):
            if thread.ident:          # not started when start() failed
                thread.join()

    def drain(self) -> None:
        """After stop(), go on answering calls with the new leader's address until clients
        have moved: a call that reaches a gRPC server after its shutdown began is cancelled
        unanswered, which a client cannot tell from a call cancelled after it ran."""
        until = time.monotonic() + DRAIN_MAX
        self._last_refusal = time.monotonic()
        while time.monotonic() < until and time.monotonic() - self._last_refusal < DRAIN_QUIET:
            if self.leader is None:
                try:
                    value, _ = self.etcd.get(LEADER)
                except EtcdUnavailable:
                    value = None
                self.leader = Peer.decode(value) if value else None
            time.sleep(0.05)

    def _check_cluster_id(self) -> None:
        self.etcd.txn([{"key": b64(CLUSTER_ID), "target": "CREATE", "result": "EQUAL",
                        "create_revision": 0}],
                      [{"request_put": {"key": b64(CLUSTER_ID), "value": b64(self.cluster_id)}}])
        value, _ = self.etcd.get(CLUSTER_ID)
        if value is not None and value.decode() != self.cluster_id:
            raise OSError(f"etcd at {self.etcd.describe()} serves MooseNG cluster "
                          f"{value.decode()!r}, this master is configured for "
                          f"{self.cluster_id!r}: give --cluster-id {value.decode()} or "
                          "another etcd")

    # ------------------------------------------------------------------ the gate

    def certain(self) -> bool:
        """Leading, with a lease that cannot have expired yet."""
        return self.leading and time.monotonic() < self._deadline

    def require_leader(self) -> None:
        """Raise NotLeader unless this master leads with a lease it is sure of."""
        if self.certain():
            return
        self._last_refusal = time.monotonic()
        leader = self.leader.address if self.leader and self.leader != self.me else ""
        if leader:
            raise NotLeader(f"this master ({self.me.address}) follows; the leader is {leader}",
                            leader)
        raise NotLeader(f"no leader is elected yet (asked {self.me.address}); retry shortly")

    def admit_read(self, consistency: levels.Consistency, after: int) -> None:
        """Return when this master may answer a read at `consistency` from a session that saw
        version `after`; NotLeader naming the leader otherwise."""
        if self.certain() or consistency.level == levels.EVENTUAL:
            return
        if consistency.level == levels.STRONG:
            self.require_leader()
        if consistency.level == levels.BOUNDED:
            behind = self.freshness.staleness()
            if behind > consistency.bound:
                raise self._refusal(f"is {behind:.1f} s behind the leader, more than the "
                                    f"staleness bound of {consistency.bound:g} s")
        elif not self.freshness.wait_applied(after, consistency.bound):
            raise self._refusal(f"has not applied version {after}, which this client has "
                                f"seen, within {consistency.bound:g} s (it holds "
                                f"{self.core.state.version})")

    def _refusal(self, why: str) -> NotLeader:
        self._last_refusal = time.monotonic()
        leader = self.leader.address if self.leader and self.leader != self.me else ""
        return NotLeader(f"this master ({self.me.address}) {why}: read from the leader"
                         + (f" at {leader}" if leader else " (none is elected now)"), leader)

    # ------------------------------------------------------------------ the loop

    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                value, record = self.etcd.get(LEADER)
                self._catch_up()
                if value is None:
                    if self._campaign():
                        self._lead()
                    continue
                self.leader = Peer.decode(value)
                self._follow(record["revision"] + 1)
                self.last_error = ""
            except LogGap as error:
                self.last_error = f"{error}; waiting for a leader to send its snapshot"
                self._stopping.wait(0.5)
            except (EtcdUnavailable, ValueError, KeyError) as error:
                self.last_error = str(error)
                self.leader = None          # not known without etcd
                log.warning("etcd unavailable; retrying", extra=kv(error=error))
                self._stopping.wait(0.2)
            except Exception:  # noqa: BLE001 - the loop must outlive a bug in one pass
                log.exception("leadership pass failed")
                self._stopping.wait(0.5)

    def _catch_up(self) -> None:
        try:
            self._tail.catch_up()
        except LogGap as gap:
            value, _ = self.etcd.get(LEADER)
            leader = Peer.decode(value) if value else None
            if leader is None or leader == self.me:
                raise       # never lead without every committed entry: wait for a leader
            log.warning("taking the leader's snapshot", extra=kv(reason=gap,
                                                                 leader=leader.address))
            self.core.install_snapshot(*fetch_snapshot(leader.address, self.tls))
            self._tail.catch_up()

    def _campaign(self) -> bool:
        lease = self.etcd.grant(self.lease_ttl)
        sent = time.monotonic()
        reply = self.etcd.txn(
            [{"key": b64(LEADER), "target": "CREATE", "result": "EQUAL", "create_revision": 0}],
            [{"request_put": {"key": b64(LEADER), "value": b64(self.me.encode()),
                              "lease": lease}}])
        if not reply.get("succeeded"):
            self.etcd.revoke(lease)
            return False
        self._lease, self._deadline = lease, sent + self.lease_ttl
        self._leader_revision = int(reply["header"]["revision"])
        return True

    def _lead(self) -> None:
        self._catch_up()            # nobody else writes now: this is everything committed
        _, head = self.etcd.get(HEAD)
        self._lost.clear()
        journal = EtcdJournal(self.etcd, self.core.local_changelog, self.core.state.version,
                              self._leader_revision, head.get("mod_revision", 0),
                              lambda reason: self._lost.set())
        self.core.promote(journal)
        self.leader, self.leading = self.me, True
        self.leading_since = time.time()
        self._report_now.set()
        log.info("leading", extra=kv(master=self.me.id, version=self.core.state.version))
        reason = "stopping"
        while not self._stopping.is_set():
            if self._lost.wait(self.lease_ttl / 3):
                reason = journal.lost or "stopping"
                break
            sent = time.monotonic()
            try:
                ttl = self.etcd.keepalive(self._lease)
            except EtcdUnavailable as error:
                ttl, self.last_error = 0, str(error)
            if ttl > 0:
                self._deadline = sent + ttl
            elif ttl < 0:
                reason = "the leader lease expired"
                break
            elif time.monotonic() >= self._deadline + RIDE_OUT:
                reason = (f"etcd did not renew the leader lease for {RIDE_OUT:g} s after it ran "
                          f"out ({self.last_error})")
                break
        self.leading = False
        self.leader = None
        journal.seal(reason)
        if self._stopping.is_set():
            self._resign()
        self.core.demote(reason)
        self._report_now.set()
        log.warning("stopped leading", extra=kv(master=self.me.id, reason=reason))
        self._stopping.wait(STEP_BACK)

    def _resign(self) -> None:
        try:
            self.etcd.revoke(self._lease)
        except EtcdUnavailable as error:
            log.warning("could not give up the leader lease; it expires by itself",
                        extra=kv(error=error))

    def _take(self, version: int, entry: dict) -> None:
        self.core.apply_committed(version, entry)
        self.freshness.settle()

    def _committed_head(self) -> int:
        value, _ = self.etcd.get(HEAD)
        return int(value) if value else 0

    def _freshness_loop(self) -> None:
        while True:
            if not self.leading:
                try:
                    self.freshness.ask()
                except EtcdUnavailable as error:
                    self.last_error = str(error)
            if self._stopping.wait(ASK_EVERY):
                return

    def _follow(self, revision: int) -> None:
        def leader_changed(event) -> bool:
            if event["type"] == "DELETE":
                self.leader = None
                return True             # campaign now
            self.leader = Peer.decode(event["value"])
            return False

        self._tail.follow(revision, leader_changed, self._stopping)

    # ------------------------------------------------------------------ a dead leader

    def _watch_leader(self) -> None:
        """Followers ask the leader's standard health service every SENTINEL_PERIOD. When it
        does not answer and the leader's port refuses connections, its process is gone and
        cannot answer anything any more, so its lease is revoked at once instead of expiring
        up to TTL + 0.5 s later (etcd checks expiries every 500 ms). A leader that is only slow,
        paused or cut off refuses nothing: its lease expires as usual."""
        watched, channel, stub = None, None, None
        while not self._stopping.wait(SENTINEL_PERIOD):
            leader = self.leader
            if self.leading or leader is None or leader == self.me:
                continue
            if leader != watched:
                if channel:
                    channel.close()
                watched, channel = leader, rpc.channel(leader.address, self.tls)
                stub = health_pb2_grpc.HealthStub(channel)
            try:
                stub.Check(health_pb2.HealthCheckRequest(), timeout=1.0)
            except grpc.RpcError:
                if self.leader == leader and _refused(leader.address):
                    self._revoke_dead(leader)
        if channel:
            channel.close()

    def _revoke_dead(self, leader: Peer) -> None:
        try:
            value, record = self.etcd.get(LEADER)
            if value and Peer.decode(value) == leader and record.get("lease"):
                self.etcd.revoke(record["lease"])
                log.warning("the leader's process is gone: its lease revoked",
                            extra=kv(leader=leader.id, address=leader.address))
        except EtcdUnavailable as error:
            self.last_error = str(error)

    # ------------------------------------------------------------------ reports

    def _report_loop(self) -> None:
        """Every master says who it is, what it does and how far it got, for status and
        health; the report lives on a lease of its own, so a dead master's report goes."""
        lease = 0
        while not self._stopping.is_set():
            try:
                pairs, _, _ = self.etcd.range(METALOGGERS, METALOGGERS[:-1] + "0")
                self._metaloggers = [json.loads(value) for _, value in pairs]
            except EtcdUnavailable as error:
                self.last_error = str(error)
            try:
                if not lease or self.etcd.keepalive(lease) < 0:
                    lease = self.etcd.grant(max(2, 3 * self.lease_ttl))
                self.etcd.post("/kv/put", {"key": b64(MASTERS + self.me.id),
                                           "value": b64(json.dumps(self.report())),
                                           "lease": lease})
            except EtcdUnavailable as error:
                self.last_error = str(error)
            self._report_now.wait(REPORT_EVERY)
            self._report_now.clear()
        if lease:
            try:
                self.etcd.revoke(lease)
            except EtcdUnavailable:
                pass

    def _probe_loop(self) -> None:
        """etcd members' health on its own: the report loop can wait seconds for etcd."""
        while True:
            self._members = self.etcd.member_health()
            if self._stopping.wait(PROBE_EVERY):
                return

    def report(self) -> dict:
        return {"id": self.me.id, "address": self.me.address,
                "http_address": self.me.http_address,
                "role": "leader" if self.leading else "follower", "region": self.region,
                "version": self.core.state.version, "staleness": self.staleness(),
                "time": time.time()}

    def staleness(self) -> float:
        """Seconds behind the leader (0 while leading; -1: never caught up yet)."""
        if self.certain():
            return 0.0
        behind = self.freshness.staleness()
        return round(behind, 3) if behind != float("inf") else -1.0

    def known_masters(self) -> list[dict]:
        """Every master that reported lately (MasterInfo fields), lag counted from the
        leader's version."""
        try:
            pairs, _, _ = self.etcd.range(MASTERS, MASTERS[:-1] + "0")
        except EtcdUnavailable:
            return []
        reports = [r for r in (json.loads(value) for _, value in pairs) if r["id"] != self.me.id]
        reports.append(self.report())        # this master as it is now, not as last reported
        top = max((r["version"] for r in reports if r["role"] == "leader"),
                  default=self.core.state.version)
        now = time.time()
        return [{"name": r["id"], "address": r["address"], "role": r["role"],
                 "region": r.get("region", ""), "staleness_seconds": r.get("staleness", 0.0),
                 "metadata_version": r["version"], "lag_entries": max(0, top - r["version"]),
                 "report_age_seconds": round(max(0.0, now - r["time"]), 3)}
                for r in sorted(reports, key=lambda r: r["id"])]

    def known_metaloggers(self) -> list[dict]:
        """Every metalogger that reported since its last clean stop (MetaloggerInfo fields),
        as the report loop last read them (health must not wait for etcd), lag counted from
        this master's version."""
        now = time.time()
        reports = sorted(self._metaloggers, key=lambda r: r["id"])
        return [{"name": r["id"], "metadata_version": r["version"],
                 "lag_entries": max(0, self.core.state.version - r["version"]),
                 "report_age_seconds": round(max(0.0, now - r["time"]), 3)} for r in reports]

    def member_health(self) -> list[tuple[str, bool, str]]:
        """As last seen by the probe loop (every PROBE_EVERY seconds)."""
        return self._members


def _refused(address: str) -> bool:
    """Nothing listens at `address` (the host answered "connection refused")."""
    host, _, port = address.rpartition(":")
    try:
        with socket.create_connection((host, int(port)), timeout=0.2):
            return False
    except ConnectionRefusedError:
        return True
    except OSError:
        return False       # no answer at all: nothing can be concluded
