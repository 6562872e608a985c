"""Exports and lease tokens: who may do what, and that a refusal changes nothing."""

import ipaddress
import re

import grpc
import parse
import support.steptypes  # noqa: F401 - registers {x:Q}
from behave import given, register_type, then, when
from hamcrest import assert_that, contains_string, equal_to

from mooseng.common import errors
from mooseng.master.exports import hash_secret

from support import endpoints, metrics, rpc
from support.data import Payload
from support.rpc import pb
from support.waiting import within

CLIENTS = "the suite's clients"
ACCESS = {"read-only": "ro", "read-write": "rw"}
ERRORS = {"permission denied": errors.PermissionDenied,
          "unauthenticated": errors.Unauthenticated}


def _reloads(world, outcome: str) -> float:
    return metrics.value(endpoints.metrics_text(world.master.http_address),
                         "mooseng_master_exports_reloads_total", outcome=outcome) or 0.0


def _give_exports(world, text: str, outcome: str = "loaded") -> None:
    """Write the master's exports file and have it read it again, as an operator would, and
    wait until it has."""
    before = _reloads(world, outcome)
    world.history.fault(f"exports reloaded:\n{text}")
    world.master.set_exports(text)
    within(5, lambda: _reloads(world, outcome) > before, f"the master to have {outcome} the "
                                                          "new exports")


def _version(world) -> float:
    return metrics.value(endpoints.metrics_text(world.master.http_address),
                         "mooseng_master_changelog_version")


@given("the master's exports are:")
def step_exports(context):
    world = context.world
    lines = []
    for row in context.table:
        network = world.cluster.client_network if row["network"] == CLIENTS else row["network"]
        options = [ACCESS[row["access"]]] + (["admin"] if row["admin"] == "yes" else [])
        if row["secret"]:
            options.append("secret=" + hash_secret(row["secret"]))
        lines.append(f"{network} {row['subtree']} {','.join(options)}")
    _give_exports(world, "\n".join(lines) + "\n")
    world.remembered["metadata version"] = _version(world)


@when('the operator gives the master an exports file whose line {number:d} is "{line:Q}" and '
      'has it read it again')
def step_bad_exports(context, number, line):
    world = context.world
    lines = [f"{world.cluster.client_network} / rw"] * (number - 1) + [line]
    _give_exports(world, "\n".join(lines) + "\n", outcome="refused")


def _attempt(world, text: str, client):
    """Do what the sentence says: 'read "/a"', 'write a new file "/a"', 'overwrite "/a"',
    'rename "/a" to "/b"', 'remove "/a"', 'make the directory "/a"', 'set goal 3 on "/a"'."""
    paths = re.findall(r'"([^"]*)"', text)
    verb = re.sub(r'\s*"[^"]*"\s*', " ", text).strip()
    payload = Payload(seed=7, size=1000)
    actions = {
        "read": lambda: client.read_bytes(paths[0]),
        "list": lambda: client.listdir(paths[0]),
        "write a new file": lambda: client.write_bytes(paths[0], payload.bytes()),
        "overwrite": lambda: client.write_bytes(paths[0], payload.bytes()),
        "rename to": lambda: client.rename(paths[0], paths[1]),
        "remove": lambda: client.remove(paths[0]),
        "make the directory": lambda: client.mkdir(paths[0]),
        "set goal 3 on": lambda: client.setgoal(paths[0], 3),
    }
    if verb not in actions:
        raise ValueError(f"no such attempt: {text!r}; known: {sorted(actions)}")
    with world.history.record("scenario", verb, " ".join(paths)):
        return actions[verb]()


@parse.with_pattern(r'(?:read|list|write a new file|overwrite|rename|remove|make the directory|'
                    r'set goal \d+ on) "[^"]*"(?: to "[^"]*")?')
def _attempt_text(text):
    return text


register_type(Attempt=_attempt_text)


@when("a client tries to {attempt:Attempt}")
def step_try(context, attempt):
    world = context.world
    try:
        _attempt(world, attempt, world.client())
        world.remembered["refusal"] = None
    except errors.MooseNGError as error:
        world.remembered["refusal"] = error


