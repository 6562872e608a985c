"""`mooseng-chunkserver`: run one chunk server until SIGTERM."""

import sys

from mooseng.chunkserver.config import ChunkServerConfig
from mooseng.chunkserver.server import ChunkServerDaemon, split_address
from mooseng.common import config, log
from mooseng.common.daemon import run

def build(argv=None):
    settings = config.load(ChunkServerConfig, argv, prog="mooseng-chunkserver",
                           description="MooseNG chunk server: stores chunk copies on local disk.")
    config.check_log_level(settings.log_level)
    host, _, port = settings.master.rpartition(":")
    if not host or not port.isdigit():
        raise config.ConfigError(f"bad value for 'master': {settings.master!r} (use HOST:PORT, "
                                 "e.g. 127.0.0.1:9421)")
    try:
        split_address(settings.advertise)
    except ValueError:
        raise config.ConfigError(f"bad value for 'advertise': {settings.advertise!r} (use HOST "
                                 "or HOST:PORT)") from None
    for region, address in settings.advertise_to.items():
        try:
            host, port = split_address(address)
        except ValueError:
            host, port = "", None
        if not region or not host or port is None:
            raise config.ConfigError(f"bad value for 'advertise_to': {region}={address!r} (use "
                                     "REGION=HOST:PORT, e.g. us-east=10.0.0.9:7001)")
    log.setup("chunkserver", settings.log_level)
    return ChunkServerDaemon(settings)


def main(argv=None) -> int:
    return run("mooseng-chunkserver", lambda: build(argv))


if __name__ == "__main__":
    sys.exit(main())
