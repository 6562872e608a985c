"""What is on a docker node's disk: its chunk files (listed and damaged inside the container or,
when it is stopped or paused, through the engine's archives) and a master's data directory
restored from a metalogger's copy."""

from __future__ import annotations

import contextlib
import io
import pathlib
import tarfile
import tempfile
from typing import TYPE_CHECKING, Iterator

import docker.errors

from support.drivers import chunk_files

if TYPE_CHECKING:
    from support.drivers.docker_node import DockerNode

DATA_DIR = "/data"


def _inside(node: "DockerNode") -> bool:
    return node.is_running() and not node.paused


def chunk_files_of(node: "DockerNode") -> list[tuple[int, int, str, int]]:
    """(chunk_id, version, path, size) of every .chk file; works on a stopped node too."""
    if node.role != "chunkserver":
        raise RuntimeError(f"{node.name} is a {node.role}; only chunk servers store chunks")
    if _inside(node):
        listing = node.run_inside("find", f"{DATA_DIR}/chunks", "-name", "chunk_*.chk",
                                  "-printf", "%p %s\\n")
        entries = [line.rsplit(" ", 1) for line in listing.splitlines() if line.strip()]
    else:
        entries = _archive_listing(node, f"{DATA_DIR}/chunks")
    found = []
    for path, size in entries:
        named = chunk_files.parse(path)
        if named:
            found.append((*named, path, int(size)))
    return found


def _archive_listing(node: "DockerNode", folder: str) -> list[tuple[str, int]]:
    try:
        stream, _ = node.container.get_archive(folder)
    except docker.errors.NotFound:
        return []
    with tarfile.open(fileobj=io.BytesIO(b"".join(stream))) as tar:
        parent = folder.rsplit("/", 1)[0]
        return [(f"{parent}/{m.name}", m.size) for m in tar.getmembers() if m.isfile()]


def corrupt_chunk(node: "DockerNode", chunk_id: int | None = None) -> int:
    cid, _, path, size = chunk_files.copy_to_corrupt(node.name, chunk_files_of(node), chunk_id,
                                                     size=lambda c: c[3])
    offsets = chunk_files.offsets_to_flip(size)
    if _inside(node):
        node.run_inside("python3", "-c", chunk_files.FLIP_SCRIPT, path, *map(str, offsets))
    else:
        _flip_in_archive(node, path, offsets)
    return cid


def _flip_in_archive(node: "DockerNode", path: str, offsets: list[int]) -> None:
    stream, _ = node.container.get_archive(path)
    with tarfile.open(fileobj=io.BytesIO(b"".join(stream))) as tar:
        member = tar.getmembers()[0]
        data = bytearray(tar.extractfile(member).read())
    for offset in offsets:
        data[offset] ^= 0xFF
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as tar:
        tar.addfile(member, io.BytesIO(bytes(data)))
    node.container.put_archive(path.rsplit("/", 1)[0], out.getvalue())


@contextlib.contextmanager
def restored_data_dir(source: "DockerNode", master: str) -> Iterator[pathlib.Path]:
    """`mooseng admin restore` run in the (running) metalogger's container; yields the restored
    directory on this host, named `data`, to be copied to / of the new master's container."""
    staged = f"/tmp/restore-{master}"
    source.run_inside("rm", "-rf", staged)
    source.run_inside("mooseng", "admin", "restore", DATA_DIR, staged)
    stream, _ = source.container.get_archive(staged)
    with tempfile.TemporaryDirectory(prefix=f"mooseng-restore-{master}-") as host:
        with tarfile.open(fileobj=io.BytesIO(b"".join(stream))) as tar:
            tar.extractall(host, filter="tar")
        data = pathlib.Path(host) / "data"
        (pathlib.Path(host) / pathlib.Path(staged).name).rename(data)
        yield data

