"""Chunk server administration: `mooseng chunkserver maintenance|drain|remove` and `mooseng
admin repair`."""

from mooseng.client import Client

from .format import human_duration, human_size, table
from .output import Output

DEFAULT_MAINTENANCE = 30 * 60


def maintenance(client: Client, args) -> Output:
    enabled = args.switch == "on"
    seconds = args.seconds or (DEFAULT_MAINTENANCE if enabled else 0.0)
    client.set_maintenance(args.name, enabled, seconds if enabled else 0.0)
    text = (f"{args.name} in maintenance for at most {human_duration(seconds)}: its copies stay "
            "valid; if it is still silent after that, it counts as lost" if enabled
            else f"{args.name} out of maintenance")
    return Output({"server": args.name, "maintenance": enabled,
                   "seconds": seconds if enabled else 0}, text)


def drain(client: Client, args) -> Output:
    client.drain(args.name)
    return Output({"server": args.name, "draining": True},
                  f"{args.name} draining: its copies are being made elsewhere and then removed "
                  "from it (`mooseng chunkservers` shows its CHUNKS going down to 0)")


def remove(client: Client, args) -> Output:
    client.remove_chunkserver(args.name)
    return Output({"server": args.name, "removed": True}, f"{args.name} removed")


def repair(client: Client, args) -> Output:
    found = client.repair(args.path)
    return Output(found, f"{args.path}: {found['verifications']} copies of {found['chunks']} "
                         "chunks are being checked; damaged ones are made again from good copies")


def balance(client: Client, args) -> Output:
    found = client.balance(apply=args.apply)
    used = found["used_bytes"]
    after = dict(used)
    for move in found["moves"]:
        after[move["source"]] -= move["bytes"]
        after[move["target"]] += move["bytes"]
    rows = [[sid, human_size(used[sid]), human_size(after[sid])] for sid in used]
    text = table(["SERVER", "USED", "AFTER BALANCING"], rows, right={1, 2})
    verb = "moving" if args.apply else "would move (dry run; --apply moves them)"
    text += f"\n\n{len(found['moves'])} copies {verb}" if found["moves"] else \
        "\n\nbalanced: every online chunk server within 10 % of the mean"
    return Output(found, text)
