"""Moving chunk data: the write path (allocate, stream through the chain, commit) and reads
with fall-back to other copies."""

import logging
import threading
import time
from typing import Callable

import grpc

from mooseng.common.errors import DataLoss, ResourceExhausted, Unavailable, from_rpc_error
from mooseng.common.rpc import FRAME, Channels
from mooseng.proto import mooseng_pb2 as pb
from mooseng.proto import mooseng_pb2_grpc as pb_grpc

from .layout import frames
from .master import MasterSession, MasterUnreachable
from .types import ChunkInfo
from .watchdog import Watchdog

log = logging.getLogger("mooseng.client")

# A copy that answers with one of these is skipped and the next copy is tried.
READ_FALLBACK = {grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED,
                 grpc.StatusCode.DATA_LOSS, grpc.StatusCode.NOT_FOUND,
                 grpc.StatusCode.CANCELLED, grpc.StatusCode.UNKNOWN, grpc.StatusCode.INTERNAL,
                 grpc.StatusCode.ABORTED, grpc.StatusCode.RESOURCE_EXHAUSTED}
# Streaming budget on top of the base deadline: a chunk write or read may take longer than a
# metadata call, but must still end.
_MIN_RATE = 4 * 1024 * 1024      # bytes/s assumed in the worst case
_MAX_ATTEMPTS = 16
FAILED_SERVER_KEY = "mooseng-failed-server"     # trailing metadata naming the failed server
SUSPECT_FOR = 30.0     # seconds a chunk server that failed a read is tried after the others


class Stalled(Exception):
    """A chunk server stopped moving data (paused, cut off) before the call's deadline."""


