"""The benchmark workloads: sequential write of one large file of random data in 8 MiB writes,
its sequential read (from a cold page cache when asked and allowed), small files created one
after another, and the same small files by concurrent writers. Every file is durable before
it counts (see targets.py). Throughput is MB/s (10^6 bytes, like dd and fio) and files/s."""

import argparse
import dataclasses
import os
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Callable

from mooseng.cli import argtypes
from mooseng.cli.format import human_size
from mooseng.common.errors import DataLoss

BLOCK = 8 * 1024 * 1024     # size of each write()/read() call on the large file
MB = 1_000_000
DROP_CACHES = "/proc/sys/vm/drop_caches"

Progress = Callable[[str], None]


@dataclasses.dataclass(frozen=True)
class Workload:
    key: str        # name in the results and in --json
    unit: str       # what its number counts
    field: str      # the result entry holding that number


WRITE = Workload("write", "MB/s", "mb_per_s")
READ = Workload("read", "MB/s", "mb_per_s")
SMALL = Workload("small_files", "files/s", "files_per_s")
CONCURRENT = Workload("small_files_concurrent", "files/s", "files_per_s")


@dataclasses.dataclass(frozen=True)
class Settings:
    size: int = 512 * 1024 * 1024
    files: int = 1000
    file_size: int = 4096
    threads: int = 1        # writers of the first small-file run
    writers: int = 8        # writers of the concurrent small-file run (0: skipped)
    cold: bool = False      # drop the page cache before the read

    @classmethod
    def from_args(cls, args: argparse.Namespace, cold: bool = False) -> "Settings":
        return cls(args.size, args.files, args.file_size, args.threads, args.writers, cold)


def add_options(parser: argparse.ArgumentParser) -> None:
    """The workload options, the same for `mooseng bench` and bench_vs_moosefs.py."""
    d = Settings()
    parser.add_argument("--size", type=argtypes.size, default=d.size,
                        help=f"size of the large file (default {human_size(d.size)}; 0 skips "
                             "the write and read)")
    parser.add_argument("--files", type=argtypes.count, default=d.files,
                        help=f"small files per run (default {d.files}; 0 skips them)")
    parser.add_argument("--file-size", type=argtypes.size, default=d.file_size,
                        help=f"small file size (default {human_size(d.file_size)})")
    parser.add_argument("--threads", type=argtypes.positive, default=d.threads,
                        help=f"writers of the first small-file run (default {d.threads}: one "
                             "loop)")
    parser.add_argument("--writers", type=argtypes.count, default=d.writers,
                        help=f"concurrent writers (threads) of the second small-file run "
                             f"(default {d.writers}; 0 skips it)")


def planned(settings: Settings) -> list[Workload]:
    """The workloads `run` measures with these settings, in order."""
    plan = [WRITE, READ] if settings.size else []
    if settings.files:
        plan += [w for w in (SMALL, CONCURRENT) if _writers(w, settings)]
    return plan


def label(workload: Workload, settings: Settings) -> str:
    """The workload's name for people, the same in every report."""
    if workload in (WRITE, READ):
        what = "Sequential write" if workload == WRITE else \
            "Sequential read" + (", cold cache" if settings.cold else "")
        return f"{what} ({human_size(settings.size)})"
    writers = _writers(workload, settings)
    return (f"Small files ({settings.files} x {human_size(settings.file_size)}, "
            f"{writers} writer{'s' if writers > 1 else ''})")


def run(target, directory: str, settings: Settings, progress: Progress) -> dict[str, dict]:
    """Every planned workload in a new `directory` of `target` (a targets.py adapter), which is
    removed afterwards; {workload key: result with the number under workload.field}."""
    results: dict[str, dict] = {}
    target.mkdir(directory)
    try:
        if settings.size:
            results.update(_large_file(target, f"{directory}/large.bin", settings, progress))
        for workload in planned(settings):
            if workload in (SMALL, CONCURRENT):
                results[workload.key] = _small_files(target, f"{directory}/{workload.key}",
                                                     settings, _writers(workload, settings),
                                                     progress)
    finally:
        progress(f"removing {directory}")
        target.remove(directory)
    return results


