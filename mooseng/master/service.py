"""gRPC adapters: the `Master` service (clients, CLI) and `ChunkServerRegistry` (chunk servers).

They translate protobuf to MasterCore calls and back, count every namespace/chunk RPC in
mooseng_master_metadata_operations_total{operation,status} and time it.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import posixpath
import time
from typing import Callable

from mooseng import __version__
from mooseng.common.observability import Check, overall
from mooseng.common.errors import (InvalidArgument, MooseNGError, ResourceExhausted,
                                   Unavailable, abort, servicer_errors)
from mooseng.common import classes
from mooseng.common.consistency import VERSION_KEY, Consistency, from_metadata
from mooseng.common.rpc import CREDENTIAL_KEY
from mooseng.master import goals, placement
from mooseng.master.exports import NEEDS, Exports
from mooseng.common.classes import StorageClass
from mooseng.master.changelog import state_json
from mooseng.master.core import Allocation, AttrView, MasterCore
from mooseng.master.metrics import MasterMetrics
from mooseng.master.namespace import DIRECTORY
from mooseng.proto import mooseng_pb2 as pb
from mooseng.proto import mooseng_pb2_grpc as pb_grpc

log = logging.getLogger("mooseng.master")

SNAPSHOT_PIECE = 1024 * 1024
_STATE = {"online": pb.ONLINE, "offline": pb.OFFLINE, "maintenance": pb.MAINTENANCE,
          "draining": pb.DRAINING}


ANY_MASTER = ("GetClusterStatus", "ListChunkServers")   # followers answer these too
FOLLOWER_READS = ("GetAttr", "ReadDir")    # ...and these, at a consistency level allowing it


def counted(method):
    """Count and time one RPC under its method name; the status is the gRPC code name.
    Only the leader serves the others (a follower answers NotLeader naming the leader).
    Every answer carries the master's metadata version (read-your-writes sessions)."""
    operation = method.__name__
    gated = operation not in ANY_MASTER

    @functools.wraps(method)
    def wrapper(self, request, context):
        start = time.perf_counter()
        status = "ok"
        try:
            self.allow(operation, request, context)
            if operation in FOLLOWER_READS:
                self.admit(context)
            elif gated:
                self.gate()
            reply = method(self, request, context)
            context.set_trailing_metadata(((VERSION_KEY, str(self.core.state.version)),))
            return reply
        except MooseNGError as error:
            status = error.code.name.lower()
            raise
        except Exception:
            status = "internal"
            log.exception("unexpected error in %s", operation)
            raise
        finally:
            self.metrics.operations.labels(operation, status).inc()
            self.metrics.duration.labels(operation).observe(time.perf_counter() - start)

    return wrapper


def _grant(grant: Allocation) -> pb.AllocateChunkReply:
    return pb.AllocateChunkReply(chunk_id=grant.chunk_id, version=grant.version,
                                 base_version=grant.base_version,
                                 chain=[a for _, a in grant.chain],
                                 chain_ids=[s for s, _ in grant.chain],
                                 lease_id=grant.lease_id, chunk_length=grant.chunk_length,
                                 lease_token=grant.lease_token,
                                 lease_expires=grant.lease_expires)


