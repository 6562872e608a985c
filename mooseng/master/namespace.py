"""The master's metadata: a tree of inodes plus the chunk table, with no I/O and no clock.

Every mutating method checks everything first and raises before touching any field, so a
failed operation leaves the state unchanged; the changelog relies on that (apply, then log).
Times come in as arguments, which keeps replay deterministic.
"""

from __future__ import annotations

import dataclasses
import heapq

from mooseng import CHUNK_SIZE, NAME_MAX, PATH_MAX, ROOT_INODE
from mooseng.common.errors import (AlreadyExists, FailedPrecondition, InvalidArgument,
                                   NotFound)
from mooseng.common import classes
from mooseng.common.classes import StorageClass
from mooseng.master import placement

FILE = "file"
DIRECTORY = "directory"


@dataclasses.dataclass
class Inode:
    inode: int
    type: str
    parent: int
    name: str
    goal: int            # files: copies wanted; directories: goal for new files, 0 = inherit
    mtime: float
    ctime: float
    size: int = 0
    children: dict[str, int] = dataclasses.field(default_factory=dict)   # directories
    chunks: dict[int, int] = dataclasses.field(default_factory=dict)     # files: index -> id
    storage_class: str = ""   # set with the goal it implies; "" = a plain goal

    @property
    def is_dir(self) -> bool:
        return self.type == DIRECTORY


@dataclasses.dataclass
class Chunk:
    chunk_id: int
    version: int
    length: int
    inode: int
    index: int


def split_path(path: str) -> list[str]:
    """Validate an absolute path and return its components ('/' -> [])."""
    if not isinstance(path, str) or not path.startswith("/"):
        raise InvalidArgument(f"path must be absolute (start with '/'): {path!r}")
    size = len(path.encode("utf-8", "surrogatepass"))
    if size > PATH_MAX:
        raise InvalidArgument(f"path is {size} bytes long; paths are limited to {PATH_MAX} bytes")
    parts = [part for part in path.split("/") if part]
    for part in parts:
        length = len(part.encode("utf-8", "surrogatepass"))
        if length > NAME_MAX:
            shown = part if len(part) <= 40 else part[:40] + "..."
            raise InvalidArgument(f"name '{shown}' is {length} bytes long; names are limited "
                                  f"to {NAME_MAX} bytes")
        if part in (".", ".."):
            raise InvalidArgument(f"'{part}' is not allowed as a path component in {path!r}")
        if "\0" in part:
            raise InvalidArgument(f"path component {part!r} contains a NUL byte")
    return parts


def join(parts: list[str]) -> str:
    return "/" + "/".join(parts)


