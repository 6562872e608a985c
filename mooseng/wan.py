"""WAN emulation between regions: a TCP proxy that delays what it forwards (toxiproxy's model).

The kernel here has no netem, so links between emulated regions go through this proxy: each
`--link LISTEN=UPSTREAM` accepts connections on LISTEN and forwards them to UPSTREAM, holding
every piece of data, in each direction, for the one-way delay plus a random jitter (never out
of order, as TCP would not be), with an optional bandwidth limit per direction. It is a test
and demo tool: nothing in MooseNG's data path depends on it.

    mooseng-wan --link 127.0.0.1:7001=10.0.0.5:9421 --delay 85 --jitter 5 --bandwidth 10
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import random
import signal
import sys
import threading
import time
from dataclasses import dataclass

log = logging.getLogger("mooseng.wan")

PIECE = 64 * 1024            # bytes read at once
IN_FLIGHT = 64               # pieces held per direction before the reader waits


@dataclass(frozen=True)
class Shape:
    delay: float = 0.0       # seconds, one way
    jitter: float = 0.0      # seconds, uniform in [-jitter, +jitter], never below zero
    bandwidth: float = 0.0   # bytes per second per direction; 0 = unlimited

    def __post_init__(self):
        if self.delay < 0 or self.jitter < 0 or self.bandwidth < 0:
            raise ValueError("delay, jitter and bandwidth must be zero or more")


def parse_link(text: str) -> tuple[tuple[str, int], tuple[str, int]]:
    """'LISTEN_HOST:PORT=UPSTREAM_HOST:PORT' -> ((host, port), (host, port))."""
    listen, sep, upstream = text.partition("=")
    if not sep:
        raise ValueError(f"not a link: {text!r} (use LISTEN_HOST:PORT=UPSTREAM_HOST:PORT)")
    return _address(listen), _address(upstream)


def _address(text: str) -> tuple[str, int]:
    host, sep, port = text.strip().rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) < 65536:
        raise ValueError(f"not an address: {text!r} (use HOST:PORT)")
    return host, int(port)


class Proxy:
    """Every link of one emulated WAN, served by one event loop on a thread of its own."""

    def __init__(self, shape: Shape, seed: int | None = None):
        self.shape = shape
        self._rng = random.Random(seed)
        self._loop = asyncio.new_event_loop()
        self._servers: list[asyncio.base_events.Server] = []
        self.forwarded = 0       # bytes passed on, both directions, every link
        self._thread = threading.Thread(target=self._loop.run_forever, name="wan", daemon=True)
        self._thread.start()

    def add(self, listen: tuple[str, int], upstream: tuple[str, int]) -> int:
        """Start forwarding `listen` to `upstream`; the port listened on (0 picks one)."""
        server = asyncio.run_coroutine_threadsafe(
            asyncio.start_server(lambda r, w: self._connect(r, w, upstream), *listen),
            self._loop).result()
        self._servers.append(server)
        return server.sockets[0].getsockname()[1]

    def close(self) -> None:
        async def shut():
            for server in self._servers:
                server.close()
            tasks = asyncio.all_tasks() - {asyncio.current_task()}
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        asyncio.run_coroutine_threadsafe(shut(), self._loop).result()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()
        self._loop.close()

    async def _connect(self, reader, writer, upstream) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(*upstream)
        except OSError as error:
            log.warning("upstream %s:%d refused: %s", *upstream, error)
            writer.close()
            return
        await asyncio.gather(self._pump(reader, up_writer), self._pump(up_reader, writer),
                             return_exceptions=True)
        writer.close()
        up_writer.close()

    async def _pump(self, reader, writer) -> None:
        """One direction: pieces leave in order, each no sooner than its delay after it came;
        the end of the stream is passed on the same way (a half close)."""
        queue: asyncio.Queue = asyncio.Queue(IN_FLIGHT)
        sender = asyncio.ensure_future(self._send(queue, writer))
        try:
            while piece := await reader.read(PIECE):
                await queue.put((time.monotonic() + self._delay(), piece))
        except OSError:
            pass
        await queue.put((time.monotonic() + self._delay(), b""))
        await sender

    async def _send(self, queue, writer) -> None:
        free_at = 0.0          # the bandwidth limit: when the link is free again
        broken = False         # the receiver went away: what still comes is dropped
        while True:
            due, piece = await queue.get()
            if broken:
                if not piece:
                    return
                continue
            due = max(due, free_at)
            if due > time.monotonic():
                await asyncio.sleep(due - time.monotonic())
            try:
                if piece:
                    writer.write(piece)
                    await writer.drain()
                    self.forwarded += len(piece)
                else:
                    writer.write_eof()
            except OSError:
                broken = True
            if not piece:
                return
            if self.shape.bandwidth:
                free_at = time.monotonic() + len(piece) / self.shape.bandwidth

    def _delay(self) -> float:
        jitter = self._rng.uniform(-self.shape.jitter, self.shape.jitter)
        return max(0.0, self.shape.delay + jitter)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="mooseng-wan", description=__doc__.splitlines()[0])
    parser.add_argument("--link", action="append", required=True, metavar="LISTEN=UPSTREAM",
                        help="forward LISTEN_HOST:PORT to UPSTREAM_HOST:PORT (repeatable)")
    parser.add_argument("--delay", type=float, default=0.0, metavar="MS",
                        help="one-way delay in milliseconds, each direction (default 0)")
    parser.add_argument("--jitter", type=float, default=0.0, metavar="MS",
                        help="random variation of the delay, +/- milliseconds (default 0)")
    parser.add_argument("--bandwidth", type=float, default=0.0, metavar="MB/S",
                        help="per direction and connection, megabytes per second "
                             "(default 0: unlimited)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    try:
        shape = Shape(args.delay / 1000, args.jitter / 1000, args.bandwidth * 1e6)
        links = [parse_link(text) for text in args.link]
    except ValueError as error:
        parser.error(str(error))
    proxy = Proxy(shape)
    try:
        for listen, upstream in links:
            port = proxy.add(listen, upstream)
            log.info("link %s:%d -> %s:%d, delay %g ms, jitter %g ms", listen[0], port,
                     *upstream, args.delay, args.jitter)
    except OSError as error:
        proxy.close()
        print(f"mooseng-wan: cannot listen: {error}", file=sys.stderr)
        return 1
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    stop.wait()
    proxy.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
