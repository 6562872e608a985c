"""Network faults: a chunk server or the master partitioned from the cluster, a one-sided cut
to the client.

The mechanics are the driver's (`partition`/`heal`, `cut_from`/`restore_to`); scenarios using
these steps carry @needs.partition and are skipped on backends without those capabilities.
"""

import time

import support.steptypes  # noqa: F401 - registers {x:Q}
from behave import given, then, when

from support.matchers import all_chunks_at_goal, eventually
from support.waiting import scaled, within


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


@when("the master is partitioned from clients and chunk servers")
def step_partition_master(context):
    world = context.world
    world.history.fault("partition master")
    world.master.partition()
    context.add_cleanup(world.master.heal)


@when("the partition of the master heals")
def step_heal_master(context):
    context.world.history.fault("heal master")
    context.world.master.heal()


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
