"""/health and /ready of every node, as an operator or an orchestrator reads them."""

import support.steptypes  # noqa: F401 - registers {x:Q}, {x:Size}
from behave import given, then, when
from hamcrest import any_of, assert_that, equal_to, has_items

from support import endpoints
from support.matchers import eventually, health_status
from support.waiting import throughout


def _names(text: str) -> list[str]:
    """'"a", "b" and "c"' -> ['a', 'b', 'c']"""
    return [part.strip().strip('"') for part in text.replace(" and ", ", ").split(",")]


@then("every node reports itself healthy, naming its component and node")
def step_all_healthy(context):
    for node in context.world.cluster.nodes:
        health = endpoints.health(node.http_address)
        assert_that(health, health_status("healthy"), node.name)
        assert_that(health.http_status, equal_to(200), f"{node.name} HTTP status")
        assert_that(health.body.get("component"), equal_to(node.role), f"{node.name} component")
        assert health.body.get("node_id"), f"{node.name} /health has no node_id: {health.body}"
        for name, check in health.checks.items():
            assert_that(check.get("status"), equal_to("healthy"), f"{node.name} check {name}")


@then("the master's health has the checks {names}")
def step_master_checks(context, names):
    health = endpoints.health(context.world.master.http_address)
    assert_that(list(health.checks), has_items(*_names(names)))


@then("every chunk server's health has the checks {names}")
def step_chunkserver_checks(context, names):
    for node in context.world.cluster.chunkservers:
        health = endpoints.health(node.http_address)
        assert_that(list(health.checks), has_items(*_names(names)), node.name)


@then("every node answers that it is ready")
def step_all_ready(context):
    for node in context.world.cluster.nodes:
        code, body = endpoints.ready(node.http_address)
        assert_that(code, equal_to(200), f"{node.name} /ready: {body}")


def _master_health(world):
    return endpoints.health(world.master.http_address)


@then('the master\'s health becomes degraded within {seconds:g} seconds with the check '
      '"{check:Q}" naming "{name:Q}"')
def step_degraded_naming(context, seconds, check, name):
    world = context.world
    node = world.node(name)
    server_id = world.remembered.get(f"server_id:{name}")
    advertised = world.remembered.get(f"advertised:{name}", node.address)
    matchers = [health_status("degraded", check=check, mentioning=advertised)]
    if server_id:
        matchers.append(health_status("degraded", check=check, mentioning=server_id))

    def supplier():
        return _master_health(world)

    eventually(seconds, supplier, any_of(*matchers), f"the master's health naming {name}")


@then("the master's health is still answered with a success status")
def step_health_200(context):
    assert_that(_master_health(context.world).http_status, equal_to(200))


@then("the master's health is answered with a service-unavailable status")
def step_health_503(context):
    assert_that(_master_health(context.world).http_status, equal_to(503))


@then("the master's health becomes {status} within {seconds:g} seconds")
def step_health_becomes(context, status, seconds):
    eventually(seconds, lambda: _master_health(context.world), health_status(status),
               "the master's health")


@then("the master's health stays {status} for {seconds:g} seconds")
def step_health_stays(context, status, seconds):
    matcher = health_status(status)
    throughout(seconds, lambda: _master_health(context.world), f"the master's health {status}",
               until=matcher.matches)


@then('the master\'s health becomes {status} within {seconds:g} seconds with the check '
      '"{check:Q}" saying "{text:Q}"')
def step_health_check_saying(context, status, seconds, check, text):
    eventually(seconds, lambda: _master_health(context.world),
               health_status(status, check=check, mentioning=text), "the master's health")


@given('chunk server "{name:Q}" was killed and the master\'s health became degraded')
def step_killed_degraded(context, name):
    world = context.world
    node = world.node(name)
    world.server_id(node)
    world.advertised_address(node)
    world.history.fault(f"kill {name}")
    node.kill()
    eventually(5, lambda: _master_health(world), health_status("degraded", check="chunkservers"),
               "the master's health")


@given('every chunk server holding a copy of "{path:Q}" was killed')
@when('every chunk server holding a copy of "{path:Q}" is killed')
def step_kill_holders(context, path):
    world = context.world
    holders = {name for copy in world.copies(path) for name in copy.nodes}
    assert holders, f"no chunk server holds a copy of {path}"
    for name in sorted(holders):
        world.history.fault(f"kill {name}")
        world.node(name).kill()
