"""Chunk server administration through the CLI: maintenance for a time, draining, removal and
repair, each checked against the chunk servers' disks and the master's listing."""

import time

import support.steptypes  # noqa: F401 - registers {x:Q}, {x:Size}
from behave import given, then, when
from hamcrest import assert_that, equal_to

from support.waiting import scaled, within


def _listing(world, node) -> dict | None:
    """The master's entry for chunk server `node` (by the id it registered with)."""
    wanted = world.server_id(node)
    return next((s for s in world.cli.json("chunkservers") if s["id"] == wanted), None)


@when('the administrator puts "{name:Q}" in maintenance for {seconds:d} seconds')
def step_maintenance_for(context, name, seconds):
    world = context.world
    node = world.node(name)
    world.remembered["replications before"] = world.master_replications()
    world.remembered["maintenance"] = (time.monotonic(), seconds)
    with world.history.record("scenario", "maintenance", name):
        answer = world.cli.json("chunkserver", "maintenance", "on", world.server_id(node),
                        "--for", f"{seconds}s")
    assert_that(answer["seconds"], equal_to(seconds))
    assert_that(_listing(world, node)["state"], equal_to("maintenance"),
                f"{name} as the master lists it")


@then("the master orders no new copy of any chunk until the maintenance time is over, and the "
      "first within {slack:g} seconds after it")
def step_held_off_for_the_time(context, slack):
    """Watched the whole time: the first replication the master orders must come after the
    maintenance time (counted from before the command, so never early by the CLI's delay)."""
    world = context.world
    began, seconds = world.remembered["maintenance"]
    before = world.remembered["replications before"]
    deadline = began + seconds + scaled(slack)
    while time.monotonic() < deadline and world.master_replications() == before:
        time.sleep(0.05)
    first = time.monotonic() - began
    assert world.master_replications() > before, \
        f"no copy ordered within {seconds + scaled(slack):g} s of the maintenance start"
    assert first >= seconds, f"the first copy was ordered {first:.2f} s after the maintenance " \
                             f"began, before its {seconds} s were over"


@given('the administrator drained "{name:Q}"')
@when('the administrator drains "{name:Q}"')
def step_drain(context, name):
    world = context.world
    with world.history.record("scenario", "drain", name):
        world.cli.json("chunkserver", "drain", world.server_id(world.node(name)))


@given('"{name:Q}" held no copy on its disk within {seconds:g} seconds, and the master listed it '
       'draining with no chunks')
@then('"{name:Q}" holds no copy on its disk within {seconds:g} seconds, and the master lists it '
      'draining with no chunks')
def step_drained(context, name, seconds):
    world = context.world
    node = world.node(name)
    within(seconds, lambda: sorted(node.stored_chunks()) or "nothing",
           f"{name}'s disk emptied", until=lambda held: held == "nothing")
    entry = _listing(world, node)
    assert_that((entry["state"], entry["chunk_count"]), equal_to(("draining", 0)),
                f"(state, chunks) of {name} as the master lists it")


@when('the chunk server holding "{path:Q}" is killed')
def step_kill_holder(context, path):
    world = context.world
    (copy,) = world.copies(path)
    assert len(copy.nodes) == 1, f"expected one copy of {path}: {copy}"
    node = world.node(copy.nodes[0])
    world.server_id(node)                    # asked while it still answers
    world.advertised_address(node)
    world.history.fault(f"kill {node.name}")
    node.kill()
    world.remembered["holder"] = node
    within(20, lambda: world.listed_state(node), f"{node.name} offline",
           until=lambda state: state == "OFFLINE")


@when("the administrator removes that chunk server")
@when('the administrator removes "{name:Q}"')
def step_remove(context, name=None):
    world = context.world
    node = world.node(name) if name else world.remembered["holder"]
    world.remembered["removed"] = node
    world.cli.run("chunkserver", "remove", world.server_id(node))


@then("the master still lists that chunk server, offline, with every copy on its disk")
def step_still_listed(context):
    world = context.world
    node = world.remembered["holder"]
    entry = _listing(world, node)
    assert entry is not None, "the chunk server was removed after all"
    assert_that((entry["state"], entry["chunk_count"]),
                equal_to(("offline", len(node.stored_chunks()))),
                f"(state, chunks) of {node.name} as the master lists it")


@then("the master no longer lists it")
def step_not_listed(context):
    world = context.world
    assert world.cli.last.exit_code == 0, f"the removal failed:\n{world.cli.last}"
    assert _listing(world, world.remembered["removed"]) is None, "still listed"


@when('the administrator repairs "{path:Q}"')
def step_repair(context, path):
    world = context.world
    chunks = {c.chunk_id for name in world.files if name.startswith(path.rstrip("/") + "/")
              for c in world.copies(name)}
    answer = world.cli.json("admin", "repair", path)
    assert_that(answer["chunks"], equal_to(len(chunks)), "chunks the repair covered")
