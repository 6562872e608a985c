"""Chunk copies on disk, one `.chk` data file and one `.crc` file per chunk id and version.

Layout (the test drivers rely on it): `<data_dir>/chunks/<id % 256 as 2 hex>/` holds
`chunk_<id as 16 hex>_<version as 8 hex>.chk` with exactly the chunk's bytes and the same name
with `.crc`: one big-endian CRC32 per 64 KiB block. A new version is built in temp files; the
`.crc` is renamed into place before the `.chk`, so a crash leaves whole copies, temp files and
stray `.crc` files (removed at start-up).

A copy counts (is listed, reported, acknowledged) once its data, CRCs and name are on disk. A
client's new version is named first and then synced, so that one journal commit makes all three
durable; the master commits that version only once every server of the chain synced it, so a
copy cut short by a power loss before then is of a version the master deletes as stale. A
replicated copy is of a version already committed: it is synced before it gets its name.
"""

import array
import dataclasses
import errno
import logging
import mmap
import os
import re
import shutil
import sys
import threading
import uuid
import zlib
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Iterator

from mooseng import BLOCK_SIZE, CHUNK_SIZE
from mooseng.common.errors import DataLoss, InvalidArgument, NotFound, ResourceExhausted
from mooseng.common.log import kv
from mooseng.common.rpc import FRAME

log = logging.getLogger("mooseng.chunkserver.store")

ALIGN = 4096                 # O_DIRECT alignment of offsets, lengths and buffers
DIRECT_MIN = 256 * 1024      # smaller writes go through the page cache

_NAME = re.compile(r"chunk_([0-9a-f]{16})_([0-9a-f]{8,16})\.(chk|crc)")


@dataclasses.dataclass(frozen=True)
class ChunkCopy:
    chunk_id: int
    version: int
    length: int


def chunk_name(chunk_id: int, version: int) -> str:
    return f"chunk_{chunk_id:016x}_{version:08x}"


def describe(chunk_id: int, version: int) -> str:
    """How a copy is named in messages: the file name stem, easy to find on disk."""
    return chunk_name(chunk_id, version)


def _blocks(length: int) -> int:
    return (length + BLOCK_SIZE - 1) // BLOCK_SIZE


def _encode_crcs(crcs: array.array) -> bytes:
    data = array.array("I", crcs)
    if sys.byteorder == "little":
        data.byteswap()
    return data.tobytes()


def _decode_crcs(raw: bytes) -> array.array:
    crcs = array.array("I")
    crcs.frombytes(raw)
    if sys.byteorder == "little":
        crcs.byteswap()
    return crcs


def _write_all(fd: int, data, offset: int) -> None:
    view = memoryview(data)
    while view:
        written = os.pwrite(fd, view, offset)
        view = view[written:]
        offset += written


def _copy(src: int, dst: int, length: int) -> None:
    """Copy in the kernel when the file system allows it (reflink or splice), else by hand."""
    done = 0
    try:
        while done < length:
            copied = os.copy_file_range(src, dst, length - done, done, done)
            if copied == 0:
                break
            done += copied
    except OSError as error:
        if error.errno not in (errno.EXDEV, errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP):
            raise
    while done < length:
        data = os.pread(src, min(FRAME, length - done), done)
        if not data:
            break
        _write_all(dst, data, done)
        done += len(data)
    if done != length:
        raise DataLoss(f"base copy is {done} bytes long, expected {length}")


_SYNCER = ThreadPoolExecutor(max_workers=4, thread_name_prefix="fsync")


def _fsync_together(first: int, *others: int) -> None:
    """fsync files at the same time: the file system can make them durable with one journal
    commit instead of one each (a commit is most of an fsync's cost)."""
    pending = [_SYNCER.submit(os.fsync, fd) for fd in others]
    try:
        os.fsync(first)
    finally:
        for future in pending:
            future.result()


def _open_dir(path: str) -> int:
    return os.open(path, os.O_RDONLY | os.O_DIRECTORY)


