"""One exception hierarchy for the whole system, mapped to gRPC status codes in one place."""

import grpc


class MooseNGError(Exception):
    """Base of every error MooseNG reports to a user."""

    code = grpc.StatusCode.UNKNOWN


class NotFound(MooseNGError):
    code = grpc.StatusCode.NOT_FOUND


class AlreadyExists(MooseNGError):
    code = grpc.StatusCode.ALREADY_EXISTS


class InvalidArgument(MooseNGError):
    code = grpc.StatusCode.INVALID_ARGUMENT


class FailedPrecondition(MooseNGError):
    code = grpc.StatusCode.FAILED_PRECONDITION


class ResourceExhausted(MooseNGError):
    code = grpc.StatusCode.RESOURCE_EXHAUSTED


class Unavailable(MooseNGError):
    code = grpc.StatusCode.UNAVAILABLE


class DataLoss(MooseNGError):
    """A stored copy failed its checksum, or no valid copy of a chunk is left."""

    code = grpc.StatusCode.DATA_LOSS


class DeadlineExceeded(MooseNGError):
    code = grpc.StatusCode.DEADLINE_EXCEEDED


class PermissionDenied(MooseNGError):
    """No export rule lets this client do this (its network, the path, read-only, admin)."""

    code = grpc.StatusCode.PERMISSION_DENIED


class Unauthenticated(MooseNGError):
    """The export rules of this client's network want a credential it did not give."""

    code = grpc.StatusCode.UNAUTHENTICATED


_BY_CODE = {cls.code: cls for cls in MooseNGError.__subclasses__()}

LEADER_KEY = "mooseng-leader"     # trailing metadata of a master that does not lead


class NotLeader(FailedPrecondition):
    """This master follows: nothing was done; ask `leader` (empty while none is elected, then
    the code is UNAVAILABLE). Safe to retry elsewhere, whatever the call."""

    def __init__(self, message: str, leader: str = ""):
        super().__init__(message)
        self.leader = leader
        if not leader:
            self.code = grpc.StatusCode.UNAVAILABLE


def abort(context: grpc.ServicerContext, error: MooseNGError) -> None:
    """Answer a gRPC call with the status code that belongs to `error`."""
    if isinstance(error, NotLeader):
        context.set_trailing_metadata(((LEADER_KEY, error.leader),))
    context.abort(error.code, str(error))


def from_rpc_error(error: grpc.RpcError) -> MooseNGError:
    """Turn a failed call into the matching MooseNGError, keeping the server's message."""
    code = error.code() if hasattr(error, "code") else grpc.StatusCode.UNKNOWN
    details = error.details() if hasattr(error, "details") else str(error)
    metadata = dict(error.trailing_metadata() or ()) if hasattr(error, "trailing_metadata") \
        else {}
    if LEADER_KEY in metadata:
        return NotLeader(details, metadata[LEADER_KEY])
    return _BY_CODE.get(code, MooseNGError)(details or code.name)


def servicer_errors(method):
    """Decorator for servicer methods: MooseNGError becomes the matching status code."""
    import functools

    @functools.wraps(method)
    def wrapper(self, request, context):
        try:
            return method(self, request, context)
        except MooseNGError as error:
            abort(context, error)

    return wrapper