class MasterService(pb_grpc.MasterServicer):
    def __init__(self, core: MasterCore, metrics: MasterMetrics,
                 checks: Callable[[], list[Check]], leadership=None):
        self.core = core
        self.metrics = metrics
        self.checks = checks
        self.leadership = leadership     # with several masters: ha.Leadership
        self.http_address = ""           # of /health and /metrics, once they listen
        self.exports = Exports.default()

    def allow(self, operation: str, request, context) -> None:
        """Refuse (PERMISSION_DENIED, UNAUTHENTICATED) what the exports do not let this
        client do, before anything is done."""
        paths = []
        for field in NEEDS.get(operation, ("", ()))[1]:
            value = getattr(request, field)
            if field == "inode":
                with self.core.lock:
                    if value not in self.core.state.inodes:
                        continue            # answered NOT_FOUND by the call itself
                    value = self.core.state.path_of(value)
            paths.append(posixpath.normpath("/" + value.lstrip("/")))
        credential = dict(context.invocation_metadata() or ()).get(CREDENTIAL_KEY, "")
        self.exports.admit(context.peer(), credential, operation, paths)

    def gate(self) -> None:
        if self.leadership:
            self.leadership.require_leader()

    def admit(self, context) -> Consistency:
        """The consistency level a read asked for, once this master may answer it."""
        consistency, after = from_metadata(context.invocation_metadata())
        if self.leadership:
            self.leadership.admit_read(consistency, after)
        return consistency

    def _may_go_on(self, consistency: Consistency) -> bool:
        """A follower's invalidation stream ends once the level no longer lets it serve."""
        if not self.leadership or not consistency.follower_may_answer:
            return True
        try:
            self.leadership.admit_read(consistency, 0)
            return True
        except MooseNGError:
            return False

    def _attr(self, view: AttrView) -> pb.Attr:
        return pb.Attr(inode=view.inode,
                       type=pb.DIRECTORY if view.type == DIRECTORY else pb.FILE,
                       size=view.size, goal=view.goal, mtime=view.mtime, ctime=view.ctime,
                       nlink=view.nlink, name=view.name, chunk_size=self.core.chunk_size,
                       storage_class=view.storage_class)

    def GetSnapshot(self, request, context):  # noqa: N802 (gRPC API)
        try:
            self.allow("GetSnapshot", request, context)
            self.gate()
            version, text = self.core.snapshot_text()
        except MooseNGError as error:
            abort(context, error)
            return
        data = text.encode()
        for start in range(0, max(1, len(data)), SNAPSHOT_PIECE):
            yield pb.SnapshotChunk(version=version, data=data[start:start + SNAPSHOT_PIECE])

    def WatchInvalidations(self, request, context):  # noqa: N802 (gRPC API)
        try:
            self.allow("WatchInvalidations", request, context)
            consistency = self.admit(context)
            yield from self.core.invalidations.stream(
                lambda: context.is_active() and self._may_go_on(consistency))
        except MooseNGError as error:
            abort(context, error)

    @servicer_errors
    @counted
    def GetAttr(self, request, context):
        return pb.AttrReply(attr=self._attr(self.core.getattr(request.path)))

    @servicer_errors
    @counted
    def Mkdir(self, request, context):
        return pb.AttrReply(attr=self._attr(self.core.mkdir(request.path, request.parents)))

    @servicer_errors
    @counted
    def Create(self, request, context):
        view = self.core.create(request.path, request.exclusive, request.goal)
        reply = pb.CreateReply(attr=self._attr(view))
        if request.allocate_first_chunk and view.size == 0:
            try:
                reply.first_chunk.CopyFrom(_grant(self.core.allocate(
                    view.inode, 0, [], dict(request.client_labels))))
            except (ResourceExhausted, Unavailable):
                pass    # the file exists; the client's own AllocateChunk reports the reason
        return reply

    @servicer_errors
    @counted
    def Remove(self, request, context):
        self.core.remove(request.path, request.recursive)
        return pb.Empty()

    @servicer_errors
    @counted
    def Rename(self, request, context):
        view = self.core.rename(request.source, request.destination)
        return pb.AttrReply(attr=self._attr(view))

    @servicer_errors
    @counted
    def ReadDir(self, request, context):
        views, more = self.core.readdir(request.path, request.start_after, request.limit)
        return pb.ReadDirReply(entries=[self._attr(v) for v in views], more=more)

    @servicer_errors
    @counted
    def SetGoal(self, request, context):
        changed = self.core.set_goal(request.path, request.goal, request.recursive)
        return pb.SetGoalReply(changed=changed)

    @servicer_errors
    @counted
    def GetChunks(self, request, context):
        view, places = self.core.get_chunks(request.inode, request.first_index, request.count,
                                            dict(request.client_labels))
        return pb.GetChunksReply(attr=self._attr(view), chunks=[
            pb.ChunkLocation(chunk_index=p.index, chunk_id=p.chunk_id, version=p.version,
                             length=p.length, servers=[a for _, a in p.servers],
                             server_ids=[s for s, _ in p.servers],
                             registering=p.registering) for p in places])

    @servicer_errors
    @counted
    def AllocateChunk(self, request, context):
        return _grant(self.core.allocate(request.inode, request.chunk_index,
                                         list(request.exclude_server_ids),
                                         dict(request.client_labels)))

    @servicer_errors
    @counted
    def CommitChunk(self, request, context):
        view = self.core.commit(request.inode, request.chunk_index, request.chunk_id,
                                request.version, request.lease_id, list(request.server_ids),
                                request.chunk_length, request.file_size, request.truncate)
        return pb.CommitChunkReply(attr=self._attr(view))

    @servicer_errors
    @counted
    def Truncate(self, request, context):
        return pb.AttrReply(attr=self._attr(self.core.truncate(request.inode, request.size)))

    @servicer_errors
    @counted
    def GetClusterStatus(self, request, context):
        core = self.core
        counts = core.counts()
        with core.lock:
            by_state = dict.fromkeys(_STATE, 0)
            for server in core.servers.values():
                by_state[server.state] += 1
            status = pb.ClusterStatus(
                files=core.state.files, directories=core.state.directories,
                chunks=counts.chunks, chunks_undergoal=counts.undergoal,
                chunks_overgoal=counts.overgoal, chunks_missing=counts.missing,
                chunks_misplaced=counts.misplaced, moves_done=core.moves[0],
                moves_in_flight=core.moves_in_flight(), allocation_policy=core.state.policy,
                balancing=core.balancing,
                servers_by_state=by_state,
                capacity_bytes=sum(s.capacity for s in core.servers.values()),
                used_bytes=sum(s.used for s in core.servers.values()),
                metadata_version=core.state.version, chunk_size=core.chunk_size,
                default_goal=core.settings.default_goal,
                replications_pending=len(core.replicating), version=__version__,
                regions=[pb.RegionLag(region=name, chunks_pending=lag.pending,
                                      lag_seconds=lag.seconds)
                         for name, lag in counts.regions.items()])
            if request.metadata_checksum:
                status.metadata_checksum = hashlib.sha256(
                    state_json(core.state).encode()).hexdigest()
        if self.leadership:
            self._describe_masters(status)
        else:
            status.role = "single"
        checks = self.checks()
        status.health = overall(checks)
        status.checks.extend(pb.HealthCheck(name=c.name, status=c.status, message=c.message)
                             for c in checks)
        status.http_address = self.http_address
        return status

    def _describe_masters(self, status: pb.ClusterStatus) -> None:
        ha = self.leadership
        status.role = "leader" if ha.leading else "follower"
        status.leading_since = ha.leading_since if ha.leading else 0.0
        status.leader = ha.leader.address if ha.leader else ""
        for member in ha.member_health():
            status.etcd.add(endpoint=member[0], ok=member[1], detail=member[2])
        for master in ha.known_masters():
            status.masters.add(**master)
        for metalogger in ha.known_metaloggers():
            status.metaloggers.add(**metalogger)

    @servicer_errors
    @counted
    def ListChunkServers(self, request, context):
        with self.core.lock:
            full = {sid for sid, c in self.core.candidates().items() if c.full}
            infos = [pb.ChunkServerInfo(
                id=s.server_id, address=s.address, labels=s.labels, state=_STATE[s.state],
                capacity_bytes=s.capacity, used_bytes=s.used,
                chunk_count=len(self.core.server_chunks.get(s.server_id, ())),
                last_heartbeat=s.last_heartbeat, http_address=s.http_address,
                full=s.server_id in full)
                for s in sorted(self.core.servers.values(), key=lambda s: s.server_id)]
        return pb.ListChunkServersReply(servers=infos)

    @servicer_errors
    @counted
    def SetMaintenance(self, request, context):
        if request.seconds < 0:
            raise InvalidArgument(f"maintenance for {request.seconds} s: give a time above 0 "
                                  "(or none for 30 minutes)")
        self.core.set_maintenance(request.server_id, request.enabled, request.seconds)
        return pb.Empty()

    @servicer_errors
    @counted
    def DrainChunkServer(self, request, context):
        self.core.drain_server(request.server_id)
        return pb.Empty()

    @servicer_errors
    @counted
    def RemoveChunkServer(self, request, context):
        self.core.remove_server(request.server_id)
        return pb.Empty()

    @servicer_errors
    @counted
    def Balance(self, request, context):
        if request.apply:
            self.core.start_balancing()
        moves, used = self.core.balance_plan()
        return pb.BalanceReply(moves=[pb.BalanceMove(chunk_id=m.chunk_id, source=m.source,
                                                     target=m.target, bytes=m.size)
                                      for m in moves],
                               used_bytes=used, balancing=self.core.balancing)

    @servicer_errors
    @counted
    def Repair(self, request, context):
        chunks, ordered = self.core.repair(request.path)
        return pb.RepairReply(chunks=chunks, verifications=ordered)

    @servicer_errors
    @counted
    def DefineClass(self, request, context):
        spec = request.spec
        new = StorageClass(classes.check_name(spec.name), classes.parse_copies(spec.copies),
                           spec.archive_to, spec.archive_after_seconds)
        if new.archive_after < 0 or bool(new.archive_to) != bool(new.archive_after):
            raise InvalidArgument("an archive rule needs both the class to move to and a time "
                                  "longer than 0 (e.g. --archive-to cold --archive-after 7d)")
        return _spec(self.core.define_class(new, request.modify), 0)

    @servicer_errors
    @counted
    def DeleteClass(self, request, context):
        self.core.delete_class(request.name)
        return pb.Empty()

    @servicer_errors
    @counted
    def ListClasses(self, request, context):
        return pb.ListClassesReply(classes=[_spec(c, users)
                                            for c, users in self.core.storage_classes()])

    @servicer_errors
    @counted
    def SetClass(self, request, context):
        changed = self.core.set_class(request.path, request.storage_class, request.recursive)
        return pb.SetGoalReply(changed=changed)

    @servicer_errors
    @counted
    def AllocationPolicy(self, request, context):
        return pb.PolicyReply(name=self.core.allocation_policy(request.name),
                              choices=placement.POLICIES)

    @servicer_errors
    @counted
    def GetPlacement(self, request, context):
        view, rows = self.core.placement(request.path)
        return pb.PlacementReply(attr=self._attr(view), chunks=[
            pb.ChunkPlacement(chunk_index=place[0], chunk_id=place[1], version=place[2],
                              wants=wants, status=status, copies=[
                                  pb.CopyPlacement(server_id=server.server_id,
                                                   address=server.address,
                                                   labels=server.labels,
                                                   state=_STATE[server.state],
                                                   satisfies=fills)
                                  for server, fills in copies])
            for place, wants, copies, status in rows])


