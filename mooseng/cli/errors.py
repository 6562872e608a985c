"""One line per failure: `mooseng: error: <what is wrong> (<what to do>)`."""

from mooseng.client import MasterUnreachable
from mooseng.common import errors

from .cache import ClientUnreachable

_HINTS = [
    (ClientUnreachable, "start the client with --metrics-port PORT, or give its address with "
                        "--client HOST:PORT"),
    (MasterUnreachable, "is the master running? give its address with --master HOST:PORT "
                        "or set MOOSENG_MASTERS"),
    (errors.NotFound, "check the path with `mooseng fs ls`"),
    (errors.AlreadyExists, "choose another name or remove the existing one first"),
    (errors.InvalidArgument, "fix the argument and try again"),
    (errors.ResourceExhausted, "add chunk servers or lower the goal"),
    (errors.DataLoss, "no good copy is readable; check `mooseng status` and the chunk servers"),
    (errors.DeadlineExceeded, "the cluster is slow or stuck; check `mooseng status` or raise "
                              "--timeout"),
    (errors.Unavailable, "check that the chunk servers are up with `mooseng chunkservers`"),
]


def describe(error: BaseException) -> str:
    """The message for one failure, with a hint on what to do next (unless the message names
    the command to use already)."""
    if isinstance(error, errors.MooseNGError) and "`mooseng " in str(error):
        return str(error)
    if isinstance(error, errors.FailedPrecondition):
        text = str(error)
        if "not empty" in text:
            return f"{text} (use -r to remove it with everything in it)"
        return f"{text} (check the path with `mooseng fs stat`)"
    if isinstance(error, errors.MooseNGError):
        for cls, hint in _HINTS:
            if isinstance(error, cls):
                return f"{error} ({hint})"
        return f"{error} (see the master's log)"
    if isinstance(error, OSError):
        where = f" {error.filename}" if error.filename else ""
        return f"cannot use local file{where}: {error.strerror or error} (check the local path)"
    return f"{type(error).__name__}: {error}"
