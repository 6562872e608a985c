"""Exports: which client networks may use which subtree, read-only or read-write, with an
optional credential, and whether they may use admin commands (MooseFS's mfsexports.cfg).

One rule per line, `#` starts a comment:

    NETWORK       SUBTREE     OPTIONS
    127.0.0.0/8   /           rw,admin
    10.1.0.0/16   /projects   rw,secret=scrypt:<salt>:<hash>
    *             /public     ro

NETWORK is a CIDR, one address or `*`; OPTIONS are `ro` (the default) or `rw`, `admin`, and
`secret=` with the scrypt hash `mooseng admin exports secret` prints (the clear secret is never
written anywhere by MooseNG). A client may do what any rule for its address allows, and a rule
with a secret only counts for a client that gives that secret. Without an exports file only
loopback clients are served, read-write with admin rights.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import ipaddress
import os
import posixpath
import threading

from mooseng.common.errors import InvalidArgument, PermissionDenied, Unauthenticated

READ, WRITE, ADMIN = "read", "write", "admin"
# What each Master call needs, and which request fields name paths or inodes.
NEEDS = {
    "GetAttr": (READ, ("path",)), "ReadDir": (READ, ("path",)),
    "GetPlacement": (READ, ("path",)), "GetChunks": (READ, ("inode",)),
    "WatchInvalidations": (READ, ()), "GetClusterStatus": (READ, ()),
    "ListChunkServers": (READ, ()), "ListClasses": (READ, ()),
    "Mkdir": (WRITE, ("path",)), "Create": (WRITE, ("path",)), "Remove": (WRITE, ("path",)),
    "Rename": (WRITE, ("source", "destination")), "SetGoal": (WRITE, ("path",)),
    "SetClass": (WRITE, ("path",)), "Truncate": (WRITE, ("inode",)),
    "AllocateChunk": (WRITE, ("inode",)), "CommitChunk": (WRITE, ("inode",)),
    "SetMaintenance": (ADMIN, ()), "DrainChunkServer": (ADMIN, ()),
    "RemoveChunkServer": (ADMIN, ()), "Repair": (ADMIN, ()), "Balance": (ADMIN, ()),
    "DefineClass": (ADMIN, ()), "DeleteClass": (ADMIN, ()), "GetSnapshot": (ADMIN, ()),
}
MOVES = ("Remove", "Rename")      # change the entry itself, not only what is below it
_SCRYPT = {"n": 2 ** 14, "r": 8, "p": 1}


class ExportsError(InvalidArgument):
    """A malformed exports file: `file:line: reason`."""


@dataclasses.dataclass(frozen=True)
class Rule:
    line: int
    network: ipaddress.IPv4Network | ipaddress.IPv6Network | None     # None: any address
    subtree: str
    writable: bool = False
    admin: bool = False
    secret: str = ""          # scrypt:<salt hex>:<hash hex>, or empty

    def covers(self, address) -> bool:
        return self.network is None or (address.version == self.network.version
                                        and address in self.network)

    def holds(self, path: str, strictly: bool = False) -> bool:
        """`strictly`: below the subtree, not its root (which a client may not remove or
        rename: the export would go with it; the namespace refuses it for the root)."""
        if path == self.subtree:
            return not strictly or path == "/"
        return self.subtree == "/" or path.startswith(self.subtree + "/")

    def allows(self, need: str) -> bool:
        return need == READ or (need == WRITE and self.writable) or (need == ADMIN and self.admin)

    def describe(self) -> str:
        rights = ("rw" if self.writable else "ro") + (",admin" if self.admin else "")
        return f"{self.network or '*'} {self.subtree} {rights}"


def hash_secret(secret: str) -> str:
    """The `secret=` value for an exports file."""
    if not secret:
        raise InvalidArgument("a secret must not be empty")
    salt = os.urandom(16)
    digest = hashlib.scrypt(secret.encode(), salt=salt, **_SCRYPT)
    return f"scrypt:{salt.hex()}:{digest.hex()}"


class Exports:
    def __init__(self, rules: list[Rule], source: str):
        self.rules = tuple(rules)
        self.source = source
        self._known: set[tuple[str, bytes]] = set()   # (secret, sha256 of a credential) seen good
        self._lock = threading.Lock()

    @classmethod
    def default(cls) -> "Exports":
        return cls([Rule(0, ipaddress.ip_network("127.0.0.0/8"), "/", True, True),
                    Rule(0, ipaddress.ip_network("::1/128"), "/", True, True)],
                   "no exports file: loopback clients only")

    @classmethod
    def load(cls, path: str) -> "Exports":
        try:
            with open(path, encoding="utf-8") as handle:
                text = handle.read()
        except OSError as error:
            raise ExportsError(f"cannot read the exports file {path}: {error.strerror}") from None
        return cls.parse(text, path)

    @classmethod
    def parse(cls, text: str, source: str) -> "Exports":
        rules = [_rule(fields, number, source)
                 for number, line in enumerate(text.splitlines(), 1)
                 if (fields := line.split("#", 1)[0].split())]
        if not rules:
            raise ExportsError(f"{source}: no rule: every client would be refused")
        return cls(rules, source)

    def admit(self, peer: str, credential: str, operation: str, paths: list[str]) -> None:
        """Raise PermissionDenied or Unauthenticated unless some rule lets `peer` (a gRPC peer
        string) giving `credential` do `operation` on every one of `paths`."""
        need = NEEDS.get(operation, (ADMIN, ()))[0]
        address = peer_address(peer)
        near = [rule for rule in self.rules if address is not None and rule.covers(address)]
        if not near:
            raise PermissionDenied(f"client {address or peer} matches no export rule of this "
                                   f"master ({self.source}): ask its operator to export a "
                                   f"subtree to your network")
        usable = [rule for rule in near if not rule.secret or self._good(rule.secret, credential)]
        if not usable:
            raise Unauthenticated(f"the export rules for client {address} want a credential, "
                                  + ("and the one given is wrong" if credential else
                                     "and none was given: pass --credential (or "
                                     "MOOSENG_CREDENTIAL)"))
        strictly = operation in MOVES
        for path in paths or [None]:
            if not any(rule.allows(need) and (path is None or rule.holds(path, strictly))
                       for rule in usable):
                raise PermissionDenied(self._why(address, need, path, usable))

    def _why(self, address, need: str, path: str | None, usable: list[Rule]) -> str:
        rules = "; ".join(rule.describe() for rule in usable)
        if need == ADMIN:
            return f"{need} commands are not allowed for client {address} (its exports: {rules})"
        what = "writing" if need == WRITE else "reading"
        return f"{what} {path} is not allowed for client {address} (its exports: {rules})"

    def _good(self, secret: str, credential: str) -> bool:
        if not credential:
            return False
        seen = (secret, hashlib.sha256(credential.encode()).digest())
        with self._lock:
            if seen in self._known:
                return True
        _, salt, digest = secret.split(":")
        good = hmac.compare_digest(
            hashlib.scrypt(credential.encode(), salt=bytes.fromhex(salt), **_SCRYPT),
            bytes.fromhex(digest))
        if good:
            with self._lock:
                self._known.add(seen)
        return good


def peer_address(peer: str):
    """The address in a gRPC peer string ("ipv4:10.0.0.1:5000", "ipv6:[::1]:5000")."""
    kind, _, rest = peer.partition(":")
    if kind == "ipv4":
        host = rest.rsplit(":", 1)[0]
    elif kind == "ipv6":
        host = rest.rsplit(":", 1)[0].strip("[]")
    else:
        return None
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def _rule(fields: list[str], number: int, source: str) -> Rule:
    def bad(reason: str) -> ExportsError:
        return ExportsError(f"{source}:{number}: {reason}")

    if len(fields) != 3:
        raise bad(f"a rule is NETWORK SUBTREE OPTIONS, got {len(fields)} fields: "
                  f"{' '.join(fields)!r}")
    network_text, subtree, options = fields
    try:
        network = None if network_text == "*" else ipaddress.ip_network(network_text)
    except ValueError as error:
        raise bad(f"not a network: {error}") from None
    if not subtree.startswith("/"):
        raise bad(f"the subtree must be an absolute path, got {subtree!r}")
    settings = {"line": number, "network": network, "subtree": posixpath.normpath(subtree)}
    for option in options.split(","):
        key, _, value = option.partition("=")
        if key in ("ro", "rw") and not value:
            settings["writable"] = key == "rw"
        elif key == "admin" and not value:
            settings["admin"] = True
        elif key == "secret":
            parts = value.split(":")
            if len(parts) != 3 or parts[0] != "scrypt" or not all(
                    len(p) >= 32 and all(c in "0123456789abcdef" for c in p) for p in parts[1:]):
                raise bad("secret= wants the scrypt:SALT:HASH that `mooseng admin exports "
                          "secret` prints, never a secret in clear")
            settings["secret"] = value
        else:
            raise bad(f"unknown option {option!r}; options: ro, rw, admin, secret=")
    return Rule(**settings)
