"""Namespace operations on the master (mkdir, stat, listdir, remove, rename, goals)."""

from mooseng.common.errors import AlreadyExists, NotFound
from mooseng.proto import mooseng_pb2 as pb

from . import paths
from .cache import MetadataCache
from .master import MasterSession
from .regional import RegionalReads
from .types import ChunkInfo, StatResult

_PAGE = 1000


class Namespace:
    """Lookups go through the metadata cache (a request to the master is one miss of its
    kind); `fresh=True` always asks the leader (close-to-open, and what this client just
    wrote), otherwise the region's master answers as the consistency level allows. Changes
    made here are forgotten in the cache at once, before the master's event arrives."""

    def __init__(self, master: MasterSession, cache: MetadataCache, labels: dict[str, str],
                 reads: RegionalReads):
        self.master = master
        self.reads = reads          # attributes and listings: from the region's master
        self.cache = cache
        self.labels = labels        # where the client is, for locality-aware placement

    def getattr(self, path: str, fresh: bool = False) -> pb.Attr:
        path = paths.normalize(path)
        if not fresh:
            attr = self.cache.get("attr", path)
            if attr is not None:
                return attr
            missing = self.cache.get("negative", path)
            if missing is not None:
                raise NotFound(missing)
        token, negative = self.cache.token("attr"), self.cache.token("negative")
        ask = self.master.call if fresh else self.reads.call
        try:
            attr = ask("GetAttr", pb.PathRequest(path=path)).attr
        except NotFound as error:
            self.cache.missed("negative")
            self.cache.put("negative", path, str(error), negative)
            raise
        except BaseException:
            self.cache.missed("attr")
            raise
        self.cache.missed("attr")
        self.cache.put("attr", path, attr, token)
        return attr

    def chunks(self, inode: int, first_index: int = 0, count: int = 0,
               cached: bool = False) -> pb.GetChunksReply:
        """The chunk list (from the cache when `cached`, for a whole file only)."""
        whole = cached and not first_index and not count
        if whole:
            reply = self.cache.get("chunks", inode)
            if reply is not None:
                return reply
        token = self.cache.token("chunks")
        self.cache.missed("chunks")
        reply = self.master.call("GetChunks", pb.GetChunksRequest(
            inode=inode, first_index=first_index, count=count, client_labels=self.labels))
        if whole and not any(c.registering for c in reply.chunks):
            self.cache.put("chunks", inode, reply, token)
        return reply

    def stat(self, path: str, fresh: bool = False) -> StatResult:
        path = paths.normalize(path)
        attr = self.getattr(path, fresh)
        if attr.type != pb.FILE:
            return StatResult.from_attr(path, attr)
        reply = self.chunks(attr.inode, cached=True)
        # The attributes by path (a goal set on a directory tree changes them, not the chunk
        # list); a commit or truncate makes both stale at once.
        return StatResult.from_attr(path, attr, [ChunkInfo.from_proto(c) for c in reply.chunks])

    def changed(self, path: str = "", inode: int = 0, subtree: bool = True) -> None:
        """This client changed `path` (and below it) or the data of `inode`."""
        if path:
            self.cache.invalidate(pb.Invalidation(kind=pb.Invalidation.PATH, path=path,
                                                  subtree=subtree), count=False)
        if inode:
            self.cache.invalidate(pb.Invalidation(kind=pb.Invalidation.INODE, inode=inode),
                                  count=False)

    def mkdir(self, path: str, parents: bool = False) -> StatResult:
        path = paths.normalize(path)
        try:
            reply = self.master.call("Mkdir", pb.MkdirRequest(path=path, parents=parents))
        finally:
            self.changed(path)
        return StatResult.from_attr(path, reply.attr)

    def create(self, path: str, goal: int | None = None, exclusive: bool = False,
               allocate: bool = False) -> pb.CreateReply:
        """The file at `path`, created when missing (an existing file is returned unless
        `exclusive`); with `allocate`, an empty file comes with a grant for its first chunk."""
        path = paths.normalize(path)
        request = pb.CreateRequest(path=path, exclusive=exclusive, goal=goal or 0,
                                   allocate_first_chunk=allocate, client_labels=self.labels)
        try:
            return self.master.call("Create", request)
        except AlreadyExists:
            if exclusive:
                raise
            return pb.CreateReply(attr=self.getattr(path, fresh=True))
        finally:
            self.changed(path, subtree=False)

    def listdir(self, path: str) -> list[StatResult]:
        """Every entry (one cache entry; each page asked of the master is one miss)."""
        path = paths.normalize(path)
        cached = self.cache.get("dir", path)
        if cached is not None:
            return list(cached)
        token = self.cache.token("dir")
        entries: list[StatResult] = []
        start_after = ""
        while True:
            self.cache.missed("dir")
            reply = self.reads.call("ReadDir", pb.ReadDirRequest(
                path=path, start_after=start_after, limit=_PAGE))
            entries += [StatResult.from_attr(paths.join(path, a.name), a) for a in reply.entries]
            if not reply.more or not reply.entries:
                self.cache.put("dir", path, tuple(entries), token)
                return entries
            start_after = reply.entries[-1].name

    def remove(self, path: str, recursive: bool = False) -> None:
        path = paths.normalize(path)
        try:
            self.master.call("Remove", pb.RemoveRequest(path=path, recursive=recursive))
        finally:
            self.changed(path)

    def rename(self, source: str, destination: str) -> StatResult:
        source, destination = paths.normalize(source), paths.normalize(destination)
        try:
            reply = self.master.call("Rename", pb.RenameRequest(source=source,
                                                                destination=destination))
        finally:
            self.changed(source)
            self.changed(destination)
        return StatResult.from_attr(destination, reply.attr)

    def setgoal(self, path: str, goal: int, recursive: bool = False) -> int:
        return self._set_on_tree("SetGoal", pb.SetGoalRequest, path, recursive, goal=goal)

    def setclass(self, path: str, name: str, recursive: bool = False) -> int:
        return self._set_on_tree("SetClass", pb.SetClassRequest, path, recursive,
                                 storage_class=name)

    def _set_on_tree(self, method: str, request, path: str, recursive: bool, **value) -> int:
        """SetGoal or SetClass: how many files and directories changed."""
        path = paths.normalize(path)
        try:
            reply = self.master.call(method, request(path=path, recursive=recursive, **value))
        finally:
            self.changed(path, subtree=recursive)
        return reply.changed
