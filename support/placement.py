"""Where the copies of a scenario's files are, counted on the chunk servers' disks (not where the
master says) and matched against the labels each server was started with."""

from __future__ import annotations


def files_under(world, directory: str) -> list[str]:
    return sorted(p for p in world.files if p.startswith(directory.rstrip("/") + "/"))


def misplaced(world, paths: list[str], wanted: list[dict[str, str]]) -> dict[str, list[str]]:
    """{path: its chunks whose copies on disk cannot be matched one to one with the wanted
    label sets}, for the paths that have any; the chunk servers' disks are read once."""
    on_disk = world.disk_copies()
    labels = {node.name: node.labels for node in world.cluster.chunkservers}
    wrong: dict[str, list[str]] = {}
    for path in paths:
        for chunk in world.client().stat(path).chunks:
            holders = sorted(on_disk.get(chunk.chunk_id, []))
            if len(holders) != len(wanted) or not _matches_one_to_one(
                    [labels[h] for h in holders], wanted):
                wrong.setdefault(path, []).append(
                    f"{path} chunk {chunk.index}: on "
                    + ", ".join(f"{h} ({shown(labels[h])})" for h in holders))
    return wrong


def misplacements(world, paths: list[str], wanted: list[dict[str, str]]) -> list[str]:
    """Every chunk of `paths` whose copies on disk are not as wanted (see misplaced)."""
    return [line for lines in misplaced(world, paths, wanted).values() for line in lines]


def _matches_one_to_one(have: list[dict], wanted: list[dict]) -> bool:
    if not wanted:
        return not have
    first, rest = wanted[0], wanted[1:]
    return any(all(h.get(k) == v for k, v in first.items())
               and _matches_one_to_one(have[:i] + have[i + 1:], rest)
               for i, h in enumerate(have))


def shown(labels: dict[str, str]) -> str:
    return ",".join(f"{k}={v}" for k, v in sorted(labels.items())) or "no labels"