def _spec(storage_class: StorageClass, users: int) -> pb.StorageClassSpec:
    return pb.StorageClassSpec(name=storage_class.name, copies=storage_class.copies,
                               archive_to=storage_class.archive_to,
                               archive_after_seconds=storage_class.archive_after, users=users)


def _refs(refs) -> list[tuple[int, int]]:
    return [(r.chunk_id, r.version) for r in refs]


class RegistryService(pb_grpc.ChunkServerRegistryServicer):
    def __init__(self, core: MasterCore, on_change: Callable[[], None]):
        self.core = core
        self.on_change = on_change      # wakes the background loop (prompt re-planning)

    @servicer_errors
    def Register(self, request, context):
        self.core.register(request.server_id, request.address, request.http_address,
                           dict(request.labels), request.capacity_bytes, request.used_bytes,
                           _refs(request.chunks), dict(request.region_addresses))
        self.on_change()
        return pb.RegisterReply(chunk_size=self.core.chunk_size,
                                heartbeat_interval=self.core.settings.heartbeat_interval,
                                lease_key=self.core.lease_key)

    @servicer_errors
    def Heartbeat(self, request, context):
        actions, reregister = self.core.heartbeat(
            request.server_id, request.capacity_bytes, request.used_bytes,
            _refs(request.added), _refs(request.removed), _refs(request.damaged))
        if request.added or request.damaged or request.removed:
            self.on_change()
        with self.core.lock:
            commands = [self._command(a) for a in actions]
        return pb.HeartbeatReply(commands=commands, reregister=reregister)

    def _command(self, action: goals.Action) -> pb.Command:
        """Sources as the target's region reaches them (another region's through its link)."""
        if action.type == goals.REPLICATE:
            target = self.core.servers.get(action.server_id)
            region = target.labels.get(classes.REGION) if target else None
            sources = [a for a in (self.core.address_of(s, region) for s in action.sources) if a]
            return pb.Command(type=pb.REPLICATE, chunk_id=action.chunk_id,
                              version=action.version, sources=sources)
        kind = pb.VERIFY if action.type == goals.VERIFY else pb.DELETE
        return pb.Command(type=kind, chunk_id=action.chunk_id, version=action.version)
