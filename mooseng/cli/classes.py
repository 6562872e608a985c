"""Storage class commands: `mooseng class create|list|show|modify|delete`, `mooseng fs
setclass` and `mooseng admin placement`."""

from mooseng.client import Client
from mooseng.common.classes import describe
from mooseng.common.errors import NotFound

from .format import human_duration, labels, pairs, table
from .output import Output


def _copies(entry: dict) -> str:
    return describe(entry["copies"])


def _archive(entry: dict) -> str:
    if not entry["archive_to"]:
        return "-"
    return f"to {entry['archive_to']} after {human_duration(entry['archive_after'])}"


def create(client: Client, args) -> Output:
    return _define(client, args, modify=False)


def modify(client: Client, args) -> Output:
    return _define(client, args, modify=True)


def _define(client: Client, args, modify: bool) -> Output:
    entry = client.define_class(args.name, args.copies, args.archive_to or "",
                                args.archive_after or 0.0, modify=modify)
    verb = "changed" if modify else "created"
    return Output(entry, f"storage class {entry['name']} {verb}: {_copies(entry)}"
                         + (f", archive {_archive(entry)}" if entry["archive_to"] else ""))


def list_classes(client: Client, args) -> Output:
    found = client.classes()
    rows = [[c["name"], c["goal"], _copies(c), _archive(c), c["users"]] for c in found]
    text = table(["NAME", "COPIES", "PLACEMENT", "ARCHIVE", "USED BY"], rows, right={1, 4}) \
        if rows else "no storage classes (plain goals only): create one with " \
                     "`mooseng class create NAME 2*tier=ssd`"
    return Output(found, text)


def show(client: Client, args) -> Output:
    for entry in client.classes():
        if entry["name"] == args.name:
            return Output(entry, pairs([("Name", entry["name"]), ("Copies", entry["goal"]),
                                        ("Placement", _copies(entry)),
                                        ("Archive", _archive(entry)),
                                        ("Used by", entry["users"])]))
    raise NotFound(f"no storage class {args.name!r} (see `mooseng class list`)")


def delete(client: Client, args) -> Output:
    client.delete_class(args.name)
    return Output({"name": args.name, "deleted": True}, f"storage class {args.name} deleted")


def setclass(client: Client, args) -> Output:
    changed = client.setclass(args.path, args.name, recursive=args.recursive)
    return Output({"path": args.path, "storage_class": args.name, "changed": changed},
                  f"{args.path}: storage class {args.name} ({changed} changed)")


def allocation_policy(client: Client, args) -> Output:
    found = client.allocation_policy(args.name or "")
    verb = "is now" if args.name else "is"
    return Output(found, f"allocation policy {verb} {found['policy']} (policies: "
                         f"{', '.join(found['choices'])})")


def placement(client: Client, args) -> Output:
    found = client.placement(args.path)
    rows = []
    for chunk in found["chunks"]:
        copies = chunk["copies"] or [None]
        for number, copy in enumerate(copies):
            first = number == 0
            rows.append([chunk["index"] if first else "", chunk["status"].upper() if first else "",
                         copy["server_id"] if copy else "-",
                         copy["state"] if copy else "-",
                         labels(copy["labels"]) if copy else "-",
                         (copy["satisfies"].replace("*", "any") or "NONE") if copy else "-"])
    wanted = _copies({"copies": found["chunks"][0]["wants"]}) if found["chunks"] else "-"
    head = pairs([("Path", found["path"]),
                  ("Storage class", found["storage_class"] or f"goal {found['goal']}"),
                  ("Wants", wanted)])
    body = table(["CHUNK", "STATUS", "SERVER", "STATE", "LABELS", "FILLS"], rows) if rows \
        else "(no chunks: the file is empty)"
    return Output(found, head + "\n\n" + body)
