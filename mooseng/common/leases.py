"""Lease tokens: a master signs each write it grants (chunk, version, until when) with a key it
gives its chunk servers when they register, and a chunk server stores data only under a token
one of its masters signed. So the data path cannot go around the master and its exports."""

from __future__ import annotations

import hashlib
import hmac
import os
import threading
import time

from mooseng.common.errors import PermissionDenied

KEY_BYTES = 32


def new_key() -> bytes:
    return os.urandom(KEY_BYTES)


def sign(key: bytes, chunk_id: int, version: int, expires: float) -> bytes:
    message = f"{chunk_id}:{version}:{expires:.3f}".encode()
    return hmac.new(key, message, hashlib.sha256).digest()


class LeaseKeys:
    """The keys of the masters a chunk server registered with (one per master address)."""

    def __init__(self, clock=time.time):
        self._keys: dict[str, bytes] = {}
        self._lock = threading.Lock()
        self._clock = clock

    def learn(self, master: str, key: bytes) -> None:
        if not key:
            return          # a master that signs nothing: its grants are never accepted
        with self._lock:
            self._keys[master] = key

    def check(self, chunk_id: int, version: int, token: bytes, expires: float,
              server: str) -> None:
        what = f"chunk server {server} stores no data of chunk {chunk_id:016x} version {version}"
        with self._lock:
            keys = list(self._keys.values())
        if not keys:
            raise PermissionDenied(f"{what}: no master has registered it yet")
        if not token:
            raise PermissionDenied(f"{what} without a lease token: writes are granted by the "
                                   f"master (AllocateChunk)")
        if not any(hmac.compare_digest(sign(key, chunk_id, version, expires), token)
                   for key in keys):
            raise PermissionDenied(f"{what}: its lease token was not signed by a master of "
                                   f"this chunk server")
        if expires < self._clock():
            raise PermissionDenied(f"{what}: its lease ended {self._clock() - expires:.0f} s ago")
