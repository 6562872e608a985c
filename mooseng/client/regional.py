"""Metadata reads from the masters of the client's own region, at its consistency level.

A client with a region label and a level other than strong asks a master of its region first
(found in the cluster status by its --region); when that master may not answer (too far behind,
or it has not applied what this session saw) or cannot be reached, the leader answers instead.
Every read is counted by who answered, so that an operator can see a region's reads leave it.
"""

from __future__ import annotations

import threading
import time

import prometheus_client as prom

from mooseng.common.consistency import Consistency
from mooseng.common.errors import DeadlineExceeded, MooseNGError, NotLeader, Unavailable
from mooseng.proto import mooseng_pb2 as pb

from .master import MasterSession, MasterUnreachable

LOOK_AGAIN = 5.0      # seconds before asking again which masters serve the region


class RegionalReads:
    def __init__(self, session: MasterSession, consistency: Consistency, region: str,
                 address_map, registry: prom.CollectorRegistry):
        self.session = session
        self.consistency = consistency
        self.region = region if consistency.follower_may_answer else ""
        self._map = address_map
        self._lock = threading.Lock()
        self._masters: list[str] = []
        self._looked = -LOOK_AGAIN
        self._reads = prom.Counter("mooseng_client_metadata_reads",
                                   "Metadata reads by the master that answered them",
                                   ["master"], registry=registry)

    def metadata(self):
        return self.consistency.metadata(self.session.seen)

    def regional_master(self) -> str:
        """A master of this client's region as this process dials it ('' when none)."""
        if not self.region:
            return ""
        with self._lock:
            if not self._masters and time.monotonic() - self._looked >= LOOK_AGAIN:
                self._looked = time.monotonic()
                status = self.session.call("GetClusterStatus", pb.ClusterStatusRequest())
                self._masters = [self._map(m.address) for m in status.masters
                                 if m.region == self.region]
            return self._masters[0] if self._masters else ""

    def call(self, method: str, request):
        address = self.regional_master()
        refusal: MooseNGError | None = None
        if address:
            try:
                return self._answered("regional", lambda: self.session.call_at(
                    address, method, request, self.metadata()))
            except (NotLeader, MasterUnreachable) as error:
                refusal = error
        try:
            return self._answered("leader", lambda: self.session.call(method, request))
        except (Unavailable, DeadlineExceeded) as error:
            if refusal is None:
                raise
            raise Unavailable(f"{refusal}; the leader did not answer either: {error}") from None

    def _answered(self, master: str, call):
        """The reply, or the error it answered with (NotFound is an answer too)."""
        try:
            reply = call()
        except (NotLeader, MasterUnreachable):
            raise
        except MooseNGError:
            self._reads.labels(master).inc()
            raise
        self._reads.labels(master).inc()
        return reply
