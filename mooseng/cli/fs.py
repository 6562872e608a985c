"""File commands: `mooseng fs put|get|ls|stat|mkdir|rm|mv|setgoal`."""

import os

from mooseng.client import Client, StatResult, paths
from mooseng.common.errors import NotFound

from .format import human_size, human_time, pairs, table
from .output import Output


def _goal(entry: StatResult) -> str:
    return entry.storage_class or str(entry.goal)


def put(client: Client, args) -> Output:
    """Like cp: into an existing directory (or a PATH ending in /) under the local name."""
    target = args.path
    if target.endswith("/") or _is_dir(client, target):
        target = paths.join(target, os.path.basename(args.local))
    result = client.put(args.local, target, goal=args.goal)
    return Output(result.to_dict(), f"{args.local} -> {result.path} "
                                    f"({human_size(result.size)}, goal {_goal(result)}, "
                                    f"{len(result.chunks)} chunks)")


def get(client: Client, args) -> Output:
    local = args.local
    if os.path.isdir(local):
        local = os.path.join(local, paths.basename(args.path))
    size = client.get(args.path, local)
    return Output({"path": paths.normalize(args.path), "local": local, "size": size},
                  f"{args.path} -> {local} ({human_size(size)})")


def _is_dir(client: Client, path: str) -> bool:
    try:
        return client.stat(path).is_dir
    except NotFound:
        return False


def ls(client: Client, args) -> Output:
    entry = client.stat(args.path)
    entries = client.listdir(args.path) if entry.is_dir else [entry]
    data = [e.to_dict() for e in entries]
    for item in data:
        item.pop("chunks", None)
    if not args.long:
        return Output(data, "\n".join(e.name + ("/" if e.is_dir else "") for e in entries))
    rows = [["d" if e.is_dir else "-", _goal(e), human_size(e.size) if e.is_file else "-",
             human_time(e.mtime), e.name + ("/" if e.is_dir else "")] for e in entries]
    return Output(data, table(["TYPE", "GOAL", "SIZE", "MODIFIED", "NAME"], rows, right={2})
                  if rows else "")


def stat(client: Client, args) -> Output:
    e = client.stat(args.path)
    items = [("Path", e.path), ("Type", e.type), ("Inode", e.inode)]
    if e.is_file:
        items.append(("Size", f"{human_size(e.size)} ({e.size} bytes)"))
    items += [("Goal", e.goal), ("Storage class", e.storage_class or "-"),
              ("Modified", human_time(e.mtime))]
    if e.is_file:
        items.append(("Chunks", len(e.chunks)))
    text = pairs(items)
    if e.chunks:
        rows = [[c.index, f"{c.chunk_id:016x}", c.version, human_size(c.length),
                 len(c.servers), ", ".join(c.servers) or "(no valid copy)"] for c in e.chunks]
        text += "\n\n" + table(["INDEX", "CHUNK ID", "VERSION", "LENGTH", "COPIES", "SERVERS"],
                               rows, right={0, 2, 3, 4})
    return Output(e.to_dict(), text)


def mkdir(client: Client, args) -> Output:
    result = client.mkdir(args.path, parents=args.parents)
    return Output(result.to_dict())


def rm(client: Client, args) -> Output:
    client.remove(args.path, recursive=args.recursive)
    return Output({"removed": args.path})


def mv(client: Client, args) -> Output:
    result = client.rename(args.source, args.destination)
    return Output(result.to_dict())


def setgoal(client: Client, args) -> Output:
    changed = client.setgoal(args.path, args.goal, recursive=args.recursive)
    return Output({"path": args.path, "goal": args.goal, "changed": changed},
                  f"{args.path}: goal {args.goal} ({changed} changed)")
