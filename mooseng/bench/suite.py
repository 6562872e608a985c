"""The workloads of `mooseng bench run`, each timing every operation it makes: sequential write
and read of one large file (the read by a new client, so nothing of the file is in it), random
4 KiB reads of that file, small files, metadata operations, and concurrent clients mixing writes
and reads. Repetitions are interleaved (every workload once, then again), so a slow moment of
the machine spreads over all of them. Everything read is checked against what was written, and
the benchmark's directory is removed at the end, also after Ctrl-C."""

from __future__ import annotations

import dataclasses
import os
import random
import threading
import time
from typing import Callable

from mooseng.client import Client
from mooseng.common.errors import DataLoss, InvalidArgument, MooseNGError

KiB, MiB, MB = 1024, 1024 * 1024, 1_000_000
BLOCK = 1 * MiB          # size of each write and read call on the large file
SMALL = 4 * KiB

Progress = Callable[[str], None]


@dataclasses.dataclass(frozen=True)
class Sizes:
    large: int            # bytes of the sequential file
    random_reads: int     # 4 KiB reads at random offsets of it
    small_files: int      # files of 4 KiB
    metadata: int         # rounds of mkdir, stat, readdir, rename, remove
    clients: int          # concurrent clients of the mixed workload
    mixed_ops: int        # operations of each of them


SUITES = {"quick": Sizes(large=32 * MiB, random_reads=200, small_files=100, metadata=40,
                         clients=4, mixed_ops=25),
          "full": Sizes(large=512 * MiB, random_reads=2000, small_files=1000, metadata=400,
                        clients=8, mixed_ops=200)}
DEFAULT_REPEAT = 10      # what `make bench-regression-rates` measured bench check with
WARMUP = 1               # repetitions run first and not counted: the first one was 10-45 % slower
                         # (cold connections and caches, chunk servers still deleting what the
                         # last run removed), which blurred every comparison


@dataclasses.dataclass
class Measure:
    amount: float                     # bytes or operations
    seconds: float
    latencies: list[float]            # of every operation, in seconds


class Context:
    """What the workloads of one repetition share: the directory, the large file's data."""

    def __init__(self, client: Client, new_client: Callable[[], Client], directory: str,
                 sizes: Sizes, goal: int, rng: random.Random):
        self.client = client
        self.new_client = new_client
        self.directory = directory
        self.sizes = sizes
        self.goal = goal
        self.rng = rng
        self.large: bytes | None = None

    @property
    def large_path(self) -> str:
        return f"{self.directory}/large.bin"

    def ensure_large(self) -> None:
        """The reads need the large file: written (untimed) when no write ran before them."""
        if self.large is None:
            _write_large(self)


def _timed(latencies: list[float], call, *args):
    start = time.perf_counter()
    result = call(*args)
    latencies.append(time.perf_counter() - start)
    return result


def _write_large(ctx: Context) -> Measure:
    data = os.urandom(ctx.sizes.large)
    latencies: list[float] = []
    start = time.perf_counter()
    handle = ctx.client.open(ctx.large_path, "wb", goal=ctx.goal)
    try:
        view = memoryview(data)
        for offset in range(0, len(data), BLOCK):
            _timed(latencies, handle.write, view[offset:offset + BLOCK])
    finally:
        _timed(latencies, handle.close)        # returns once every copy is durable
    ctx.large = data
    return Measure(len(data), time.perf_counter() - start, latencies)


def _read_large(ctx: Context) -> Measure:
    ctx.ensure_large()
    reader = ctx.new_client()
    latencies: list[float] = []
    try:
        start = time.perf_counter()
        with reader.open(ctx.large_path, "rb") as handle:
            offset = 0
            while block := _timed(latencies, handle.read, BLOCK):
                _verify(ctx.large_path, block, ctx.large, offset)
                offset += len(block)
        seconds = time.perf_counter() - start
    finally:
        reader.close()
    if offset != len(ctx.large):
        raise DataLoss(f"{ctx.large_path} read back {offset} bytes, {len(ctx.large)} written")
    return Measure(offset, seconds, latencies)


def _random_reads(ctx: Context) -> Measure:
    ctx.ensure_large()
    latencies: list[float] = []
    count = ctx.sizes.random_reads
    start = time.perf_counter()
    with ctx.client.open(ctx.large_path, "rb") as handle:
        for _ in range(count):
            offset = ctx.rng.randrange(0, len(ctx.large) - SMALL + 1, SMALL)
            handle.seek(offset)
            _verify(ctx.large_path, _timed(latencies, handle.read, SMALL), ctx.large, offset)
    return Measure(count, time.perf_counter() - start, latencies)


def _small_files(ctx: Context) -> Measure:
    folder = f"{ctx.directory}/small"
    ctx.client.mkdir(folder)
    payload = os.urandom(SMALL)
    latencies: list[float] = []
    count = ctx.sizes.small_files

    def create(path: str) -> None:
        with ctx.client.open(path, "xb", goal=ctx.goal) as handle:
            handle.write(payload)

    start = time.perf_counter()
    for number in range(count):
        _timed(latencies, create, f"{folder}/f{number:06d}")
    seconds = time.perf_counter() - start
    for number in range(count):                # checked after the clock stopped
        path = f"{folder}/f{number:06d}"
        _verify(path, ctx.client.read_bytes(path), payload, 0)
    return Measure(count, seconds, latencies)


