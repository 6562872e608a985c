#!/usr/bin/env python3
"""`make bench-vs-moosefs`: the benchmark workloads of `mooseng bench` on a MooseFS 3.0 peer
(through its FUSE mount) and on a MooseNG cluster of the same shape (through the client
library), interleaved round by round so that a slow spell of the machine hits both, then per
workload the medians and the ratio MooseNG/MooseFS. Everything it starts is stopped and removed
at the end, also after an error or Ctrl-C. Needs root and FUSE; without them it prints
"skipped: <reason>" and exits 0."""

import argparse
import dataclasses
import json
import os
import shutil
import signal
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

from mooseng import __version__
from mooseng.bench import workloads
from mooseng.bench.targets import DirectoryTarget, MooseNGTarget
from mooseng.cli.argtypes import positive
from mooseng.cli.errors import describe
from mooseng.client import Client

import bench_report
import moosefs_peer
import peer_processes
from moosefs_peer import MooseFSPeer
from mooseng_peer import MooseNGPeer

GOAL = 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="bench_vs_moosefs.py", description="The mooseng bench workloads on MooseFS 3.0 and "
        "on MooseNG (1 master + 3 chunk servers each, goal 2, 64 MiB chunks), side by side.")
    parser.add_argument("--rounds", type=positive, default=3,
                        help="rounds on each system, interleaved (default 3)")
    workloads.add_options(parser)
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument("--tmpdir", default=tempfile.gettempdir(),
                        help="where the clusters keep their data (default: the temp dir)")
    return parser


def _stop_on_sigterm(signum, frame):
    raise KeyboardInterrupt


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    reason = moosefs_peer.unmet_requirement()
    if reason:
        print(f"skipped: {reason}")
        return 0
    started = time.monotonic()

    def progress(line: str) -> None:
        print(f"[{time.monotonic() - started:6.1f}s] {line}", file=sys.stderr, flush=True)

    settings = workloads.Settings.from_args(args, cold=True)
    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    peer_processes.adopt_orphans()
    root = Path(tempfile.mkdtemp(prefix="bench-vs-moosefs-", dir=args.tmpdir))
    moosefs = MooseFSPeer(root / "moosefs", progress, goal=GOAL)
    mooseng = MooseNGPeer(root / "mooseng", progress, goal=GOAL)
    try:
        moosefs_peer.install(progress)
        moosefs.start()
        mooseng.start()
        samples, notes = _rounds(args.rounds, settings, moosefs, mooseng, progress)
        versions = {"moosefs": moosefs_peer.version(), "mooseng": __version__}
    except KeyboardInterrupt:
        progress("interrupted: cleaning up")
        return 130
    except Exception as error:  # noqa: BLE001 (one line, then the clean-up)
        print(f"bench-vs-moosefs: error: {describe(error)}", file=sys.stderr)
        return 1
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):   # a second Ctrl-C must not stop it
            signal.signal(signum, signal.SIG_IGN)
        _clean_up(root, moosefs, mooseng, progress)
    rows = bench_report.compare(settings, samples)
    if args.json:
        print(json.dumps({"rounds": args.rounds, "versions": versions, "goal": GOAL,
                          "settings": dataclasses.asdict(settings), "notes": notes,
                          "workloads": rows}, indent=2))
    else:
        print(f"MooseNG {versions['mooseng']} and MooseFS {versions['moosefs']}, each 1 master "
              f"+ 3 chunk servers, goal {GOAL}, 64 MiB chunks\n")
        print(bench_report.render(rows, args.rounds))
        for note in notes:
            print(f"Note: {note}")
    return 0


def _rounds(rounds: int, settings: workloads.Settings, moosefs: MooseFSPeer,
            mooseng: MooseNGPeer, progress) -> tuple[dict, list[str]]:
    """MooseFS round 1, MooseNG round 1, MooseFS round 2, ...: every number of every round,
    and notes on what was not as asked (a read that could not start cold)."""
    samples = {system: defaultdict(list) for system in bench_report.SYSTEMS}
    notes: list[str] = []
    with Client(mooseng.address, timeout=120) as client:
        targets = {"moosefs": DirectoryTarget(str(moosefs.mountpoint)),
                   "mooseng": MooseNGTarget(client, GOAL)}
        for number in range(1, rounds + 1):
            for system in ("moosefs", "mooseng"):
                name = bench_report.SYSTEMS[system]
                results = workloads.run(targets[system], f"/bench-round-{number}", settings,
                                        lambda line: progress(f"{name} {number}/{rounds}: "
                                                              f"{line}"))
                for workload in workloads.planned(settings):
                    samples[system][workload.key].append(results[workload.key][workload.field])
                cache = results.get(workloads.READ.key, {}).get("cache", "cold")
                if cache != "cold" and cache not in notes:
                    notes.append(f"the read was not cold ({cache})")
    return samples, notes


def _clean_up(root: Path, moosefs: MooseFSPeer, mooseng: MooseNGPeer, progress) -> None:
    progress("stopping both clusters")
    mooseng.stop()
    problems = moosefs.stop()
    left = peer_processes.reap_orphans()
    if left:
        problems.append(f"processes still running after the clusters stopped: {left}")
    if os.path.ismount(moosefs.mountpoint):
        problems.append(f"left {root} in place: {moosefs.mountpoint} is still mounted")
    else:
        shutil.rmtree(root, ignore_errors=True)
    for problem in problems:
        print(f"bench-vs-moosefs: clean-up: {problem}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
