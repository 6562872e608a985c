"""Storage classes, the allocation policy, placement reports and the archive rule: the
administration of where copies go. A part of MasterCore, split out by job: it shares the
core's state and lock."""

from __future__ import annotations

import logging

from mooseng.common import classes
from mooseng.common.classes import StorageClass
from mooseng.common.errors import FailedPrecondition, MooseNGError, ResourceExhausted
from mooseng.common.log import kv
from mooseng.master import goals

log = logging.getLogger("mooseng.master")


def _unmet_message(storage_class: StorageClass, unmet: list[str], servers: dict) -> str:
    seen = sorted({classes.describe([f"{k}={v}" for k, v in sorted(s.labels.items())]
                                    ).replace("1*", "") or "no labels"
                   for s in servers.values()})
    return (f"storage class {storage_class.name!r} ({storage_class.describe()}) cannot be met: "
            f"no chunk server left for {', '.join(unmet)} among the {len(servers)} registered "
            f"(their labels: {'; '.join(seen) or 'none registered'}); add servers with those "
            "labels or change the class (`mooseng class modify`)")


class StorageAdmin:
    def set_class(self, path: str, name: str, recursive: bool) -> int:
        def check():
            self._check_copies(self.state.storage_class(name))
            return {}
        return self._write("setclass", int, check, path=path, storage_class=name,
                           recursive=recursive)

    def define_class(self, new: StorageClass, replace: bool) -> StorageClass:
        """Create or modify a class; refused when the registered servers cannot meet it."""
        def check():
            self._check_copies(new)
            return {}
        return self._write("class_modify" if replace else "class_create", lambda c: c, check,
                           name=new.name, copies=list(new.copies), archive_to=new.archive_to,
                           archive_after=new.archive_after)

    def allocation_policy(self, name: str) -> str:
        """Set the cluster-wide allocation policy (unless `name` is empty); the one in force."""
        if name:
            self._write("policy", lambda _: None, name=name)
        return self._read(lambda: self.state.policy)

    def delete_class(self, name: str) -> None:
        self._write("class_delete", lambda _: None, name=name)

    def storage_classes(self) -> list[tuple[StorageClass, int]]:
        """Every class with the number of files, directories and rules that use it."""
        def build():
            return [(c, self.state.class_users(c.name))
                    for c in sorted(self.state.classes.values(), key=lambda c: c.name)]
        return self._read(build)

    def _check_copies(self, storage_class: StorageClass) -> None:
        unmet = classes.unmet(storage_class.copies,
                              {s.server_id: s.labels for s in self.servers.values()})
        if unmet:
            raise ResourceExhausted(_unmet_message(storage_class, unmet, self.servers))

    def placement(self, path: str) -> tuple:
        """The file's attributes and per chunk: ((index, id, version), wanted constraints,
        [(server, the constraint it satisfies)], status), as the goal accounting sees it."""
        def build():
            node = self.state.lookup(path)
            if node.is_dir:
                raise FailedPrecondition(f"is a directory: {path} (name a file)")
            rows, servers = [], self.candidates()
            for index in sorted(node.chunks):
                chunk = self.state.chunks[node.chunks[index]]
                view = self._chunk_view(chunk.chunk_id, chunk)
                found = goals.assess(view, servers)
                valid, where = found.valid, found.where
                fills = {sid: view.constraints()[i] for i, sid in where.items()}
                rows.append(((index, chunk.chunk_id, chunk.version),
                             view.constraints(),
                             [(self.servers[sid], fills.get(sid, "")) for sid in sorted(valid)],
                             found.status))
            return self._view(node), rows
        return self._read(build)

    def archive(self) -> int:
        """Move the files whose class has an archive rule and that were not modified for its
        time into the class it names (a logged setclass, as an administrator's); at most one
        pass a second. Returns how many files moved."""
        with self.lock:
            rules = {c.name: c for c in self.state.classes.values() if c.archive_to}
            if not rules or not self.certain() or self.clock() < self._next_archive:
                return 0
            self._next_archive = self.clock() + 1.0
            now = self.wall()
            due = [(self.state.path_of(n.inode), rules[n.storage_class].archive_to)
                   for n in self.state.inodes.values()
                   if n.storage_class in rules and not n.is_dir
                   and now - n.mtime >= rules[n.storage_class].archive_after]
        moved = 0
        for path, target in due:
            try:
                moved += self.set_class(path, target, recursive=False)
            except MooseNGError as error:     # removed meanwhile, or the target unmeetable
                log.warning("file not archived", extra=kv(path=path, storage_class=target,
                                                          error=error))
        if moved:
            log.info("files archived", extra=kv(files=moved))
        return moved

