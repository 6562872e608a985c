"""Model-based fuzzing (Hypothesis): random sequences of namespace and file operations run
against a real in-process cluster and against a plain Python model of a file tree. After every
step the two must agree on listings, sizes, goals, storage classes and contents, and every
refused operation must fail with the status the model expects (NotFound, AlreadyExists,
FailedPrecondition, InvalidArgument, ResourceExhausted), never another.

The `ci` profile (conftest.py) replays the same examples on every run; `make fuzz` explores new
ones. A counterexample found on the way becomes a regular test below the machine."""

from __future__ import annotations

import dataclasses
import itertools
import random

from hypothesis import settings, strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from mooseng.common.errors import (AlreadyExists, FailedPrecondition, InvalidArgument,
                                   MooseNGError, NotFound, ResourceExhausted)
from conftest import CHUNK_SIZE

SERVERS = 3                      # chunk servers of the shared cluster
CLASS = "fuzz-two"               # a class of two copies on any servers, defined once
NAMES = st.sampled_from(["a", "b"])   # few names: operations meet existing ones
PATHS = st.lists(NAMES, min_size=1, max_size=3).map(tuple)
# sizes and offsets around chunk boundaries, where files are cut into chunks
EDGES = [0, 1, CHUNK_SIZE - 1, CHUNK_SIZE, CHUNK_SIZE + 1, 2 * CHUNK_SIZE]
SIZES = st.one_of(st.integers(0, 4096), st.sampled_from(EDGES), st.integers(0, 2 * CHUNK_SIZE))
DATA = st.builds(lambda size, seed: random.Random(seed).randbytes(size), SIZES,
                 st.integers(0, 2**32))
START_DIRS = [("a",), ("a", "a"), ("b",)]
START_FILES = [("a", "b"), ("b", "a")]
_roots = itertools.count()


@dataclasses.dataclass
class Node:
    is_dir: bool
    goal: int = 0                    # 0 on a directory: its new files take its parent's
    storage_class: str = ""
    data: bytearray = dataclasses.field(default_factory=bytearray)


class Model:
    """What the namespace should hold; each method returns the error the system must raise
    (or None) and changes the model only when there is none, as the master does."""

    def __init__(self, default_goal: int):
        self.default_goal = default_goal
        self.nodes: dict[tuple, Node] = {(): Node(True)}

    def walk(self, parts: tuple):
        for depth in range(len(parts)):
            node = self.nodes.get(parts[:depth + 1])
            if not self.nodes[parts[:depth]].is_dir:
                return FailedPrecondition
            if node is None:
                return NotFound
        return None

    def parent(self, parts: tuple):
        return self.walk(parts[:-1]) or (None if self.nodes[parts[:-1]].is_dir
                                         else FailedPrecondition)

    def children(self, parts: tuple) -> list[tuple]:
        return [p for p in self.nodes if len(p) == len(parts) + 1 and p[:len(parts)] == parts]

    def subtree(self, parts: tuple) -> list[tuple]:
        return [p for p in self.nodes if p[:len(parts)] == parts]

    def inherited(self, parts: tuple) -> tuple[int, str]:
        for depth in range(len(parts) - 1, -1, -1):
            node = self.nodes[parts[:depth]]
            if node.goal:
                return node.goal, node.storage_class
        return self.default_goal, ""

    def mkdir(self, parts):
        error = self.walk(parts[:-1]) or (FailedPrecondition if not self.nodes[parts[:-1]].is_dir
                                          else AlreadyExists if parts in self.nodes else None)
        if not error:
            self.nodes[parts] = Node(True)
        return error

    def create(self, parts, exclusive: bool):
        error = self.parent(parts)
        if not error and parts in self.nodes:
            error = (FailedPrecondition if self.nodes[parts].is_dir
                     else AlreadyExists if exclusive else None)
        if not error and parts not in self.nodes:
            goal, storage_class = self.inherited(parts)
            self.nodes[parts] = Node(False, goal, storage_class)
        return error

    def file(self, parts):
        return self.walk(parts) or (FailedPrecondition if self.nodes[parts].is_dir else None)

    def remove(self, parts, recursive: bool):
        error = self.walk(parts)
        if not error and self.children(parts) and not recursive:
            error = FailedPrecondition
        if not error:
            for path in self.subtree(parts):
                del self.nodes[path]
        return error

    def rename(self, src, dst):
        error = self.walk(src) or self.parent(dst)
        if error:
            return error
        moving = self.nodes[src]
        if moving.is_dir and dst[:len(src)] == src:
            return None if dst == src else InvalidArgument
        existing = self.nodes.get(dst)
        if existing is not None and dst != src:
            if existing.is_dir != moving.is_dir or self.children(dst):
                return FailedPrecondition
            del self.nodes[dst]
        moved = {path: self.nodes.pop(path) for path in self.subtree(src)}
        self.nodes.update({dst + path[len(src):]: node for path, node in moved.items()})
        return None

    def set(self, parts, goal: int, storage_class: str, recursive: bool):
        """(error, how many files and directories changed)"""
        error = self.walk(parts)
        if error:
            return error, 0
        scope = self.subtree(parts) if recursive else [parts]
        changed = [p for p in scope
                   if (self.nodes[p].goal, self.nodes[p].storage_class) != (goal, storage_class)]
        for path in changed:
            self.nodes[path].goal, self.nodes[path].storage_class = goal, storage_class
        return None, len(changed)


