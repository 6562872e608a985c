"""The admin CLI `mooseng`: argument parsing, dispatch, and one-line errors."""

import argparse
import json
import os
import sys

from mooseng import __version__
from mooseng.bench import workloads
from mooseng.client import CacheSettings, Client
from mooseng.client.cache import KINDS
from mooseng.common.consistency import DEFAULT_BOUND, LEVELS, Consistency
from mooseng.common.errors import InvalidArgument

from mooseng.bench.stats import THRESHOLD
from mooseng.bench.store import DEFAULT_DB, ENV_DB
from mooseng.bench.suite import DEFAULT_REPEAT, SUITES, WORKLOADS

from . import (bench, bench_history, cache, certs, classes, cluster, dashboard, exports, fs,
               servers)
from .argtypes import cache_ttl, count, duration, label, percent, port, positive
from .errors import describe

DEFAULT_MASTER = "127.0.0.1:9421"


def default_master() -> str:
    """MOOSENG_MASTERS (comma or space separated), else the local default."""
    return ",".join(os.environ.get("MOOSENG_MASTERS", "").replace(",", " ").split()) \
        or DEFAULT_MASTER


def with_port(address: str) -> str:
    """'host' -> 'host:9421' (the master's default port)."""
    host, sep, port = address.rpartition(":")
    if sep and port.isdigit() and not host.endswith(":"):
        return address
    return f"{address}:{DEFAULT_MASTER.rsplit(':', 1)[1]}"


