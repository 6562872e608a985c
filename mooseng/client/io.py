"""The file-like object behind Client.open(): buffered, seekable, with partial reads and writes
at any offset. Data is durable (every copy on disk, version committed) once flush() or close()
returns; write() only buffers up to the end of the current chunk."""

import io
import os
import time
from concurrent.futures import Executor, Future

from mooseng.common.errors import DataLoss, FailedPrecondition, InvalidArgument, Unavailable
from mooseng.proto import mooseng_pb2 as pb

from .datapath import DataPath
from .layout import Piece, pieces
from .namespace import Namespace
from .types import ChunkInfo

MODES = {"r": (True, False), "w": (False, True), "a": (False, True), "x": (False, True)}
_IN_FLIGHT_BYTES = 256 * 1024 * 1024   # chunk data written concurrently per open file
READ_SPLIT = 4 * 1024 * 1024           # a larger read is fetched in parallel pieces of this size
FIRST_CHUNK_FRESH = 10.0   # seconds the grant that came with create is used (its lease: 60 s)


def parse_mode(mode: str) -> tuple[str, bool, bool]:
    """'r+b' -> ('r', readable, writable). Only binary modes exist."""
    kind = [c for c in mode if c in MODES]
    if len(kind) != 1 or set(mode) - set("rwax+b") or len(set(mode)) != len(mode):
        raise InvalidArgument(f"bad mode {mode!r} (use 'rb', 'wb', 'ab', 'xb' or 'r+b')")
    readable, writable = MODES[kind[0]]
    if "+" in mode:
        readable = writable = True
    return kind[0], readable, writable