def expect(error, call, *args):
    """Run `call` and check it raised exactly `error` (a class) or nothing; its result."""
    try:
        result = call(*args)
    except MooseNGError as raised:
        assert type(raised) is error, f"{call.__name__}{args} raised {raised!r}, expected " \
                                      f"{error.__name__ if error else 'success'}"
        return None
    assert error is None, f"{call.__name__}{args} succeeded, expected {error.__name__}"
    return result


class NamespaceMachine(RuleBasedStateMachine):
    cluster = None            # set by the test: the module's shared cluster

    @initialize()
    def start(self):
        self.client = self.cluster.client()
        self.root = f"/fuzz-{next(_roots)}"
        self.client.mkdir(self.root)
        self.model = Model(default_goal=2)
        if CLASS not in {c["name"] for c in self.client.classes()}:
            self.client.define_class(CLASS, ["2*"])
        for parts in START_DIRS:    # a tree to start from: renames and removes meet one
            expect(self.model.mkdir(parts), self.client.mkdir, self.path(parts))
        for parts in START_FILES:
            expect(self.model.create(parts, True), self.client.write_bytes, self.path(parts),
                   b"")

    def path(self, parts: tuple) -> str:
        return "/".join((self.root, *parts))

    def pick(self, data) -> tuple:
        """Mostly a path that exists or a new name in an existing directory, where operations
        do something; sometimes any path, where they are refused."""
        near = [p for p in self.model.nodes if p] + [
            p + (name,) for p, node in self.model.nodes.items() if node.is_dir
            for name in ("a", "b")]
        return data.draw(st.one_of(st.sampled_from(near), PATHS))

    @rule(data=st.data())
    def mkdir(self, data):
        parts = self.pick(data)
        expect(self.model.mkdir(parts), self.client.mkdir, self.path(parts))

    @rule(choice=st.data(), data=DATA, exclusive=st.booleans())
    def write_file(self, choice, data, exclusive):
        parts = self.pick(choice)
        error = self.model.create(parts, exclusive)

        def write(path):
            with self.client.open(path, "xb" if exclusive else "wb") as handle:
                handle.write(data)
        expect(error, write, self.path(parts))
        if not error:
            self.model.nodes[parts].data = bytearray(data)

    @rule(choice=st.data(), offset=SIZES, data=DATA)
    def write_at(self, choice, offset, data):
        parts = self.pick(choice)
        error = self.model.file(parts)

        def write(path):
            with self.client.open(path, "r+b") as handle:
                handle.seek(offset)
                handle.write(data)
        expect(error, write, self.path(parts))
        if not error:
            content = self.model.nodes[parts].data
            if data:
                content.extend(bytes(max(0, offset - len(content))))
                content[offset:offset + len(data)] = data

    @rule(data=st.data(), size=SIZES)
    def truncate(self, data, size):
        parts = self.pick(data)
        error = self.model.file(parts)
        expect(error, self.client.truncate, self.path(parts), size)
        if not error:
            content = self.model.nodes[parts].data
            del content[size:]
            content.extend(bytes(size - len(content)))

    @rule(data=st.data(), recursive=st.booleans())
    def remove(self, data, recursive):
        parts = self.pick(data)
        expect(self.model.remove(parts, recursive), self.client.remove, self.path(parts),
               recursive)

    @rule(data=st.data())
    def rename(self, data):
        src, dst = self.pick(data), self.pick(data)
        expect(self.model.rename(src, dst), self.client.rename, self.path(src), self.path(dst))

    @rule(data=st.data(), goal=st.integers(1, SERVERS + 1), recursive=st.booleans())
    def setgoal(self, data, goal, recursive):
        parts = self.pick(data)
        if goal > SERVERS:      # refused before the path is looked at: no server for a copy
            error, changed = ResourceExhausted, 0
        else:
            error, changed = self.model.set(parts, goal, "", recursive)
        assert expect(error, self.client.setgoal, self.path(parts), goal, recursive) == \
            (changed if not error else None)

    @rule(data=st.data(), known=st.booleans(), recursive=st.booleans())
    def setclass(self, data, known, recursive):
        parts = self.pick(data)
        name = CLASS if known else "no-such-class"
        error, changed = (self.model.set(parts, 2, CLASS, recursive) if known
                          else (NotFound, 0))
        assert expect(error, self.client.setclass, self.path(parts), name, recursive) == \
            (changed if not error else None)

    @invariant()
    def agrees_with_the_model(self):     # checked once the initial tree is made, not during
        for parts, node in self.model.nodes.items():
            path = self.path(parts)
            if node.is_dir:
                listed = sorted(entry.name for entry in self.client.listdir(path))
                assert listed == sorted(p[-1] for p in self.model.children(parts)), path
                continue
            found = self.client.stat(path)
            assert (found.type, found.size, found.goal, found.storage_class) == \
                ("file", len(node.data), node.goal, node.storage_class), path
            assert self.client.read_bytes(path) == bytes(node.data), f"{path}: contents differ"

    def teardown(self):
        if hasattr(self, "client"):
            self.client.remove(self.root, recursive=True)


def test_operations_agree_with_a_model_of_the_file_tree(cluster):
    NamespaceMachine.cluster = cluster
    NamespaceMachine.TestCase.settings = settings(settings(), stateful_step_count=30)
    NamespaceMachine.TestCase().runTest()
