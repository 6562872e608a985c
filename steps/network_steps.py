"""Network faults: a chunk server partitioned from the cluster, a one-sided cut to the client.

The mechanics are the driver's (`partition`/`heal`, `cut_from`/`restore_to`); scenarios using
these steps carry @needs.partition and are skipped on backends without those capabilities.
"""

import time

import support.steptypes  # noqa: F401 - registers {x:Q}
from behave import given, then, when

from support.matchers import all_chunks_at_goal, eventually
from support.waiting import scaled, throughout, within


def _partition(context, name):
    world = context.world
    node = world.node(name)
    world.server_id(node)            # asked now: it cannot be asked while partitioned
    world.history.fault(f"partition {name}")
    node.partition()
    context.add_cleanup(node.heal)   # a failing step must not leave the node cut off
    return node


@when('chunk server "{name:Q}" is partitioned from the rest of the cluster')
def step_partition(context, name):
    _partition(context, name)


@given('chunk server "{name:Q}" was partitioned until the master marked it offline')
def step_partitioned_offline(context, name):
    world = context.world
    node = _partition(context, name)
    within(5, lambda: world.listed_state(node, by="id") == "OFFLINE",
           f"the master to list {name} as OFFLINE after the partition")


@given('chunk server "{name:Q}" was partitioned until every chunk was back at {goal:d} copies '
       'without it')
def step_partitioned_restored(context, name, goal):
    world = context.world
    _partition(context, name)
    eventually(20, world.all_copies, all_chunks_at_goal(goal, avoiding=name),
               "the master's view of the files' chunks")


@when('the partition of chunk server "{name:Q}" heals')
def step_heal(context, name):
    world = context.world
    world.history.fault(f"heal {name}")
    world.node(name).heal()


@given("every file was rewritten in place with new data while it was partitioned")
def step_rewrite_in_place(context):
    """Same size, same chunks, new data: every chunk gets a new version on the reachable
    servers only, so the partitioned server is left holding the old versions."""
    world = context.world
    for path, old in sorted(world.files.items()):
        payload = world.new_payload(old.size)
        with world.history.record("scenario", "write", path, payload):
            with world.client().open(path, "r+b") as handle:
                for piece in payload.pieces(4 * 1024 * 1024):
                    handle.write(piece)
        world.files[path] = payload


@when('nothing chunk server "{name:Q}" sends reaches the client any more')
def step_cut_from_client(context, name):
    world = context.world
    node = world.node(name)
    holds = {c.chunk_id for c in world.all_copies() if name in c.nodes}
    assert holds, f"{name} holds no copy of the files' chunks, so the cut would test nothing"
    world.server_id(node)            # asked now: the test process cannot ask it after the cut
    world.history.fault(f"cut {name} -> client")
    node.cut_from("client")
    context.add_cleanup(node.restore_to, "client")


@then("a client with a {timeout:g} second timeout reads every file intact within {seconds:g} "
      "seconds")
def step_read_all_with_timeout(context, timeout, seconds):
    world = context.world
    client = world.client(timeout=timeout, name="short-timeout")
    started = time.monotonic()
    for path in sorted(world.files):
        world.verify(path, client=client)
    took = time.monotonic() - started
    assert took <= scaled(seconds), \
        f"reading every file took {took:.1f} s, more than {scaled(seconds):g} s"


@then('the master keeps listing "{name:Q}" online for {seconds:g} seconds')
def step_still_online(context, name, seconds):
    world = context.world
    node = world.node(name)
    throughout(seconds, lambda: world.listed_state(node, by="id"), f"{name} listed ONLINE",
               until=lambda state: state == "ONLINE")


@then("no chunk server keeps an old version of a chunk of the files within {seconds:g} seconds")
def step_no_old_versions(context, seconds):
    world = context.world

    def probe():
        current = {c.chunk_id: c.version for c in world.all_copies()}
        stale = {}
        for node in world.cluster.chunkservers:
            for chunk_id, version in node.stored_chunks().items():
                if current.get(chunk_id) != version:
                    stale.setdefault(node.name, []).append(
                        f"chunk {chunk_id} v{version} (current: "
                        f"{current.get(chunk_id, 'none, the files have no such chunk')})")
        assert not stale, f"old or unknown copies on disk: {stale}"
        return True

    within(seconds, probe, "every chunk server's disk to hold only current versions")
