"""`mooseng dashboard`: serves the live web page of a cluster until Ctrl-C or SIGTERM."""

from __future__ import annotations

import signal
import sys
import threading

from mooseng.bench.store import default_path
from mooseng.dashboard.sampler import Sampler
from mooseng.dashboard.server import Dashboard

from .output import Output

DEFAULT_PORT = 8080
DEFAULT_TIMEOUT = 2.0     # seconds a sample may wait for the master (not the CLI's 30)


def dashboard(client: None, args) -> Output:
    board = Dashboard(Sampler(args.master, args.db or default_path(),
                              timeout=getattr(args, "timeout", DEFAULT_TIMEOUT),
                              **args.connection))
    port = board.start(args.host, args.port)
    print(f"dashboard of {args.master} at http://{args.host}:{port}/ (Ctrl-C stops it)",
          file=sys.stderr, flush=True)
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    try:
        stopped.wait()
    except KeyboardInterrupt:
        pass
    finally:
        board.stop()
    return Output({"url": f"http://{args.host}:{port}/", "stopped": True}, "dashboard stopped")
