"""Disaster recovery: the metalogger's copy of the changelog, and masters rebuilt from it."""

import time

import support.steptypes  # noqa: F401
from behave import given, then, when

from mooseng.client import Client

from support import data, endpoints, metrics, rpc, world as worlds
from support.matchers import eventually, health_status
from support.reporting import attach_text
from support.waiting import within

LAG = "mooseng_metalogger_log_replication_lag_seconds"
VERSION = "mooseng_metalogger_log_version"


@given("a cluster of {masters:d} masters on etcd, a metalogger and {count:d} chunk servers")
def step_ha_with_metalogger(context, masters, count):
    context.world.start_cluster(worlds.topology(count, masters=masters, metaloggers=1))


def _metalogger(world):
    return world.cluster.metaloggers[0]


def _metalogger_version(world) -> float:
    text = endpoints.metrics_text(_metalogger(world).http_address)
    return metrics.value(text, VERSION) or 0.0


@given("the metalogger has every change within {seconds:g} seconds")
@then("the metalogger has every change within {seconds:g} seconds")
def step_metalogger_current(context, seconds):
    world = context.world
    leader = world.cluster.leader()
    version = rpc.master_status(leader.address).metadata_version
    within(seconds, lambda: _metalogger_version(world),
           f"the metalogger to store every change up to version {version}",
           until=lambda stored: stored >= version)


@then("the metalogger reports no replication lag")
def step_no_lag(context):
    text = endpoints.metrics_text(_metalogger(context.world).http_address)
    lag = metrics.value(text, LAG)
    assert lag == 0.0, f"{LAG} is {lag}"


@given("the metadata checksum of the leader is noted")
def step_note_checksum(context):
    world = context.world
    leader, = _checksums(world, [world.cluster.leader()])
    world.remembered["checksum"] = leader["checksum"]
    world.remembered["checksum version"] = leader["metadata_version"]


@given("every master and every etcd member was killed and lost its disk")
@when("every master and every etcd member is killed and loses its disk")
def step_lose_everything(context):
    world = context.world
    world.close()                     # the scenario's clients would follow dead masters
    for node in [*world.cluster.masters, *world.cluster.etcd]:
        world.history.fault(f"kill {node.name}, lose its disk")
        node.kill()
        node.lose_data()


@when("every master and every etcd member is killed and loses its disk while the clients go on")
def step_lose_everything_under_load(context):
    context.world.remembered["loss at"] = time.time()
    step_lose_everything(context)


@then("every write acknowledged more than {seconds:g} second before the loss reads back intact")
def step_recovery_point(context, seconds):
    """The recovery point objective: what the clients were told is durable, minus at most the
    last `seconds` before the disaster. The writes of that last window the restore lacks are
    counted and attached (the recovery point actually reached)."""
    world = context.world
    workload = world.remembered["workload"]
    workload.stop()
    loss, history = world.remembered["loss at"], world.history
    owed = history.acceptable_contents(loss)
    reader = world.client(name="final-reader")
    lost = history.lost_writes(lambda path: world.read(path, "final-read", client=reader), loss)
    ages = sorted(loss - history.acknowledged_at(path) for path in lost)
    attach_text(f"{len(owed)} files acknowledged before the loss, {len(lost)} of them not in "
                f"the restored metadata\n" + (
                    f"the oldest of those was acknowledged {ages[-1]:.3f} s before the loss\n"
                    if ages else "recovery point: the moment of the loss (nothing lost)\n")
                + "".join(f"{problem}\n" for problem in lost.values()), "recovery point")
    too_old = [problem for path, problem in lost.items()
               if loss - history.acknowledged_at(path) > seconds]
    assert owed, "no write was acknowledged before the loss"
    assert not too_old, (f"{len(too_old)} writes acknowledged more than {seconds:g} s before "
                         "the loss are not restored:\n" + "\n".join(too_old))