def _metadata(ctx: Context) -> Measure:
    folder = f"{ctx.directory}/meta"
    ctx.client.mkdir(folder)
    latencies: list[float] = []
    start = time.perf_counter()
    for number in range(ctx.sizes.metadata):
        path = f"{folder}/d{number:06d}"
        _timed(latencies, ctx.client.mkdir, path)
        _timed(latencies, ctx.client.stat, path)
        _timed(latencies, ctx.client.listdir, folder)
        _timed(latencies, ctx.client.rename, path, path + ".moved")
        _timed(latencies, ctx.client.remove, path + ".moved")
    return Measure(len(latencies), time.perf_counter() - start, latencies)


def _mixed(ctx: Context) -> Measure:
    """Concurrent clients, each with a connection of its own, writing files of 4-64 KiB and
    reading back one of theirs every other operation."""
    folder = f"{ctx.directory}/mixed"
    ctx.client.mkdir(folder)
    latencies: list[float] = []
    failures: list[BaseException] = []
    lock = threading.Lock()
    seeds = [ctx.rng.randrange(2**32) for _ in range(ctx.sizes.clients)]

    def work(number: int) -> None:
        rng = random.Random(seeds[number])
        client = ctx.new_client()
        mine: list[tuple[str, bytes]] = []
        own: list[float] = []
        try:
            for op in range(ctx.sizes.mixed_ops):
                if mine and op % 2:
                    path, data = rng.choice(mine)
                    _verify(path, _timed(own, client.read_bytes, path), data, 0)
                else:
                    path = f"{folder}/c{number}-{op:05d}"
                    data = os.urandom(rng.randint(4, 64) * KiB)
                    _timed(own, client.write_bytes, path, data, ctx.goal)
                    mine.append((path, data))
        except BaseException as error:  # noqa: BLE001 - raised again in the caller's thread
            with lock:
                failures.append(error)
        finally:
            client.close()
            with lock:
                latencies.extend(own)

    threads = [threading.Thread(target=work, args=(n,), name=f"bench-client-{n}")
               for n in range(ctx.sizes.clients)]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - start
    if failures:
        raise failures[0]
    return Measure(len(latencies), seconds, latencies)


def _verify(path: str, got: bytes, data: bytes, offset: int) -> None:
    if got != data[offset:offset + len(got)] or not got:
        raise DataLoss(f"{path} read back different bytes at offset {offset}")


@dataclasses.dataclass(frozen=True)
class Workload:
    name: str
    unit: str
    per: float              # the unit's divisor of Measure.amount (MB for MB/s)
    run: Callable[[Context], Measure]
    label: str


WORKLOADS = {w.name: w for w in (
    Workload("seq_write", "MB/s", MB, _write_large, "sequential write"),
    Workload("seq_read", "MB/s", MB, _read_large, "sequential read, new client"),
    Workload("random_read", "ops/s", 1, _random_reads, "random 4 KiB reads"),
    Workload("small_files", "files/s", 1, _small_files, "small files, 4 KiB"),
    Workload("metadata", "ops/s", 1, _metadata, "mkdir, stat, readdir, rename, remove"),
    Workload("mixed", "ops/s", 1, _mixed, "concurrent clients writing and reading"),
)}


def select(names: list[str] | None) -> list[Workload]:
    if not names:
        return list(WORKLOADS.values())
    unknown = [n for n in names if n not in WORKLOADS]
    if unknown:
        raise InvalidArgument(f"unknown workload {', '.join(unknown)}: choose from "
                              f"{', '.join(WORKLOADS)}")
    return [WORKLOADS[n] for n in dict.fromkeys(names)]


def run(client: Client, new_client: Callable[[], Client], directory: str, workloads: list[Workload],
        sizes: Sizes, repeat: int, goal: int, progress: Progress,
        seed: int | None = None) -> dict[str, tuple[list[float], list[float]]]:
    """{workload: (throughput of every repetition, latency of every operation)}; the
    directory is made and always removed, at the end only: chunk servers deleting one
    repetition's chunks while the next is measured would add their work to its figures."""
    rng = random.Random(seed)
    found = {w.name: ([], []) for w in workloads}
    client.mkdir(directory, parents=True)
    try:
        for number in range(1 - WARMUP, repeat + 1):
            counted = number > 0
            ctx = Context(client, new_client, f"{directory}/r{number}", sizes, goal, rng)
            client.mkdir(ctx.directory)
            for workload in workloads:
                measure = workload.run(ctx)
                rate = measure.amount / workload.per / measure.seconds
                if counted:
                    found[workload.name][0].append(round(rate, 3))
                    found[workload.name][1].extend(measure.latencies)
                label = f"repetition {number}/{repeat}" if counted else "warm-up, not counted"
                progress(f"{label}: {workload.name} {rate:.1f} {workload.unit}")
    finally:
        progress(f"removing {directory}")
        try:
            client.remove(directory, recursive=True)
        except MooseNGError as error:     # never hides why the run ended
            progress(f"could not remove {directory}: {error}")
    return found
