"""`mooseng bench`: sequential write/read throughput of one large file and small-file creates per
second, against a running cluster. Works in its own directory and removes it afterwards."""

import os
import secrets
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Callable

from mooseng.client import Client
from mooseng.common.errors import DataLoss

from .format import human_size, pairs
from .output import Output

_BLOCK = 8 * 1024 * 1024    # size of each write()/read() call on the large file
MB = 1_000_000              # throughput is reported in MB/s (10^6 bytes), like dd and fio


def run(client: Client, args, progress: Callable[[str], None]) -> Output:
    directory = args.dir or f"/.mooseng-bench-{os.getpid()}-{secrets.token_hex(3)}"
    result = {"master": client.master_address, "directory": directory, "goal": args.goal}
    client.mkdir(directory, parents=True)
    try:
        result["chunk_size"] = client.stat(directory).chunk_size or client.status()["chunk_size"]
        if args.size:
            result.update(_large_file(client, f"{directory}/large.bin", args.size, args.goal,
                                      progress))
        if args.files:
            result["small_files"] = _small_files(client, f"{directory}/small", args.files,
                                                 args.file_size, args.goal, args.threads,
                                                 progress)
    finally:
        progress(f"removing {directory}")
        client.remove(directory, recursive=True)
    return Output(result, _text(result))


def _large_file(client: Client, path: str, size: int, goal: int, progress) -> dict:
    progress(f"generating {human_size(size)} of random data")
    data = memoryview(os.urandom(size))
    progress(f"writing {path} ({human_size(size)}, goal {goal})")
    start = time.perf_counter()
    with client.open(path, "wb", goal=goal) as handle:
        for offset in range(0, size, _BLOCK):
            handle.write(data[offset:offset + _BLOCK])
            _report(progress, "written", offset + _BLOCK, size, start)
    write_s = time.perf_counter() - start
    progress(f"reading {path}")
    start = time.perf_counter()
    offset = 0
    with client.open(path, "rb") as handle:
        while block := handle.read(_BLOCK):
            if block != data[offset:offset + len(block)]:
                raise DataLoss(f"benchmark file {path} read back different bytes near offset "
                               f"{offset}")
            offset += len(block)
            _report(progress, "read", offset, size, start)
    read_s = time.perf_counter() - start
    if offset != size:
        raise DataLoss(f"benchmark file {path} read back {offset} bytes, wrote {size}")
    return {"write": {"bytes": size, "seconds": round(write_s, 3),
                      "mb_per_s": round(size / MB / write_s, 1)},
            "read": {"bytes": size, "seconds": round(read_s, 3),
                     "mb_per_s": round(size / MB / read_s, 1)}}


def _small_files(client: Client, directory: str, count: int, file_size: int, goal: int,
                 threads: int, progress) -> dict:
    client.mkdir(directory, parents=True)
    payload = os.urandom(file_size)
    progress(f"creating {count} files of {human_size(file_size)} in {directory} "
             f"({threads} thread{'s' if threads > 1 else ''})")

    def create(i: int) -> None:
        with client.open(f"{directory}/f{i:07d}", "xb", goal=goal) as handle:
            handle.write(payload)

    start = time.perf_counter()
    if threads <= 1:
        for i in range(count):
            create(i)
            if (i + 1) % max(1, count // 10) == 0:
                progress(f"created {i + 1}/{count} files")
    else:
        with ThreadPoolExecutor(threads) as pool:
            for done, _ in enumerate(pool.map(create, range(count)), 1):
                if done % max(1, count // 10) == 0:
                    progress(f"created {done}/{count} files")
    seconds = time.perf_counter() - start
    return {"files": count, "file_size": file_size, "threads": threads,
            "seconds": round(seconds, 3), "files_per_s": round(count / seconds, 1)}


def _report(progress, verb: str, done: int, total: int, start: float) -> None:
    """A progress line at every tenth of the file."""
    done = min(done, total)
    step = max(_BLOCK, total // 10)
    if done == total or done % step < _BLOCK:
        rate = done / MB / max(time.perf_counter() - start, 1e-9)
        progress(f"{verb} {human_size(done)} of {human_size(total)} ({rate:.0f} MB/s)")


def _text(result: dict) -> str:
    items = [("Master", result["master"]), ("Chunk size", human_size(result["chunk_size"])),
             ("Goal", result["goal"])]
    if "write" in result:
        size = human_size(result["write"]["bytes"])
        items += [(f"Sequential write ({size})", f"{result['write']['mb_per_s']} MB/s"),
                  (f"Sequential read ({size})", f"{result['read']['mb_per_s']} MB/s")]
    if "small_files" in result:
        small = result["small_files"]
        items.append((f"Small files ({small['files']} x {human_size(small['file_size'])})",
                      f"{small['files_per_s']} files/s"))
    return pairs(items)
