"""Namespace tree: operations, validation and the error each misuse gets."""

import pytest

from mooseng.common.errors import (AlreadyExists, FailedPrecondition, InvalidArgument,
                                   NotFound)
from mooseng.master.namespace import Namespace, split_path

MiB = 1024 * 1024


@pytest.fixture
def ns():
    state = Namespace(chunk_size=MiB)
    state.reserve(1000)
    return state


def test_mkdir_create_lookup_and_counts(ns):
    ns.mkdir("/a", False, 1.0)
    ns.mkdir("/a/b/c", True, 2.0)
    f = ns.create("/a/b/c/file", 3, False, 3.0)
    assert ns.lookup("/a/b/c/file").inode == f.inode
    assert ns.path_of(f.inode) == "/a/b/c/file"
    assert (ns.files, ns.directories) == (1, 4)
    assert ns.lookup("//a///b/").name == "b"


def test_mkdir_errors(ns):
    with pytest.raises(NotFound, match="'x'|/x"):
        ns.mkdir("/x/y", False, 1.0)
    ns.mkdir("/x", False, 1.0)
    with pytest.raises(AlreadyExists):
        ns.mkdir("/x", False, 1.0)
    assert ns.mkdir("/x", True, 1.0).name == "x"
    ns.create("/x/f", 1, False, 1.0)
    with pytest.raises(FailedPrecondition, match="not a directory"):
        ns.mkdir("/x/f/g", True, 1.0)
    with pytest.raises(AlreadyExists):
        ns.mkdir("/x/f", True, 1.0)


def test_mkdir_of_the_root_is_like_any_existing_directory(ns):
    assert ns.mkdir("/", True, 1.0).inode == ns.lookup("/").inode
    with pytest.raises(AlreadyExists, match="root"):
        ns.mkdir("/", False, 1.0)


def test_missing_component_is_named(ns):
    ns.mkdir("/a", False, 1.0)
    with pytest.raises(NotFound) as error:
        ns.lookup("/a/missing/file")
    assert "'missing' does not exist in /a" in str(error.value)


def test_create_exclusive_and_is_directory(ns):
    first = ns.create("/f", 2, True, 1.0)
    with pytest.raises(AlreadyExists):
        ns.create("/f", 2, True, 1.0)
    assert ns.create("/f", 2, False, 1.0).inode == first.inode
    ns.mkdir("/d", False, 1.0)
    with pytest.raises(FailedPrecondition, match="is a directory"):
        ns.create("/d", 2, False, 1.0)
    with pytest.raises(NotFound):
        ns.create("/nope/f", 2, False, 1.0)


def test_name_and_path_limits():
    name = "n" * 256
    with pytest.raises(InvalidArgument, match="256 bytes"):
        split_path("/" + name)
    assert split_path("/" + "n" * 255) == ["n" * 255]
    with pytest.raises(InvalidArgument, match="2 bytes|limited to 255"):
        split_path("/" + "é" * 128)          # 256 bytes in UTF-8
    with pytest.raises(InvalidArgument, match="1024"):
        split_path("/" + "/".join(["d" * 200] * 6))
    with pytest.raises(InvalidArgument, match="absolute"):
        split_path("relative/path")
    with pytest.raises(InvalidArgument):
        split_path("/a/../b")


def test_remove_frees_chunks_and_refuses_non_empty(ns):
    ns.mkdir("/d", False, 1.0)
    f = ns.create("/d/f", 2, False, 1.0)
    ns.commit_chunk(f.inode, 0, 10, 11, 100, 100, False, 2.0)
    ns.commit_chunk(f.inode, 1, 12, 13, 50, MiB + 50, False, 2.0)
    with pytest.raises(FailedPrecondition, match="not empty"):
        ns.remove("/d", False, 3.0)
    assert sorted(ns.remove("/d", True, 3.0)) == [10, 12]
    assert ns.chunks == {} and (ns.files, ns.directories) == (0, 1)
    with pytest.raises(InvalidArgument):
        ns.remove("/", True, 3.0)
    with pytest.raises(NotFound):
        ns.remove("/d", True, 3.0)


