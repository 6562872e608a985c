"""The `ChunkServer` gRPC service: the write chain, reads checked block by block, replication.

A failed WriteChunk names the chunk server to blame in the trailing metadata key
`mooseng-failed-server` (its address as given in the chain) so the client can retry with
AllocateChunk(exclude=[...]); the status message says the same in words.
"""

import logging
import queue
import threading
import time
from typing import Callable

import grpc

from mooseng.chunkserver.metrics import ChunkServerMetrics
from mooseng.chunkserver.store import ChunkCopy, ChunkStore, describe
from mooseng.common.errors import (DataLoss, InvalidArgument, MooseNGError, PermissionDenied,
                                   ResourceExhausted, Unavailable, abort, servicer_errors)
from mooseng.common.leases import LeaseKeys
from mooseng.common.log import kv
from mooseng.common.rpc import FRAME, Channels, check_address
from mooseng.proto import mooseng_pb2 as pb
from mooseng.proto import mooseng_pb2_grpc as pb_grpc

log = logging.getLogger("mooseng.chunkserver.service")

FAILED_SERVER_KEY = "mooseng-failed-server"
STALL_TIMEOUT = 30.0       # seconds a downstream server may take to accept the next frame
COMMIT_TIMEOUT = 120.0     # seconds to wait for the rest of the chain once all data is sent
REPLICATE_TIMEOUT = 120.0  # deadline of one ReadChunk used to copy a chunk from a peer
INLINE_WRITE = 256 * 1024  # a first frame smaller than this is written without a thread

class ChainFailure(Exception):
    """A chunk server of the write chain (this one or one further down) failed; `code`:
    RESOURCE_EXHAUSTED when its disk was full, else UNAVAILABLE."""

    def __init__(self, server: str, message: str,
                 code: grpc.StatusCode = grpc.StatusCode.UNAVAILABLE):
        super().__init__(message)
        self.server = server
        self.code = code


class _Forwarder:
    """Streams the same WriteChunk frames to the next server while this one stores them."""

    def __init__(self, channel: grpc.Channel, address: str, header: pb.WriteChunkHeader,
                 timeout: float | None):
        self.address = address
        self._queue: queue.Queue = queue.Queue(maxsize=8)
        stub = pb_grpc.ChunkServerStub(channel)
        self._future = stub.WriteChunk.future(self._frames(pb.WriteChunkRequest(header=header)),
                                              timeout=timeout)

    def _frames(self, first):
        yield first
        while (item := self._queue.get()) is not None:
            yield item

    def send(self, item) -> None:
        """Queue one frame (None ends the stream); fails as soon as the downstream call did."""
        stalled = time.monotonic() + STALL_TIMEOUT
        try:
            while True:
                if self._future.done():
                    self._future.result()
                    raise ChainFailure(self.address, f"chunk server {self.address} ended the "
                                                     "write before all data was sent")
                try:
                    self._queue.put(item, timeout=0.2)
                    return
                except queue.Full:
                    if time.monotonic() > stalled:
                        self._future.cancel()
                        raise ChainFailure(self.address, f"chunk server {self.address} accepted "
                                                         f"no data for {STALL_TIMEOUT:.0f} s")
        except grpc.RpcError as error:
            raise _chain_failure(self.address, error) from None

    def result(self) -> pb.WriteChunkReply:
        try:
            return self._future.result(timeout=COMMIT_TIMEOUT)
        except grpc.FutureTimeoutError:
            self._future.cancel()
            raise ChainFailure(self.address, f"chunk server {self.address} did not confirm the "
                                             f"write within {COMMIT_TIMEOUT:.0f} s") from None
        except grpc.RpcError as error:
            raise _chain_failure(self.address, error) from None

    def cancel(self) -> None:
        """Stop the downstream call and release the thread feeding it."""
        self._future.cancel()
        try:
            self._queue.put_nowait(None)
        except queue.Full:
            pass



