"""The master's background work on chunks: goal accounting (kept chunk by chunk, cheap to
ask), and the passes that restore goals, move copies for storage classes and for balancing
(within the move rate), and delete what is stale. A part of MasterCore, split out by job: it
shares the core's state and lock."""

from __future__ import annotations

import logging
import time

from mooseng.common import classes
from mooseng.common.log import kv
from mooseng.master import balance, goals
from mooseng.master.invalidation import chunk_event

log = logging.getLogger("mooseng.master")

MOVES = ("misplaced", "balance")      # replications held to the move rate


class Repair:
    def _chunk_views(self) -> list[goals.ChunkView]:
        views = []
        for chunk_id, chunk in self.state.chunks.items():
            views.append(self._chunk_view(chunk_id, chunk))
        for chunk_id, held in self.copies.items():
            if chunk_id not in self.state.chunks:
                views.append(goals.ChunkView(chunk_id, 0, 0, held))
        return views

    def _chunk_view(self, chunk_id: int, chunk) -> goals.ChunkView:
        node = self.state.inodes[chunk.inode]
        return goals.ChunkView(chunk_id, chunk.version, node.goal, self.copies.get(chunk_id, {}),
                               self.state.copies_of(node) if node.storage_class else ())

    def _lease_versions(self) -> dict[int, set[int]]:
        versions: dict[int, set[int]] = {}
        for lease in self.leases.values():
            versions.setdefault(lease.chunk_id, set()).add(lease.version)
        if self._inheriting():
            # the previous leader's write leases died with it: spare every copy newer than
            # what is committed, it may belong to a write in flight
            for chunk_id, held in self.copies.items():
                chunk = self.state.chunks.get(chunk_id)
                committed = chunk.version if chunk else 0
                newer = {v for vs in held.values() for v in vs if v > committed}
                if newer:
                    versions.setdefault(chunk_id, set()).update(newer)
        return versions

    def _inheriting(self) -> bool:
        return self.clock() < self._inherited_until

    def counts(self) -> goals.Plan:
        """Under/over/missing counts, always current but cheap: only the chunks whose metadata,
        copies or servers changed since the last call are classified again."""
        with self.lock:
            state = self.state
            if self._recount:
                self._recount = False
                self._status.clear()
                self._tally.clear()
                self._short = {c: v for c, v in self._short.items() if c in state.chunks}
                dirty = set(state.chunks)
            else:
                dirty = self._dirty | state.changed_chunks
            self._dirty, state.changed_chunks = set(), set()
            servers = self.candidates() if dirty else {}
            now = self.clock()
            for chunk_id in dirty:
                old = self._status.pop(chunk_id, None)
                if old:
                    self._tally[old] -= 1
                chunk = state.chunks.get(chunk_id)
                if chunk is None:
                    self._short.pop(chunk_id, None)
                    continue
                view = self._chunk_view(chunk_id, chunk)
                found = goals.assess(view, servers)
                self._status[chunk_id] = found.status
                self._tally[found.status] += 1
                self._track_regions(chunk_id, goals.regions_short(view, found.where), now)
            return goals.Plan(chunks=len(self._status), undergoal=self._tally[goals.UNDERGOAL],
                              overgoal=self._tally[goals.OVERGOAL],
                              missing=self._tally[goals.MISSING],
                              misplaced=self._tally[goals.MISPLACED],
                              regions=self._region_lags(now))

    def _track_regions(self, chunk_id: int, short: frozenset[str], now: float) -> None:
        """Since when each chunk has waited for a copy in some region (the replication lag)."""
        if not short:
            self._short.pop(chunk_id, None)
            return
        _, since = self._short.get(chunk_id, (short, now))
        self._short[chunk_id] = (short, since)

    def _region_lags(self, now: float) -> dict[str, goals.RegionLag]:
        """Every region a server is in, and any a chunk waits for: a region caught up shows 0."""
        oldest: dict[str, float] = {}
        pending: dict[str, int] = {}
        for short, since in self._short.values():
            for region in short:
                pending[region] = pending.get(region, 0) + 1
                oldest[region] = min(oldest.get(region, now), since)
        regions = {s.labels[classes.REGION] for s in self.servers.values()
                   if classes.REGION in s.labels} | set(pending)
        return {region: goals.RegionLag(pending.get(region, 0),
                                        round(now - oldest.get(region, now), 3))
                for region in sorted(regions)}

    def _held(self, skip: set[int]) -> list[balance.Held]:
        """Chunks at goal and where their class wants them, with no work in flight."""
        servers = self.candidates()
        held = []
        for chunk_id, chunk in self.state.chunks.items():
            if chunk_id in skip:
                continue
            view = self._chunk_view(chunk_id, chunk)
            found = goals.assess(view, servers)
            if found.status == goals.AT_GOAL:
                held.append(balance.Held(chunk_id, chunk.version, chunk.length,
                                         tuple(found.valid), view.constraints()))
        return held

    def balance_plan(self) -> tuple[list[balance.Move], dict[str, int]]:
        """The moves that would balance the online servers' usage, and their usage now."""
        with self.lock:
            held = self._held(set())
            return balance.plan(held, self.candidates()), balance.usage(held, self.candidates())

    def _balance_actions(self, skip: set[int]) -> list[goals.Action]:
        """The next batch of balancing moves, once the last one has landed (the usage a plan
        starts from does not count copies still being made)."""
        if self._moving:
            return []
        moves = balance.plan(self._held(skip), self.candidates(), limit=50)
        if not moves and not skip:
            self.balancing = False
            log.info("chunk servers balanced")
        return [goals.Action(goals.REPLICATE, m.target, m.chunk_id, m.version,
                             sources=(m.source,), reason="balance") for m in moves]

    def moves_in_flight(self) -> int:
        return len(self._moving)

    def _rate_limited(self, actions: list[goals.Action], now: float) -> list[goals.Action]:
        """Moves for storage classes within --move-rate (a second's worth may gather); restoring
        lost copies and deleting are never held back."""
        rate = self.settings.move_rate
        budget, since = self._move_budget
        budget = min(rate, budget + (now - since) * rate)
        kept = []
        for action in actions:
            if action.type == goals.REPLICATE and action.reason in MOVES:
                size = self.state.chunks[action.chunk_id].length
                if size > budget and budget < rate:     # one chunk over a second's worth
                    continue                            # still goes when the budget is full
                budget -= size
            kept.append(action)
        self._move_budget = (budget, now)
        return kept

    def in_grace(self) -> bool:
        """Right after start or promotion, chunk servers are still registering: change nothing
        yet, and do not call a chunk without known copies lost."""
        return self.clock() - self.started < 2 * self.settings.heartbeat_interval + 2.0

    def replication_timeout(self) -> float:
        return max(5.0, 10 * self.settings.heartbeat_interval)

    def tick(self) -> goals.Plan:
        """Mark silent servers offline, expire leases and replications, queue commands."""
        now = self.clock()
        settings = self.settings
        with self.lock:
            self.end_maintenance_over_time(now)
            for server in self.servers.values():
                if server.online and not server.maintenance \
                        and now - server.last_seen > settings.offline_timeout:
                    server.online = False
                    self._server_changed(server)
                    log.warning("chunk server offline: no heartbeat",
                                extra=kv(server=server.server_id, address=server.address,
                                         silent_seconds=round(now - server.last_seen, 1)))
            for lease_id in [i for i, l in self.leases.items() if l.expires < now]:
                del self.leases[lease_id]
                self._changed()
            timeout = self.replication_timeout()
            for key in [k for k, v in self.replicating.items() if now - v[0] > timeout]:
                del self.replicating[key]
                self._moving.pop(key, None)
                self._changed()
            if self._acted_key == self._key() or now < self._next_plan:
                return self.counts()
            began = time.perf_counter()
            replicating: dict[int, set[str]] = {}
            busy: dict[str, int] = {}
            for (chunk_id, target), (_, source) in self.replicating.items():
                replicating.setdefault(chunk_id, set()).add(target)
                busy[target] = busy.get(target, 0) + 1
                busy[source] = busy.get(source, 0) + 1
            act = self.certain() and not self.in_grace()
            result = goals.plan(self._chunk_views(), self.candidates(),
                                leases=self._lease_versions(), replicating=replicating,
                                busy=busy, limit=settings.replication_limit, act=act,
                                rng=self._rng)
            planned = result.actions
            if self.balancing and act:
                planned = planned + self._balance_actions(
                    {a.chunk_id for a in planned} | set(replicating))
            actions = self._rate_limited(planned, now)
            for action in actions:
                server = self.servers[action.server_id]
                server.commands.append(action)
                if action.type == goals.DELETE:
                    self._drop_copy(action.chunk_id, action.server_id, action.version)
                    self.invalidations.publish([chunk_event(action.chunk_id)])
                else:
                    self.replicating[(action.chunk_id, action.server_id)] = (now,
                                                                            action.sources[0])
                    if action.reason in MOVES:
                        self._moving[(action.chunk_id, action.server_id)] = \
                            self.state.chunks[action.chunk_id].length
                    self.replications_issued += 1
                log.debug("command queued", extra=kv(
                    command=action.type, chunk=action.chunk_id, version=action.version,
                    server=action.server_id, reason=action.reason))
            if actions:
                kinds = [a.type for a in actions]
                log.info("repair pass", extra=kv(
                    replicate=kinds.count(goals.REPLICATE), delete=kinds.count(goals.DELETE),
                    undergoal=result.undergoal, overgoal=result.overgoal,
                    misplaced=result.misplaced, missing=result.missing))
            # moves held back by the rate, and balancing, are planned again on the next pass
            done = len(actions) == len(planned) and not self.balancing
            self._acted_key = self._key() if done else None
            # a big chunk map makes a pass expensive: keep passes to <= ~10 % of the time
            self._next_plan = now + 9 * (time.perf_counter() - began)
            return self.counts()