def _writers(workload: Workload, settings: Settings) -> int:
    return settings.threads if workload == SMALL else settings.writers


def drop_page_cache() -> str | None:
    """Write back and drop the kernel's page cache, so the next read comes from the disks;
    returns why it could not (not root, read-only /proc) or None."""
    os.sync()
    try:
        with open(DROP_CACHES, "w") as handle:
            handle.write("3\n")
    except OSError as error:
        return f"cannot drop the page cache ({DROP_CACHES}: {error.strerror})"
    return None


def _large_file(target, path: str, settings: Settings, progress: Progress) -> dict:
    size = settings.size
    progress(f"generating {human_size(size)} of random data")
    data = os.urandom(size)
    progress(f"writing {path} ({human_size(size)})")
    start = time.perf_counter()
    handle = target.create(path)
    try:
        view = memoryview(data)
        for offset in range(0, size, BLOCK):
            handle.write(view[offset:offset + BLOCK])
            _report(progress, "written", offset + BLOCK, size, start)
    finally:
        target.finish(handle)
    write_s = time.perf_counter() - start
    cache = "warm"
    if settings.cold:
        reason = drop_page_cache()
        cache = "cold" if reason is None else f"warm: {reason}"
        if reason:
            progress(f"reading with a warm cache: {reason}")
    progress(f"reading {path}")
    start = time.perf_counter()
    offset = 0
    with target.open(path) as handle:
        while block := handle.read(BLOCK):
            if block != data[offset:offset + len(block)]:
                raise DataLoss(f"benchmark file {path} read back different bytes near offset "
                               f"{offset}")
            offset += len(block)
            _report(progress, "read", offset, size, start)
    read_s = time.perf_counter() - start
    if offset != size:
        raise DataLoss(f"benchmark file {path} read back {offset} bytes, wrote {size}")
    return {WRITE.key: _rate(size, write_s), READ.key: {**_rate(size, read_s), "cache": cache}}


def _rate(size: int, seconds: float) -> dict:
    return {"bytes": size, "seconds": round(seconds, 3), "mb_per_s": round(size / MB / seconds, 1)}


def _small_files(target, directory: str, settings: Settings, writers: int,
                 progress: Progress) -> dict:
    count = settings.files
    target.mkdir(directory)
    payload = os.urandom(settings.file_size)
    progress(f"creating {count} files of {human_size(settings.file_size)} in {directory} "
             f"({writers} writer{'s' if writers > 1 else ''})")

    def create(i: int) -> None:
        handle = target.create(f"{directory}/f{i:07d}", exclusive=True)
        try:
            handle.write(payload)
        finally:
            target.finish(handle)

    start = time.perf_counter()
    if writers <= 1:
        for i in range(count):
            create(i)
            if (i + 1) % max(1, count // 10) == 0:
                progress(f"created {i + 1}/{count} files")
    else:
        with ThreadPoolExecutor(writers) as pool:
            for done, _ in enumerate(pool.map(create, range(count)), 1):
                if done % max(1, count // 10) == 0:
                    progress(f"created {done}/{count} files")
    seconds = time.perf_counter() - start
    return {"files": count, "file_size": settings.file_size, "threads": writers,
            "seconds": round(seconds, 3), "files_per_s": round(count / seconds, 1)}


def _report(progress: Progress, verb: str, done: int, total: int, start: float) -> None:
    """A progress line at every tenth of the file."""
    done = min(done, total)
    step = max(BLOCK, total // 10)
    if done == total or done % step < BLOCK:
        rate = done / MB / max(time.perf_counter() - start, 1e-9)
        progress(f"{verb} {human_size(done)} of {human_size(total)} ({rate:.0f} MB/s)")
