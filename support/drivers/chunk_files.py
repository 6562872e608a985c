"""A chunk server's chunk files as the drivers see them: which chunk and version a file holds,
the newest version of each chunk, and which copy and bytes corrupt_chunk damages.

The layout is the chunk server's (docs/DESIGN.md): `chunks/<xx>/chunk_<id:016x>_<version:08x>.chk`.
A driver lists its node's files as tuples (chunk_id, version, where, ...) in its own way (a local
directory, a container)."""

from __future__ import annotations

import inspect
import os
import re
from typing import Callable, Iterable, Sequence, TypeVar

FILLER = "other-files.fill"   # in the data directory: what fills a disk, not a chunk
CHUNK_FILE = re.compile(r"chunk_([0-9a-f]{16})_([0-9a-f]{8})\.chk$")

Copy = TypeVar("Copy", bound=Sequence)


def parse(name: str) -> tuple[int, int] | None:
    """(chunk_id, version) of a chunk data file's name or path; None for any other file."""
    match = CHUNK_FILE.search(name)
    if not match:
        return None
    return int(match.group(1), 16), int(match.group(2), 16)


def newest_versions(copies: Iterable[Sequence]) -> dict[int, int]:
    """{chunk_id: newest version} of the copies (a server keeps a base version while it writes
    the next one, and old ones until the master has them deleted)."""
    newest: dict[int, int] = {}
    for chunk_id, version, *_ in copies:
        newest[chunk_id] = max(version, newest.get(chunk_id, 0))
    return newest


def copy_to_corrupt(node: str, copies: Iterable[Copy], chunk_id: int | None,
                    size: Callable[[Copy], int]) -> Copy:
    """The copy to damage: the newest non-empty copy of `chunk_id`, or of any chunk when it is
    None. `size` is asked only of the copies of that chunk (others may vanish meanwhile)."""
    candidates = [c for c in copies if (chunk_id is None or c[0] == chunk_id) and size(c) > 0]
    if not candidates:
        raise AssertionError(f"{node} stores no non-empty copy of "
                             f"{'any chunk' if chunk_id is None else f'chunk {chunk_id}'}")
    return max(candidates, key=lambda c: (c[0] == chunk_id, c[1]))


def offsets_to_flip(size: int) -> list[int]:
    """The bytes corrupt_chunk flips in a copy of `size` bytes: its first, middle and last."""
    return sorted({0, size // 2, size - 1})


def flip_bytes(path, offsets) -> None:
    """Invert the bytes at `offsets` of the file, durably (what corrupt_chunk does to a copy)."""
    with open(path, "r+b") as handle:
        for offset in offsets:
            handle.seek(offset)
            byte = handle.read(1)
            handle.seek(offset)
            handle.write(bytes([byte[0] ^ 0xFF]))
        handle.flush()
        os.fsync(handle.fileno())


# flip_bytes as a script for `python3 -c SCRIPT PATH OFFSET...` inside a node's container
FLIP_SCRIPT = ("import os, sys\n" + inspect.getsource(flip_bytes)
               + "flip_bytes(sys.argv[1], [int(o) for o in sys.argv[2:]])\n")
