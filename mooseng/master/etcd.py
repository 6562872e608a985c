"""etcd for master high availability: the members' JSON gateways through `etcd3gw`.

A call goes to one member and moves on to the next when that one cannot be reached, so losing
a minority of members changes nothing for the masters. etcd itself decides everything else
(elections of its own, quorum, linearizable transactions); this module only speaks to it.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Iterator

import etcd3gw
import requests
import requests.adapters
from etcd3gw import exceptions as etcd_errors

from mooseng.common.config import ConfigError
from mooseng.common.errors import Unavailable
from mooseng.common.log import kv
from mooseng.common.tls import CA_CERT, NODE_CERT, NODE_KEY, SERVER_NAME, Tls

log = logging.getLogger("mooseng.master.etcd")

CONNECT_TIMEOUT = 0.5        # a member that is gone without refusing is skipped after this
CALL_TIMEOUT = 2.0           # one member's answer; a member without an etcd leader waits
QUICK_TIMEOUT = 0.5          # a member's status, or a lease kept alive: asked again soon
UNREACHABLE = (etcd_errors.ConnectionFailedError, etcd_errors.ConnectionTimeoutError,
               etcd_errors.InternalServerError)


def b64(data: str | bytes) -> str:
    return base64.b64encode(data.encode() if isinstance(data, str) else data).decode()


def unb64(text: str) -> bytes:
    return base64.b64decode(text)


class EtcdUnavailable(Unavailable):
    """No etcd member answered: nothing can be committed until a majority is back."""


def parse_endpoints(text: str) -> list[tuple[str, int]]:
    """'127.0.0.1:2379,host:2479' -> [('127.0.0.1', 2379), ('host', 2479)]."""
    endpoints = []
    for item in text.replace(" ", ",").split(","):
        if not item:
            continue
        host, sep, port = item.strip().removeprefix("http://").removeprefix(
            "https://").rpartition(":")
        if not sep or not port.isdigit() or not host:
            raise ValueError(f"not an etcd endpoint: {item!r} (use HOST:PORT, e.g. "
                             "127.0.0.1:2379)")
        endpoints.append((host, int(port)))
    if not endpoints:
        raise ValueError("no etcd endpoint given (use HOST:PORT[,HOST:PORT...])")
    return endpoints


def check_setting(value: str) -> None:
    """The `etcd` setting of a daemon, checked at start-up."""
    try:
        parse_endpoints(value)
    except ValueError as error:
        raise ConfigError(f"bad value for 'etcd': {error}") from None


class _ClusterName(requests.adapters.HTTPAdapter):
    """Checks that etcd's certificate names the cluster (as every gRPC link does), whatever
    address it was dialled at."""

    def init_poolmanager(self, *args, **kwargs):
        kwargs["assert_hostname"] = SERVER_NAME
        super().init_poolmanager(*args, **kwargs)


def tls_session(tls: Tls) -> requests.Session:
    """A requests session that talks mutual TLS to etcd with the node's certificate."""
    session = requests.Session()
    session.trust_env = False       # REQUESTS_CA_BUNDLE would replace the cluster's CA
    session.verify = os.path.join(tls.directory, CA_CERT)
    session.cert = (os.path.join(tls.directory, NODE_CERT), os.path.join(tls.directory, NODE_KEY))
    session.mount("https://", _ClusterName())
    return session


