"""`mooseng bench`: the benchmark workloads (mooseng/bench/workloads.py, the same as the
side-by-side run against MooseFS) against a running cluster, in a directory of their own that
is removed afterwards."""

import os
import secrets
from typing import Callable

from mooseng.bench import workloads
from mooseng.bench.targets import MooseNGTarget
from mooseng.client import Client

from .format import human_size, pairs
from .output import Output


def run(client: Client, args, progress: Callable[[str], None]) -> Output:
    directory = args.dir or f"/.mooseng-bench-{os.getpid()}-{secrets.token_hex(3)}"
    settings = workloads.Settings.from_args(args, cold=args.drop_caches)
    result = {"master": client.master_address, "directory": directory, "goal": args.goal,
              "chunk_size": client.status()["chunk_size"]}
    result.update(workloads.run(MooseNGTarget(client, args.goal), directory, settings,
                                progress))
    return Output(result, _text(result, settings))


def _text(result: dict, settings: workloads.Settings) -> str:
    items = [("Master", result["master"]), ("Chunk size", human_size(result["chunk_size"])),
             ("Goal", result["goal"])]
    for workload in workloads.planned(settings):
        value = result[workload.key][workload.field]
        items.append((workloads.label(workload, settings), f"{value} {workload.unit}"))
    return pairs(items)
