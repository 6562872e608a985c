"""Run a daemon until SIGTERM/SIGINT, with a clean stop and one clear line for a bad setting;
SIGHUP calls its `reload()` if it has one."""

import signal
import sys
import threading
from typing import Protocol

from mooseng.common.config import ConfigError
from mooseng.common.errors import InvalidArgument


class Daemon(Protocol):
    def start(self) -> None: ...
    def stop(self) -> None: ...


def run(prog: str, build) -> int:
    """`build()` loads config and returns a Daemon; runs it until a signal asks it to stop."""
    try:
        daemon = build()
    except (ConfigError, InvalidArgument) as error:    # a setting, or a file it names
        print(f"{prog}: error: {error}", file=sys.stderr)
        return 2
    stopping, reloading = threading.Event(), threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    signal.signal(signal.SIGINT, lambda *_: stopping.set())
    signal.signal(signal.SIGHUP, lambda *_: reloading.set())
    try:
        daemon.start()
    except OSError as error:
        print(f"{prog}: error: cannot start: {error}", file=sys.stderr)
        daemon.stop()
        return 1
    while not stopping.wait(0.2):
        if reloading.is_set():
            reloading.clear()
            getattr(daemon, "reload", lambda: None)()
    daemon.stop()
    return 0