class Etcd:
    def __init__(self, endpoints: list[tuple[str, int]], tls: Tls | None = None):
        """`tls`: talk https to etcd with the node's certificate (etcd's client-cert-auth)."""
        self.endpoints = endpoints

        def client(host, port, timeout):
            if tls is None:
                return etcd3gw.Etcd3Client(host, port, timeout=timeout, api_path="/v3/")
            return etcd3gw.Etcd3Client(host, port, protocol="https", timeout=timeout,
                                       api_path="/v3/", session=tls_session(tls))

        self._clients = [client(host, port, (CONNECT_TIMEOUT, CALL_TIMEOUT))
                         for host, port in endpoints]
        self._quick = [client(host, port, (CONNECT_TIMEOUT, QUICK_TIMEOUT))
                       for host, port in endpoints]
        self._probing = ThreadPoolExecutor(len(endpoints), thread_name_prefix="etcd-probe")
        self._lock = threading.Lock()
        self._current = 0

    def describe(self) -> str:
        return ",".join(f"{h}:{p}" for h, p in self.endpoints)

    def _call(self, use, quick: bool = False):
        """use(client) on the current member, then on each other one that can be reached.

        A member that took the request and then failed may have carried it out: a retried
        transaction must be one whose outcome can be told by reading (see EtcdJournal)."""
        clients = self._quick if quick else self._clients
        with self._lock:
            first = self._current
        errors = []
        for step in range(len(clients)):
            index = (first + step) % len(clients)
            try:
                result = use(clients[index])
            except UNREACHABLE as error:
                errors.append(f"{self.endpoints[index][0]}:{self.endpoints[index][1]}: "
                              f"{_short(error)}")
                continue
            if index != first:
                with self._lock:
                    self._current = index
            return result
        raise EtcdUnavailable(f"no etcd member answered ({'; '.join(errors)}); start etcd or "
                              "check --etcd")

    def post(self, path: str, body: dict, quick: bool = False) -> dict:
        return self._call(lambda c: c.post(c.get_url(path), json=body), quick)

    def txn(self, compare: list, success: list, failure: list | None = None) -> dict:
        return self.post("/kv/txn", {"compare": compare, "success": success,
                                     "failure": failure or []})

    def get(self, key: str) -> tuple[bytes | None, dict]:
        """(value or None, the key's kv record with its revisions; {} when absent)."""
        reply = self.post("/kv/range", {"key": b64(key)})
        kvs = reply.get("kvs") or []
        if not kvs:
            return None, {"revision": int(reply["header"]["revision"])}
        record = kvs[0]
        return unb64(record.get("value", "")), {
            "create_revision": int(record["create_revision"]),
            "mod_revision": int(record["mod_revision"]),
            "lease": int(record.get("lease", 0)),
            "revision": int(reply["header"]["revision"])}

    def range(self, start: str, end: str, limit: int = 1000) -> tuple[list[tuple[str, bytes]],
                                                                      bool, int]:
        """Keys in [start, end) in order: (pairs, more, revision of the read)."""
        reply = self.post("/kv/range", {"key": b64(start), "range_end": b64(end),
                                        "limit": limit})
        pairs = [(unb64(r["key"]).decode(), unb64(r.get("value", "")))
                 for r in reply.get("kvs") or []]
        return pairs, bool(reply.get("more")), int(reply["header"]["revision"])

    def grant(self, ttl: int) -> int:
        reply = self.post("/lease/grant", {"TTL": ttl})
        return int(reply["ID"])

    def keepalive(self, lease: int) -> int:
        """The lease's new TTL, or -1 when it has already expired. Asked with a short deadline:
        a lease of a second is better renewed again soon than waited for."""
        reply = self.post("/lease/keepalive", {"ID": lease}, quick=True)
        return int(reply.get("result", {}).get("TTL", -1))

    def revoke(self, lease: int) -> None:
        self.post("/kv/lease/revoke", {"ID": lease})

    def member_health(self) -> list[tuple[str, bool, str]]:
        """(endpoint, answers, detail) for every member, asked all at once with a short
        deadline: a member that is gone without refusing must not hold anyone up."""
        return list(self._probing.map(_member_status, self.endpoints, self._quick))

    def watch(self, prefix: str, start_revision: int, idle: float) -> Iterator[list[dict]]:
        """Events under `prefix` from `start_revision` on, a list per response, decoded.

        Ends after `idle` seconds without a message or when the stream breaks: the caller
        reads what it missed and watches again."""
        end = prefix[:-1] + chr(ord(prefix[-1]) + 1)
        body = {"create_request": {"key": b64(prefix), "range_end": b64(end),
                                   "start_revision": start_revision}}

        def open_stream(client):
            return client.session.post(client.get_url("/watch"), json=body, stream=True,
                                       timeout=(CONNECT_TIMEOUT, idle))
        response = self._call(open_stream)
        try:
            for line in response.iter_lines():
                if not line:
                    continue
                result = json.loads(line).get("result", {})
                if result.get("canceled"):
                    raise EtcdUnavailable(f"etcd cancelled the watch: "
                                          f"{result.get('cancel_reason', 'compacted?')}")
                events = result.get("events") or []
                if events:
                    yield [_decode_event(e) for e in events]
        except requests.exceptions.RequestException as error:
            # idle, or the member went away: either way the caller reads what it missed
            log.debug("etcd watch ended", extra=kv(error=_short(error)))
        finally:
            response.close()


def _member_status(endpoint: tuple[str, int], client) -> tuple[str, bool, str]:
    name = f"{endpoint[0]}:{endpoint[1]}"
    try:
        status = client.status()
        leads = int(status.get("leader", 0)) == int(status["header"]["member_id"])
        return name, True, f"version {status.get('version', '?')}, leader {leads}"
    except (*UNREACHABLE, etcd_errors.Etcd3Exception, KeyError) as error:
        return name, False, _short(error)


def _decode_event(event: dict) -> dict:
    record = event["kv"]
    return {"type": event.get("type", "PUT"), "key": unb64(record["key"]).decode(),
            "value": unb64(record.get("value", "")),
            "mod_revision": int(record.get("mod_revision", 0)),
            "create_revision": int(record.get("create_revision", 0))}


def _short(error: Exception) -> str:
    text = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    return text[-160:]

