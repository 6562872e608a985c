"""`mooseng admin certs init|issue`: a cluster CA and its nodes' certificates, for `--tls`."""

from mooseng.common import certs

from .format import pairs
from .output import Output


def init(client: None, args) -> Output:
    folder = certs.init_ca(args.directory, days=args.days)
    return Output({"ca": str(folder)}, pairs([
        ("CA", f"{folder}/ca.crt (and ca.key: keep it off the nodes)"),
        ("Next", f"mooseng admin certs issue {folder} NAME DIR, once per node and client")]))


def issue(client: None, args) -> Output:
    folder = certs.issue(args.ca, args.name, args.directory, days=args.days,
                         addresses=args.address)
    return Output({"name": args.name, "directory": str(folder)}, pairs([
        ("Node", args.name), ("Files", f"{folder}/ca.crt, node.crt, node.key"),
        ("Use", f"--tls {folder} (or MOOSENG_TLS={folder})")]))