def build_parser() -> argparse.ArgumentParser:
    # Options accepted both before and after the command; SUPPRESS keeps a later parser from
    # overwriting a value given earlier.
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--master", default=argparse.SUPPRESS, metavar="HOST:PORT",
                        help="master address, or several: A,B,C (the leader is found; default: "
                             "$MOOSENG_MASTERS, else "
                             f"{DEFAULT_MASTER})")
    common.add_argument("--timeout", type=float, default=argparse.SUPPRESS, metavar="S",
                        help="deadline of each call in seconds (default 30)")
    common.add_argument("--json", action="store_true", default=argparse.SUPPRESS,
                        help="print JSON on stdout instead of a table")
    common.add_argument("--metrics-port", type=port, default=argparse.SUPPRESS, metavar="PORT",
                        help="serve this command's client metrics on 127.0.0.1:PORT while it "
                             f"runs (e.g. {cache.DEFAULT_CLIENT.rsplit(':', 1)[1]} for a "
                             "benchmark; see mooseng cache stats)")

    common.add_argument("--label", type=label, action="append", default=argparse.SUPPRESS,
                        metavar="KEY=VALUE", help="where this client is (e.g. rack=r1), for "
                        "the locality-aware allocation policy; repeatable")
    common.add_argument("--consistency", choices=LEVELS, default=argparse.SUPPRESS,
                        help="which master answers lookups: with --label region=R, levels "
                             "other than strong (the default) read from region R's master")
    common.add_argument("--credential", default=argparse.SUPPRESS, metavar="SECRET",
                        help="the secret the masters' exports want from this client's network "
                             "(default: $MOOSENG_CREDENTIAL)")
    common.add_argument("--tls", default=argparse.SUPPRESS, metavar="DIR",
                        help="ca.crt, node.crt and node.key of this client (mooseng admin certs "
                             "issue) for a cluster on TLS (default: $MOOSENG_TLS)")
    common.add_argument("--staleness-bound", type=float, default=argparse.SUPPRESS,
                        metavar="S", help="how far behind the leader a master answering a "
                        f"bounded read may be (default {DEFAULT_BOUND:g})")

    parser = argparse.ArgumentParser(prog="mooseng", parents=[common],
                                     description="MooseNG administration and file commands.")
    parser.add_argument("--version", action="version", version=f"mooseng {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def command(sub, name, func, help_text):
        p = sub.add_parser(name, parents=[common], help=help_text, description=help_text)
        p.set_defaults(func=func)
        return p

    command(commands, "status", cluster.status, "cluster health, chunk counts, servers by state")
    command(commands, "chunkservers", cluster.chunkservers, "registered chunk servers")
    _chunkserver(commands, command)

    p = command(commands, "bench", None, "benchmark a running cluster")
    p.set_defaults(bench=True)
    workloads.add_options(p)
    p.add_argument("--goal", type=positive, default=2, help="goal of the files (default 2)")
    p.add_argument("--drop-caches", action="store_true",
                   help="drop this machine's page cache before the read (root; makes the read "
                        "cold for chunk servers running here)")
    p.add_argument("--dir", help="directory to work in (default: a new /.mooseng-bench-*)")
    defaults = CacheSettings()
    p.add_argument("--cache", type=cache_ttl, action="append", default=[], metavar="KIND=S",
                   help="metadata cache TTL of one kind in seconds, 0 turns it off; repeatable "
                        "(defaults: " + ", ".join(f"{k}={defaults.ttl(k):g}" for k in KINDS)
                        + ")")
    p.add_argument("--cache-entries", type=count, default=defaults.entries, metavar="N",
                   help=f"bound of the metadata cache (default {defaults.entries})")
    kinds = p.add_subparsers(dest="bench_kind", metavar="KIND")
    f = command(kinds, "failover", bench.failover,
                "time from kill -9 of the leading master to the next acknowledged write, on "
                "a cluster of 3 masters on etcd this command starts (and removes) itself")
    f.set_defaults(bench=False, no_master=True)
    f.add_argument("--rounds", type=positive, default=10, help="leaders killed (default 10)")
    f.add_argument("--lease-ttl", type=positive, default=1, metavar="S",
                   help="the masters' etcd lease in seconds (default 1)")
    _bench_history(kinds, command)

    p = command(commands, "dashboard", dashboard.dashboard,
                "a live web page of the cluster (health, chunk servers, throughput, benchmark "
                "results) until Ctrl-C")
    p.set_defaults(no_master=True)
    p.add_argument("--port", type=port, default=dashboard.DEFAULT_PORT,
                   help=f"port of the page (default {dashboard.DEFAULT_PORT}; 0 picks a free one)")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (default 127.0.0.1; 0.0.0.0 for every interface)")
    p.add_argument("--db", metavar="PATH",
                   help=f"benchmark results to show (default ${ENV_DB}, else {DEFAULT_DB})")

    admin_parser = commands.add_parser("admin", help="cluster administration",
                                       description="cluster administration")
    admin_commands = admin_parser.add_subparsers(dest="admin_command", metavar="ADMIN_COMMAND",
                                                 required=True)
    command(admin_commands, "metadata-checksum", cluster.metadata_checksum,
            "every master's metadata version and a checksum of its namespace (equal on "
            "masters at the same version, and on one restored from a metalogger)")
    p = command(admin_commands, "restore", cluster.restore,
                "rebuild a master's data directory from a metalogger's (or master's) files, "
                "without a running master; stops at the first damaged entry and says which")
    p.set_defaults(no_master=True)
    p.add_argument("source", metavar="SOURCE", help="the metalogger's data directory")
    p.add_argument("data_dir", metavar="DATA_DIR", help="an empty or new directory")

    exports_parser = admin_commands.add_parser(
        "exports", help="write and check a master's exports file (--exports)",
        description="write and check a master's exports file (--exports)")
    exports_commands = exports_parser.add_subparsers(dest="exports_command",
                                                     metavar="EXPORTS_COMMAND", required=True)
    p = command(exports_commands, "secret", exports.secret,
                "read a secret from standard input and print the secret= option that stands "
                "for it in an exports file (a scrypt hash: the secret is stored nowhere)")
    p.set_defaults(no_master=True)
    p = command(exports_commands, "check", exports.check,
                "check an exports file and list its rules (what the master would load)")
    p.set_defaults(no_master=True)
    p.add_argument("file", metavar="FILE", help="the exports file")

    certs_parser = admin_commands.add_parser(
        "certs", help="a cluster CA and certificates for --tls (mutual TLS on every link)",
        description="a cluster CA and certificates for --tls (mutual TLS on every link)")
    certs_commands = certs_parser.add_subparsers(dest="certs_command", metavar="CERTS_COMMAND",
                                                 required=True)
    p = command(certs_commands, "init", certs.init, "make the cluster's CA in DIRECTORY "
                "(ca.crt, ca.key); refused where one is already")
    p.set_defaults(no_master=True)
    p.add_argument("directory", metavar="DIRECTORY")
    p.add_argument("--days", type=positive, default=3650, help="validity (default 3650)")
    p = command(certs_commands, "issue", certs.issue, "give node or client NAME a certificate "
                "of the CA in CA_DIR, written with the CA's into DIRECTORY (what --tls reads)")
    p.set_defaults(no_master=True)
    p.add_argument("ca", metavar="CA_DIR")
    p.add_argument("name", metavar="NAME")
    p.add_argument("directory", metavar="DIRECTORY")
    p.add_argument("--days", type=positive, default=825, help="validity (default 825)")
    p.add_argument("--address", action="append", default=[], metavar="IP",
                   help="an IP address the certificate also names (etcd members: the addresses "
                        "their peers dial); repeatable")

    cache_parser = commands.add_parser("cache", help="metadata cache of a running client",
                                       description="metadata cache of a running client")
    cache_commands = cache_parser.add_subparsers(dest="cache_command", metavar="CACHE_COMMAND",
                                                 required=True)
    for name, func, text in (("stats", cache.stats, "hit ratio per kind, entries, "
                                                    "invalidations received"),
                             ("drop", cache.drop, "forget every cached entry")):
        p = command(cache_commands, name, func, text)
        p.set_defaults(no_master=True)
        p.add_argument("--client", default=cache.DEFAULT_CLIENT, metavar="HOST:PORT",
                       help="metrics address of the client (its --metrics-port; default "
                            f"{cache.DEFAULT_CLIENT})")

    fs_parser = commands.add_parser("fs", help="file commands", description="file commands")
    fs_commands = fs_parser.add_subparsers(dest="fs_command", metavar="FS_COMMAND", required=True)
    p = command(fs_commands, "put", fs.put, "copy a local file into MooseNG")
    p.add_argument("local", metavar="LOCAL")
    p.add_argument("path", metavar="PATH")
    p.add_argument("--goal", type=positive, help="copies of every chunk (default: inherited)")
    p = command(fs_commands, "get", fs.get, "copy a MooseNG file to a local file")
    p.add_argument("path", metavar="PATH")
    p.add_argument("local", metavar="LOCAL")
    p = command(fs_commands, "ls", fs.ls, "list a directory")
    p.add_argument("path", metavar="PATH", nargs="?", default="/")
    p.add_argument("-l", dest="long", action="store_true", help="long listing")
    p = command(fs_commands, "stat", fs.stat, "size, goal and chunks of a file")
    p.add_argument("path", metavar="PATH")
    p = command(fs_commands, "mkdir", fs.mkdir, "create a directory")
    p.add_argument("-p", dest="parents", action="store_true",
                   help="create missing parents, accept an existing directory")
    p.add_argument("path", metavar="PATH")
    p = command(fs_commands, "rm", fs.rm, "remove a file or directory")
    p.add_argument("-r", dest="recursive", action="store_true", help="remove a whole subtree")
    p.add_argument("path", metavar="PATH")
    p = command(fs_commands, "mv", fs.mv, "rename or move")
    p.add_argument("source", metavar="SRC")
    p.add_argument("destination", metavar="DST")
    p = command(fs_commands, "setgoal", fs.setgoal, "set the number of copies")
    p.add_argument("goal", metavar="N", type=positive)
    p.add_argument("path", metavar="PATH")
    p.add_argument("-r", dest="recursive", action="store_true", help="apply to a whole subtree")
    p = command(fs_commands, "setclass", classes.setclass, "set the storage class (new files "
                "in a directory inherit it)")
    p.add_argument("name", metavar="CLASS")
    p.add_argument("path", metavar="PATH")
    p.add_argument("-r", dest="recursive", action="store_true", help="apply to a whole subtree")
    _classes(commands, command)
    p = command(admin_commands, "balance", servers.balance, "show the copies that would even "
                "out the chunk servers' usage (within 10 %% of the mean); --apply moves them")
    p.add_argument("--apply", action="store_true", help="start moving them (at the master's "
                   "--move-rate)")
    p = command(admin_commands, "repair", servers.repair, "check every copy of a path's chunks "
                "now (a directory: every file below it); damaged ones are made again")
    p.add_argument("path", metavar="PATH")
    p = command(admin_commands, "allocation-policy", classes.allocation_policy,
                "show the cluster-wide allocation policy of new chunks, or set it")
    p.add_argument("name", metavar="NAME", nargs="?",
                   help="least-used (the default), round-robin, random or locality-aware")
    p = command(admin_commands, "placement", classes.placement, "where every copy of a file's "
                "chunks is and whether it satisfies the storage class")
    p.add_argument("path", metavar="PATH")
    return parser


def _chunkserver(commands, command) -> None:
    parser = commands.add_parser("chunkserver", help="maintenance, draining and removal of a "
                                 "chunk server", description="maintenance, draining and removal "
                                 "of a chunk server (NAME: its id or address, see `mooseng "
                                 "chunkservers`)")
    kinds = parser.add_subparsers(dest="chunkserver_command", metavar="CHUNKSERVER_COMMAND",
                                  required=True)
    p = command(kinds, "maintenance", servers.maintenance, "while in maintenance its copies "
                "stay valid and nothing is copied for it; after --for it counts as lost")
    p.add_argument("switch", choices=["on", "off"], metavar="on|off")
    p.add_argument("name", metavar="NAME")
    p.add_argument("--for", dest="seconds", type=duration, metavar="TIME",
                   help="at most this long (default 30m), e.g. 90s, 2h")
    command(kinds, "drain", servers.drain, "move every copy off it before it is removed"
            ).add_argument("name", metavar="NAME")
    command(kinds, "remove", servers.remove, "forget a stopped chunk server (refused while "
            "it holds the only copy of a chunk)").add_argument("name", metavar="NAME")


def _classes(commands, command) -> None:
    parser = commands.add_parser("class", help="storage classes: copies and where they go",
                                 description="storage classes: copies and where they go. A "
                                 "copy is placed by a label constraint: '*' (any server) or "
                                 "key=value terms joined by '&'; N*constraint for N alike "
                                 "copies, e.g. `mooseng class create hot 2*tier=ssd`")
    kinds = parser.add_subparsers(dest="class_command", metavar="CLASS_COMMAND", required=True)
    for name, func, text in (("create", classes.create, "define a new class"),
                             ("modify", classes.modify, "change a class (its files follow: "
                                                        "their copies are moved)")):
        p = command(kinds, name, func, text)
        p.add_argument("name", metavar="NAME")
        p.add_argument("copies", metavar="COPY", nargs="+",
                       help="label constraint of a copy, N*constraint for N copies")
        p.add_argument("--archive-to", metavar="CLASS",
                       help="class that files not modified for --archive-after move to")
        p.add_argument("--archive-after", type=duration, metavar="TIME",
                       help="e.g. 7d, 12h, 30m")
    command(kinds, "list", classes.list_classes, "every class with its use")
    for name, func, text in (("show", classes.show, "one class"),
                             ("delete", classes.delete, "remove a class no file uses")):
        command(kinds, name, func, text).add_argument("name", metavar="NAME")


def _bench_history(kinds, command) -> None:
    """`mooseng bench run` and the commands on its stored results."""
    def stored(name, func, help_text, master=False):
        p = command(kinds, name, func, help_text)
        p.set_defaults(bench=False, no_master=not master)
        p.add_argument("--db", metavar="PATH",
                       help=f"results database (default ${ENV_DB}, else {DEFAULT_DB})")
        return p

    p = stored("run", bench_history.run, "run the benchmark suite against the cluster and "
               "store the result", master=True)
    p.add_argument("--suite", choices=sorted(SUITES), default="quick",
                   help="sizes of the workloads (default quick: under a minute)")
    p.add_argument("--workload", action="append", choices=list(WORKLOADS), metavar="NAME",
                   help=f"only this workload, repeatable (default all: {', '.join(WORKLOADS)})")
    p.add_argument("--repeat", type=positive, default=DEFAULT_REPEAT,
                   help="repetitions of every workload, after one warm-up repetition that "
                        f"is not counted (default {DEFAULT_REPEAT})")
    p.add_argument("--goal", type=positive, default=2, help="goal of the files (default 2)")
    stored("list", bench_history.list_runs, "the stored runs")
    p = stored("show", bench_history.show, "one run with every statistic")
    p.add_argument("id", type=positive, metavar="ID")
    p = stored("compare", bench_history.compare, "change of every workload from run A to run "
               "B, with its significance")
    p.add_argument("a", type=positive, metavar="A")
    p.add_argument("b", type=positive, metavar="B")
    p = stored("trends", bench_history.trends, "one workload over every stored run")
    p.add_argument("workload", choices=list(WORKLOADS), metavar="WORKLOAD")
    p = stored("baseline", None, "set the run `bench check` compares with")
    p.add_argument("action", choices=["set"], metavar="set")
    p.add_argument("id", type=positive, metavar="ID")
    p.set_defaults(func=bench_history.baseline_set)
    p = stored("check", bench_history.check, "exit 1 naming every workload of the newest run "
               "(or RUN) that regressed against the baseline")
    p.add_argument("run", type=positive, nargs="?", metavar="RUN")
    p.add_argument("--baseline", type=positive, metavar="ID",
                   help="compare with this run instead of the stored baseline")
    p.add_argument("--threshold", type=percent, default=THRESHOLD, metavar="PCT",
                   help=f"slowdown that counts as a regression (default {THRESHOLD:g} %%)")
    p = stored("export", bench_history.export, "every stored run as CSV or JSON")
    p.add_argument("--format", choices=["csv", "json"], default="csv")


def _cache_settings(args) -> CacheSettings:
    return CacheSettings(entries=args.cache_entries,
                         **{f"{kind}_ttl": seconds for kind, seconds in args.cache})


def _consistency(parser, args) -> Consistency:
    try:
        return Consistency(getattr(args, "consistency", "strong"),
                           getattr(args, "staleness_bound", DEFAULT_BOUND))
    except InvalidArgument as error:
        parser.error(str(error))


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    consistency = _consistency(parser, args)
    master = ",".join(with_port(a) for a in (getattr(args, "master", None)
                                             or default_master()).split(","))
    as_json = getattr(args, "json", False)
    long_running = getattr(args, "bench", False)      # only it looks names up again
    args.connection = {      # what every client of this command gives the masters
        "credential": getattr(args, "credential", os.environ.get("MOOSENG_CREDENTIAL", "")),
        "tls": getattr(args, "tls", os.environ.get("MOOSENG_TLS", ""))}
    client = None if getattr(args, "no_master", False) else Client(
        master, timeout=getattr(args, "timeout", 30.0),
        metrics_port=getattr(args, "metrics_port", None),
        cache=_cache_settings(args) if long_running else CacheSettings.off(),
        labels=dict(getattr(args, "label", [])), consistency=consistency, **args.connection)
    try:
        if getattr(args, "bench", False):
            output = bench.run(client, args, lambda line: print(line, file=sys.stderr,
                                                                flush=True))
        else:
            args.master = master
            output = args.func(client, args)
    except KeyboardInterrupt:
        print("mooseng: interrupted", file=sys.stderr)
        return 130
    except Exception as error:  # noqa: BLE001 (the CLI's one place that reports failures)
        print(f"mooseng: error: {describe(error)}", file=sys.stderr)
        return 1
    finally:
        if client:
            client.close()
    if as_json:
        print(json.dumps(output.data, indent=2, sort_keys=True))
    elif output.text:
        print(output.text)
    return output.exit_code


if __name__ == "__main__":
    sys.exit(main())
