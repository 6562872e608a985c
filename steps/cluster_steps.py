"""Topology and node life cycle: starting clusters, stopping, killing, pausing nodes."""

import re

import support.steptypes  # noqa: F401 - registers the {x:...} types of support.steptypes
from behave import given, then, when
from hamcrest import all_of, assert_that, equal_to, has_entries

from support import data, endpoints, rpc, world as worlds
from support.matchers import metric_value
from support.waiting import throughout, within


# ---------------------------------------------------------------- topology
@given("a cluster with a master and {count:d} chunk servers")
@given("a cluster with a master and {count:d} chunk server")
def step_cluster(context, count):
    context.world.start_cluster(worlds.topology(count))


@given("a cluster with a master and {count:d} chunk servers, each with a disk of {size:Size}")
def step_cluster_small_disks(context, count, size):
    context.world.start_cluster(worlds.topology(count, disk=data.parse_size(size)))


@given("a cluster with a master and {count:d} chunk servers that check their copies every second")
def step_cluster_scrubbing(context, count):
    context.world.start_cluster(worlds.topology(count, scrub_interval=1.0))


@given("a cluster with a master and {count:d} chunk servers that the master marks offline only "
       "after {seconds:g} seconds")
@given("a cluster with a master and {count:d} chunk server that the master marks offline only "
       "after {seconds:g} seconds")
def step_cluster_patient(context, count, seconds):
    context.world.start_cluster(worlds.topology(count, offline_timeout=seconds))


@given("a cluster with a master and chunk servers labelled:")
def step_cluster_labelled(context):
    labels = [dict(zip(context.table.headings, row.cells)) for row in context.table]
    context.world.start_cluster(worlds.topology(len(labels), labels=labels))


@given("a cluster with a master that snapshots its metadata every {changes:d} changes and "
       "{count:d} chunk servers")
def step_cluster_snapshots(context, changes, count):
    context.world.start_cluster(worlds.topology(count, snapshot_every=changes))


@given("a master without chunk servers")
def step_master_alone(context):
    context.world.start_cluster(worlds.topology(0))


@given("a chunk server started before its master")
def step_chunkserver_first(context):
    context.world.start_cluster(worlds.topology(1, start_master_first=False))


# ---------------------------------------------------------------- node operations
def _fault(context, description):
    context.world.history.fault(description)


@when('chunk server "{name:Q}" is killed')
@when('chunk server "{name:Q}" is killed while the clients go on')
def step_kill(context, name):
    node = context.world.node(name)
    context.world.server_id(node)   # remembered: steps after the kill may need to name it
    context.world.advertised_address(node)
    _fault(context, f"kill {name}")
    node.kill()


@given('chunk server "{name:Q}" was killed while the master still lists it online')
def step_killed_still_listed(context, name):
    step_kill(context, name)
    world = context.world
    state = world.listed_state(world.node(name), by="id")
    assert state == "ONLINE", f"the master already lists {name} as {state}: the scenario needs " \
                              f"it listed online (a longer offline timeout)"


@when('chunk server "{name:Q}" is paused')
def step_pause(context, name):
    node = context.world.node(name)
    context.world.server_id(node)
    context.world.advertised_address(node)
    _fault(context, f"pause {name}")
    node.pause()


@when('chunk server "{name:Q}" is resumed')
def step_resume(context, name):
    _fault(context, f"resume {name}")
    context.world.node(name).resume()


@when('chunk server "{name:Q}" starts again')
def step_start_again(context, name):
    _fault(context, f"start {name}")
    context.world.node(name).start()


@when('chunk server "{name:Q}" is stopped and started again')
def step_restart(context, name):
    world = context.world
    node = world.node(name)
    world.remembered["identity before restart"] = world.server_id(node)
    world.advertised_address(node)
    _fault(context, f"restart {name}")
    node.stop()
    node.start()


@when("the master is {way:Restart} and started again")
@when("the master is {way:Restart} and started again while the clients go on")
def step_restart_master(context, way):
    master = context.world.master
    _fault(context, f"master {way}, then started again")
    {"stopped": master.stop, "killed": master.kill}[way]()
    master.start()


