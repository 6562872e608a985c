"""Resident memory of the daemons under load, measured on the node (/proc/<pid>/status)."""

from concurrent.futures import ThreadPoolExecutor

from behave import given, then, when
from hamcrest import assert_that, less_than_or_equal_to

from mooseng.client import CacheSettings
from mooseng.common import errors
from mooseng.common.config import parse_size

import support.steptypes  # noqa: F401 - registers {x:Size}
from support import data
from support.reporting import attach_text

MiB = 1024 * 1024


def _resident(world) -> dict[str, int]:
    return {node.name: node.resident_bytes() for node in world.cluster.nodes}


@given("the resident memory of every node is noted")
def step_note_memory(context):
    context.world.remembered["memory before"] = _resident(context.world)


def _write_and_read(world, total: str, size: str, goal: int) -> None:
    total_bytes, file_bytes = data.scaled_size(total), data.scaled_size(size)
    world.mkdir("/memory")
    for _ in range(max(1, total_bytes // file_bytes)):
        path = f"/memory/file-{len(world.files)}.bin"
        world.write(path, world.new_payload(file_bytes), goal=goal)
        world.verify(path)


@given("a client has written {total:Size} in files of {size:Size} with goal {goal:d} and read "
       "every file back")
def step_warm_up(context, total, size, goal):
    """Buffers and threads a daemon keeps once it has streamed data are not growth."""
    _write_and_read(context.world, total, size, goal)


@when("a client writes {total:Size} in files of {size:Size} with goal {goal:d} and reads every "
      "file back")
def step_write_and_read(context, total, size, goal):
    _write_and_read(context.world, total, size, goal)
    context.world.remembered["memory after"] = _resident(context.world)


@when("{clients:d} clients together create {count:d} empty files")
def step_create_many(context, clients, count):
    world = context.world
    count = data.scaled_count(count)
    world.mkdir("/many")
    creators = [world.client(name=f"creator-{n}", cache=CacheSettings.off())
                for n in range(clients)]

    def create(number: int) -> None:
        creators[number % clients].open(f"/many/f{number:07d}", "xb").close()

    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(create, range(count)))
    world.remembered["files created"] = count
    world.remembered["memory after"] = _resident(world)


@then("no chunk server's resident memory grew by more than {budget:Size}")
def step_chunkserver_flat(context, budget):
    world = context.world
    before, after = world.remembered["memory before"], world.remembered["memory after"]
    grown = {node.name: after[node.name] - before[node.name]
             for node in world.cluster.chunkservers}
    assert_that(max(grown.values()), less_than_or_equal_to(parse_size(budget)),
                f"growth of each chunk server's resident memory in bytes: {grown}")


@then("the master's resident memory grew by at most {budget:Size} per file")
def step_master_per_file(context, budget):
    world = context.world
    name = world.master.name
    grown = world.remembered["memory after"][name] - world.remembered["memory before"][name]
    files = world.remembered["files created"]
    world.remembered["master bytes per file"] = grown / files
    assert_that(grown / files, less_than_or_equal_to(parse_size(budget)),
                f"bytes of master resident memory per file ({grown} bytes for {files} files)")


@then("the resident memory of every node before and after is attached to the report")
def step_attach_memory(context):
    world = context.world
    before, after = world.remembered["memory before"], world.remembered["memory after"]
    lines = [f"{'node':15} {'before MiB':>11} {'after MiB':>10} {'grown MiB':>10}"]
    for name in before:
        lines.append(f"{name:15} {before[name] / MiB:11.1f} {after[name] / MiB:10.1f} "
                     f"{(after[name] - before[name]) / MiB:10.1f}")
    if "master bytes per file" in world.remembered:
        lines.append(f"master: {world.remembered['master bytes per file']:.0f} bytes per file "
                     f"({world.remembered['files created']} files)")
    attach_text("\n".join(lines) + "\n", "resident memory")


@when("the second client asks for {count:d} names that do not exist")
def step_negative_lookups(context, count):
    client = context.world.remembered["second client"]
    for number in range(count):
        try:
            client.stat(f"/absent-{number}")
        except errors.NotFound:
            continue
        raise AssertionError(f"/absent-{number} exists")
