"""A real Prometheus server scraping the cluster: targets up, promtool's lint, and counters
moved by exactly the operations a scenario performed, read on the nodes and through PromQL."""

from behave import given, then, when
from hamcrest import assert_that, equal_to

from mooseng.common import errors

from support import endpoints, metrics, prometheus
from support.waiting import within

OPERATIONS = "mooseng_master_metadata_operations_total"
BYTES = "mooseng_chunkserver_bytes_{}_total"


def _counters(world) -> dict[tuple, float]:
    """(metric, node name, operation, status) -> value of every counter the scenario checks."""
    values = {}
    for name, labels, value in metrics.samples(endpoints.metrics_text(
            world.master.http_address)):
        if name == OPERATIONS:
            values[(name, world.master.name, labels["operation"], labels["status"])] = value
    for node in world.cluster.chunkservers:
        text = endpoints.metrics_text(node.http_address)
        for direction in ("written", "read"):
            name = BYTES.format(direction)
            values[(name, node.name, "", "")] = metrics.value(text, name) or 0.0
    return values


@given("a Prometheus server scraping every node every second")
def step_prometheus(context):
    world = context.world
    jobs: dict[str, list[str]] = {}
    for node in world.cluster.nodes:
        jobs.setdefault(node.role, []).append(node.http_address)
    server = prometheus.PrometheusServer(jobs)
    context.add_cleanup(server.stop)
    server.start()
    world.remembered["prometheus"] = server
    world.remembered["instances"] = {node.http_address: node.name
                                     for node in world.cluster.nodes}


@then("within {seconds:g} seconds Prometheus reports every node's target up")
def step_targets_up(context, seconds):
    world = context.world
    server = world.remembered["prometheus"]
    expected = {name: "up" for name in world.remembered["instances"].values()}

    def health():
        return {world.remembered["instances"].get(t["labels"]["instance"], t["labels"]["instance"]):
                t["health"] for t in server.targets()}

    within(seconds, health, f"every target up: {sorted(expected)}",
           until=lambda seen: seen == expected)
    up = {world.remembered["instances"][labels["instance"]]: value
          for labels, value in server.query("up")}
    assert_that(up, equal_to({name: 1.0 for name in expected}), "PromQL up")


@then("promtool finds no problem in any node's metrics")
def step_promtool(context):
    problems = {node.name: prometheus.lint(endpoints.metrics_text(node.http_address))
                for node in context.world.cluster.nodes}
    problems = {name: text for name, text in problems.items() if text}
    assert not problems, "promtool check metrics:\n" + "\n".join(
        f"{name}: {text}" for name, text in problems.items())


@when("a client makes {dirs:d} directories, writes {files:d} files of {size:d} bytes with goal "
      "{goal:d}, reads {reads:d} of them, removes {removes:d} and makes one directory that "
      "exists")
def step_known_operations(context, dirs, files, size, goal, reads, removes):
    world = context.world
    client = world.client(name="counted")
    world.remembered["counters before"] = _counters(world)
    for number in range(dirs):
        client.mkdir(f"/counted-{number}")
    for number in range(files):
        with client.open(f"/counted-0/f{number}", "xb", goal=goal) as handle:
            handle.write(bytes([number]) * size)
    for number in range(reads):
        assert client.read_bytes(f"/counted-0/f{number}") == bytes([number]) * size
    for number in range(removes):
        client.remove(f"/counted-0/f{files - 1 - number}")
    try:
        client.mkdir("/counted-0")
    except errors.AlreadyExists:
        return
    raise AssertionError("making /counted-0 a second time did not fail")


@then("the master's operation counters moved by exactly:")
def step_moved_by(context):
    world = context.world
    before, after = world.remembered["counters before"], _counters(world)
    master = world.master.name
    moved = {(key[2], key[3]): after[key] - before.get(key, 0.0) for key in after
             if key[0] == OPERATIONS and after[key] != before.get(key, 0.0)}
    expected = {(row["operation"], row["status"]): float(row["by"]) for row in context.table}
    assert_that(moved, equal_to(expected), f"every {OPERATIONS} series of {master} that moved")


@then("the chunk servers together counted {written:d} bytes written and {read:d} bytes read")
def step_bytes(context, written, read):
    world = context.world
    before, after = world.remembered["counters before"], _counters(world)

    def total(direction):
        name = BYTES.format(direction)
        return sum(after[k] - before.get(k, 0.0) for k in after if k[0] == name)

    assert_that((total("written"), total("read")), equal_to((float(written), float(read))),
                "(bytes written, bytes read) counted by the chunk servers")


@then("within {seconds:g} seconds Prometheus reads the same counter values as the nodes")
def step_prometheus_agrees(context, seconds):
    world = context.world
    server = world.remembered["prometheus"]
    names = world.remembered["instances"]
    on_nodes = _counters(world)

    def through_promql():
        seen = {}
        for metric in (OPERATIONS, BYTES.format("written"), BYTES.format("read")):
            for labels, value in server.query(metric):
                key = (metric, names.get(labels["instance"], labels["instance"]),
                       labels.get("operation", ""), labels.get("status", ""))
                seen[key] = value
        return seen

    seen = within(seconds, through_promql, "PromQL to give the nodes' values",
                  until=lambda got: all(got.get(k) == v for k, v in on_nodes.items()))
    assert_that({k: seen.get(k) for k in on_nodes}, equal_to(on_nodes))