@when("the master is killed")
def step_kill_master(context):
    _fault(context, "master killed")
    context.world.master.kill()


@when("the master is started again")
def step_start_master(context):
    _fault(context, "master started again")
    context.world.master.start()


@given("the master was {way:Restart} and started again, and every chunk server registered again")
def step_restarted_master(context, way):
    step_restart_master(context, way)
    context.world.cluster.wait_online(len(context.world.cluster.chunkservers))


@when("every chunk server is killed")
def step_kill_all(context):
    for node in context.world.cluster.chunkservers:
        step_kill(context, node.name)


@when("the master starts")
def step_master_starts(context):
    context.world.master.start()


# ---------------------------------------------------------------- what the master knows
def _listing(world):
    """The master's chunk server list, keyed by the address the test process reaches."""
    reach = world.cluster.address_map()
    return {reach(s.address): s for s in rpc.chunkservers(world.master.address)}


def _online(world):
    return [s for s in rpc.chunkservers(world.master.address) if s.state == rpc.pb.ONLINE]


@then("the master lists {count:d} chunk servers online")
def step_lists_online_now(context, count):
    online = _online(context.world)
    assert_that(len(online), equal_to(count),
                f"chunk servers online: {[(s.address, s.id) for s in online]}")


@then("the master lists {count:d} chunk servers online within {seconds:g} seconds")
@then("the master lists {count:d} chunk server online within {seconds:g} seconds")
def step_lists_online(context, count, seconds):
    world = context.world

    def probe():
        online = _online(world)
        assert len(online) == count, f"{len(online)} online: {[s.address for s in online]}"
        return True

    within(seconds, probe, f"the master to list {count} chunk servers online")


@then('the master lists "{name:Q}" online within {seconds:g} seconds')
def step_node_online(context, name, seconds):
    world = context.world
    node = world.node(name)
    within(seconds, lambda: world.listed_state(node),
           f"the master to list {name} ({world.advertised_address(node)}) as ONLINE",
           until=lambda state: state == "ONLINE")


@then('the master lists "{name:Q}" online within {seconds:g} seconds under the identity it had '
      'before')
def step_node_online_same_id(context, name, seconds):
    world = context.world
    node = world.node(name)
    before = world.remembered["identity before restart"]

    def probe():
        by_id = {s.id: s for s in rpc.chunkservers(world.master.address)}
        server = by_id.get(before)
        assert server is not None, f"no server with id {before}; ids: {sorted(by_id)}"
        assert server.state == rpc.pb.ONLINE, f"{before} is {rpc.state_name(server.state)}"
        assert world.cluster.address_map()(server.address) == node.address, \
            f"{before} is listed at {server.address}, the node listens at {node.address}"
        assert len(by_id) == len(world.cluster.chunkservers), \
            f"the master lists {len(by_id)} servers (a new identity appeared?): {sorted(by_id)}"
        return True

    within(seconds, probe, f"{name} listed ONLINE under its old identity {before}")


@then('the master marks "{name:Q}" offline within {seconds:g} seconds')
def step_node_offline(context, name, seconds):
    world = context.world
    node = world.node(name)
    address = world.advertised_address(node)
    within(seconds, lambda: world.listed_state(node),
           f"the master to list {name} ({address}) as OFFLINE",
           until=lambda state: state == "OFFLINE")


@then('the master keeps listing "{name:Q}" {state:ListedState} for {seconds:g} seconds')
def step_keeps_listing(context, name, state, seconds):
    world = context.world
    node = world.node(name)
    throughout(seconds, lambda: world.listed_state(node, by="id"), f"{name} listed {state}",
               until=lambda listed: listed == state)


@given('chunk server "{name:Q}" was {fault:Halt} until the master marked it offline')
def step_halted_offline(context, name, fault):
    {"killed": step_kill, "paused": step_pause}[fault](context, name)
    step_node_offline(context, name, 5)