def _fsync_dir(path: str) -> None:
    fd = _open_dir(path)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _no_space(error: OSError, where: str) -> Exception:
    if error.errno in (errno.ENOSPC, errno.EDQUOT):
        return ResourceExhausted(f"no space left in {where}")
    return error


class ChunkStore:
    """Thread-safe store of chunk copies under one data directory.

    Listeners get (event, ChunkCopy) while the store's lock is held, so `full_report` can take
    a consistent snapshot; they must only record and return. Events: "added" (a copy written by
    a client), "replicated" (a copy of a committed version pulled from a peer), "removed" (the
    master's DELETE) and "damaged" (dropped after a failed CRC check).
    """

    def __init__(self, data_dir: str, capacity: int = 0):
        self.data_dir = os.path.abspath(data_dir)
        self.chunks_dir = os.path.join(self.data_dir, "chunks")
        self.capacity = capacity
        self.chunk_size = CHUNK_SIZE
        self.server_id = ""
        self._lock = threading.Lock()
        self._index: dict[tuple[int, int], int] = {}
        self._used = 0
        self._listeners: list[Callable[[str, ChunkCopy], None]] = []
        self.opened = False

    # ------------------------------------------------------------ start-up

    def open(self) -> None:
        """Create the layout, load or create server_id, remove leftovers, index the copies."""
        os.makedirs(self.chunks_dir, exist_ok=True)
        self.server_id = self._load_server_id()
        removed = 0
        for sub in sorted(os.listdir(self.chunks_dir)):
            directory = os.path.join(self.chunks_dir, sub)
            if not os.path.isdir(directory):
                continue
            names = set(os.listdir(directory))
            for name in sorted(names):
                path = os.path.join(directory, name)
                match = _NAME.fullmatch(name)
                if ".tmp" in name or (match and match.group(3) == "crc"
                                      and name[:-4] + ".chk" not in names):
                    os.unlink(path)
                    removed += 1
                    continue
                if not match:
                    log.warning("unknown file in chunk directory, left alone", extra=kv(path=path))
                    continue
                if match.group(3) != "chk":
                    continue
                chunk_id, version = int(match.group(1), 16), int(match.group(2), 16)
                length = os.stat(path).st_size
                crc_path = path[:-4] + ".crc"
                if (name[:-4] + ".crc" not in names
                        or os.stat(crc_path).st_size != 4 * _blocks(length)):
                    log.warning("chunk copy without a matching .crc file, removed",
                                extra=kv(path=path))
                    for leftover in (path, crc_path):
                        if os.path.exists(leftover):
                            os.unlink(leftover)
                    removed += 1
                    continue
                self._index[(chunk_id, version)] = length
                self._used += length + 4 * _blocks(length)
        self.opened = True
        log.info("chunk store opened", extra=kv(
            data_dir=self.data_dir, server_id=self.server_id, chunks=len(self._index),
            leftovers_removed=removed))

    def _load_server_id(self) -> str:
        path = os.path.join(self.data_dir, "server_id")
        try:
            with open(path) as handle:
                server_id = handle.read().strip()
            if server_id:
                return server_id
        except FileNotFoundError:
            pass
        server_id = uuid.uuid4().hex[:12]
        tmp = path + ".tmp"
        with open(tmp, "w") as handle:
            handle.write(server_id + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.rename(tmp, path)
        _fsync_dir(self.data_dir)
        return server_id

    # ------------------------------------------------------------ bookkeeping

    def subscribe(self, listener: Callable[[str, ChunkCopy], None]) -> None:
        self._listeners.append(listener)

    def _notify(self, event: str, copy: ChunkCopy) -> None:
        for listener in self._listeners:
            listener(event, copy)

    def paths(self, chunk_id: int, version: int) -> tuple[str, str]:
        base = os.path.join(self.chunks_dir, f"{chunk_id % 256:02x}", chunk_name(chunk_id, version))
        return base + ".chk", base + ".crc"

    def copies(self) -> list[ChunkCopy]:
        with self._lock:
            return [ChunkCopy(c, v, n) for (c, v), n in sorted(self._index.items())]

    def full_report(self, on_snapshot: Callable[[], None]) -> list[ChunkCopy]:
        """Every copy, with `on_snapshot()` run atomically with the listing (to reset deltas)."""
        with self._lock:
            on_snapshot()
            return [ChunkCopy(c, v, n) for (c, v), n in sorted(self._index.items())]

    def length(self, chunk_id: int, version: int) -> int:
        with self._lock:
            length = self._index.get((chunk_id, version))
        if length is None:
            raise NotFound(f"chunk copy {describe(chunk_id, version)} is not on this server")
        return length

    def has(self, chunk_id: int, version: int) -> bool:
        with self._lock:
            return (chunk_id, version) in self._index

    def count(self) -> int:
        with self._lock:
            return len(self._index)

    def used_bytes(self) -> int:
        with self._lock:
            return self._used

    def capacity_bytes(self) -> int:
        """What is stored plus the free space of the disk, never more than the configured
        capacity: a disk that other files filled offers no more than it has."""
        room = self.used_bytes() + shutil.disk_usage(self.data_dir).free
        return min(self.capacity, room) if self.capacity else room

    # ------------------------------------------------------------ writing

    def begin(self, chunk_id: int, version: int, base_version: int = 0,
              replica: bool = False) -> "ChunkWriter":
        """Start building `version`, from a copy of `base_version` (kept) or from nothing;
        `replica`: a copy of a committed version pulled from a peer, not a client's write."""
        if self.capacity and self.used_bytes() >= self.capacity:
            raise ResourceExhausted(f"chunk server storage is full: {self.used_bytes()} of "
                                    f"{self.capacity} bytes used")
        try:
            return ChunkWriter(self, chunk_id, version, base_version,
                               "replicated" if replica else "added")
        except OSError as error:
            raise _no_space(error, self.data_dir) from error

    def _name(self, chunk_id: int, version: int, chk_tmp: str, crc_tmp: str) -> str:
        """Give a built copy its final names (.crc first); returns their directory."""
        chk, crc = self.paths(chunk_id, version)
        os.rename(crc_tmp, crc)
        os.rename(chk_tmp, chk)
        return os.path.dirname(chk)

    def _add(self, chunk_id: int, version: int, length: int, event: str) -> ChunkCopy:
        """Count a durable copy and tell the listeners."""
        copy = ChunkCopy(chunk_id, version, length)
        with self._lock:
            old = self._index.get((chunk_id, version))
            if old is not None:
                self._used -= old + 4 * _blocks(old)
            self._index[(chunk_id, version)] = length
            self._used += length + 4 * _blocks(length)
            self._notify(event, copy)
        return copy

    # ------------------------------------------------------------ reading and checking

    def _open(self, chunk_id: int, version: int) -> tuple[int, int, array.array]:
        """(fd of the .chk, recorded length, block CRCs); NotFound when not stored."""
        length = self.length(chunk_id, version)
        chk, crc = self.paths(chunk_id, version)
        try:
            fd = os.open(chk, os.O_RDONLY)
        except FileNotFoundError:
            raise NotFound(f"chunk copy {describe(chunk_id, version)} is not on this server") \
                from None
        try:
            with open(crc, "rb") as handle:
                raw = handle.read()
        except FileNotFoundError:
            os.close(fd)
            raise NotFound(f"chunk copy {describe(chunk_id, version)} is not on this server") \
                from None
        if len(raw) != 4 * _blocks(length):
            os.close(fd)
            raise DataLoss(f"chunk copy {describe(chunk_id, version)}: CRC file has {len(raw)} "
                           f"bytes, expected {4 * _blocks(length)}")
        return fd, length, _decode_crcs(raw)

    def read(self, chunk_id: int, version: int, offset: int = 0, length: int = 0,
             frame: int = FRAME) -> Iterator[bytes]:
        """Yield the stored bytes [offset, offset+length) (0: to the end) in frames of at most
        `frame` bytes, each block checked against its CRC before any of it is returned.

        Bytes past the stored length are not returned (the client knows they are zeros).
        Raises DataLoss naming the chunk and block on a mismatch."""
        fd, stored, crcs = self._open(chunk_id, version)
        try:
            end = stored if length == 0 else min(stored, offset + length)
            pos = offset - offset % BLOCK_SIZE
            while pos < end:
                size = min(frame, stored - pos, _blocks(end - pos) * BLOCK_SIZE)
                data = os.pread(fd, size, pos)
                self._check(chunk_id, version, data, pos, size, crcs)
                first, last = max(offset, pos) - pos, min(end, pos + size) - pos
                yield data if first == 0 and last == size else data[first:last]
                pos += size
        finally:
            os.close(fd)

    @staticmethod
    def _check(chunk_id, version, data: bytes, pos: int, size: int, crcs) -> None:
        view = memoryview(data)
        if len(data) != size:
            block = (pos + len(data)) // BLOCK_SIZE
            raise DataLoss(f"chunk copy {describe(chunk_id, version)}: block {block} is missing "
                           f"(data file shorter than its recorded length)")
        for start in range(0, size, BLOCK_SIZE):
            block = (pos + start) // BLOCK_SIZE
            if zlib.crc32(view[start:start + BLOCK_SIZE]) != crcs[block]:
                raise DataLoss(f"chunk copy {describe(chunk_id, version)}: block {block} "
                               f"(bytes {block * BLOCK_SIZE}-{block * BLOCK_SIZE + BLOCK_SIZE - 1})"
                               f" fails its CRC check")

    def verify(self, chunk_id: int, version: int) -> list[int]:
        """Indexes of the blocks whose data does not match its CRC (empty: the copy is good)."""
        try:
            fd, stored, crcs = self._open(chunk_id, version)
        except DataLoss:
            return list(range(_blocks(self.length(chunk_id, version))))
        bad = []
        try:
            for pos in range(0, stored, FRAME):
                data = os.pread(fd, min(FRAME, stored - pos), pos)
                view = memoryview(data)
                for start in range(0, min(FRAME, stored - pos), BLOCK_SIZE):
                    block = (pos + start) // BLOCK_SIZE
                    piece = view[start:start + BLOCK_SIZE]
                    expected = min(BLOCK_SIZE, stored - pos - start)
                    if len(piece) != expected or zlib.crc32(piece) != crcs[block]:
                        bad.append(block)
        finally:
            os.close(fd)
        return bad

    def verify_or_drop(self, chunk_id: int, version: int) -> list[int]:
        """verify(); a bad copy is dropped at once and reported as damaged."""
        bad = self.verify(chunk_id, version)
        if bad:
            self.drop_damaged(chunk_id, version, f"blocks {bad[:10]} fail their CRC check")
        return bad

    # ------------------------------------------------------------ removing

    def delete(self, chunk_id: int, version: int) -> bool:
        """Drop a copy (the master's DELETE). False when it was not stored."""
        return self._drop(chunk_id, version, "removed")

    def drop_damaged(self, chunk_id: int, version: int, reason: str) -> bool:
        """Drop a copy that failed its CRC check and tell the listeners it was damaged."""
        dropped = self._drop(chunk_id, version, "damaged")
        if dropped:
            log.warning("damaged chunk copy dropped",
                        extra=kv(chunk=describe(chunk_id, version), reason=reason))
        return dropped

    def _drop(self, chunk_id: int, version: int, event: str) -> bool:
        chk, crc = self.paths(chunk_id, version)
        with self._lock:
            length = self._index.pop((chunk_id, version), None)
            if length is None:
                return False
            self._used -= length + 4 * _blocks(length)
            for path in (chk, crc):
                try:
                    os.unlink(path)
                except FileNotFoundError:
                    pass
            self._notify(event, ChunkCopy(chunk_id, version, length))
        return True


class ChunkWriter:
    """Builds one new version in temp files; nothing is visible before commit().

    Aligned runs of large writes go to disk with O_DIRECT (on this machine kind filling the page
    cache costs more than the disk write, and the fsync at commit is then cheap); small writes,
    unaligned heads and tails, and file systems without O_DIRECT use ordinary writes.

    CRCs of blocks a write covers completely are computed from the incoming data; blocks only
    partly written (or grown by a hole) are re-read at commit. A base block that is about to be
    partly overwritten is checked against its old CRC first, so corruption is never hidden
    under a fresh CRC.
    """

    def __init__(self, store: ChunkStore, chunk_id: int, version: int, base_version: int,
                 event: str):
        self.store = store
        self.event = event      # what the listeners are told at commit
        self.chunk_id = chunk_id
        self.version = version
        self.base_version = base_version
        chk, _ = store.paths(chunk_id, version)
        os.makedirs(os.path.dirname(chk), exist_ok=True)
        suffix = f".tmp{uuid.uuid4().hex[:8]}"
        self._chk_file, self._crc_file = chk + suffix, chk[:-4] + ".crc" + suffix
        self._dirty: set[int] = set()
        self._checked: set[int] = set()
        self._fd = os.open(self._chk_file, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o644)
        self._direct = -1 if hasattr(os, "O_DIRECT") else -2   # -1: not opened yet; -2: none
        self._buffer: mmap.mmap | None = None
        try:
            if base_version:
                src, self.length, self._crcs = store._open(chunk_id, base_version)
                try:
                    _copy(src, self._fd, self.length)
                finally:
                    os.close(src)
            else:
                self.length, self._crcs = 0, array.array("I")
        except BaseException:
            self.abort()
            raise
        self._base_blocks = len(self._crcs)

    def _touch(self, block: int) -> None:
        """Mark a block for a CRC re-read at commit, checking its base data first."""
        if block < self._base_blocks and block not in self._checked:
            start = block * BLOCK_SIZE
            size = min(BLOCK_SIZE, self.length - start)
            data = os.pread(self._fd, size, start)
            if len(data) != size or zlib.crc32(data) != self._crcs[block]:
                raise DataLoss(f"chunk copy {describe(self.chunk_id, self.base_version)}: block "
                               f"{block} fails its CRC check")
        self._checked.add(block)
        self._dirty.add(block)

    def _grow(self, length: int) -> None:
        if length > self.length:
            for block in range(self.length // BLOCK_SIZE, _blocks(length)):
                if block * BLOCK_SIZE < self.length or block < self._base_blocks:
                    self._touch(block)
                else:
                    self._dirty.add(block)
            self._crcs.extend([0] * (_blocks(length) - len(self._crcs)))

    def write(self, offset: int, data) -> None:
        """Place `data` at `offset` (a gap after the current end reads as zeros)."""
        size = len(data)
        if size == 0:
            return
        end = offset + size
        if end > self.store.chunk_size:
            raise InvalidArgument(f"write of {size} bytes at offset {offset} goes past the chunk "
                                  f"size {self.store.chunk_size}")
        new_length = max(self.length, end)
        first, last = offset // BLOCK_SIZE, (end - 1) // BLOCK_SIZE
        full = []
        for block in range(first, last + 1):
            start = block * BLOCK_SIZE
            if offset <= start and end >= min(start + BLOCK_SIZE, new_length):
                full.append(block)
            elif block * BLOCK_SIZE < self.length:
                self._touch(block)
        try:
            if offset > self.length:
                self._grow(offset)
            self._put(offset, data)
        except OSError as error:
            raise _no_space(error, self.store.data_dir) from error
        if new_length > self.length:
            self._crcs.extend([0] * (_blocks(new_length) - len(self._crcs)))
            for block in range(first, last + 1):
                if block not in full:
                    self._dirty.add(block)
            self.length = new_length
        view = memoryview(data)
        for block in full:
            start = block * BLOCK_SIZE - offset
            self._crcs[block] = zlib.crc32(view[start:start + BLOCK_SIZE])
            self._dirty.discard(block)
            self._checked.add(block)

    def _put(self, offset: int, data) -> None:
        view = memoryview(data).cast("B")
        if self._direct != -2 and len(view) >= DIRECT_MIN:
            head = min(len(view), -offset % ALIGN)
            middle = (len(view) - head) // ALIGN * ALIGN
            if middle and self._direct == -1:
                try:
                    self._direct = os.open(self._chk_file, os.O_WRONLY | os.O_DIRECT)
                except OSError:
                    self._direct, middle = -2, 0
            if middle:
                _write_all(self._fd, view[:head], offset)
                self._put_direct(view[head:head + middle], offset + head)
                view, offset = view[head + middle:], offset + head + middle
        _write_all(self._fd, view, offset)

    def _put_direct(self, view: memoryview, offset: int) -> None:
        if self._buffer is None:
            self._buffer = mmap.mmap(-1, FRAME)
        with memoryview(self._buffer) as buffer:
            for start in range(0, len(view), FRAME):
                size = min(FRAME, len(view) - start)
                buffer[:size] = view[start:start + size]
                try:
                    _write_all(self._direct, buffer[:size], offset + start)
                except OSError as error:
                    if error.errno != errno.EINVAL:
                        raise
                    os.close(self._direct)
                    self._direct = -2
                    _write_all(self._fd, view[start:], offset + start)
                    return

    def truncate(self, length: int) -> None:
        """Cut the chunk to `length` bytes, or extend it with zeros."""
        if length > self.store.chunk_size:
            raise InvalidArgument(f"truncate to {length} bytes is past the chunk size "
                                  f"{self.store.chunk_size}")
        if length < self.length:
            if length % BLOCK_SIZE:
                self._touch(length // BLOCK_SIZE)
            os.ftruncate(self._fd, length)
            blocks = _blocks(length)
            del self._crcs[blocks:]
            self._dirty = {b for b in self._dirty if b < blocks}
            self._base_blocks = min(self._base_blocks, blocks)
            self.length = length
        elif length > self.length:
            self._grow(length)
            os.ftruncate(self._fd, length)
            self.length = length

    def commit(self) -> ChunkCopy:
        """Finish the CRCs, make data and CRCs durable (both files at once), then make the copy
        visible: rename both and fsync the directory once."""
        try:
            for block in sorted(self._dirty):
                start = block * BLOCK_SIZE
                data = os.pread(self._fd, min(BLOCK_SIZE, self.length - start), start)
                self._crcs[block] = zlib.crc32(data)
            fd = os.open(self._crc_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            try:
                _write_all(fd, _encode_crcs(self._crcs), 0)
                self._sync(fd)
            finally:
                os.close(fd)
            self._close()
            return self.store._add(self.chunk_id, self.version, self.length, self.event)
        except OSError as error:
            self.abort()
            raise _no_space(error, self.store.data_dir) from error

    def _sync(self, crc_fd: int) -> None:
        """Make data, CRCs and names durable (see the module's docstring for the order)."""
        if self.event == "replicated":
            _fsync_together(self._fd, crc_fd)
            _fsync_dir(self._name())
            return
        directory = _open_dir(self._name())
        try:
            _fsync_together(self._fd, crc_fd, directory)
        finally:
            os.close(directory)

    def _name(self) -> str:
        """Give the copy its names; from then on abort() removes those."""
        directory = self.store._name(self.chunk_id, self.version, self._chk_file, self._crc_file)
        self._chk_file, self._crc_file = self.store.paths(self.chunk_id, self.version)
        return directory

    def _close(self) -> None:
        for fd in (self._fd, self._direct):
            if fd >= 0:
                os.close(fd)
        self._fd, self._direct = -1, -2
        if self._buffer is not None:
            self._buffer.close()
            self._buffer = None

    def abort(self) -> None:
        """Forget the new version (its files removed; the base copy is untouched)."""
        self._close()
        for path in (self._chk_file, self._crc_file):
            try:
                os.unlink(path)
            except FileNotFoundError:
                pass
