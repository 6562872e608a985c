"""Master persistence: the changelog (JSON lines, a CRC each, group-committed fsync), snapshots,
and recovery. `apply` is the one way the metadata changes, live and on replay.

Files in the data dir:
  metadata.snapshot            newest snapshot: {"crc": C, "state": {...}} (tmp + fsync + rename)
  changelog.<first>.log        entries from version <first> on, one JSON object per line:
                               {"v": N, "e": {...}, "crc": crc32 of the canonical [N, e]}
"""

from __future__ import annotations

import dataclasses
import glob
import json
import os
import re
import threading
import zlib

from mooseng.common.errors import InvalidArgument
from mooseng.common.classes import StorageClass
from mooseng.master.namespace import Namespace

SNAPSHOT = "metadata.snapshot"
_LOG_NAME = re.compile(r"changelog\.(\d+)\.log$")


class CorruptMetadata(RuntimeError):
    """The snapshot or a changelog entry before the last one is damaged; refuse to start."""


def apply(state: Namespace, entry: dict):
    """Apply one changelog entry; deterministic, raises (changing nothing) when invalid."""
    version = entry["v"]
    if version != state.version + 1:
        raise CorruptMetadata(f"changelog entry {version} does not follow {state.version}")
    op, t = entry["op"], entry.get("t", 0.0)
    if op == "init":
        state.chunk_size = entry["chunk_size"]
        result = None
    elif op == "reserve":
        result = state.reserve(entry["upto"])
    elif op == "mkdir":
        result = state.mkdir(entry["path"], entry["parents"], t)
    elif op == "create":
        result = state.create(entry["path"], entry["goal"], entry["exclusive"], t,
                              entry.get("storage_class", ""))
    elif op == "remove":
        result = state.remove(entry["path"], entry["recursive"], t)
    elif op == "rename":
        result = state.rename(entry["src"], entry["dst"], t)
    elif op == "setgoal":
        result = state.set_goal(entry["path"], entry["goal"], entry["recursive"], t)
    elif op == "setclass":
        result = state.set_class(entry["path"], entry["storage_class"], entry["recursive"], t)
    elif op in ("class_create", "class_modify"):
        result = state.define_class(StorageClass(entry["name"], tuple(entry["copies"]),
                                                 entry["archive_to"], entry["archive_after"]),
                                    replace=op == "class_modify")
    elif op == "class_delete":
        result = state.delete_class(entry["name"])
    elif op == "policy":
        result = state.set_policy(entry["name"])
    elif op == "commit":
        result = state.commit_chunk(entry["inode"], entry["index"], entry["chunk_id"],
                                    entry["version"], entry["length"], entry["file_size"],
                                    entry["truncate"], t)
    elif op == "truncate":
        result = state.truncate(entry["inode"], entry["size"], t)
    else:
        raise InvalidArgument(f"unknown changelog operation {op!r}")
    state.version = version
    return result


def _crc(version: int, entry: dict) -> int:
    return zlib.crc32(json.dumps([version, entry], sort_keys=True,
                                 separators=(",", ":")).encode())


def encode(version: int, entry: dict) -> bytes:
    return (json.dumps({"v": version, "e": entry, "crc": _crc(version, entry)},
                       sort_keys=True, separators=(",", ":")) + "\n").encode()


def decode(line: bytes) -> tuple[int, dict] | None:
    """(version, entry), or None when the line is torn or fails its CRC."""
    if not line.endswith(b"\n"):
        return None
    try:
        record = json.loads(line)
        version, entry = record["v"], record["e"]
        if record["crc"] != _crc(version, entry):
            return None
    except (ValueError, KeyError, TypeError):
        return None
    return version, entry


def _fsync_dir(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def changelog_files(data_dir: str) -> list[tuple[int, str]]:
    found = []
    for path in glob.glob(os.path.join(data_dir, "changelog.*.log")):
        match = _LOG_NAME.search(path)
        if match:
            found.append((int(match.group(1)), path))
    return sorted(found)


def write_snapshot(data_dir: str, state_json: str) -> None:
    """Write a snapshot atomically: tmp file, fsync, rename, fsync the directory."""
    body = json.dumps({"crc": zlib.crc32(state_json.encode()), "state": "@"})
    body = body.replace('"@"', state_json)
    tmp = os.path.join(data_dir, SNAPSHOT + ".tmp")
    with open(tmp, "w", encoding="utf-8") as handle:
        handle.write(body)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, os.path.join(data_dir, SNAPSHOT))
    _fsync_dir(data_dir)


def load_snapshot(data_dir: str) -> Namespace | None:
    path = os.path.join(data_dir, SNAPSHOT)
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except FileNotFoundError:
        return None
    try:
        record = json.loads(text)
        state = record["state"]
        canonical = json.dumps(state, sort_keys=True, separators=(",", ":"))
        if record["crc"] != zlib.crc32(canonical.encode()):
            raise ValueError("CRC mismatch")
        return Namespace.from_dict(state)
    except (ValueError, KeyError, TypeError) as error:
        raise CorruptMetadata(f"snapshot {path} is damaged: {error}") from None


def state_json(state: Namespace) -> str:
    return json.dumps(state.to_dict(), sort_keys=True, separators=(",", ":"))