class _InlineForwarder:
    """The next hop of an inline write: one unary call carrying the header and the frame, sent
    as soon as the frame is known so the next server stores it while this one does."""

    def __init__(self, channel: grpc.Channel, address: str, header: pb.WriteChunkHeader,
                 timeout: float | None):
        self.address = address
        self._stub = pb_grpc.ChunkServerStub(channel)
        self._header = header
        self._timeout = timeout
        self._future = None

    def send(self, item) -> None:
        if self._future is None:
            data = item.data if item is not None else b""
            self._future = self._stub.WriteChunkInline.future(
                pb.WriteChunkInlineRequest(header=self._header, data=data), timeout=self._timeout)

    def result(self) -> pb.WriteChunkReply:
        try:
            return self._future.result()
        except grpc.RpcError as error:
            raise _chain_failure(self.address, error) from None

    def cancel(self) -> None:
        if self._future is not None:
            self._future.cancel()


def _chain_failure(address: str, error: grpc.RpcError) -> ChainFailure:
    """Blame the server the next hop named, else the next hop itself."""
    blamed = dict(error.trailing_metadata() or ()).get(FAILED_SERVER_KEY)
    if blamed:
        return ChainFailure(blamed, error.details() or f"chunk server {blamed} failed",
                            error.code())
    return ChainFailure(address, f"chunk server {address} failed: "
                                 f"{error.code().name} {error.details() or ''}".strip())


class _LocalWrites:
    """Applies frames to the chunk writer in a thread of its own, so receiving (and
    forwarding) the next frame overlaps with writing this one to disk. A small first frame is
    written at once: for a small file's single frame the thread would cost more than it saves.
    """

    def __init__(self, writer):
        self._writer = writer
        self._queue: queue.Queue = queue.Queue(maxsize=8)
        self._error: BaseException | None = None
        self._thread: threading.Thread | None = None
        self._first = True

    def _run(self) -> None:
        while (item := self._queue.get()) is not None:
            if self._error is None:
                try:
                    self._writer.write(*item)
                except BaseException as error:  # handed to the RPC thread by put()/finish()
                    self._error = error

    def put(self, offset: int, data) -> None:
        if self._error is not None:
            raise self._error
        first, self._first = self._first, False
        if first and len(data) < INLINE_WRITE:
            self._writer.write(offset, data)
            return
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="chunk-writer", daemon=True)
            self._thread.start()
        self._queue.put((offset, data))

    def finish(self) -> None:
        """Wait until every queued frame is written; raise what a write raised."""
        self.stop()
        if self._error is not None:
            raise self._error

    def stop(self) -> None:
        """Wait for the thread (after a failure the caller reports the first error)."""
        if self._thread is not None and self._thread.is_alive():
            self._queue.put(None)
            self._thread.join()


class _ReadAhead:
    """Reads the next frames from disk in a thread while gRPC sends the current one."""

    def __init__(self, frames, depth: int = 2):
        self._frames = frames
        self._queue: queue.Queue = queue.Queue(maxsize=depth)
        self._stopped = threading.Event()
        threading.Thread(target=self._run, name="read-ahead", daemon=True).start()

    def _run(self) -> None:
        try:
            for frame in self._frames:
                if not self._offer(("data", frame)):
                    return
            self._offer(("end", None))
        except BaseException as error:  # handed to the RPC thread by __iter__
            self._offer(("error", error))
        finally:
            self._frames.close()

    def _offer(self, item) -> bool:
        while not self._stopped.is_set():
            try:
                self._queue.put(item, timeout=0.2)
                return True
            except queue.Full:
                pass
        return False

    def __iter__(self):
        try:
            while True:
                kind, value = self._queue.get()
                if kind == "end":
                    return
                if kind == "error":
                    raise value
                yield value
        finally:
            self._stopped.set()