def test_rename_replaces_file_and_rejects_moves_into_itself(ns):
    a = ns.create("/a", 1, False, 1.0)
    b = ns.create("/b", 1, False, 1.0)
    ns.commit_chunk(b.inode, 0, 20, 21, 10, 10, False, 1.0)
    moved, freed = ns.rename("/a", "/b", 2.0)
    assert moved.inode == a.inode and freed == [20]
    assert ns.lookup("/b").inode == a.inode and b.inode not in ns.inodes
    with pytest.raises(NotFound):
        ns.lookup("/a")
    ns.mkdir("/d/e", True, 1.0)
    with pytest.raises(InvalidArgument, match="into itself"):
        ns.rename("/d", "/d/e/x", 2.0)
    with pytest.raises(FailedPrecondition, match="is a directory"):
        ns.rename("/b", "/d", 2.0)
    with pytest.raises(FailedPrecondition, match="not a directory"):
        ns.rename("/d", "/b", 2.0)
    ns.rename("/d/e", "/e2", 2.0)
    assert ns.path_of(ns.lookup("/e2").inode) == "/e2"
    assert ns.rename("/b", "/b", 3.0)[0].inode == a.inode


def test_readdir_sorted_and_paginated(ns):
    for name in ["b", "a", "é", "c", "B"]:
        ns.create("/" + name, 1, False, 1.0)
    page, more = ns.list_dir("/", "", 2)
    assert [n.name for n in page] == ["B", "a"] and more
    page, more = ns.list_dir("/", "a", 10)
    assert [n.name for n in page] == ["b", "c", "é"] and not more
    with pytest.raises(FailedPrecondition):
        ns.list_dir("/a", "", 10)


def test_set_goal_recursive_and_inheritance(ns):
    ns.mkdir("/d/e", True, 1.0)
    ns.create("/d/e/f", 2, False, 1.0)
    assert ns.inherited("/d/e/g", 2) == (2, "")
    assert ns.set_goal("/d", 3, False, 1.0) == 1
    assert ns.inherited("/d/e/g", 2) == (3, "")
    assert ns.set_goal("/d", 1, True, 1.0) == 3
    assert ns.lookup("/d/e/f").goal == 1
    with pytest.raises(InvalidArgument):
        ns.set_goal("/d", 0, False, 1.0)


def test_commit_versions_sizes_and_truncate(ns):
    f = ns.create("/f", 2, False, 1.0)
    ns.commit_chunk(f.inode, 0, 1, 2, MiB, MiB, False, 1.0)
    ns.commit_chunk(f.inode, 1, 3, 4, 10, MiB + 10, False, 1.0)
    with pytest.raises(FailedPrecondition, match="stale"):
        ns.commit_chunk(f.inode, 0, 1, 2, MiB, MiB, False, 1.0)
    with pytest.raises(FailedPrecondition, match="concurrent"):
        ns.commit_chunk(f.inode, 0, 5, 6, 10, 10, False, 1.0)
    with pytest.raises(InvalidArgument, match="never handed out"):
        ns.commit_chunk(f.inode, 0, 1, 5000, 10, 10, False, 1.0)
    ns.commit_chunk(f.inode, 0, 1, 7, 100, 100, False, 1.0)     # smaller write keeps the size
    assert ns.lookup("/f").size == MiB + 10
    node, freed = ns.truncate(f.inode, 50, 2.0)
    assert freed == [3] and node.size == 50 and ns.chunks[1].length == 50
    node, freed = ns.truncate(f.inode, 3 * MiB, 2.0)            # growing leaves a hole
    assert freed == [] and node.size == 3 * MiB


def test_failed_operation_changes_nothing(ns):
    ns.mkdir("/d", False, 1.0)
    ns.create("/d/f", 1, False, 1.0)
    before = ns.to_dict()
    for bad in (lambda: ns.rename("/d", "/d/x", 9.0), lambda: ns.remove("/d", False, 9.0),
                lambda: ns.mkdir("/d/f/x", True, 9.0), lambda: ns.create("/d", 1, False, 9.0)):
        with pytest.raises(Exception):
            bad()
    assert ns.to_dict() == before


def test_snapshot_form_round_trips(ns):
    ns.mkdir("/a/b", True, 1.0)
    f = ns.create("/a/b/f", 3, False, 1.0)
    ns.commit_chunk(f.inode, 2, 7, 8, 99, 3 * MiB, False, 2.0)
    copy = Namespace.from_dict(ns.to_dict())
    assert copy.to_dict() == ns.to_dict()
    assert copy.lookup("/a/b/f").chunks == {2: 7}
    assert (copy.files, copy.directories) == (1, 3)
