"""MooseNG client library: path helpers and a file-like API over the master and chunk servers.

    from mooseng.client import Client
    with Client("127.0.0.1:9421") as c:
        c.write_bytes("/a.bin", b"...", goal=2)
"""

from . import paths
from .cache import CacheSettings
from .client import Client
from .io import File
from .master import MasterUnreachable
from .types import ChunkInfo, StatResult

__all__ = ["paths", "CacheSettings", "Client", "File", "ChunkInfo", "StatResult", "MasterUnreachable"]
