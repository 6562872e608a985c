"""/metrics of every node, as a Prometheus server scrapes it: the documented names and labels,
and values that follow what the cluster does."""

import support.steptypes  # noqa: F401 - registers {x:Q}
from behave import then, when
from hamcrest import assert_that, equal_to

from mooseng.common import errors

from support import endpoints, metrics
from support.matchers import eventually

ROLES = {"master": "master", "chunk server": "chunkserver"}

# The master's gauges in the words of the features: (metric, labels).
GAUGES = {
    "chunks": ("mooseng_master_chunks", {}),
    "chunks under goal": ("mooseng_master_chunks_undergoal", {}),
    "chunks over goal": ("mooseng_master_chunks_overgoal", {}),
    "chunks missing": ("mooseng_master_chunks_missing", {}),
    "chunk servers online": ("mooseng_master_chunkservers", {"state": "online"}),
    "chunk servers offline": ("mooseng_master_chunkservers", {"state": "offline"}),
    "chunk servers in maintenance": ("mooseng_master_chunkservers", {"state": "maintenance"}),
}
OPERATIONS = "mooseng_master_metadata_operations_total"


def _samples(node) -> list[tuple[str, dict[str, str], float]]:
    return metrics.samples(endpoints.metrics_text(node.http_address))


@then("every node exports these metrics:")
def step_exports(context):
    missing = []
    for row in context.table:
        wanted = {label.strip() for label in row["labels"].split(",") if label.strip()}
        for node in context.world.cluster.nodes:
            if node.role != ROLES[row["node"]]:
                continue
            labels = [set(ls) for name, ls, _ in _samples(node) if name == row["metric"]]
            if not labels:
                missing.append(f"{node.name}: no {row['metric']}")
            elif not any(wanted <= found for found in labels):
                missing.append(f"{node.name}: {row['metric']} without the labels "
                               f"{sorted(wanted)} (has {sorted(set().union(*labels))})")
    assert not missing, "metrics missing:\n" + "\n".join(missing)


@then("every metric a node exports is named after its component")
def step_prefixed(context):
    wrong = [f"{node.name}: {name}" for node in context.world.cluster.nodes
             for name in sorted(metrics.names(endpoints.metrics_text(node.http_address)))
             if name != "mooseng_build_info" and not name.startswith(f"mooseng_{node.role}_")]
    assert not wrong, "metrics not named mooseng_<component>_...:\n" + "\n".join(wrong)


@then("every node's build information names its version and component")
def step_build_info(context):
    for node in context.world.cluster.nodes:
        info = [ls for name, ls, value in _samples(node) if name == "mooseng_build_info"]
        version = endpoints.health(node.http_address).body.get("version")
        assert_that([(ls.get("version"), ls.get("component")) for ls in info],
                    equal_to([(version, node.role)]),
                    f"{node.name}: mooseng_build_info (version, component)")


def _operations(world) -> dict[tuple[str, str], float]:
    return {(ls["operation"], ls["status"]): value for name, ls, value in _samples(world.master)
            if name == OPERATIONS}


@when('a client creates a directory "{directory:Q}" and asks for a file "{path:Q}" that does '
      'not exist')
def step_counted_operations(context, directory, path):
    world = context.world
    world.remembered["operations before"] = _operations(world)
    world.mkdir(directory, parents=False)
    try:
        with world.history.record("scenario", "stat", path):
            world.client().stat(path)
    except errors.NotFound:
        return
    raise AssertionError(f"{path} exists, so asking for it cannot fail")


@then("the master's operation counters went up by:")
def step_operations_grew(context):
    world = context.world
    before, after = world.remembered["operations before"], _operations(world)
    expected, got = {}, {}
    for row in context.table:
        key = (row["operation"], row["outcome"].replace(" ", "_"))
        expected[key] = float(row["by"])
        got[key] = after.get(key, 0.0) - before.get(key, 0.0)
    assert_that(got, equal_to(expected), "growth of mooseng_master_metadata_operations_total "
                                         "{operation, status}")


@then("the master's metrics show within {seconds:g} seconds:")
def step_gauges(context, seconds):
    world = context.world
    expected = {row["gauge"]: float(row["value"]) for row in context.table}

    def shown():
        text = endpoints.metrics_text(world.master.http_address)
        return {gauge: metrics.value(text, GAUGES[gauge][0], **GAUGES[gauge][1])
                for gauge in expected}

    eventually(seconds, shown, equal_to(expected), "the master's gauges")


def _bytes(node, direction: str) -> float:
    return metrics.value(endpoints.metrics_text(node.http_address),
                         f"mooseng_chunkserver_bytes_{direction}_total") or 0.0


@then('every chunk server counts the bytes of "{path:Q}" as written')
def step_bytes_written(context, path):
    world = context.world
    size = world.files[path].size
    counted = {node.name: _bytes(node, "written") for node in world.cluster.chunkservers}
    assert_that(counted, equal_to({name: size for name in counted}),
                f"bytes written counted by each chunk server ({path} has {size} bytes)")


@then('the chunk servers together count the bytes of "{path:Q}" as read')
def step_bytes_read(context, path):
    world = context.world
    size = world.files[path].size
    counted = {node.name: _bytes(node, "read") for node in world.cluster.chunkservers}
    assert_that(sum(counted.values()), equal_to(size),
                f"bytes read counted by the chunk servers together ({counted}; "
                f"{path} has {size} bytes)")