@given('"{name:Q}" was restored from the metalogger\'s copy with a new etcd')
@when('"{name:Q}" is restored from the metalogger\'s copy with a new etcd')
def step_restore(context, name):
    world = context.world
    for member in world.cluster.etcd:
        member.launch()
    for member in world.cluster.etcd:
        member.wait_ready()
    master = world.node(name)
    world.history.fault(f"restore {name} from {_metalogger(world).name}")
    master.restore_from(_metalogger(world))
    world.remembered["running masters"] = [master]


def _checksums(world, masters) -> list[dict]:
    client = Client(",".join(m.address for m in masters), timeout=5.0,
                    tls=world.cluster.client_tls)
    try:
        return client.metadata_checksums()
    finally:
        client.close()


@then('"{name:Q}" has the noted metadata checksum within {seconds:g} seconds')
def step_checksum(context, name, seconds):
    world = context.world
    noted = world.remembered["checksum"]
    within(seconds, lambda: _checksums(world, [world.node(name)]),
           f"{name} at the noted checksum {noted[:12]}... (version "
           f"{world.remembered['checksum version']})",
           until=lambda found: found[0].get("checksum") == noted)


@given("{count:d} files of {size:Size} were written through it")
def step_written_through(context, count, size):
    step_more_files(context, count, size)


@when("the other masters start again with empty disks")
def step_others_start(context):
    world = context.world
    running = world.remembered["running masters"]
    for master in world.cluster.masters:
        if master not in running:
            world.history.fault(f"start {master.name} with an empty disk")
            master.start()


@then("every master has the same metadata checksum within {seconds:g} seconds")
def step_same_checksum(context, seconds):
    world = context.world
    within(seconds, lambda: _checksums(world, world.cluster.masters),
           "every master at the same version and checksum",
           until=lambda found: len({(m.get("metadata_version"), m.get("checksum"))
                                    for m in found}) == 1 and found[0].get("checksum"))


@then("a new file can be written and read back")
def step_new_file(context):
    world = context.world
    payload = world.new_payload(50_000)
    world.write("/after-restore.bin", payload)
    world.verify("/after-restore.bin")


@given("the metalogger was stopped")
def step_stop_metalogger(context):
    world = context.world
    world.history.fault("stop the metalogger")
    _metalogger(world).stop()


@given("{count:d} more files of {size:Size} were written while it was down")
def step_more_files(context, count, size):
    """Next to the Background's files; numbered on from what is there."""
    world = context.world
    first = len(world.files) + 1
    for number in range(first, first + count):
        world.write(f"/files/more-{number}.bin", world.new_payload(data.scaled_size(size)))


@then("the status lists the metalogger at most {lag:d} entries behind within {seconds:g} "
      "seconds")
def step_status_metalogger(context, lag, seconds):
    """The masters count a metalogger's lag from its last report (every half second), so the
    status shows it caught up a report after it did: the administrator asks again."""
    world = context.world
    name = _metalogger(world).name

    def listed() -> dict[str, int]:
        status = world.remembered.pop("cli json", None) or world.cli.json("status")
        return {m["name"]: m["lag_entries"] for m in status["metaloggers"]}

    within(seconds, listed, f"the status to list the metaloggers as {{{name!r}: <= {lag}}}",
           until=lambda found: list(found) == [name] and found[name] <= lag)


@when("the metalogger is killed")
def step_kill_metalogger(context):
    context.world.history.fault("kill the metalogger")
    _metalogger(context.world).kill()


@then('every master\'s health becomes {status} within {seconds:g} seconds with the check '
      '"metaloggers" naming the metalogger')
def step_health_names_metalogger(context, status, seconds):
    world = context.world
    for master in [m for m in world.cluster.masters if m.is_running()]:
        eventually(seconds, lambda: endpoints.health(master.http_address),
                   health_status(status, check="metaloggers",
                                 mentioning=_metalogger(world).name),
                   f"the health of {master.name}")


@when("the metalogger is started again")
def step_start_metalogger(context):
    context.world.history.fault("start the metalogger")
    _metalogger(context.world).start()
