"""Chunk server administration: maintenance with a time limit, draining, removal, and repair
of a path. A part of MasterCore, split out by job: it shares the core's state and lock."""

from __future__ import annotations

import logging

from mooseng.common.errors import FailedPrecondition, NotFound
from mooseng.common.log import kv
from mooseng.master import goals
from mooseng.master.placement import OFFLINE

log = logging.getLogger("mooseng.master")

MAINTENANCE_SECONDS = 30 * 60      # when no time is given


class ServerAdmin:
    def _server(self, name: str):
        """A registered server by its id or its address (caller holds the lock)."""
        for server in self.servers.values():
            if name in (server.server_id, server.address):
                return server
        known = ", ".join(f"{s.server_id} ({s.address})" for s in self.servers.values())
        raise NotFound(f"no chunk server {name!r} (known: {known or 'none registered'}; see "
                       "`mooseng chunkservers`)")

    def set_maintenance(self, name: str, enabled: bool, seconds: float = 0.0) -> None:
        """While in maintenance (at most `seconds`, 30 minutes by default) a server's copies
        stay valid and nothing is copied for it; after that it counts as lost if silent."""
        with self.lock:
            server = self._server(name)
            server.maintenance = enabled
            server.maintenance_until = self.clock() + (seconds or MAINTENANCE_SECONDS)
            if not enabled:
                server.online = (self.clock() - server.last_seen
                                 <= self.settings.offline_timeout)
            self._server_changed(server)
        log.info("maintenance mode", extra=kv(server=server.server_id, enabled=enabled,
                                              seconds=seconds or MAINTENANCE_SECONDS))

    def end_maintenance_over_time(self, now: float) -> None:
        """Servers whose maintenance time ran out count as any other again (caller holds the
        lock): a silent one goes offline and its copies are made elsewhere."""
        for server in self.servers.values():
            if server.maintenance and now >= server.maintenance_until:
                server.maintenance = False
                self._server_changed(server)
                log.warning("maintenance time over: the chunk server counts as lost if silent",
                            extra=kv(server=server.server_id, address=server.address))

    def drain_server(self, name: str) -> None:
        """Move every copy off a server: its copies stop counting towards goals (they stay
        sources and readable) and are deleted once made elsewhere; it gets no new chunks."""
        with self.lock:
            server = self._server(name)
            server.draining = True
            self._server_changed(server)
        log.info("chunk server draining", extra=kv(server=server.server_id,
                                                   chunks=len(self.server_chunks.get(
                                                       server.server_id, ()))))

    def remove_server(self, name: str) -> None:
        """Forget a stopped server. Refused while it runs, or while some chunk has no copy but
        the ones on it (start it again and drain it first)."""
        with self.lock:
            server = self._server(name)
            if server.state != OFFLINE:
                raise FailedPrecondition(
                    f"chunk server {server.server_id} ({server.address}) is {server.state}: "
                    "drain it (`mooseng chunkserver drain`), stop it, and remove it once the "
                    "master lists it offline")
            only = [chunk_id for chunk_id in self.server_chunks.get(server.server_id, ())
                    if chunk_id in self.state.chunks and not self._valid_holders(
                        chunk_id, self.state.chunks[chunk_id].version)]
            if only:
                paths = sorted({self.state.path_of(self.state.chunks[c].inode) for c in only})
                raise FailedPrecondition(
                    f"chunk server {server.server_id} ({server.address}) holds the only copy "
                    f"of {len(only)} chunks (of {', '.join(paths[:3])}"
                    f"{', ...' if len(paths) > 3 else ''}): start it again and drain it first "
                    "(`mooseng chunkserver drain`)")
            for chunk_id in list(self.server_chunks.get(server.server_id, ())):
                self._drop_copy(chunk_id, server.server_id)
            self.server_chunks.pop(server.server_id, None)
            del self.servers[server.server_id]
            self._recount = True
            self._changed()
        log.info("chunk server removed", extra=kv(server=server.server_id,
                                                  address=server.address))

    def start_balancing(self) -> None:
        """Move copies until the online servers' usage is within 10 % of the mean (at the move
        rate); refused while servers are offline, since their copies would be made again."""
        with self.lock:
            offline = [f"{s.server_id} ({s.address})" for s in self.servers.values()
                       if s.state == OFFLINE]
            if offline:
                raise FailedPrecondition(
                    f"chunk servers offline: {', '.join(offline)}: bring them back, or remove "
                    "them (`mooseng chunkserver remove`), before balancing")
            self.balancing = True
            self._changed()
        log.info("balancing started")

    def repair(self, path: str) -> tuple[int, int]:
        """Have every copy of the path's chunks (a directory: of every file below it) checked
        now; damaged ones are dropped and made again from good copies, as goals require.
        Returns (chunks, copies ordered to check)."""
        with self.lock:
            node = self.state.lookup(path)
            stack, chunk_ids = [node], []
            while stack:
                current = stack.pop()
                if current.is_dir:
                    stack.extend(self.state.inodes[c] for c in current.children.values())
                else:
                    chunk_ids.extend(current.chunks.values())
            ordered = 0
            for chunk_id in chunk_ids:
                chunk = self.state.chunks[chunk_id]
                for server in self._valid_holders(chunk_id, chunk.version):
                    server.commands.append(goals.Action(goals.VERIFY, server.server_id,
                                                        chunk_id, chunk.version,
                                                        reason="repair"))
                    ordered += 1
        log.info("repair ordered", extra=kv(path=path, chunks=len(chunk_ids), copies=ordered))
        return len(chunk_ids), ordered