class File(io.RawIOBase):
    """An open MooseNG file. Not shared between threads; open one per thread."""

    def __init__(self, path: str, attr: pb.Attr, mode: str, namespace: Namespace,
                 data: DataPath, pool: Executor,
                 first_chunk: pb.AllocateChunkReply | None = None):
        """`first_chunk`: the grant for chunk 0 that came with the file's creation."""
        kind, readable, writable = parse_mode(mode)
        if not attr.chunk_size:
            raise FailedPrecondition(f"the master did not say the chunk size of {path}")
        super().__init__()
        self.name = path
        self.mode = mode
        self._kind, self._readable, self._writable = kind, readable, writable
        self._ns = namespace
        self._data = data
        self._pool = pool
        self.inode = attr.inode
        self.chunk_size = attr.chunk_size
        self._size = attr.size
        self._pos = self._size if self._kind == "a" else 0
        self._buf = bytearray()
        self._buf_start = 0
        self._pending: list[tuple[int, Future]] = []     # (chunk index, write in flight)
        self._locations: dict[int, ChunkInfo] | None = None
        self._in_flight = max(2, min(8, _IN_FLIGHT_BYTES // self.chunk_size))
        self._first_chunk = first_chunk
        self._opened = time.monotonic()

    # ------------------------------------------------------------------ io protocol

    def readable(self) -> bool:
        return self._readable

    def writable(self) -> bool:
        return self._writable

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    @property
    def size(self) -> int:
        """Current size including data not yet flushed."""
        return self._size

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        self._check_open()
        base = {os.SEEK_SET: 0, os.SEEK_CUR: self._pos, os.SEEK_END: self._size}.get(whence)
        if base is None:
            raise InvalidArgument(f"bad whence {whence}")
        if base + offset < 0:
            raise InvalidArgument(f"cannot seek to a negative offset ({base + offset})")
        self._pos = base + offset
        return self._pos

    def read(self, size: int | None = -1) -> bytes:
        self._check_open()
        if not self._readable:
            raise io.UnsupportedOperation(f"{self.name} is not open for reading")
        self.flush()
        if size is None or size < 0:
            size = self._size - self._pos
        size = min(size, max(0, self._size - self._pos))
        if size <= 0:
            return b""
        parts = [split for piece in pieces(self._pos, size, self.chunk_size)
                 for split in _split(piece, READ_SPLIT)]
        self._location(parts[0].index)      # load the chunk map once, not in every worker
        results = (self._pool.map(self._read_piece, parts) if len(parts) > 1
                   else map(self._read_piece, parts))
        frames: list[bytes] = []
        for piece, data in zip(parts, results):
            frames += data
            got = sum(len(frame) for frame in data)
            if got < piece.length:                       # a hole, or a chunk stored shorter
                frames.append(bytes(piece.length - got))
        self._pos += size
        return frames[0] if len(frames) == 1 else b"".join(frames)

    def readall(self) -> bytes:
        return self.read(-1)

    def readinto(self, buffer) -> int:
        data = self.read(len(buffer))
        buffer[:len(data)] = data
        return len(data)

    def write(self, data) -> int:
        self._check_open()
        if not self._writable:
            raise io.UnsupportedOperation(f"{self.name} is not open for writing")
        view = memoryview(data).cast("B")
        total = len(view)
        if self._kind == "a":
            self._pos = self._size
        while len(view):
            if self._buf and self._pos != self._buf_start + len(self._buf):
                self._flush_buffer()
            if not self._buf:
                self._buf_start = self._pos
            chunk_end = (self._buf_start // self.chunk_size + 1) * self.chunk_size
            take = min(len(view), chunk_end - (self._buf_start + len(self._buf)))
            self._buf += view[:take]
            view = view[take:]
            self._pos += take
            self._size = max(self._size, self._pos)
            if self._buf_start + len(self._buf) == chunk_end:
                self._flush_buffer()
        return total

    def flush(self) -> None:
        """Return once everything written so far is durable."""
        if self.closed:
            return
        if self._buf:
            self._flush_buffer()
        self._wait_pending(0)

    def truncate(self, size: int | None = None) -> int:
        self._check_open()
        if not self._writable:
            raise io.UnsupportedOperation(f"{self.name} is not open for writing")
        size = self._pos if size is None else size
        if size < 0:
            raise InvalidArgument(f"cannot truncate {self.name} to a negative size ({size})")
        self.flush()
        if size < self._size and size % self.chunk_size:
            self._cut_chunk(size)
        reply = self._ns.master.call("Truncate", pb.TruncateRequest(inode=self.inode, size=size))
        self._ns.changed(inode=self.inode)
        self._size = reply.attr.size
        self._locations = None
        return size

    def close(self) -> None:
        if self.closed:
            return
        try:
            self.flush()
        finally:
            super().close()

    def __repr__(self) -> str:
        return f"<mooseng.client.File {self.name!r} mode={self.mode!r}>"

    # ------------------------------------------------------------------ internals

    def _check_open(self) -> None:
        if self.closed:
            raise ValueError(f"I/O operation on closed file {self.name}")

    def _flush_buffer(self) -> None:
        """Start writing the buffered bytes (they never span two chunks)."""
        index, offset = divmod(self._buf_start, self.chunk_size)
        data = self._buf        # handed over, not copied: a new buffer takes its place
        end = self._buf_start + len(data)
        self._buf = bytearray()
        self._locations = None
        # Two writes to one chunk must not overlap: the second would start from the version
        # before the first and lose its bytes.
        while any(i == index for i, _ in self._pending):
            self._wait_pending(len(self._pending) - 1)
        self._wait_pending(self._in_flight - 1)
        grant, self._first_chunk = self._first_chunk, None
        if index or time.monotonic() - self._opened > FIRST_CHUNK_FRESH:
            grant = None
        self._pending.append((index, self._pool.submit(self._data.write, self.inode, index,
                                                       offset, data, end, grant=grant)))

    def _wait_pending(self, keep: int) -> None:
        """Wait until at most `keep` chunk writes are in flight; raise the first failure."""
        while len(self._pending) > keep:
            _, future = self._pending.pop(0)
            try:
                future.result()
            except BaseException:
                for _, other in self._pending:
                    other.cancel()
                self._pending.clear()
                raise

    def _cut_chunk(self, size: int) -> None:
        """Shorten the stored chunk that `size` falls into, so that growing the file again
        later shows zeros, not the old bytes."""
        index, inside = divmod(size, self.chunk_size)
        reply = self._ns.chunks(self.inode, index, 1)
        if any(c.chunk_index == index for c in reply.chunks):
            self._data.write(self.inode, index, 0, b"", file_size=size, truncate_length=inside)

    def _location(self, index: int, refresh: bool = False) -> ChunkInfo | None:
        if self._locations is None or refresh:
            reply = self._ns.chunks(self.inode)
            self._locations = {c.chunk_index: ChunkInfo.from_proto(c) for c in reply.chunks}
        return self._locations.get(index)

    def _read_piece(self, piece) -> list[bytes]:
        chunk = self._location(piece.index)
        if chunk is None:
            return []
        prefer = piece.file_offset // READ_SPLIT     # spread the pieces over the copies
        try:
            return self._data.read(chunk, piece.offset, piece.length, prefer)
        except (Unavailable, DataLoss):
            fresh = self._location(piece.index, refresh=True)
            if fresh is None:
                return []
            if (fresh.version, fresh.servers) == (chunk.version, chunk.servers):
                raise
            return self._data.read(fresh, piece.offset, piece.length, prefer)


def _split(piece: Piece, size: int) -> list[Piece]:
    """Cut a piece into parts of at most `size` bytes (read in parallel)."""
    return [Piece(piece.index, piece.offset + start, min(size, piece.length - start),
                  piece.file_offset + start) for start in range(0, piece.length, size)]
