"""What the workloads write to: a MooseNG cluster through the client library, or any mounted
file system (MooseFS through mfsmount, a local disk) through a directory. Both make a file
durable before `finish` returns, each in its own way."""

import os
import shutil
from typing import BinaryIO

from mooseng.client import Client


class MooseNGTarget:
    """Paths are MooseNG paths. `close()` of a MooseNG file returns once every copy is on disk
    and the master logged the new version, so finishing a file is closing it."""

    def __init__(self, client: Client, goal: int):
        self.client = client
        self.goal = goal

    def mkdir(self, path: str) -> None:
        self.client.mkdir(path, parents=True)

    def create(self, path: str, exclusive: bool = False) -> BinaryIO:
        return self.client.open(path, "xb" if exclusive else "wb", goal=self.goal)

    def finish(self, handle) -> None:
        handle.close()

    def open(self, path: str) -> BinaryIO:
        return self.client.open(path, "rb")

    def remove(self, path: str) -> None:
        self.client.remove(path, recursive=True)


class DirectoryTarget:
    """Paths are relative to `root` (a leading '/' means the root of the target, as for
    MooseNG). Finishing a file is flush, fsync, close: the durable close of a POSIX file system
    (and what makes MooseFS write its chunks before acknowledging). Python's buffered files
    pass large writes straight through and finish partial reads and writes."""

    def __init__(self, root: str):
        self.root = root

    def _local(self, path: str) -> str:
        return os.path.join(self.root, path.lstrip("/"))

    def mkdir(self, path: str) -> None:
        os.makedirs(self._local(path), exist_ok=True)

    def create(self, path: str, exclusive: bool = False) -> BinaryIO:
        return open(self._local(path), "xb" if exclusive else "wb")

    def finish(self, handle) -> None:
        try:
            handle.flush()
            os.fsync(handle.fileno())
        finally:
            handle.close()

    def open(self, path: str) -> BinaryIO:
        return open(self._local(path), "rb")

    def remove(self, path: str) -> None:
        shutil.rmtree(self._local(path))
