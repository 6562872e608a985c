"""Self-verifying data: bytes generated from (seed, size), checkable at any offset without a copy.

The content is laid out in 64 KiB blocks; each block starts with a 16-byte header (seed, offset of
the block) followed by pseudo-random bytes seeded by (seed, block). A mismatch is therefore
reported at its exact offset, and the header of what was found tells whose data it is (another
file, another place in this file, or zeros of a hole), as LizardFS's test data does.
"""

from __future__ import annotations

import dataclasses
import random
import re
import struct
from typing import Iterator

BLOCK = 64 * 1024
HEADER = struct.Struct(">QQ")

UNITS = {"B": 1, "KB": 1024, "MB": 1024 ** 2, "GB": 1024 ** 3}

# The integration plan's data sets: size bounds in bytes (large: 1 GB and up).
DATA_SETS = {
    "small": (1 * 1024, 64 * 1024),
    "medium": (1 * 1024 ** 2, 100 * 1024 ** 2),
    "large": (1024 ** 3, None),
}

_scale = 1.0


class DataMismatch(AssertionError):
    """Read data differs from what was written; the message names the first bad offset."""


def set_scale(scale: float) -> None:
    global _scale
    if scale <= 0:
        raise ValueError(f"data_scale must be positive, got {scale}")
    _scale = scale


def parse_size(text: str) -> int:
    """'64 KB' -> 65536 (binary units, as the plan's data sets mean them)."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*(B|KB|MB|GB)\s*", text, re.IGNORECASE)
    if not match:
        raise ValueError(f"not a size: {text!r} (use e.g. 1 KB, 64 KB, 1 MB, 1 GB)")
    return int(float(match.group(1)) * UNITS[match.group(2).upper()])


def check_data_set(name: str, *sizes: str) -> None:
    """A feature's sizes must lie in the plan's data set they are said to belong to."""
    if name not in DATA_SETS:
        raise ValueError(f"unknown data set {name!r}; the plan's are {', '.join(DATA_SETS)}")
    low, high = DATA_SETS[name]
    for text in sizes:
        if parse_size(text) < low or (high is not None and parse_size(text) > high):
            raise ValueError(f"{text} is outside the {name} data set "
                             f"({low} to {high or 'any number of'} bytes)")


def scaled_size(text: str) -> int:
    """A size from a feature file, shrunk (or grown) by `-D data_scale`; at least 1 byte."""
    return max(1, int(parse_size(text) * _scale))


def scaled_count(count: int) -> int:
    """A number of files from a feature file, scaled like sizes; at least 1."""
    return max(1, int(count * _scale))


@dataclasses.dataclass(frozen=True)
class Payload:
    """The content of one write: `size` bytes determined by `seed`."""

    seed: int
    size: int

    def _block(self, index: int) -> bytes:
        rng = random.Random(self.seed * 1_000_003 + index)
        return HEADER.pack(self.seed, index * BLOCK) + rng.randbytes(BLOCK - HEADER.size)

    def bytes(self, offset: int = 0, length: int | None = None) -> bytes:
        end = self.size if length is None else min(self.size, offset + length)
        if offset >= end:
            return b""
        first, last = offset // BLOCK, (end - 1) // BLOCK
        data = b"".join(self._block(i) for i in range(first, last + 1))
        start = offset - first * BLOCK
        return data[start:start + end - offset]

    def pieces(self, piece: int = 1024 * 1024) -> Iterator[bytes]:
        for offset in range(0, self.size, piece):
            yield self.bytes(offset, piece)

    def matches(self, data: bytes) -> bool:
        try:
            self.verify(data)
        except DataMismatch:
            return False
        return True

    def verify(self, data: bytes) -> None:
        """Check that `data` is exactly this payload; the error names the first bad offset."""
        self._compare(data[:self.size], 0)
        if len(data) != self.size:
            raise DataMismatch(f"expected {self.size} bytes of seed {self.seed}, "
                               f"read {len(data)} (the first {min(len(data), self.size)} match)")

    def verify_range(self, data: bytes, offset: int) -> None:
        """Check `data` as the bytes of this payload starting at `offset`."""
        if offset + len(data) > self.size:
            raise DataMismatch(f"read {len(data)} bytes at offset {offset}, "
                               f"beyond the {self.size} bytes of seed {self.seed}")
        self._compare(data, offset)

    def _compare(self, data: bytes, offset: int) -> None:
        step = 1024 * 1024
        for start in range(0, len(data), step):
            got = data[start:start + step]
            want = self.bytes(offset + start, len(got))
            if got != want:
                at = next(i for i, (a, b) in enumerate(zip(got, want)) if a != b) \
                    if len(got) == len(want) else min(len(got), len(want))
                bad = offset + start + at
                raise DataMismatch(f"data of seed {self.seed} differs at offset {bad} "
                                   f"(file size {self.size}): {describe(data, bad - offset)}")


def describe(data: bytes, at: int) -> str:
    """Say what the bytes around a bad offset look like, using the block headers."""
    block_start = (at // BLOCK) * BLOCK
    found = data[block_start:block_start + HEADER.size]
    if found and not any(data[block_start:block_start + BLOCK]):
        return "the whole 64 KiB block there reads as zeros (a hole or lost data)"
    if len(found) == HEADER.size:
        seed, offset = HEADER.unpack(found)
        if offset % BLOCK == 0 and offset < 1 << 48:
            return f"the block there carries the header of seed {seed} offset {offset}"
    return f"found {data[at:at + 16].hex()} (no recognisable block header)"
