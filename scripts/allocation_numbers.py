#!/usr/bin/env python3
"""`make allocation-numbers`: what the allocation work costs on this machine, with the master's
default --move-rate, on MooseNG clusters of its own (1 master, 64 MiB chunks, goal 2, processes
on loopback):

- the mover, on 2 chunk servers labelled tier=ssd and 2 tier=hdd: FILES files of SIZE in class
  "hot" (2 copies on ssd) given class "cold" (2 on hdd): seconds until no chunk is misplaced,
  moves, MB/s, and the share of chunks then placed as their class wants (`admin placement`);
- balancing, on 3 chunk servers holding FILES files of SIZE: a fourth, empty one joins, then
  `admin balance --apply`: seconds until balancing ends, moves, and each server's usage.

Everything it starts is stopped and removed at the end."""

import argparse
import sys
import tempfile
import time
from pathlib import Path

from mooseng.cli.argtypes import positive, size
from mooseng.client import Client
from mooseng_peer import MooseNGPeer
from peer_processes import wait_until

MB = 1_000_000
TIERS = [{"tier": "ssd"}, {"tier": "ssd"}, {"tier": "hdd"}, {"tier": "hdd"}]


def main() -> int:
    parser = argparse.ArgumentParser(prog="allocation_numbers.py",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=positive, default=16, help="files (default 16)")
    parser.add_argument("--size", type=size, default=size("32MiB"),
                        help="size of each file, one chunk at most (default 32MiB)")
    args = parser.parse_args()
    if not 0 < args.size <= 64 * 1024 * 1024:
        parser.error(f"--size {args.size}: a file of one 64 MiB chunk at most")
    payload = bytes(range(256)) * (args.size // 256)
    with tempfile.TemporaryDirectory(prefix="mooseng-allocation-") as root:
        for name, servers, labels, measure in (("mover", 4, TIERS, mover),
                                               ("balance", 3, None, balancing)):
            peer = MooseNGPeer(Path(root) / name, print, chunkservers=servers, labels=labels)
            try:
                peer.start()
                with Client(peer.address, timeout=60) as client:
                    measure(client, args.files, payload, peer)
            finally:
                peer.stop()
    return 0


def write(client: Client, files: int, payload: bytes) -> None:
    for number in range(files):
        client.write_bytes(f"/data/f{number:03d}", payload)


def mover(client: Client, files: int, payload: bytes, peer: MooseNGPeer) -> None:
    client.define_class("hot", ["2*tier=ssd"])
    client.define_class("cold", ["2*tier=hdd"])
    client.mkdir("/data")
    client.setclass("/data", "hot")
    write(client, files, payload)
    before = client.status()["moves_done"]
    started = time.monotonic()
    client.setclass("/data", "cold", recursive=True)
    wait_until(lambda: client.status()["chunks_misplaced"] == 0
               and client.status()["moves_in_flight"] == 0, "every chunk on tier=hdd",
               peer.daemons, timeout=600)
    seconds = time.monotonic() - started
    moves = client.status()["moves_done"] - before
    chunks = [chunk for number in range(files)
              for chunk in client.placement(f"/data/f{number:03d}")["chunks"]]
    right = sum(chunk["status"] == "at goal" and all(c["labels"].get("tier") == "hdd"
                                                    for c in chunk["copies"]) for chunk in chunks)
    print(f"mover: {moves} copies of {len(payload) / MB:.1f} MB moved in {seconds:.1f} s: "
          f"{moves / seconds:.2f} copies/s, {moves * len(payload) / MB / seconds:.1f} MB/s; "
          f"{right} of {len(chunks)} chunks placed as their class wants "
          f"({100.0 * right / len(chunks):.1f} %)")
    for number in range(files):
        assert client.read_bytes(f"/data/f{number:03d}") == payload, "data changed"


def balancing(client: Client, files: int, payload: bytes, peer: MooseNGPeer) -> None:
    client.mkdir("/data")
    write(client, files, payload)
    peer.add_chunkserver({}, 3)
    wait_until(lambda: client.status()["servers_by_state"]["online"] == 4,
               "the fourth chunk server online", peer.daemons)
    before = client.status()["moves_done"]
    used = client.balance(apply=True)["used_bytes"]
    started = time.monotonic()
    wait_until(lambda: not client.status()["balancing"], "balancing to end", peer.daemons,
               timeout=600)
    seconds = time.monotonic() - started
    after = client.balance()["used_bytes"]
    print(f"balance: {sum(used.values()) / MB:.0f} MB of copies on {len(used)} servers, one "
          f"of them empty: balanced in {seconds:.1f} s with "
          f"{client.status()['moves_done'] - before} moves; MB per server before "
          f"{sorted(round(v / MB) for v in used.values())}, after "
          f"{sorted(round(v / MB) for v in after.values())}")
    for number in range(files):
        assert client.read_bytes(f"/data/f{number:03d}") == payload, "data changed"


if __name__ == "__main__":
    sys.exit(main())
