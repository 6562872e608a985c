"""`mooseng bench`: the benchmark workloads (mooseng/bench/workloads.py, the same as the
side-by-side run against MooseFS) against a running cluster, in a directory of their own that
is removed afterwards."""

import os
import secrets
from typing import Callable

import sys

from mooseng.bench import failover as failover_bench
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


def failover(client, args) -> Output:
    result = failover_bench.run(args.rounds, args.lease_ttl,
                                lambda line: print(line, file=sys.stderr, flush=True))
    text = pairs([("Rounds", result["rounds"]), ("Lease TTL", f"{result['lease_ttl_s']} s"),
                  ("Median", f"{result['median_s'] * 1000:.0f} ms"),
                  ("Max", f"{result['max_s'] * 1000:.0f} ms"),
                  ("Min", f"{result['min_s'] * 1000:.0f} ms")])
    return Output(result, text)


def _text(result: dict, settings: workloads.Settings) -> str:
    items = [("Master", result["master"]), ("Chunk size", human_size(result["chunk_size"])),
             ("Goal", result["goal"])]
    for workload in workloads.planned(settings):
        value = result[workload.key][workload.field]
        items.append((workloads.label(workload, settings), f"{value} {workload.unit}"))
    return pairs(items)
