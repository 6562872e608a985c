"""Pushed cache invalidation: every metadata change becomes events for the clients that watch.

A watcher has a bounded queue. One that falls behind is cut off rather than left to miss an
event: its stream ends, the client drops its cache and subscribes again. Watchers are limited,
each holds a server thread while its stream is open.
"""

from __future__ import annotations

import queue
import threading
from typing import Iterator

from mooseng.common.errors import ResourceExhausted
from mooseng.proto import mooseng_pb2 as pb

Kind = pb.Invalidation.Kind
KEEPALIVE_SECONDS = 0.5     # the longest a live stream stays silent
QUEUE_LIMIT = 10_000        # events a watcher may have pending before it is cut off
BATCH = 1_000               # events sent in one message at most
WATCHERS = 100              # open streams at once


def path_event(path: str, subtree: bool = False) -> pb.Invalidation:
    return pb.Invalidation(kind=Kind.PATH, path=path, subtree=subtree)


def inode_event(inode: int) -> pb.Invalidation:
    return pb.Invalidation(kind=Kind.INODE, inode=inode)


def chunk_event(chunk_id: int) -> pb.Invalidation:
    return pb.Invalidation(kind=Kind.CHUNK, chunk_id=chunk_id)


EVERYTHING = pb.Invalidation(kind=Kind.EVERYTHING)


def events_for(op: str, args: dict, was_dir: bool) -> list[pb.Invalidation]:
    """What a changelog entry makes stale; `was_dir`: its path named a directory before."""
    if op in ("create", "mkdir"):
        path = args["path"]
        events = [path_event(path)]
        if op == "mkdir" and args.get("parents"):   # ancestors created on the way
            while (path := path.rsplit("/", 1)[0]) not in ("", "/"):
                events.append(path_event(path))
        return events
    if op == "remove":
        return [path_event(args["path"], was_dir)]
    if op == "rename":
        return [path_event(args["src"], was_dir), path_event(args["dst"], was_dir)]
    if op in ("setgoal", "setclass"):
        return [path_event(args["path"], was_dir and args["recursive"])]
    if op == "class_modify":       # every file of the class may have a new goal
        return [path_event("/", True)]
    if op in ("commit", "truncate"):
        return [inode_event(args["inode"])]
    return []


class _Watcher:
    def __init__(self):
        self.events: queue.Queue = queue.Queue(maxsize=QUEUE_LIMIT)
        self.overflowed = False


class Hub:
    """Fans events out to watchers; `on_sent(n)` counts what was handed to streams."""

    def __init__(self, on_sent=lambda count: None, on_watchers=lambda count: None):
        self._lock = threading.Lock()
        self._watchers: set[_Watcher] = set()
        self._closed = False
        self._on_sent = on_sent
        self._on_watchers = on_watchers

    def publish(self, events: list[pb.Invalidation]) -> None:
        if not events:
            return
        with self._lock:
            watchers = list(self._watchers)
        for watcher in watchers:
            for event in events:
                try:
                    watcher.events.put_nowait(event)
                except queue.Full:
                    watcher.overflowed = True     # its stream ends; the client starts afresh
                    break

    def stream(self, active=lambda: True) -> Iterator[pb.InvalidationBatch]:
        """SUBSCRIBED, then events as they come (KEEPALIVE in silences) while `active()`, as
        batches: what queued up while the last batch was sent goes out in one message."""
        watcher = _Watcher()
        with self._lock:
            if self._closed or len(self._watchers) >= WATCHERS:
                raise ResourceExhausted(f"the master serves at most {WATCHERS} cache watchers "
                                        "at once: this client caches nothing until one ends")
            self._watchers.add(watcher)
            self._on_watchers(len(self._watchers))
        try:
            yield pb.InvalidationBatch(events=[pb.Invalidation(
                kind=Kind.SUBSCRIBED, keepalive_seconds=KEEPALIVE_SECONDS)])
            while active() and not self._closed and not watcher.overflowed:
                try:
                    events = [watcher.events.get(timeout=KEEPALIVE_SECONDS / 2)]
                except queue.Empty:
                    yield pb.InvalidationBatch(events=[pb.Invalidation(kind=Kind.KEEPALIVE)])
                    continue
                while len(events) < BATCH:
                    try:
                        events.append(watcher.events.get_nowait())
                    except queue.Empty:
                        break
                self._on_sent(len(events))
                yield pb.InvalidationBatch(events=events)
        finally:
            with self._lock:
                self._watchers.discard(watcher)
                self._on_watchers(len(self._watchers))

    def close(self) -> None:
        """End every stream (the master stops)."""
        with self._lock:
            self._closed = True
