"""MooseNG: a distributed file system in the MooseFS family."""

__version__ = "0.1.0"

CHUNK_SIZE = 64 * 1024 * 1024
BLOCK_SIZE = 64 * 1024
NAME_MAX = 255
PATH_MAX = 1024
ROOT_INODE = 1