@then("every chunk server says it is registered with the master")
def step_every_registered(context):
    for node in context.world.cluster.chunkservers:
        status = rpc.chunkserver(node.address).GetStatus(rpc.pb.ChunkServerStatusRequest(),
                                                          timeout=5)
        assert status.registered, f"{node.name} says it is not registered: {status}"
        reach = context.world.cluster.address_map()
        assert reach(status.master) == context.world.master.address, \
            f"{node.name} names its master {status.master!r}, not {context.world.master.address}"


@given("every chunk server has registered with the master again within {seconds:g} seconds")
@then("every chunk server has registered with the master again within {seconds:g} seconds")
def step_all_registered_again(context, seconds):
    """A restarted master knows a copy only once its chunk server has registered again: until
    then the copy is unknown, not lost."""
    count = len(context.world.cluster.chunkservers)
    within(seconds, lambda: len(_online(context.world)),
           f"the master to list all {count} chunk servers online", until=lambda n: n == count)


@then("the cluster status counts {count:d} chunk servers online")
def step_status_counts(context, count):
    status = context.world.client().status()
    assert_that(status["servers_by_state"], has_entries(online=count))


@then("the master lists the chunk servers with these labels:")
def step_labels(context):
    world = context.world
    listing = _listing(world)
    for row in context.table:
        node = world.node(row["chunk server"])
        expected = {h: row[h] for h in context.table.headings if h != "chunk server"}
        server = listing.get(node.address)
        assert server is not None, f"{node.name} ({node.address}) is not listed"
        assert_that(dict(server.labels), has_entries(expected), f"labels of {node.name}")


@then("the master says in its log that it replayed no change of its metadata")
def step_nothing_replayed(context):
    """The log line of the latest start counts the changelog entries applied after the
    snapshot: none after a clean stop, which writes a snapshot of everything."""
    started = [line for line in context.world.master.logs().splitlines()
               if "msg=started" in line]
    assert started, "the master's log has no start line"
    assert_that(re.search(r"\breplayed=(\d+)", started[-1]).group(1), equal_to("0"),
                f"changes replayed at the latest start: {started[-1]}")


# ---------------------------------------------------------------- chunk server towards master
@given("the chunk server reports within {seconds:g} seconds that it cannot reach the master")
def step_cannot_reach(context, seconds):
    node = context.world.cluster.chunkservers[0]

    def probe():
        health = endpoints.health(node.http_address)
        check = health.check("master")
        assert health.status == "degraded" and check["status"] == "degraded", str(health)
        return True

    within(seconds, probe, f"{node.name}'s health degraded with the check 'master' degraded")
    assert endpoints.is_ready(node.http_address), \
        f"{node.name} should be ready (store open, serving) even without a master"


@then("the chunk server reports within {seconds:g} seconds that it is registered with the master")
def step_reports_registered(context, seconds):
    node = context.world.cluster.chunkservers[0]

    def probe():
        health = endpoints.health(node.http_address)
        assert health.check("master")["status"] == "healthy", str(health)
        status = rpc.chunkserver(node.address).GetStatus(rpc.pb.ChunkServerStatusRequest(),
                                                          timeout=2)
        assert status.registered, "GetStatus says registered=false"
        return True

    within(seconds, probe, f"{node.name} registered, its 'master' check healthy")


@then('the master counts the copy on "{name:Q}" of every chunk of "{path:Q}" again within '
      '{seconds:g} seconds')
def step_copy_counted_again(context, name, path, seconds):
    world = context.world

    def probe():
        missing = [str(copy) for copy in world.copies(path) if name not in copy.nodes]
        assert not missing, "; ".join(missing)
        return True

    within(seconds, probe, f"every chunk of {path} to have a valid copy on {name} again")


@then('"{name:Q}" got none of those copies from another chunk server')
def step_no_copy_received(context, name):
    """The copies were counted because the server reported its own disk, not re-made there."""
    node = context.world.node(name)
    text = endpoints.metrics_text(node.http_address)
    assert_that(text, all_of(metric_value("mooseng_chunkserver_replications_total", equal_to(0)),
                             metric_value("mooseng_chunkserver_bytes_written_total", equal_to(0))))