def pull(store: ChunkStore, peers: Channels, chunk_id: int, version: int,
         sources: list[str], on_bytes: Callable[[int], None] = lambda n: None) -> ChunkCopy:
    """Copy chunk_id@version from the first source able to send it (each checks its CRCs)."""
    if store.has(chunk_id, version):
        return ChunkCopy(chunk_id, version, store.length(chunk_id, version))
    if not sources:
        raise InvalidArgument(f"no source given to copy chunk {describe(chunk_id, version)} from")
    errors = []
    for source in sources:
        writer = store.begin(chunk_id, version, replica=True)
        local = _LocalWrites(writer)
        stored = False
        try:
            stub = pb_grpc.ChunkServerStub(peers.get(source))
            offset = 0
            request = pb.ReadChunkRequest(chunk_id=chunk_id, version=version)
            for reply in stub.ReadChunk(request, timeout=REPLICATE_TIMEOUT):
                local.put(offset, reply.data)
                offset += len(reply.data)
                on_bytes(len(reply.data))
            local.finish()
            copy = writer.commit()
            stored = True
            return copy
        except grpc.RpcError as error:
            errors.append(f"{source}: {error.code().name} {error.details()}")
        finally:
            if not stored:
                local.stop()
                writer.abort()
    raise Unavailable(f"could not copy chunk {describe(chunk_id, version)} from any source: "
                      + "; ".join(errors))


