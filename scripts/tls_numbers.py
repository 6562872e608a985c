#!/usr/bin/env python3
"""`make tls-numbers`: what mutual TLS on every link costs. `mooseng bench`'s workloads
(sequential write and read of one large file, small files by one writer and by 8 at once) on the
local backend's cluster of 1 master and 3 chunk servers, goal 2, 64 MiB chunks, once with every
link in plain text and once on TLS, alternating which goes first, ROUNDS rounds, each on a new
cluster; prints the median of each workload both ways and their ratio.

Everything it starts is stopped and removed at the end."""

import argparse
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mooseng.bench import workloads  # noqa: E402
from mooseng.bench.targets import MooseNGTarget  # noqa: E402
from mooseng.cli.argtypes import positive  # noqa: E402
from support.drivers.local import LocalDriver  # noqa: E402
from support.world import World, topology  # noqa: E402

CHUNK = 64 * 1024 * 1024


def measure(driver: LocalDriver, tls: bool, settings: workloads.Settings) -> dict[str, float]:
    cleanups = []
    world = World(driver, f"tls numbers {'on' if tls else 'off'}", cleanups.append)
    try:
        world.start_cluster(topology(3, tls=tls, chunk_size=CHUNK))
        results = workloads.run(MooseNGTarget(world.client(timeout=120.0), 2), "/bench", settings,
                                lambda line: None)
        return {w.key: results[w.key][w.field] for w in workloads.planned(settings)}
    finally:
        for cleanup in reversed(cleanups):
            cleanup()
        world.close()


def main() -> int:
    parser = argparse.ArgumentParser(prog="tls_numbers.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=positive, default=3, help="rounds (default 3)")
    workloads.add_options(parser)
    args = parser.parse_args()
    settings = workloads.Settings.from_args(args)
    driver = LocalDriver()
    found = {False: [], True: []}
    try:
        for number in range(args.rounds):
            for tls in ((False, True) if number % 2 == 0 else (True, False)):
                found[tls].append(measure(driver, tls, settings))
                print(f"round {number + 1}, TLS {'on ' if tls else 'off'}: "
                      + ", ".join(f"{k} {v:g}" for k, v in found[tls][-1].items()), flush=True)
    finally:
        driver.teardown_all()
    print(f"\n{'workload':<44} {'plain text':>11} {'TLS':>9} {'ratio':>6}")
    for workload in workloads.planned(settings):
        plain = statistics.median(r[workload.key] for r in found[False])
        secure = statistics.median(r[workload.key] for r in found[True])
        print(f"{workloads.label(workload, settings) + ' (' + workload.unit + ')':<44} "
              f"{plain:>11.1f} {secure:>9.1f} {secure / plain:>5.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