class DataPath:
    """Reads and writes single chunks; thread-safe, shared by every open file of a client."""

    def __init__(self, master: MasterSession, channels: Channels, timeout: float,
                 address_map: Callable[[str], str] | None = None, stall: float = 10.0,
                 on_commit: Callable[[int], None] = lambda inode: None,
                 labels: dict[str, str] | None = None):
        """`on_commit(inode)`: a new chunk version of the file was committed. `labels`: where
        the client is, for locality-aware placement."""
        self.master = master
        self.labels = labels or {}
        self.on_commit = on_commit
        self.channels = channels
        self.timeout = timeout
        self.stall = min(stall, timeout)
        self.address_map = address_map or (lambda address: address)
        self._stubs: dict[str, pb_grpc.ChunkServerStub] = {}
        self._lock = threading.Lock()
        self._suspects: dict[str, float] = {}    # address -> until when it is tried last

    def stub(self, address: str) -> pb_grpc.ChunkServerStub:
        """A stub for the chunk server the master calls `address` (mapped on every call: what
        it maps to may change, e.g. when a container comes back with a new address)."""
        target = self.address_map(address)
        with self._lock:
            stub = self._stubs.get(target)
            if stub is None:
                stub = pb_grpc.ChunkServerStub(self.channels.get(target))
                self._stubs[target] = stub
            return stub

    def _suspected(self, address: str) -> bool:
        """Failed recently: other copies go first."""
        return self._suspects.get(address, 0.0) > time.monotonic()

    def _deadline(self, nbytes: int) -> float:
        return self.timeout + nbytes / _MIN_RATE

    # ------------------------------------------------------------------ write

    def write(self, inode: int, index: int, offset: int, data: bytes, file_size: int,
              truncate_length: int | None = None,
              grant: pb.AllocateChunkReply | None = None) -> pb.Attr:
        """Write `data` at `offset` inside chunk `index` (or cut the chunk to truncate_length),
        durably: returns the file's attributes once the master committed the new version.
        `grant`: an allocation of this chunk already made (by Create), used for the first try."""
        exclude: list[str] = []
        failures: list[str] = []
        for _ in range(_MAX_ATTEMPTS):
            try:
                alloc, grant = grant or self.master.call("AllocateChunk", pb.AllocateChunkRequest(
                    inode=inode, chunk_index=index, exclude_server_ids=exclude,
                    client_labels=self.labels)), None
            except MasterUnreachable:
                raise
            except (Unavailable, ResourceExhausted) as error:
                if not failures:
                    raise
                raise Unavailable(f"cannot write chunk {index} of inode {inode}: every chunk "
                                  f"server of the chain failed ({'; '.join(failures)}); "
                                  f"the master says: {error}") from None
            if not alloc.chain:
                raise Unavailable(f"the master offered no chunk server for chunk {index} of "
                                  f"inode {inode} ({'; '.join(failures) or 'none online'})")
            try:
                reply = self._stream(alloc, offset, data, truncate_length)
            except (grpc.RpcError, Stalled) as error:
                if isinstance(error, grpc.RpcError):
                    if error.code() == grpc.StatusCode.INVALID_ARGUMENT:
                        raise from_rpc_error(error) from None
                    blamed = [_blame(error, alloc)]
                    reason = f"{error.code().name} {error.details() or ''}".strip()
                    if error.code() == grpc.StatusCode.DEADLINE_EXCEEDED and not _named(error):
                        blamed = self._unresponsive(alloc) or blamed
                else:
                    blamed = self._unresponsive(alloc) or [alloc.chain_ids[0]]
                    reason = str(error)
                exclude.extend(blamed)
                failures.append(f"{', '.join(_address_of(alloc, b) for b in blamed)}: {reason}")
                log.info("chunk write failed, retrying without %s", failures[-1])
                continue
            written = [sid for sid in alloc.chain_ids if sid in set(reply.written_ids)]
            missing = [sid for sid in alloc.chain_ids if sid not in set(reply.written_ids)]
            if missing or not written:
                exclude.extend(missing)
                failures.append("not written on " + ", ".join(
                    _address_of(alloc, sid) for sid in missing))
                continue
            commit = self.master.call("CommitChunk", pb.CommitChunkRequest(
                inode=inode, chunk_index=index, chunk_id=alloc.chunk_id, version=alloc.version,
                lease_id=alloc.lease_id, server_ids=written, chunk_length=reply.chunk_length,
                file_size=file_size, truncate=truncate_length is not None))
            self.on_commit(inode)
            return commit.attr
        raise Unavailable(f"cannot write chunk {index} of inode {inode} after {_MAX_ATTEMPTS} "
                          f"attempts: {'; '.join(failures)}")

    def _stream(self, alloc: pb.AllocateChunkReply, offset: int, data: bytes,
                truncate_length: int | None) -> pb.WriteChunkReply:
        header = pb.WriteChunkHeader(
            chunk_id=alloc.chunk_id, version=alloc.version, base_version=alloc.base_version,
            offset=offset, chain=list(alloc.chain[1:]), lease_id=alloc.lease_id,
            lease_token=alloc.lease_token, lease_expires=alloc.lease_expires,
            truncate=truncate_length is not None, truncate_length=truncate_length or 0,
            data_length=0 if truncate_length is not None else memoryview(data).nbytes)
        if header.data_length <= FRAME:
            # One message: a unary call per hop costs a fraction of a stream's, and its
            # deadline (the stall time) does the watchdog's job.
            request = pb.WriteChunkInlineRequest(header=header, data=bytes(data))
            return self.stub(alloc.chain[0]).WriteChunkInline(
                request, timeout=self.stall + header.data_length / _MIN_RATE)

        watchdog = Watchdog(self.stall)

        def requests():
            yield pb.WriteChunkRequest(header=header)
            for frame in frames(data, FRAME):
                watchdog.progress()
                yield pb.WriteChunkRequest(data=frame)
            # Every server of the chain fsyncs before answering: allow for writing it all.
            watchdog.progress(grace=len(data) / _MIN_RATE)

        call = self.stub(alloc.chain[0]).WriteChunk.future(requests(),
                                                           timeout=self._deadline(len(data)))
        watchdog.watch(call)
        try:
            return call.result()
        except grpc.FutureCancelledError:
            raise Stalled(f"chunk server {alloc.chain[0]} or one after it in the chain moved no "
                          f"data for {self.stall:g} s") from None
        finally:
            watchdog.stop()

    def _unresponsive(self, alloc: pb.AllocateChunkReply) -> list[str]:
        """Ids of the chain members that do not answer a status call within the stall time."""
        silent = []
        for address, server_id in zip(alloc.chain, alloc.chain_ids):
            try:
                self.stub(address).GetStatus(pb.ChunkServerStatusRequest(), timeout=self.stall)
            except grpc.RpcError:
                silent.append(server_id)
        return silent

    # ------------------------------------------------------------------ read

    def read(self, chunk: ChunkInfo, offset: int, length: int,
             prefer: int | None = None) -> list[bytes]:
        """Up to `length` stored bytes of `chunk` from `offset` as a list of frames (joined once
        by the caller), from the first copy that answers, starting with copy number `prefer`
        (modulo the copies); shorter when the chunk holds less (the caller pads holes)."""
        want = min(length, max(0, chunk.length - offset))
        if want <= 0:
            return []
        if not chunk.servers and chunk.registering:
            raise Unavailable(f"chunk {chunk.chunk_id:016x} (index {chunk.index}): the master "
                              "started moments ago and no chunk server holding it has "
                              "registered yet; retry in a few seconds")
        if not chunk.servers:
            raise DataLoss(f"chunk {chunk.chunk_id:016x} (index {chunk.index}) has no valid "
                           f"copy on any online chunk server")
        start = (chunk.index if prefer is None else prefer) % len(chunk.servers)
        order = sorted(chunk.servers[start:] + chunk.servers[:start], key=self._suspected)
        parts: list[bytes] = []
        got = 0
        failures: list[tuple[grpc.StatusCode, str]] = []
        for address in order:
            watchdog = Watchdog(self.stall)
            try:
                stream = self.stub(address).ReadChunk(
                    pb.ReadChunkRequest(chunk_id=chunk.chunk_id, version=chunk.version,
                                        offset=offset + got, length=want - got),
                    timeout=self._deadline(want - got))
                watchdog.watch(stream)
                for reply in stream:
                    watchdog.progress()
                    parts.append(reply.data)
                    got += len(reply.data)
                return parts
            except grpc.RpcError as error:
                if error.code() not in READ_FALLBACK:
                    raise from_rpc_error(error) from None
                reason = (f"sent nothing for {self.stall:g} s" if watchdog.fired else
                          f"{error.code().name} {error.details() or ''}".strip())
                code = grpc.StatusCode.DEADLINE_EXCEEDED if watchdog.fired else error.code()
                failures.append((code, f"{address}: {reason}"))
                if code != grpc.StatusCode.DATA_LOSS:
                    self._suspects[address] = time.monotonic() + SUSPECT_FOR
                log.info("chunk read failed, trying the next copy: %s", failures[-1][1])
            finally:
                watchdog.stop()
        text = "; ".join(message for _, message in failures)
        if all(code == grpc.StatusCode.DATA_LOSS for code, _ in failures):
            raise DataLoss(f"every copy of chunk {chunk.chunk_id:016x} failed: {text}")
        raise Unavailable(f"no copy of chunk {chunk.chunk_id:016x} could be read: {text}")


def _named(error: grpc.RpcError) -> bool:
    """Did the chunk server say which member of the chain failed?"""
    metadata = error.trailing_metadata() if hasattr(error, "trailing_metadata") else None
    return any(key == FAILED_SERVER_KEY for key, _ in metadata or ())


def _blame(error: grpc.RpcError, alloc: pb.AllocateChunkReply) -> str:
    """The chain member a failed WriteChunk points at: the one named in the trailing metadata
    `mooseng-failed-server` or in the message, else the first one (which we dialled)."""
    metadata = dict(error.trailing_metadata() or ()) if hasattr(error, "trailing_metadata") \
        else {}
    named = metadata.get(FAILED_SERVER_KEY, "")
    details = error.details() or ""
    for address, server_id in zip(alloc.chain, alloc.chain_ids):
        if named in (address, server_id):
            return server_id
    for address, server_id in list(zip(alloc.chain, alloc.chain_ids))[1:]:
        if address in details or server_id in details:
            return server_id
    return alloc.chain_ids[0]


def _address_of(alloc: pb.AllocateChunkReply, server_id: str) -> str:
    for address, sid in zip(alloc.chain, alloc.chain_ids):
        if sid == server_id:
            return address
    return server_id