class ChunkService(pb_grpc.ChunkServerServicer):
    """The RPC handlers; the store does the disk work, this class the streaming and chaining."""

    def __init__(self, store: ChunkStore, metrics: ChunkServerMetrics, peers: Channels,
                 address: Callable[[], str], status: Callable[[], pb.ChunkServerStatus],
                 lease_keys: LeaseKeys):
        self.store = store
        self.lease_keys = lease_keys
        self.metrics = metrics
        self.peers = peers
        self._address = address
        self._status = status
        self._active = 0
        self._active_lock = threading.Lock()

    @property
    def active_operations(self) -> int:
        return self._active

    def _track(self, delta: int) -> None:
        with self._active_lock:
            self._active += delta

    # ------------------------------------------------------------ write chain

    def WriteChunk(self, request_iterator, context):  # noqa: N802 (gRPC API)
        first = next(request_iterator, None)
        if first is None or first.WhichOneof("body") != "header":
            context.abort(grpc.StatusCode.INVALID_ARGUMENT,
                          "WriteChunk must start with a header message")
        return self._write_answered(first.header, request_iterator, context, _Forwarder)

    def WriteChunkInline(self, request, context):  # noqa: N802 (gRPC API)
        frames = [request] if request.data else []
        return self._write_answered(request.header, frames, context, _InlineForwarder)

    def _write_answered(self, header: pb.WriteChunkHeader, frames, context, forwarder_type):
        """_write with its failures turned into the status codes the client acts on."""
        self._track(1)
        try:
            self.lease_keys.check(header.chunk_id, header.version, header.lease_token,
                                  header.lease_expires, self._address())
            reply = self._write(header, frames, context, forwarder_type)
        except ChainFailure as failure:
            log.warning("chunk write failed", extra=kv(
                chunk=describe(header.chunk_id, header.version), failed_server=failure.server,
                error=str(failure)))
            context.set_trailing_metadata(((FAILED_SERVER_KEY, failure.server),))
            context.abort(failure.code, str(failure))
        except (InvalidArgument, PermissionDenied) as error:
            log.info("chunk write refused", extra=kv(
                chunk=describe(header.chunk_id, header.version), error=str(error)))
            context.abort(error.code, str(error))
        finally:
            self._track(-1)
        return reply

    def _write(self, header: pb.WriteChunkHeader, frames, context,
               forwarder_type) -> pb.WriteChunkReply:
        me = self._address()
        for address in header.chain:      # the caller's mistake, not a failure of this server
            check_address(address)
        forwarder = None
        try:
            if header.chain:  # first, so the next server copies its base while this one does
                following = pb.WriteChunkHeader()
                following.CopyFrom(header)
                del following.chain[:]
                following.chain.extend(header.chain[1:])
                # A caller without a deadline has an endless time_remaining(): not usable.
                forwarder = forwarder_type(self.peers.get(header.chain[0]), header.chain[0],
                                           following,
                                           min(context.time_remaining(), COMMIT_TIMEOUT))
                context.add_callback(forwarder.cancel)
            writer = self.store.begin(header.chunk_id, header.version, header.base_version)
        except (MooseNGError, OSError) as error:
            if forwarder:
                forwarder.cancel()
            if isinstance(error, DataLoss):
                self.store.drop_damaged(header.chunk_id, header.base_version, str(error))
            raise self._failure(me, f"chunk server {me} cannot start version {header.version} "
                                    f"of chunk {header.chunk_id:016x}: {error}", error) from None
        local = _LocalWrites(writer)
        stored = False
        try:
            if header.truncate:
                writer.truncate(header.truncate_length)
            offset = header.offset
            for frame in frames:
                data = frame.data
                if offset - header.offset + len(data) > header.data_length:
                    raise InvalidArgument(f"the write of chunk "
                                          f"{describe(header.chunk_id, header.version)} carries "
                                          f"more than the {header.data_length} data bytes its "
                                          f"header announced")
                if forwarder:
                    forwarder.send(frame)
                local.put(offset, data)
                offset += len(data)
                self.metrics.bytes_written.inc(len(data))
            # gRPC may show a cancelled sender as the end of its stream: a short stream is
            # never committed here nor passed on as complete.
            if offset - header.offset != header.data_length:
                raise InvalidArgument(f"the write of chunk "
                                      f"{describe(header.chunk_id, header.version)} ended after "
                                      f"{offset - header.offset} of the {header.data_length} "
                                      f"data bytes its header announced (sender cancelled?)")
            if forwarder:  # before this server's own writes and fsyncs: the chain's overlap
                forwarder.send(None)
            local.finish()
            copy = writer.commit()
            stored = True
        except DataLoss as error:
            self.store.drop_damaged(header.chunk_id, header.base_version, str(error))
            raise ChainFailure(me, f"chunk server {me}: {error}") from None
        except (InvalidArgument, ChainFailure):
            raise
        except (MooseNGError, OSError) as error:
            raise self._failure(me, f"chunk server {me} could not store the chunk: {error}",
                                error) from None
        finally:
            if not stored:
                local.stop()
                writer.abort()
                if forwarder:
                    forwarder.cancel()
        written = [self.store.server_id]
        if forwarder:
            written.extend(forwarder.result().written_ids)
        return pb.WriteChunkReply(chunk_length=copy.length, written_ids=written)

    def _failure(self, me: str, message: str, error: Exception) -> ChainFailure:
        if isinstance(error, ResourceExhausted):
            self.metrics.refused_full.inc()
            return ChainFailure(me, message, grpc.StatusCode.RESOURCE_EXHAUSTED)
        return ChainFailure(me, message)

    # ------------------------------------------------------------ reads

    def ReadChunk(self, request, context):  # noqa: N802 (gRPC API)
        self._track(1)
        try:
            frames = self.store.read(request.chunk_id, request.version, request.offset,
                                     request.length)
            small = 0 < request.length <= FRAME
            for data in frames if small else _ReadAhead(frames):
                self.metrics.bytes_read.inc(len(data))
                yield pb.ReadChunkReply(data=data)
        except DataLoss as error:
            self.store.drop_damaged(request.chunk_id, request.version, str(error))
            abort(context, error)
        except MooseNGError as error:
            abort(context, error)
        except OSError as error:
            context.abort(grpc.StatusCode.UNAVAILABLE, f"chunk server {self._address()} cannot "
                          f"read chunk copy {describe(request.chunk_id, request.version)}: "
                          f"{error}")
        finally:
            self._track(-1)

    # ------------------------------------------------------------ maintenance

    @servicer_errors
    def ReplicateChunk(self, request, context):  # noqa: N802 (gRPC API)
        copy = pull(self.store, self.peers, request.chunk_id, request.version,
                    [check_address(a) for a in request.sources], self.metrics.bytes_written.inc)
        self.metrics.replications.inc()
        return pb.ChunkRef(chunk_id=copy.chunk_id, version=copy.version, length=copy.length)

    @servicer_errors
    def DeleteChunk(self, request, context):  # noqa: N802 (gRPC API)
        self.store.delete(request.chunk_id, request.version)
        return pb.Empty()

    @servicer_errors
    def VerifyChunk(self, request, context):  # noqa: N802 (gRPC API)
        bad = self.store.verify_or_drop(request.chunk_id, request.version)
        return pb.VerifyChunkReply(valid=not bad, bad_blocks=bad)

    def GetStatus(self, request, context):  # noqa: N802 (gRPC API)
        return self._status()
