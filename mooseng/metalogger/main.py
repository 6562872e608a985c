"""`mooseng-metalogger`: follow the committed changelog in etcd until SIGTERM/SIGINT."""

import dataclasses

from mooseng.common import config as cfg
from mooseng.common import daemon
from mooseng.common import log as logsetup
from mooseng.common.config import ConfigError, setting


@dataclasses.dataclass
class MetaloggerConfig:
    data_dir: str = setting("", "directory for the changelog copy, snapshots and ports.json",
                            required=True)
    etcd: str = setting("", "etcd members HOST:PORT[,HOST:PORT...] of the masters",
                        required=True)
    host: str = setting("127.0.0.1", "address to listen on (0.0.0.0 in containers)")
    http_port: int = setting(9426, "HTTP port for /health, /ready, /metrics (0 = free one)",
                             kind="port")
    name: str = setting("metalogger", "this metalogger's name in logs and /health")
    snapshot_every: int = setting(10000, "write a metadata snapshot every N changelog entries")
    tls: str = setting("", "directory with ca.crt, node.crt and node.key (mooseng admin certs "
                           "issue): etcd and the leader are reached over mutual TLS (empty: "
                           "plain text)")
    log_level: str = setting("info", "debug, info, warning or error")


def validate(config: MetaloggerConfig) -> MetaloggerConfig:
    from mooseng.master.etcd import check_setting
    check_setting(config.etcd)
    if config.snapshot_every < 1:
        raise ConfigError("bad value for 'snapshot_every': must be at least 1")
    cfg.check_log_level(config.log_level)
    return config


def main(argv=None) -> int:
    def build():
        from mooseng.metalogger.server import Metalogger
        config = validate(cfg.load(MetaloggerConfig, argv, prog="mooseng-metalogger",
                                   description="MooseNG metalogger: keeps a copy of the "
                                               "committed changelog and snapshots"))
        logsetup.setup("metalogger", config.log_level)
        return Metalogger(config)

    return daemon.run("mooseng-metalogger", build)


if __name__ == "__main__":
    raise SystemExit(main())
