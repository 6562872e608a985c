"""Pure arithmetic that maps byte ranges of a file onto its chunks."""

import dataclasses
from typing import Iterator


@dataclasses.dataclass(frozen=True)
class Piece:
    """The part of a file range that falls inside one chunk."""

    index: int          # chunk index in the file
    offset: int         # offset inside the chunk
    length: int
    file_offset: int    # offset of the piece in the file

    @property
    def end(self) -> int:
        return self.offset + self.length


def pieces(offset: int, length: int, chunk_size: int) -> Iterator[Piece]:
    """Split [offset, offset+length) at chunk boundaries; nothing for an empty range."""
    if offset < 0 or length < 0:
        raise ValueError(f"negative offset {offset} or length {length}")
    if chunk_size <= 0:
        raise ValueError(f"chunk size must be positive, not {chunk_size}")
    end = offset + length
    while offset < end:
        index, inside = divmod(offset, chunk_size)
        take = min(chunk_size - inside, end - offset)
        yield Piece(index, inside, take, offset)
        offset += take


def chunk_count(size: int, chunk_size: int) -> int:
    """Number of chunks a file of `size` bytes spans."""
    return -(-size // chunk_size)


def frames(data, frame: int) -> Iterator[bytes]:
    """Cut `data` into frames of at most `frame` bytes (at least one frame for empty data)."""
    view = memoryview(data)
    if not len(view):
        return
    for start in range(0, len(view), frame):
        yield bytes(view[start:start + frame])