def recover(data_dir: str, chunk_size: int) -> tuple[Namespace, int]:
    """Newest snapshot + replay of later entries. Returns (state, entries replayed).

    A torn or CRC-failing last line of the newest changelog is cut off (a crash mid-write
    never acknowledged it); damage anywhere else is an error."""
    state = load_snapshot(data_dir) or Namespace(chunk_size)
    replayed = 0
    files = changelog_files(data_dir)
    for position, (_, path) in enumerate(files):
        last_file = position == len(files) - 1
        with open(path, "rb") as handle:
            lines = handle.readlines()
        good_bytes = 0
        for number, line in enumerate(lines):
            decoded = decode(line)
            if decoded is None:
                if last_file and number == len(lines) - 1:
                    with open(path, "r+b") as handle:
                        handle.truncate(good_bytes)
                        os.fsync(handle.fileno())
                    break
                raise CorruptMetadata(f"{path} line {number + 1} is damaged")
            good_bytes += len(line)
            version, entry = decoded
            if version <= state.version:
                continue
            apply(state, dict(entry, v=version))
            replayed += 1
    return state, replayed


class Changelog:
    """Append-only log with group commit: appenders that arrive while an fsync runs share the
    next one. `append` writes (no fsync); `wait_durable(v)` returns once v is on disk."""

    def __init__(self, data_dir: str, first_version: int):
        self.data_dir = data_dir
        self._cond = threading.Condition()
        self._written = first_version - 1
        self._durable = first_version - 1
        self._syncing = False
        self._fd = self._open(first_version)
        self.failed: str | None = None

    def _open(self, first_version: int) -> int:
        path = os.path.join(self.data_dir, f"changelog.{first_version}.log")
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        _fsync_dir(self.data_dir)
        return fd

    @property
    def durable(self) -> int:
        return self._durable

    def append(self, version: int, entry: dict) -> None:
        """Write entry `version` (callers serialize appends and pass consecutive versions)."""
        data = encode(version, entry)
        with self._cond:
            if self.failed:
                raise OSError(self.failed)
            os.write(self._fd, data)
            self._written = version

    def wait_durable(self, version: int) -> None:
        with self._cond:
            while self._durable < version:
                if self.failed:
                    raise OSError(self.failed)
                if self._syncing:
                    self._cond.wait()
                    continue
                self._syncing = True
                target, fd = self._written, self._fd
                self._cond.release()
                try:
                    os.fsync(fd)
                except OSError as error:
                    self.failed = f"changelog fsync failed: {error}"
                finally:
                    self._cond.acquire()
                    self._syncing = False
                    if not self.failed:
                        self._durable = max(self._durable, target)
                    self._cond.notify_all()

    def rotate(self, next_version: int) -> None:
        """Make everything written durable, then continue in changelog.<next_version>.log."""
        with self._cond:
            while self._syncing:
                self._cond.wait()
            os.fsync(self._fd)
            self._durable = self._written
            os.close(self._fd)
            self._fd = self._open(next_version)
            self._cond.notify_all()

    def prune(self, snapshot_version: int) -> None:
        """Delete changelog files whose every entry is in the snapshot."""
        files = changelog_files(self.data_dir)
        for (first, path), following in zip(files, files[1:]):
            if following[0] <= snapshot_version + 1:
                os.unlink(path)

    def close(self) -> None:
        with self._cond:
            while self._syncing:
                self._cond.wait()
            if self._fd >= 0:
                os.fsync(self._fd)
                self._durable = self._written
                os.close(self._fd)
                self._fd = -1


@dataclasses.dataclass(frozen=True)
class Restored:
    version: int                   # the metadata version the copy ends at
    entries: int                   # changelog entries copied after the snapshot
    damaged: str = ""              # where the copy stopped early, and why ("" = it did not)


def restore(source: str, data_dir: str) -> Restored:
    """Copy a metalogger's (or a master's) snapshot and changelog from `source` into the empty
    `data_dir`, verifying every entry: the copy ends at the last good one before a torn or
    CRC-failing entry, and says which. Nothing in `data_dir` is ever overwritten."""
    present = [name for name in os.listdir(data_dir)] if os.path.isdir(data_dir) else []
    if present:
        raise InvalidArgument(f"refusing to restore into {data_dir}: it is not empty (it "
                              f"holds {', '.join(sorted(present)[:5])}); give an empty "
                              "directory")
    if not os.path.isdir(source):
        raise InvalidArgument(f"nothing to restore from: {source} is not a directory")
    state = load_snapshot(source)
    snapshot_version = state.version if state else 0
    entries: list[tuple[int, dict]] = []
    damaged = ""
    expected = snapshot_version + 1
    for _, path in changelog_files(source):
        with open(path, "rb") as handle:
            for number, line in enumerate(handle, 1):
                decoded = decode(line)
                if decoded is None:
                    damaged = (f"{path} line {number} is torn or fails its CRC; the entries "
                               "from there on are not restored")
                    break
                version, entry = decoded
                if version < expected:
                    continue
                if version != expected:
                    damaged = (f"{path} line {number} holds version {version} where "
                               f"{expected} was due; the entries from there on are not "
                               "restored")
                    break
                entries.append((version, entry))
                expected += 1
        if damaged:
            break
    if not state and not entries:
        raise InvalidArgument(f"nothing to restore in {source}: no snapshot and no changelog")
    os.makedirs(data_dir, exist_ok=True)
    if state:
        write_snapshot(data_dir, state_json(state))
    log = Changelog(data_dir, snapshot_version + 1)
    for version, entry in entries:
        log.append(version, entry)
    log.close()
    return Restored(expected - 1, len(entries), damaged)
