"""The certificates of a scenario's cluster on TLS: a CA of its own, a certificate per node
(issued when the node is first started, naming its addresses) and per client, and on demand one
of another CA, as an intruder would hold."""

from __future__ import annotations

from pathlib import Path

from mooseng.common import certs


class Pki:
    def __init__(self, root: Path):
        self.root = root
        self.addresses: set[str] = set()    # of its nodes that the suite dials over TLS
        certs.init_ca(str(root / "ca"))

    def issue(self, name: str, addresses: tuple[str, ...] = ("127.0.0.1",)) -> Path:
        """The directory of `name`'s certificate (what --tls reads), made on first use."""
        folder = self.root / "nodes" / name
        if not (folder / "node.crt").exists():
            certs.issue(str(self.root / "ca"), name, str(folder), addresses=addresses)
        return folder

    def foreign(self, name: str) -> Path:
        """Give `name` a certificate of another CA (in place of any it had); its directory."""
        other = self.root / "other-ca"
        if not other.exists():
            certs.init_ca(str(other), name="Another CA")
        return certs.issue(str(other), name, str(self.root / "nodes" / name))

    @property
    def client(self) -> str:
        return str(self.issue("client"))
