"""Persistence: replay, snapshots, a torn last line, group commit, and a counter that never
goes back after a restart."""

import os
import threading

import pytest

from mooseng.master import changelog
from mooseng.master.changelog import Changelog, CorruptMetadata, apply, recover
from mooseng.master.core import MasterCore, Settings
from mooseng.master.namespace import Namespace

MiB = 1024 * 1024


def write_entries(data_dir, entries, first=1):
    log = Changelog(str(data_dir), first)
    for version, entry in enumerate(entries, first):
        log.append(version, entry)
    log.wait_durable(first + len(entries) - 1)
    log.close()


ENTRIES = [
    {"op": "init", "chunk_size": MiB},
    {"op": "reserve", "upto": 100},
    {"op": "mkdir", "path": "/d", "parents": False, "t": 1.0},
    {"op": "create", "path": "/d/f", "goal": 2, "exclusive": True, "t": 2.0},
    {"op": "commit", "inode": 3, "index": 0, "chunk_id": 1, "version": 2, "length": 10,
     "file_size": 10, "truncate": False, "t": 3.0},
]


def test_replay_rebuilds_the_same_state(tmp_path):
    write_entries(tmp_path, ENTRIES)
    state, replayed = recover(str(tmp_path), 64 * MiB)
    assert replayed == 5 and state.version == 5 and state.chunk_size == MiB
    assert state.lookup("/d/f").size == 10 and state.chunks[1].version == 2
    expected = Namespace(64 * MiB)
    for version, entry in enumerate(ENTRIES, 1):
        apply(expected, dict(entry, v=version))
    assert state.to_dict() == expected.to_dict()


def test_torn_last_line_is_ignored_and_cut(tmp_path):
    write_entries(tmp_path, ENTRIES)
    [(_, path)] = changelog.changelog_files(str(tmp_path))
    good_size = os.path.getsize(path)
    with open(path, "ab") as handle:
        handle.write(changelog.encode(6, {"op": "mkdir", "path": "/e", "parents": False})[:25])
    state, replayed = recover(str(tmp_path), MiB)
    assert state.version == 5 and os.path.getsize(path) == good_size


def test_crc_mismatch_in_the_middle_refuses_to_start(tmp_path):
    write_entries(tmp_path, ENTRIES)
    [(_, path)] = changelog.changelog_files(str(tmp_path))
    data = open(path, "rb").read().replace(b'"/d"', b'"/x"', 1)
    open(path, "wb").write(data)
    with pytest.raises(CorruptMetadata, match="line 3"):
        recover(str(tmp_path), MiB)


def test_a_line_without_its_fields_in_the_middle_refuses_to_start(tmp_path):
    write_entries(tmp_path, ENTRIES)
    [(_, path)] = changelog.changelog_files(str(tmp_path))
    lines = open(path, "rb").readlines()
    lines[2] = b'{"v": 3}\n'                         # well-formed JSON, not an entry
    open(path, "wb").writelines(lines)
    with pytest.raises(CorruptMetadata, match="line 3"):
        recover(str(tmp_path), MiB)


def test_entries_the_snapshot_holds_are_not_applied_again(tmp_path):
    """A crash between writing a snapshot and pruning the changelog leaves entries that the
    snapshot already holds; applying one twice would fail or change the state."""
    write_entries(tmp_path, ENTRIES)
    state, _ = recover(str(tmp_path), MiB)
    changelog.write_snapshot(str(tmp_path), changelog.state_json(state))
    again, replayed = recover(str(tmp_path), MiB)
    assert (replayed, again.to_dict()) == (0, state.to_dict())


def test_group_commit_many_threads(tmp_path):
    log = Changelog(str(tmp_path), 1)
    lock = threading.Lock()
    counter = [0]

    def worker():
        for _ in range(50):
            with lock:
                counter[0] += 1
                version = counter[0]
                log.append(version, {"op": "reserve", "upto": version})
            log.wait_durable(version)
            assert log.durable >= version

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    log.close()
    state, replayed = recover(str(tmp_path), MiB)
    assert replayed == 400 and state.reserved == 400


def core(tmp_path, **overrides):
    settings = dict(data_dir=str(tmp_path), chunk_size=MiB, snapshot_every=10000)
    settings.update(overrides)
    master = MasterCore(Settings(**settings))
    master.open()
    return master


def test_snapshot_every_n_entries_then_replay_of_the_rest(tmp_path):
    master = core(tmp_path, snapshot_every=10)
    for number in range(25):
        master.mkdir(f"/d{number}", False)
    master._snapshot_thread.join()
    master.close(snapshot=False)                     # like a crash: no final snapshot
    assert os.path.exists(tmp_path / changelog.SNAPSHOT)
    files = changelog.changelog_files(str(tmp_path))
    assert files[0][0] > 1                           # old changelogs were pruned
    again = core(tmp_path)
    assert again.state.version == 26
    assert 0 < 26 - again.snapshot_version < 10
    assert len(again.readdir("/", "", 0)[0]) == 25
    again.close()


def test_a_snapshot_waits_for_snapshot_every_changes(tmp_path):
    master = core(tmp_path, snapshot_every=10)
    last = master.snapshot_version
    number = 0
    while master.state.version - last < 9:
        master.mkdir(f"/d{number}", False)
        number += 1
    assert master.snapshot_version == last           # 9 changes: no snapshot yet
    master.mkdir(f"/d{number}", False)
    assert master.snapshot_version == master.state.version   # the 10th starts one
    master._snapshot_thread.join()
    master.close()


def test_clean_stop_writes_a_snapshot(tmp_path):
    master = core(tmp_path)
    master.mkdir("/a", False)
    master.close()
    again = core(tmp_path)
    assert again.snapshot_version == again.state.version == 2
    assert again.getattr("/a").type == "directory"
    again.close()


def test_counter_never_reused_after_restart(tmp_path):
    master = core(tmp_path)
    master.register("cs1", "127.0.0.1:1", "", {}, 10**9, 0, [])
    node = master.create("/f", False, 1)
    grant = master.allocate(node.inode, 0, [])
    master.close(snapshot=False)
    again = core(tmp_path)
    again.register("cs1", "127.0.0.1:1", "", {}, 10**9, 0, [])
    second = again.allocate(node.inode, 0, [])
    assert second.chunk_id > max(grant.chunk_id, grant.version)
    assert second.version > second.chunk_id
    again.close()


def test_snapshot_damage_is_reported(tmp_path):
    master = core(tmp_path)
    master.mkdir("/a", False)
    master.close()
    path = tmp_path / changelog.SNAPSHOT
    path.write_text(path.read_text().replace('"a"', '"b"'))
    with pytest.raises(CorruptMetadata, match="damaged"):
        recover(str(tmp_path), MiB)


def test_a_second_master_on_the_same_data_dir_is_refused(tmp_path):
    first = core(tmp_path)
    with pytest.raises(OSError, match="another master"):
        core(tmp_path)
    first.close()
    core(tmp_path).close()
