"""The chunk server's settings (flag --x-y, variable MOOSENG_X_Y, TOML key x_y)."""

import dataclasses

from mooseng.common.config import setting


@dataclasses.dataclass
class ChunkServerConfig:
    data_dir: str = setting("", "directory for chunk copies, server_id and ports.json",
                            required=True)
    master: str = setting("127.0.0.1:9421", "master address HOST:PORT; with several masters, every one, comma separated")
    host: str = setting("127.0.0.1", "address to listen on (0.0.0.0 in containers)")
    port: int = setting(9420, "gRPC port of the ChunkServer service (0: any free port)", kind="port")
    http_port: int = setting(9425, "HTTP port of /health, /ready and /metrics (0: any free port)", kind="port")
    advertise: str = setting("", "HOST[:PORT] others use to reach this server (default: host and "
                                 "port; with host 0.0.0.0 the IP of this machine's hostname)")
    label: dict = setting({}, "placement label KEY=VALUE, e.g. tier=ssd or region=eu-west",
                          kind="labels")
    advertise_to: dict = setting({}, "REGION=HOST:PORT: where clients and servers of another "
                                     "region reach this server (e.g. a WAN link's end), "
                                     "repeatable", kind="labels")
    capacity: int = setting(0, "bytes offered for chunks, e.g. 100GiB (0, and never more than: "
                               "what is stored plus the disk's free space)", kind="size")
    scrub_interval: float = setting(60.0, "seconds for one background verification pass over "
                                          "every copy (0: no scrubbing)")
    tls: str = setting("", "directory with ca.crt, node.crt and node.key (mooseng admin certs "
                           "issue): every gRPC link is mutual TLS with nodes of the same CA "
                           "(empty: plain text)")
    log_level: str = setting("info", "debug, info, warning or error")
