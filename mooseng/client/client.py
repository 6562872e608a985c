"""Client: the one object the CLI, the benchmark and the acceptance suite use."""

import shutil
from concurrent.futures import ThreadPoolExecutor
from typing import Callable

from mooseng.common.errors import FailedPrecondition, NotFound
from mooseng.common.rpc import Channels
from mooseng.proto import mooseng_pb2 as pb

from . import paths
from .datapath import DataPath
from .io import File, parse_mode
from .master import MasterSession
from .namespace import Namespace
from .types import StatResult, server_dict, status_dict

_COPY_BLOCK = 8 * 1024 * 1024


class Client:
    """A connection to one MooseNG master (and, through it, to the chunk servers).

    Thread-safe: several threads may use one Client, each with its own open files.
    `address_map` translates the chunk server addresses the master hands out into ones this
    process can dial (identity by default). `timeout` bounds every call; a chunk server that
    moves no data for `stall_timeout` seconds is given up for another copy or chain."""

    def __init__(self, master: str = "127.0.0.1:9421", timeout: float = 30.0,
                 address_map: Callable[[str], str] | None = None, workers: int = 8,
                 stall_timeout: float = 10.0):
        self.master_address = master
        self.timeout = timeout
        self._channels = Channels()
        self._master = MasterSession(master, self._channels, timeout)
        self._ns = Namespace(self._master)
        self._data = DataPath(self._master, self._channels, timeout, address_map, stall_timeout)
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="mooseng-io")

    # ------------------------------------------------------------------ namespace

    def stat(self, path: str) -> StatResult:
        return self._ns.stat(path)

    def exists(self, path: str) -> bool:
        try:
            self._ns.getattr(path)
            return True
        except NotFound:
            return False

    def mkdir(self, path: str, parents: bool = False) -> StatResult:
        return self._ns.mkdir(path, parents)

    def listdir(self, path: str = "/") -> list[StatResult]:
        return self._ns.listdir(path)

    def remove(self, path: str, recursive: bool = False) -> None:
        self._ns.remove(path, recursive)

    def rename(self, src: str, dst: str) -> StatResult:
        return self._ns.rename(src, dst)

    def setgoal(self, path: str, goal: int, recursive: bool = False) -> int:
        """Set the goal; returns how many files and directories changed."""
        return self._ns.setgoal(path, goal, recursive)

    # ------------------------------------------------------------------ data

    def open(self, path: str, mode: str = "rb", goal: int | None = None) -> File:
        """'rb' read, 'wb' create or empty, 'ab' append, 'xb' create new only, 'r+b' update."""
        path = paths.normalize(path)
        kind, _, _ = parse_mode(mode)
        first_chunk = None
        if kind in "wax":
            created = self._ns.create(path, goal=goal, exclusive=kind == "x", allocate=True)
            attr = created.attr
            if created.HasField("first_chunk"):
                first_chunk = created.first_chunk
        else:
            attr = self._ns.getattr(path)
        if attr.type != pb.FILE:
            raise FailedPrecondition(f"{path} is a directory, not a file")
        if kind == "w" and attr.size:
            attr = self._master.call("Truncate", pb.TruncateRequest(inode=attr.inode, size=0)).attr
        if goal and attr.goal != goal and kind != "x":
            self._ns.setgoal(path, goal)
            first_chunk = None      # its chain was chosen for the old goal
        return File(path, attr, mode, self._ns, self._data, self._pool, first_chunk)

    def write_bytes(self, path: str, data: bytes, goal: int | None = None) -> StatResult:
        with self.open(path, "wb", goal=goal) as handle:
            handle.write(data)
        return self._ns.stat(path)

    def read_bytes(self, path: str) -> bytes:
        with self.open(path, "rb") as handle:
            return handle.read()

    def put(self, local_path: str, path: str, goal: int | None = None) -> StatResult:
        """Copy a local file into MooseNG (replacing an existing file)."""
        with open(local_path, "rb") as source:
            with self.open(path, "wb", goal=goal) as target:
                shutil.copyfileobj(source, target, _COPY_BLOCK)
        return self._ns.stat(path)

    def get(self, path: str, local_path: str) -> int:
        """Copy a MooseNG file to a local path; returns the number of bytes."""
        total = 0
        with self.open(path, "rb") as source, open(local_path, "wb") as target:
            block = max(source.chunk_size, _COPY_BLOCK)
            while data := source.read(block):
                target.write(data)
                total += len(data)
        return total

    def truncate(self, path: str, size: int) -> StatResult:
        with self.open(path, "r+b") as handle:
            handle.truncate(size)
        return self._ns.stat(path)

    # ------------------------------------------------------------------ cluster

    def status(self) -> dict:
        return status_dict(self._master.call("GetClusterStatus", pb.ClusterStatusRequest()))

    def chunkservers(self) -> list[dict]:
        reply = self._master.call("ListChunkServers", pb.ListChunkServersRequest())
        return sorted((server_dict(s) for s in reply.servers), key=lambda s: s["address"])

    def set_maintenance(self, server_id: str, enabled: bool = True) -> None:
        self._master.call("SetMaintenance", pb.SetMaintenanceRequest(server_id=server_id,
                                                                     enabled=enabled))

    # ------------------------------------------------------------------ lifetime

    def close(self) -> None:
        self._pool.shutdown(wait=True)
        self._channels.close()

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