@then('it is refused as {error}, saying "{text:Q}"')
def step_refused(context, error, text):
    refusal = context.world.remembered["refusal"]
    assert refusal is not None, "it was done"
    assert isinstance(refusal, ERRORS[error]), f"refused with {type(refusal).__name__}: {refusal}"
    assert_that(str(refusal), contains_string(text))


@then("it is refused as {error}, naming the client's address")
def step_refused_naming(context, error):
    step_refused(context, error, "matches no export rule")
    named = re.search(r"client (\S+) matches", str(context.world.remembered["refusal"])).group(1)
    network = ipaddress.ip_network(context.world.cluster.client_network)
    assert ipaddress.ip_address(named) in network, f"{named} is not in {network}"


@then("the master's metadata did not change")
def step_unchanged(context):
    world = context.world
    assert_that(_version(world), equal_to(world.remembered["metadata version"]),
                "the master's changelog version")


def _client_with(world, credential: str):
    return world.client(name=f"credential {credential!r}", credential=credential)


@then('a client giving {credential} is refused reading "{path:Q}" as {error}')
def step_credential_refused(context, credential, path, error):
    world = context.world
    given = "" if credential == "no credential" else re.fullmatch(
        r'the credential "(.*)"', credential).group(1)
    try:
        _client_with(world, given).read_bytes(path)
    except ERRORS[error]:
        return
    raise AssertionError(f"a client giving {credential} read {path}")


@then('a client giving the credential "{secret:Q}" reads "{path:Q}" intact')
def step_credential_reads(context, secret, path):
    context.world.verify(path, client=_client_with(context.world, secret))


@then('the master\'s log does not contain "{text:Q}"')
def step_log_clean(context, text):
    assert text not in context.world.master.logs(), f"the master's log holds {text!r}"


@then('the master\'s log says "{text:Q}"')
def step_log_says(context, text):
    within(5, lambda: text in context.world.master.logs(), f"the master's log to say {text!r}")


@when("the administrator tries to put \"{name:Q}\" in maintenance")
def step_try_maintenance(context, name):
    world = context.world
    world.cli.run("chunkserver", "maintenance", "on", world.server_id(world.node(name)))


# ---------------------------------------------------------------- lease tokens
def _forged(world, kind: str) -> pb.WriteChunkHeader:
    """A write header for a chunk id nobody was granted, with the lease token `kind` says."""
    chunk_id = 0x7ead_0000_0000_0001
    header = pb.WriteChunkHeader(chunk_id=chunk_id, version=1, data_length=4)
    if kind == "a lease token the master gave for another chunk":
        inode = world.client().stat("/team/plan.bin").inode
        grant = rpc.master(world.master.address).AllocateChunk(
            pb.AllocateChunkRequest(inode=inode, chunk_index=5), timeout=5)
        header.lease_token, header.lease_expires = grant.lease_token, grant.lease_expires
    elif kind == "a lease token signed with a key of its own":
        header.lease_expires = 4102444800.0
        header.lease_token = bytes(range(32))
    elif kind != "no lease token":
        raise ValueError(f"no such lease token: {kind!r}")
    return header


@when('a client sends chunk data straight to "{name:Q}" with {kind}')
def step_forged_write(context, name, kind):
    world = context.world
    header = _forged(world, kind)
    world.remembered["forged chunk"] = header.chunk_id
    try:
        rpc.chunkserver(world.node(name).address).WriteChunkInline(
            pb.WriteChunkInlineRequest(header=header, data=b"evil"), timeout=5)
        world.remembered["refusal"] = None
    except grpc.RpcError as error:
        world.remembered["refusal"] = error


@then('"{name:Q}" refuses it as permission denied and stores nothing of it')
def step_forged_refused(context, name):
    world = context.world
    error = world.remembered["refusal"]
    assert error is not None, f"{name} stored the chunk data"
    assert_that(error.code(), equal_to(grpc.StatusCode.PERMISSION_DENIED), error.details())
    assert world.remembered["forged chunk"] not in world.node(name).stored_chunks(), \
        f"{name} has the chunk on its disk"
