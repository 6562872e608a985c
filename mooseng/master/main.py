"""`mooseng-master`: load the settings and run MasterServer until SIGTERM/SIGINT."""

import dataclasses

from mooseng import CHUNK_SIZE
from mooseng.common import config as cfg
from mooseng.common import daemon
from mooseng.common import log as logsetup
from mooseng.common.config import ConfigError, setting


@dataclasses.dataclass
class MasterConfig:
    data_dir: str = setting("", "directory for the changelog, snapshots and ports.json",
                            required=True)
    host: str = setting("127.0.0.1", "address to listen on (0.0.0.0 in containers)")
    port: int = setting(9421, "gRPC port (0 = pick a free one)", kind="port")
    http_port: int = setting(9423, "HTTP port for /health, /ready, /metrics (0 = free one)", kind="port")
    heartbeat_interval: float = setting(1.0, "seconds between chunk server heartbeats")
    offline_timeout: float = setting(10.0, "seconds without heartbeat before a chunk server "
                                           "is marked offline")
    chunk_size: int = setting(CHUNK_SIZE, "chunk size for a new file system", kind="size")
    default_goal: int = setting(2, "copies of each chunk for files without an explicit goal")
    snapshot_every: int = setting(10000, "write a metadata snapshot every N changelog entries")
    replication_limit: int = setting(4, "max concurrent replications per chunk server")
    move_rate: float = setting(50.0, "MB/s of copies the master moves to where their storage "
                                     "class wants them (lost copies are restored unlimited)")
    log_level: str = setting("info", "debug, info, warning or error")
    etcd: str = setting("", "etcd members HOST:PORT[,HOST:PORT...] for several masters with "
                            "one leader; empty: a single master with its local changelog")
    cluster_id: str = setting("mooseng", "name of the cluster; etcd serves one cluster, and a "
                                         "master of another is refused")
    name: str = setting("", "this master's name in status and logs (default: its address)")
    advertise: str = setting("", "HOST:PORT clients and chunk servers use to reach this "
                                 "master (default: --host and the gRPC port)")
    restore_from: str = setting("", "before starting, rebuild the metadata in the empty "
                                    "--data-dir from a metalogger's directory")
    region: str = setting("", "the region this master is in (chunk servers' region label): "
                              "clients of that region read from it at a consistency level "
                              "that allows a follower")
    exports: str = setting("", "exports file: which client networks may use which subtree, "
                               "read-only or read-write, with which secret and admin rights; "
                               "reloaded on SIGHUP (empty: loopback clients only)")
    tls: str = setting("", "directory with ca.crt, node.crt and node.key (mooseng admin certs "
                           "issue): every gRPC link is mutual TLS with nodes of the same CA "
                           "(empty: plain text)")
    lease_ttl: int = setting(1, "seconds of the leader's etcd lease: a dead leader is replaced "
                                "after at most this long")


def validate(config: MasterConfig) -> MasterConfig:
    if config.chunk_size < 64 * 1024 or config.chunk_size % (64 * 1024):
        raise ConfigError(f"bad value for 'chunk_size': {config.chunk_size} must be a positive "
                          "multiple of 64KiB")
    for name in ("default_goal", "snapshot_every", "replication_limit"):
        if getattr(config, name) < 1:
            raise ConfigError(f"bad value for '{name}': must be at least 1")
    if config.heartbeat_interval <= 0 or config.offline_timeout <= config.heartbeat_interval:
        raise ConfigError("bad value for 'offline_timeout': must be larger than "
                          f"heartbeat_interval ({config.heartbeat_interval})")
    if config.etcd:
        from mooseng.master.etcd import check_setting
        check_setting(config.etcd)
    if not config.move_rate > 0:
        raise ConfigError("bad value for 'move_rate': must be more than 0 MB/s")
    if config.lease_ttl < 1:
        raise ConfigError("bad value for 'lease_ttl': etcd leases are whole seconds, at least 1")
    cfg.check_log_level(config.log_level)
    if config.exports:
        from mooseng.master.exports import Exports, ExportsError
        try:
            Exports.load(config.exports)
        except ExportsError as error:
            raise ConfigError(f"bad exports file: {error}") from None
    return config


def main(argv=None) -> int:
    def build():
        from mooseng.master.server import MasterServer
        config = validate(cfg.load(MasterConfig, argv, prog="mooseng-master",
                                   description="MooseNG metadata master"))
        logsetup.setup("master", config.log_level)
        return MasterServer(config)

    return daemon.run("mooseng-master", build)


if __name__ == "__main__":
    raise SystemExit(main())
