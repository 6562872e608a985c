"""Concurrent clients writing and reading self-verifying files, every operation recorded.

Each client has its own connection, writes new files of sizes drawn from a range, and now and
then reads back one of its acknowledged files and checks it. Wrong data read back is a finding
of its own (kept in `bad_reads`); what the history says about acknowledged writes is checked at
the end of the scenario.
"""

from __future__ import annotations

import random
import threading

from mooseng.client import Client

from support.data import DataMismatch, Payload
from support.history import History


class Workload:
    def __init__(self, master: str, address_map, history: History, clients: int,
                 smallest: int, largest: int, directory: str, seed: int = 1,
                 timeout: float = 10.0, tls: str = ""):
        self.master = master
        self.address_map = address_map
        self.history = history
        self.clients = clients
        self.smallest = smallest
        self.largest = largest
        self.directory = directory
        self.seed = seed
        self.timeout = timeout
        self.tls = tls               # the clients' certificate on a cluster on TLS
        self.stopping = threading.Event()
        self.threads: list[threading.Thread] = []
        self.bad_reads: list[str] = []
        self.crashes: list[str] = []
        self._lock = threading.Lock()

    def start(self) -> None:
        setup = Client(self.master, timeout=self.timeout, address_map=self.address_map,
                       tls=self.tls)
        try:
            setup.mkdir(self.directory, parents=True)
        finally:
            setup.close()
        for number in range(1, self.clients + 1):
            thread = threading.Thread(target=self._run, args=(number,),
                                      name=f"client-{number}", daemon=True)
            self.threads.append(thread)
            thread.start()

    def stop(self, timeout: float = 60.0) -> None:
        self.stopping.set()
        for thread in self.threads:
            thread.join(timeout)
        stuck = [t.name for t in self.threads if t.is_alive()]
        self.threads = []
        if stuck:
            raise AssertionError(f"clients {stuck} did not finish their operation within "
                                 f"{timeout} s of being asked to stop")

    def acknowledged_writes(self) -> int:
        return self.history.count("write", "ok")

    def _run(self, number: int) -> None:
        name = f"client-{number}"
        rng = random.Random(self.seed * 1000 + number)
        client = Client(self.master, timeout=self.timeout, address_map=self.address_map,
                       tls=self.tls)
        written: list[tuple[str, Payload]] = []
        try:
            sequence = 0
            while not self.stopping.is_set():
                sequence += 1
                if written and rng.random() < 0.3:
                    self._read(client, name, *rng.choice(written))
                    continue
                path = f"{self.directory}/{name}-{sequence:05d}.bin"
                payload = Payload(seed=self.seed * 1_000_000 + number * 10_000 + sequence,
                                  size=rng.randint(self.smallest, self.largest))
                try:
                    with self.history.record(name, "write", path, payload):
                        with client.open(path, "wb") as handle:
                            for piece in payload.pieces(1024 * 1024):
                                handle.write(piece)
                    written.append((path, payload))
                except Exception:  # noqa: BLE001 - recorded in the history; the client goes on
                    pass
        except BaseException as error:  # noqa: BLE001 - a crash of the workload itself
            with self._lock:
                self.crashes.append(f"{name}: {type(error).__name__}: {error}")
        finally:
            client.close()

    def _read(self, client: Client, name: str, path: str, payload: Payload) -> None:
        try:
            with self.history.record(name, "read", path, payload):
                data = client.read_bytes(path)
        except Exception:  # noqa: BLE001 - an unavailable read is recorded, not a finding
            return
        try:
            payload.verify(data)
        except DataMismatch as mismatch:
            with self._lock:
                self.bad_reads.append(f"{name} read {path}: {mismatch}")
