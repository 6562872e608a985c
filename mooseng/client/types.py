"""The client's immutable data model, separate from the generated protobuf classes."""

import dataclasses

from mooseng.proto import mooseng_pb2 as pb

_TYPES = {pb.FILE: "file", pb.DIRECTORY: "directory"}
_STATES = {pb.ONLINE: "online", pb.OFFLINE: "offline", pb.MAINTENANCE: "maintenance",
           pb.DRAINING: "draining"}


@dataclasses.dataclass(frozen=True)
class ChunkInfo:
    index: int
    chunk_id: int
    version: int
    length: int
    servers: tuple[str, ...] = ()
    server_ids: tuple[str, ...] = ()
    registering: bool = False       # no copy known yet: the master has just started

    @classmethod
    def from_proto(cls, location: pb.ChunkLocation) -> "ChunkInfo":
        return cls(index=location.chunk_index, chunk_id=location.chunk_id,
                   version=location.version, length=location.length,
                   servers=tuple(location.servers), server_ids=tuple(location.server_ids),
                   registering=location.registering)

    def to_dict(self) -> dict:
        return {"index": self.index, "chunk_id": self.chunk_id, "version": self.version,
                "length": self.length, "servers": list(self.servers),
                "server_ids": list(self.server_ids), "registering": self.registering}


@dataclasses.dataclass(frozen=True)
class StatResult:
    path: str
    inode: int
    type: str               # "file" | "directory"
    size: int
    goal: int
    storage_class: str
    mtime: float
    ctime: float = 0.0
    nlink: int = 1
    chunk_size: int = 0
    chunks: tuple[ChunkInfo, ...] = ()

    @classmethod
    def from_attr(cls, path: str, attr: pb.Attr, chunks=()) -> "StatResult":
        return cls(path=path, inode=attr.inode, type=_TYPES.get(attr.type, "unknown"),
                   size=attr.size, goal=attr.goal, storage_class=attr.storage_class,
                   mtime=attr.mtime, ctime=attr.ctime, nlink=attr.nlink,
                   chunk_size=attr.chunk_size, chunks=tuple(chunks))

    @property
    def name(self) -> str:
        return self.path.rstrip("/").rsplit("/", 1)[-1] or "/"

    @property
    def is_dir(self) -> bool:
        return self.type == "directory"

    @property
    def is_file(self) -> bool:
        return self.type == "file"

    def to_dict(self) -> dict:
        data = {"path": self.path, "name": self.name, "inode": self.inode, "type": self.type,
                "size": self.size, "goal": self.goal, "storage_class": self.storage_class,
                "mtime": self.mtime, "ctime": self.ctime, "nlink": self.nlink}
        if self.type == "file":
            data["chunk_size"] = self.chunk_size
            data["chunks"] = [chunk.to_dict() for chunk in self.chunks]
        return data


def server_dict(info: pb.ChunkServerInfo) -> dict:
    """One chunk server as `mooseng chunkservers --json` shows it."""
    return {"id": info.id, "address": info.address, "http_address": info.http_address,
            "labels": dict(sorted(info.labels.items())),
            "state": _STATES.get(info.state, "unknown"),
            "capacity": info.capacity_bytes, "used": info.used_bytes, "full": info.full,
            "chunk_count": info.chunk_count, "last_heartbeat": info.last_heartbeat}


def status_dict(status: pb.ClusterStatus) -> dict:
    """ClusterStatus as plain JSON-able values (uint64 stay ints, every state present)."""
    data = {}
    for field in status.DESCRIPTOR.fields:
        value = getattr(status, field.name)
        if field.name == "servers_by_state":
            value = dict(value)
        elif field.name in ("masters", "etcd", "metaloggers", "checks", "regions"):
            value = [{f.name: getattr(item, f.name) for f in item.DESCRIPTOR.fields}
                     for item in value]
        data[field.name] = value
    data["servers_by_state"] = {state: data["servers_by_state"].get(state, 0)
                                for state in _STATES.values()} | \
        data["servers_by_state"]
    return data


def class_dict(spec: pb.StorageClassSpec) -> dict:
    return {"name": spec.name, "copies": list(spec.copies), "goal": len(spec.copies),
            "archive_to": spec.archive_to, "archive_after": spec.archive_after_seconds,
            "users": spec.users}


def placement_dict(path: str, reply: pb.PlacementReply) -> dict:
    return {"path": path, "storage_class": reply.attr.storage_class, "goal": reply.attr.goal,
            "chunks": [{"index": c.chunk_index, "chunk_id": c.chunk_id, "version": c.version,
                        "wants": list(c.wants), "status": c.status,
                        "copies": [{"server_id": p.server_id, "address": p.address,
                                    "labels": dict(sorted(p.labels.items())),
                                    "state": _STATES.get(p.state, "unknown"),
                                    "satisfies": p.satisfies} for p in c.copies]}
                       for c in reply.chunks]}
