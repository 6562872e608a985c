"""Cluster commands: `mooseng status`, `mooseng chunkservers` and the metadata admin commands."""

import dataclasses

from mooseng.client import Client
from mooseng.master.changelog import restore as restore_metadata

from .format import human_size, labels, pairs, table
from .output import Output


def status(client: Client, args) -> Output:
    s = client.status()
    servers = s["servers_by_state"]
    used = f"{human_size(s['used_bytes'])} of {human_size(s['capacity_bytes'])}"
    text = pairs([
        ("Master", f"{client.master_address} (MooseNG {s['version'] or '?'})"),
        ("Health", s["health"] or "unknown"),
        ("Chunk servers", ", ".join(f"{n} {state}" for state, n in servers.items())),
        ("Space used", used),
        ("Files", s["files"]),
        ("Directories", s["directories"]),
        ("Chunks", s["chunks"]),
        ("Under goal", s["chunks_undergoal"]),
        ("Over goal", s["chunks_overgoal"]),
        ("Missing", s["chunks_missing"]),
        ("Misplaced", s["chunks_misplaced"]),
        ("Replications pending", s["replications_pending"]),
        ("Moves", f"{s['moves_done']} done, {s['moves_in_flight']} in flight"
                  + (", balancing" if s["balancing"] else "")),
        ("Allocation policy", s["allocation_policy"]),
        ("Chunk size", human_size(s["chunk_size"])),
        ("Default goal", s["default_goal"]),
        ("Metadata version", s["metadata_version"]),
    ])
    if s["checks"]:
        rows = [[c["name"], c["status"].upper(), c["message"]] for c in s["checks"]]
        text += "\n\n" + table(["CHECK", "STATE", "DETAIL"], rows)
    if s["masters"]:
        rows = [[m["name"], m["address"], m["region"] or "-", m["role"].upper(),
                 m["metadata_version"], m["lag_entries"],
                 "-" if m["staleness_seconds"] < 0 else f"{m['staleness_seconds']:.1f}s",
                 f"{m['report_age_seconds']:.1f}s"] for m in s["masters"]]
        text += "\n\n" + table(["MASTER", "ADDRESS", "REGION", "ROLE", "VERSION", "LAG",
                                  "BEHIND", "REPORTED"], rows, right={4, 5, 6, 7})
    if s["metaloggers"]:
        rows = [[m["name"], m["metadata_version"], m["lag_entries"],
                 f"{m['report_age_seconds']:.1f}s"] for m in s["metaloggers"]]
        text += "\n\n" + table(["METALOGGER", "VERSION", "LAG", "REPORTED"], rows,
                                 right={1, 2, 3})
    if s["regions"]:
        rows = [[r["region"], r["chunks_pending"], f"{r['lag_seconds']:.1f}s"]
                for r in s["regions"]]
        text += "\n\n" + table(["REGION", "CHUNKS PENDING", "REPLICATION LAG"], rows,
                                 right={1, 2})
    if s["etcd"]:
        rows = [[e["endpoint"], "up" if e["ok"] else "DOWN", e["detail"]] for e in s["etcd"]]
        text += "\n\n" + table(["ETCD MEMBER", "STATE", "DETAIL"], rows)
    return Output(s, text)


def chunkservers(client: Client, args) -> Output:
    servers = client.chunkservers()
    if not servers:
        return Output(servers, "no chunk servers registered")
    rows = [[s["id"], s["address"], s["state"].upper() + (", FULL" if s["full"] else ""),
             labels(s["labels"]),
             human_size(s["capacity"]), human_size(s["used"]), s["chunk_count"]]
            for s in servers]
    headers = ["ID", "ADDRESS", "STATE", "LABELS", "CAPACITY", "USED", "CHUNKS"]
    return Output(servers, table(headers, rows, right={4, 5, 6}))


def metadata_checksum(client: Client, args) -> Output:
    found = client.metadata_checksums()
    rows = [[m["master"], m.get("role", "-").upper(), m.get("metadata_version", "-"),
             m.get("checksum") or m.get("error", "")] for m in found]
    return Output(found, table(["MASTER", "ROLE", "VERSION", "CHECKSUM"], rows, right={2}))


def restore(client: None, args) -> Output:
    """Offline, on the metalogger's host: the master's data directory is then copied to the new
    master's host (`mooseng-master --restore-from` does both in one step on one host)."""
    restored = restore_metadata(args.source, args.data_dir)
    outcome = restored.damaged or "every entry restored"
    return Output(dataclasses.asdict(restored), pairs([
        ("Restored into", args.data_dir), ("Metadata version", restored.version),
        ("Changelog entries", restored.entries), ("Damage", outcome)]))
