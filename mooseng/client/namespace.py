"""Namespace operations on the master (mkdir, stat, listdir, remove, rename, goals)."""

from mooseng.common.errors import AlreadyExists
from mooseng.proto import mooseng_pb2 as pb

from . import paths
from .master import MasterSession
from .types import ChunkInfo, StatResult

_PAGE = 1000


class Namespace:
    def __init__(self, master: MasterSession):
        self.master = master

    def getattr(self, path: str) -> pb.Attr:
        return self.master.call("GetAttr", pb.PathRequest(path=paths.normalize(path))).attr

    def chunks(self, inode: int, first_index: int = 0, count: int = 0) -> pb.GetChunksReply:
        return self.master.call("GetChunks", pb.GetChunksRequest(
            inode=inode, first_index=first_index, count=count))

    def stat(self, path: str) -> StatResult:
        path = paths.normalize(path)
        attr = self.getattr(path)
        if attr.type != pb.FILE:
            return StatResult.from_attr(path, attr)
        reply = self.chunks(attr.inode)
        return StatResult.from_attr(path, reply.attr,
                                    [ChunkInfo.from_proto(c) for c in reply.chunks])

    def mkdir(self, path: str, parents: bool = False) -> StatResult:
        path = paths.normalize(path)
        reply = self.master.call("Mkdir", pb.MkdirRequest(path=path, parents=parents))
        return StatResult.from_attr(path, reply.attr)

    def create(self, path: str, goal: int | None = None, exclusive: bool = False,
               allocate: bool = False) -> pb.CreateReply:
        """The file at `path`, created when missing (an existing file is returned unless
        `exclusive`); with `allocate`, an empty file comes with a grant for its first chunk."""
        path = paths.normalize(path)
        request = pb.CreateRequest(path=path, exclusive=exclusive, goal=goal or 0,
                                   allocate_first_chunk=allocate)
        try:
            return self.master.call("Create", request)
        except AlreadyExists:
            if exclusive:
                raise
            return pb.CreateReply(attr=self.getattr(path))

    def listdir(self, path: str) -> list[StatResult]:
        path = paths.normalize(path)
        entries: list[StatResult] = []
        start_after = ""
        while True:
            reply = self.master.call("ReadDir", pb.ReadDirRequest(
                path=path, start_after=start_after, limit=_PAGE))
            entries += [StatResult.from_attr(paths.join(path, a.name), a) for a in reply.entries]
            if not reply.more or not reply.entries:
                return entries
            start_after = reply.entries[-1].name

    def remove(self, path: str, recursive: bool = False) -> None:
        self.master.call("Remove", pb.RemoveRequest(path=paths.normalize(path),
                                                    recursive=recursive))

    def rename(self, source: str, destination: str) -> StatResult:
        destination = paths.normalize(destination)
        reply = self.master.call("Rename", pb.RenameRequest(source=paths.normalize(source),
                                                            destination=destination))
        return StatResult.from_attr(destination, reply.attr)

    def setgoal(self, path: str, goal: int, recursive: bool = False) -> int:
        reply = self.master.call("SetGoal", pb.SetGoalRequest(
            path=paths.normalize(path), goal=goal, recursive=recursive))
        return reply.changed
