"""A chunk server's disk filling up and being freed, and what the master and the chunk server
then say and do."""

import time

import support.steptypes  # noqa: F401 - registers {x:Q}
from behave import given, then, when
from hamcrest import assert_that, equal_to, greater_than_or_equal_to

from support import endpoints, metrics, rpc
from support.matchers import eventually, health_status
from support.waiting import within


def _fill(world, node) -> None:
    world.history.fault(f"the disk of {node.name} fills up")
    node.fill_disk()


def _listed_full(world, node) -> bool:
    address = world.advertised_address(node)
    return next(s.full for s in rpc.chunkservers(world.master.address) if s.address == address)


@when('the disk of "{name:Q}" fills up')
@when('the disk of "{name:Q}" fills up while the clients go on')
def step_fill(context, name):
    _fill(context.world, context.world.node(name))


@when('the disk of a chunk server holding "{path:Q}" fills up')
def step_fill_holder(context, path):
    world = context.world
    node = world.node(world.copies(path)[0].nodes[0])
    world.remembered["holder"] = node
    _fill(world, node)


@given('the disk of "{name:Q}" filled up and the master listed it as full')
def step_filled(context, name):
    world = context.world
    node = world.node(name)
    _fill(world, node)
    within(5, lambda: _listed_full(world, node), f"the master to list {name} as full")


@when('the other files on the disk of "{name:Q}" are removed')
def step_free(context, name):
    node = context.world.node(name)
    context.world.history.fault(f"space freed on the disk of {name}")
    node.free_disk()


@then('the health of "{name:Q}" becomes {status} within {seconds:g} seconds')
@then('the health of "{name:Q}" becomes {status} within {seconds:g} seconds with the check '
      '"{check:Q}" saying "{text:Q}"')
def step_node_health(context, name, status, seconds, check=None, text=None):
    node = context.world.node(name)
    eventually(seconds, lambda: endpoints.health(node.http_address),
               health_status(status, check=check, mentioning=text), f"{name}'s health")


@then('the master lists "{name:Q}" as full within {seconds:g} seconds')
def step_listed_full(context, name, seconds):
    world = context.world
    node = world.node(name)
    within(seconds, lambda: _listed_full(world, node), f"the master to list {name} as full")
    world.remembered[f"full since:{name}"] = time.time()


@then('the master no longer lists "{name:Q}" as full within {seconds:g} seconds')
def step_not_listed_full(context, name, seconds):
    world = context.world
    node = world.node(name)
    within(seconds, lambda: not _listed_full(world, node),
           f"the master to list {name} as no longer full")


@then('no file written after the master listed "{name:Q}" as full has a copy on it')
def step_none_after_full(context, name):
    world = context.world
    since = world.remembered[f"full since:{name}"]
    later = [op.path for op in world.history.ops
             if op.kind == "write" and op.outcome == "ok" and op.invoked > since]
    assert later, f"no write was acknowledged after the master listed {name} as full"
    on_it = [str(copy) for path in later for copy in world.copies(path) if name in copy.nodes]
    assert not on_it, (f"{len(on_it)} chunks written after {name} was listed full have a copy "
                       f"on it:\n" + "\n".join(on_it))


def _refused(node) -> float:
    return metrics.value(endpoints.metrics_text(node.http_address),
                         "mooseng_chunkserver_writes_refused_full_total")


@then("that chunk server refused a write for lack of space")
def step_refused_full(context):
    node = context.world.remembered["holder"]
    assert_that(_refused(node), greater_than_or_equal_to(1),
                f"writes {node.name} refused because its disk was full")


@then('"{name:Q}" refused no write for lack of space')
def step_refused_none(context, name):
    node = context.world.node(name)
    assert_that(_refused(node), equal_to(0),
                f"writes {name} refused because its disk was full (the master sent it some)")
