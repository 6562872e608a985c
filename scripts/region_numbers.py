#!/usr/bin/env python3
"""`make region-numbers`: replication across emulated WAN links on this machine, on the suite's
multi-region topology (local backend: upstream's demo regions us-east, eu-west and ap-south at
85, 180 and 120 ms, 2+2+1 chunk servers, the master in us-east, 1 MiB chunks) with a storage
class of two copies in us-east and one in each other region:

- lag: a client in eu-west writes FILES files of one chunk, one at a time; per file, the time
  from its acknowledgement until every copy is on disk in every region (median, p99, max), and
  the highest lag the master reported per region;
- partition: ap-south is cut off for PARTITION seconds while the client in eu-west writes a
  file a second; then it is reconnected: the time until every copy is on disk, the chunks that
  never got their ap-south copy (must be 0), and every file read back in ap-south.

Everything it starts is stopped and removed at the end."""

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mooseng.cli.argtypes import positive  # noqa: E402
from support import endpoints, metrics, placement  # noqa: E402
from support.drivers.base import Region  # noqa: E402
from support.drivers.local import LocalDriver  # noqa: E402
from support.world import World, topology  # noqa: E402

REGIONS = [Region("us-east", 2, 0.085), Region("eu-west", 2, 0.180), Region("ap-south", 1, 0.120)]
COPIES = ["2*region=us-east", "region=eu-west", "region=ap-south"]
WANTED = [{"region": "us-east"}] * 2 + [{"region": "eu-west"}, {"region": "ap-south"}]


def main() -> int:
    parser = argparse.ArgumentParser(prog="region_numbers.py",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=positive, default=40, help="files for the lag "
                        "(default 40)")
    parser.add_argument("--partition", type=positive, default=60, help="seconds ap-south is "
                        "cut off (default 60)")
    args = parser.parse_args()
    driver = LocalDriver()
    cleanups = []
    world = World(driver, "region numbers", cleanups.append)
    try:
        world.start_cluster(topology(0, regions=REGIONS))
        world.cli.json("class", "create", "global", *COPIES)
        writer = world.client(name="client in eu-west", labels={"region": "eu-west"})
        print(f"{len(world.cluster.chunkservers)} chunk servers in {len(REGIONS)} regions; "
              + ", ".join(f"{link.name} {link.pair.delay * 1000:g} ms" for link in
                          world.cluster.wan), flush=True)
        lag(world, writer, args.files)
        partition(world, writer, args.partition)
    finally:
        for cleanup in reversed(cleanups):
            cleanup()
        world.close()
        driver.teardown_all()
    return 0


def _write(world, writer, directory: str, number: int) -> str:
    path = f"{directory}/f{number:04d}.bin"
    world.write(path, world.new_payload(512 * 1024), client=writer)
    return path


def _peak(world, peaks: dict[str, float]) -> None:
    text = endpoints.metrics_text(world.master.http_address)
    for region in REGIONS:
        value = metrics.value(text, "mooseng_master_replication_lag_seconds", region=region.name)
        peaks[region.name] = max(peaks.get(region.name, 0.0), value or 0.0)


def _until_placed(world, paths: list[str], since: dict[str, float], peaks: dict[str, float],
                  timeout: float) -> dict[str, float]:
    """{path: seconds from `since[path]` until every copy was on disk}; stops at `timeout`."""
    done: dict[str, float] = {}
    deadline = time.monotonic() + timeout
    while len(done) < len(paths) and time.monotonic() < deadline:
        _peak(world, peaks)
        wrong = placement.misplaced(world, [p for p in paths if p not in done], WANTED)
        done.update({p: time.monotonic() - since[p] for p in paths
                     if p not in done and p not in wrong})
        time.sleep(0.05)
    return done


def lag(world, writer, files: int) -> None:
    world.mkdir("/lag")
    world.cli.json("fs", "setclass", "global", "/lag")
    acknowledged, peaks, done = {}, {}, {}
    for number in range(files):
        path = _write(world, writer, "/lag", number)
        acknowledged[path] = time.monotonic()
        done.update(_until_placed(world, [path], acknowledged, peaks, 60))
    seconds = sorted(done.values())
    p99 = seconds[min(len(seconds) - 1, int(0.99 * len(seconds)))]
    print(f"\nlag, {len(done)} of {files} files of 512 KiB written in eu-west, acknowledgement "
          f"to every copy on disk: median {statistics.median(seconds):.2f} s, p99 {p99:.2f} s, "
          f"max {seconds[-1]:.2f} s", flush=True)
    print("highest lag the master reported: "
          + ", ".join(f"{region} {value:.2f} s" for region, value in sorted(peaks.items())))


def partition(world, writer, seconds: int) -> None:
    world.mkdir("/partition")
    world.cli.json("fs", "setclass", "global", "/partition")
    links = world.cluster.region_links("ap-south")
    for link in links:
        link.pause()
    started = time.monotonic()
    paths = []
    while time.monotonic() - started < seconds:
        paths.append(_write(world, writer, "/partition", len(paths)))
        time.sleep(max(0.0, started + len(paths) - time.monotonic()))
    for link in links:
        link.resume()
    reconnected = time.monotonic()
    peaks: dict[str, float] = {}
    done = _until_placed(world, paths, dict.fromkeys(paths, reconnected), peaks, 300)
    missed = placement.misplacements(world, paths, WANTED)
    reader = world.client(name="client in ap-south", labels={"region": "ap-south"})
    for path in paths:
        world.verify(path, client=reader)
    print(f"\npartition: ap-south cut off for {seconds} s while {len(paths)} files were written "
          f"in eu-west; after reconnecting, every copy on disk in "
          f"{max(done.values(), default=0.0):.2f} s; chunks without their copies: "
          f"{len(missed)}; every file read back in ap-south: yes", flush=True)
    print("highest lag the master reported after reconnecting: "
          + ", ".join(f"{region} {value:.2f} s" for region, value in sorted(peaks.items())))


if __name__ == "__main__":
    sys.exit(main())