class Namespace:
    """In-memory metadata: inodes, the chunk table, the id counter bound and the version."""

    def __init__(self, chunk_size: int = CHUNK_SIZE):
        self.inodes: dict[int, Inode] = {
            ROOT_INODE: Inode(ROOT_INODE, DIRECTORY, ROOT_INODE, "", 0, 0.0, 0.0)}
        self.chunks: dict[int, Chunk] = {}
        self.next_inode = ROOT_INODE + 1
        self.version = 0          # last applied changelog entry
        self.reserved = 0         # chunk ids and versions below or equal to this may be in use
        self.chunk_size = chunk_size
        self.files = 0
        self.directories = 1
        self.classes: dict[str, StorageClass] = {}
        self.policy = placement.LEAST_USED     # allocation policy, cluster-wide
        # ids of chunks whose version, goal or existence changed; the master's goal accounting
        # takes them (not part of the metadata: a recovered state is accounted in full)
        self.changed_chunks: set[int] = set()

    # ------------------------------------------------------------------ queries

    def lookup(self, path: str) -> Inode:
        return self._walk(split_path(path))

    def get(self, inode: int) -> Inode:
        node = self.inodes.get(inode)
        if node is None:
            raise NotFound(f"no such inode {inode} (the file was removed?)")
        return node

    def get_file(self, inode: int) -> Inode:
        node = self.get(inode)
        if node.is_dir:
            raise FailedPrecondition(f"is a directory: {self.path_of(inode)}")
        return node

    def path_of(self, inode: int) -> str:
        parts = []
        node = self.inodes[inode]
        while node.inode != ROOT_INODE:
            parts.append(node.name)
            node = self.inodes[node.parent]
        return join(parts[::-1])

    def effective(self, node: Inode, default: int) -> tuple[int, str]:
        """A file's goal and storage class, or for a directory those its new files get."""
        while True:
            if node.goal:
                return node.goal, node.storage_class
            if node.inode == ROOT_INODE:
                return default, ""
            node = self.inodes[node.parent]

    def inherited(self, path: str, default: int) -> tuple[int, str]:
        """The goal and storage class a new file at `path` gets from its directory."""
        parts = split_path(path)
        if not parts:
            return default, ""
        try:
            parent = self._walk(parts[:-1])
        except NotFound:
            return default, ""
        return self.effective(parent, default) if parent.is_dir else (default, "")

    def copies_of(self, node: Inode) -> tuple[str, ...]:
        """One label constraint per copy a file's chunks should have."""
        if node.storage_class in self.classes:
            return self.classes[node.storage_class].copies
        return classes.plain(node.goal)

    def storage_class(self, name: str) -> StorageClass:
        found = self.classes.get(name)
        if found is None:
            known = ", ".join(sorted(self.classes)) or "none defined"
            raise NotFound(f"no storage class {name!r} (known: {known}; create it with "
                           "`mooseng class create`)")
        return found

    def class_users(self, name: str) -> int:
        """Files and directories that have the class, and classes that archive into it."""
        return (sum(1 for n in self.inodes.values() if n.storage_class == name)
                + sum(1 for c in self.classes.values() if c.archive_to == name))

    def list_dir(self, path: str, start_after: str = "", limit: int = 1000) -> tuple[list[Inode],
                                                                                      bool]:
        """Entries sorted by name (code point order = UTF-8 byte order), one page at a time."""
        node = self.lookup(path)
        if not node.is_dir:
            raise FailedPrecondition(f"not a directory: {path}")
        names = heapq.nsmallest(limit + 1, (n for n in node.children if n > start_after))
        return [self.inodes[node.children[name]] for name in names[:limit]], len(names) > limit

    def _walk(self, parts: list[str]) -> Inode:
        node = self.inodes[ROOT_INODE]
        for depth, part in enumerate(parts):
            if not node.is_dir:
                raise FailedPrecondition(f"not a directory: {join(parts[:depth])}")
            child = node.children.get(part)
            if child is None:
                where = join(parts[:depth])
                raise NotFound(f"no such file or directory: {join(parts)} "
                               f"('{part}' does not exist in {where})")
            node = self.inodes[child]
        return node

    def _parent(self, parts: list[str], path: str) -> Inode:
        if not parts:
            raise InvalidArgument("the root directory cannot be used here")
        parent = self._walk(parts[:-1])
        if not parent.is_dir:
            raise FailedPrecondition(f"not a directory: {join(parts[:-1])}")
        return parent

    # ------------------------------------------------------------------ mutations

    def mkdir(self, path: str, parents: bool, t: float) -> Inode:
        parts = split_path(path)
        if not parts:
            if parents:
                return self.inodes[ROOT_INODE]
            raise AlreadyExists("the root directory already exists")
        node = self.inodes[ROOT_INODE]
        missing = None
        for depth, part in enumerate(parts):
            if not node.is_dir:
                raise FailedPrecondition(f"not a directory: {join(parts[:depth])}")
            child = node.children.get(part)
            if child is None:
                missing = depth
                break
            node = self.inodes[child]
        if missing is None:
            if parents and node.is_dir:
                return node
            kind = "directory" if node.is_dir else "file"
            raise AlreadyExists(f"a {kind} already exists at {join(parts)}")
        if missing < len(parts) - 1 and not parents:
            raise NotFound(f"no such directory: {join(parts[:missing + 1])} (parent of "
                           f"{join(parts)} is missing; use parents / mkdir -p)")
        for part in parts[missing:]:
            node = self._add(node, part, DIRECTORY, 0, t)
        return node

    def create(self, path: str, goal: int, exclusive: bool, t: float,
               storage_class: str = "") -> Inode:
        parts = split_path(path)
        parent = self._parent(parts, path)
        existing = parent.children.get(parts[-1])
        if existing is not None:
            node = self.inodes[existing]
            if node.is_dir:
                raise FailedPrecondition(f"is a directory: {path}")
            if exclusive:
                raise AlreadyExists(f"file exists: {path}")
            return node
        if goal < 1:
            raise InvalidArgument(f"goal must be at least 1, got {goal}")
        if storage_class:
            goal = len(self.storage_class(storage_class).copies)
        node = self._add(parent, parts[-1], FILE, goal, t)
        node.storage_class = storage_class
        return node

    def remove(self, path: str, recursive: bool, t: float) -> list[int]:
        """Remove a file or directory; returns the ids of the chunks freed."""
        parts = split_path(path)
        if not parts:
            raise InvalidArgument("the root directory cannot be removed")
        node = self._walk(parts)
        if node.is_dir and node.children and not recursive:
            raise FailedPrecondition(f"directory not empty: {path} ({len(node.children)} "
                                     "entries; remove recursively)")
        parent = self.inodes[node.parent]
        del parent.children[node.name]
        parent.mtime = t
        return self._drop_tree(node)

    def rename(self, source: str, destination: str, t: float) -> tuple[Inode, list[int]]:
        """Move source to destination, replacing an existing file (or empty directory) there.

        Returns the moved inode and the chunks freed by the replaced file."""
        src_parts, dst_parts = split_path(source), split_path(destination)
        if not src_parts:
            raise InvalidArgument("the root directory cannot be renamed")
        if not dst_parts:
            raise InvalidArgument("cannot rename onto the root directory")
        node = self._walk(src_parts)
        dst_parent = self._parent(dst_parts, destination)
        if node.is_dir and dst_parts[:len(src_parts)] == src_parts:
            if dst_parts == src_parts:
                return node, []
            raise InvalidArgument(f"cannot move directory {source} into itself ({destination})")
        name = dst_parts[-1]
        freed: list[int] = []
        existing_id = dst_parent.children.get(name)
        if existing_id == node.inode:
            return node, []
        if existing_id is not None:
            existing = self.inodes[existing_id]
            if existing.is_dir and not node.is_dir:
                raise FailedPrecondition(f"is a directory: {destination}")
            if not existing.is_dir and node.is_dir:
                raise FailedPrecondition(f"not a directory: {destination}")
            if existing.is_dir and existing.children:
                raise FailedPrecondition(f"directory not empty: {destination}")
            del dst_parent.children[name]
            freed = self._drop_tree(existing)
        old_parent = self.inodes[node.parent]
        del old_parent.children[node.name]
        old_parent.mtime = t
        node.parent, node.name, node.ctime = dst_parent.inode, name, t
        dst_parent.children[name] = node.inode
        dst_parent.mtime = t
        return node, freed

    def set_goal(self, path: str, goal: int, recursive: bool, t: float) -> int:
        """Returns how many inodes changed their goal (a plain goal: no storage class)."""
        if goal < 1:
            raise InvalidArgument(f"goal must be at least 1, got {goal}")
        return self._set(self.lookup(path), goal, "", recursive, t)

    def set_class(self, path: str, name: str, recursive: bool, t: float) -> int:
        """Returns how many inodes changed their storage class."""
        goal = len(self.storage_class(name).copies)
        return self._set(self.lookup(path), goal, name, recursive, t)

    def _set(self, node: Inode, goal: int, name: str, recursive: bool, t: float) -> int:
        changed = 0
        stack = [node]
        while stack:
            current = stack.pop()
            if (current.goal, current.storage_class) != (goal, name):
                current.goal, current.storage_class, current.ctime = goal, name, t
                self.changed_chunks.update(current.chunks.values())
                changed += 1
            if current.is_dir and recursive:
                stack.extend(self.inodes[c] for c in current.children.values())
        return changed

    def define_class(self, new: StorageClass, replace: bool) -> StorageClass:
        """Create (replace=False) or modify a class; files of a modified class follow it."""
        classes.check_name(new.name)
        if replace:
            self.storage_class(new.name)
        elif new.name in self.classes:
            raise AlreadyExists(f"storage class {new.name!r} already exists (change it with "
                                "`mooseng class modify`)")
        if new.archive_to:
            if new.archive_to == new.name:
                raise InvalidArgument(f"storage class {new.name!r} cannot archive into itself")
            self.storage_class(new.archive_to)
        self.classes[new.name] = new
        for node in self.inodes.values():
            if node.storage_class == new.name:
                node.goal = len(new.copies)
                self.changed_chunks.update(node.chunks.values())
        return new

    def set_policy(self, name: str) -> None:
        if name not in placement.POLICIES:
            raise InvalidArgument(f"unknown allocation policy {name!r}: choose from "
                                  f"{', '.join(placement.POLICIES)}")
        self.policy = name

    def delete_class(self, name: str) -> None:
        self.storage_class(name)
        users = self.class_users(name)
        if users:
            raise FailedPrecondition(f"storage class {name!r} is in use by {users} files, "
                                     "directories or archive rules: give them another class "
                                     "first (`mooseng fs setclass`)")
        del self.classes[name]

    def commit_chunk(self, inode: int, index: int, chunk_id: int, version: int, length: int,
                     file_size: int, truncate: bool, t: float) -> tuple[Inode, list[int]]:
        """Record a written chunk version; returns the file and the chunks freed by truncate."""
        node = self.get_file(inode)
        if chunk_id > self.reserved or version > self.reserved or not chunk_id or not version:
            raise InvalidArgument(f"chunk {chunk_id} version {version} was never handed out")
        if length > self.chunk_size:
            raise InvalidArgument(f"chunk length {length} exceeds the chunk size "
                                  f"{self.chunk_size}")
        current_id = node.chunks.get(index)
        chunk = self.chunks.get(chunk_id)
        if chunk is not None and (chunk.inode, chunk.index) != (inode, index):
            raise InvalidArgument(f"chunk {chunk_id} belongs to inode {chunk.inode} index "
                                  f"{chunk.index}, not inode {inode} index {index}")
        if current_id is not None and current_id != chunk_id:
            raise FailedPrecondition(f"chunk index {index} of {self.path_of(inode)} now holds "
                                     f"chunk {current_id} (a concurrent writer); allocate again")
        if chunk is not None and version <= chunk.version:
            raise FailedPrecondition(f"chunk {chunk_id} is already at version {chunk.version}; "
                                     f"version {version} is stale (a concurrent writer won)")
        if chunk is None:
            chunk = Chunk(chunk_id, version, length, inode, index)
            self.chunks[chunk_id] = chunk
            node.chunks[index] = chunk_id
        chunk.version, chunk.length = version, length
        self.changed_chunks.add(chunk_id)
        node.mtime = node.ctime = t
        if truncate:
            return node, self._cut(node, file_size)
        node.size = max(node.size, file_size)
        return node, []

    def truncate(self, inode: int, size: int, t: float) -> tuple[Inode, list[int]]:
        node = self.get_file(inode)
        node.mtime = node.ctime = t
        return node, self._cut(node, size)

    def reserve(self, upto: int) -> None:
        if upto < self.reserved:
            raise InvalidArgument(f"counter reservation {upto} below {self.reserved}")
        self.reserved = upto

    # ------------------------------------------------------------------ helpers

    def _add(self, parent: Inode, name: str, kind: str, goal: int, t: float) -> Inode:
        node = Inode(self.next_inode, kind, parent.inode, name, goal, t, t)
        self.next_inode += 1
        self.inodes[node.inode] = node
        parent.children[name] = node.inode
        parent.mtime = t
        if kind == DIRECTORY:
            self.directories += 1
        else:
            self.files += 1
        return node

    def _drop_tree(self, node: Inode) -> list[int]:
        freed = []
        stack = [node]
        while stack:
            current = stack.pop()
            del self.inodes[current.inode]
            if current.is_dir:
                self.directories -= 1
                stack.extend(self.inodes[c] for c in current.children.values())
            else:
                self.files -= 1
                for chunk_id in current.chunks.values():
                    del self.chunks[chunk_id]
                    freed.append(chunk_id)
        self.changed_chunks.update(freed)
        return freed

    def _cut(self, node: Inode, size: int) -> list[int]:
        """Set the file size; drop chunks past it and shorten the one it ends in."""
        freed = []
        for index in sorted(node.chunks):
            start = index * self.chunk_size
            chunk = self.chunks[node.chunks[index]]
            if start >= size:
                del self.chunks[chunk.chunk_id]
                del node.chunks[index]
                freed.append(chunk.chunk_id)
            elif start + chunk.length > size:
                chunk.length = size - start
        node.size = size
        self.changed_chunks.update(freed)
        return freed

    # ------------------------------------------------------------------ snapshot form

    def to_dict(self) -> dict:
        return {
            "version": self.version, "reserved": self.reserved, "next_inode": self.next_inode,
            "chunk_size": self.chunk_size,
            "inodes": [[n.inode, n.type, n.parent, n.name, n.goal, n.mtime, n.ctime, n.size,
                        sorted(n.chunks.items()), n.storage_class]
                       for n in self.inodes.values()],
            "classes": [[c.name, list(c.copies), c.archive_to, c.archive_after]
                        for c in self.classes.values()],
            "policy": self.policy,
            "chunks": [[c.chunk_id, c.version, c.length, c.inode, c.index]
                       for c in self.chunks.values()],
        }

    @classmethod
    def from_dict(cls, data: dict) -> "Namespace":
        ns = cls(data["chunk_size"])
        ns.version, ns.reserved, ns.next_inode = (data["version"], data["reserved"],
                                                  data["next_inode"])
        ns.inodes = {}
        for ino, kind, parent, name, goal, mtime, ctime, size, chunks, *rest in data["inodes"]:
            ns.inodes[ino] = Inode(ino, kind, parent, name, goal, mtime, ctime, size,
                                   chunks={int(i): c for i, c in chunks},
                                   storage_class=rest[0] if rest else "")
        ns.classes = {name: StorageClass(name, tuple(copies), archive_to, archive_after)
                      for name, copies, archive_to, archive_after in data.get("classes", [])}
        ns.policy = data.get("policy", placement.LEAST_USED)
        for node in ns.inodes.values():
            if node.inode != ROOT_INODE:
                ns.inodes[node.parent].children[node.name] = node.inode
        ns.chunks = {c[0]: Chunk(*c) for c in data["chunks"]}
        ns.files = sum(1 for n in ns.inodes.values() if not n.is_dir)
        ns.directories = len(ns.inodes) - ns.files
        return ns
