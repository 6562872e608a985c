"""`mooseng admin exports secret|check`: what an operator needs to write a master's exports
file, without a running master."""

import sys

from mooseng.master.exports import Exports, hash_secret

from .format import table
from .output import Output


def secret(client: None, args) -> Output:
    """The secret comes from standard input, so it never shows in a process list or history."""
    given = sys.stdin.readline().rstrip("\n")
    hashed = hash_secret(given)
    return Output({"secret": hashed}, f"secret={hashed}")


def check(client: None, args) -> Output:
    exports = Exports.load(args.file)
    rows = [[r.line, r.network or "*", r.subtree, "rw" if r.writable else "ro",
             "yes" if r.admin else "no", "yes" if r.secret else "no"] for r in exports.rules]
    data = [{"line": r.line, "network": str(r.network or "*"), "subtree": r.subtree,
             "writable": r.writable, "admin": r.admin, "secret": bool(r.secret)}
            for r in exports.rules]
    return Output(data, table(["LINE", "NETWORK", "SUBTREE", "ACCESS", "ADMIN", "SECRET"], rows,
                              right={0}))
