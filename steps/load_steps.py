"""Concurrent clients (support.workload) and the history checks that follow them."""

import time

from behave import given, then, when

from support import data
import support.steptypes  # noqa: F401 - registers {x:Size}
from support.waiting import within
from support.workload import Workload


@given("{clients:d} clients writing and reading {data_set} files of {smallest:Size} to "
       "{largest:Size} at the same time")
def step_start_workload(context, clients, data_set, smallest, largest):
    data.check_data_set(data_set, smallest, largest)
    world = context.world
    workload = Workload(world.cluster.master_addresses, world.cluster.address_map(),
                        world.history,
                        clients=clients, smallest=data.scaled_size(smallest),
                        largest=data.scaled_size(largest), directory=f"/load/{data_set}",
                        seed=len(world.scenario), tls=world.cluster.client_tls)
    workload.start()
    context.add_cleanup(workload.stop)
    world.remembered["workload"] = workload


def _wait_for_writes(context, target, seconds):
    workload = context.world.remembered["workload"]

    def probe():
        assert not workload.crashes, f"a client crashed: {workload.crashes}"
        done = workload.acknowledged_writes()
        assert done >= target, f"{done} acknowledged writes so far"
        return True

    within(seconds, probe, f"{target} acknowledged writes in the history")


@given("the clients have made {count:d} acknowledged writes, within {seconds:g} seconds")
@when("the clients work until {count:d} of their writes are acknowledged, within {seconds:g} "
      "seconds")
def step_until_writes(context, count, seconds):
    _wait_for_writes(context, count, seconds)


@given("the clients have kept writing for {span:g} seconds, within {seconds:g} seconds")
def step_writing_for(context, span, seconds):
    """Acknowledged writes spread over `span` seconds up to now: what a recovery point is
    measured against (a burst of writes a moment old would prove nothing about older ones)."""
    world = context.world
    workload = world.remembered["workload"]

    def spread() -> float:
        assert not workload.crashes, f"a client crashed: {workload.crashes}"
        acked = [op.completed for op in world.history.ops
                 if op.kind == "write" and op.outcome == "ok" and op.process.startswith("client-")]
        if not acked or time.time() - max(acked) > 1.0:
            return 0.0
        return max(acked) - min(acked)

    within(seconds, spread, f"the clients' acknowledged writes to span {span:g} s",
           until=lambda found: found >= span)


@then("the clients make {count:d} more acknowledged writes within {seconds:g} seconds")
def step_more_writes(context, count, seconds):
    workload = context.world.remembered["workload"]
    _wait_for_writes(context, workload.acknowledged_writes() + count, seconds)


@then("no client read back wrong data")
def step_no_bad_reads(context):
    workload = context.world.remembered["workload"]
    workload.stop()
    assert not workload.crashes, f"clients crashed: {workload.crashes}"
    assert not workload.bad_reads, "wrong data read back:\n" + "\n".join(workload.bad_reads)


@then("no acknowledged write was lost")
def step_no_lost_writes(context):
    world = context.world
    workload = world.remembered.get("workload")
    if workload is not None:
        workload.stop()
    acknowledged = len(world.history.acceptable_contents())
    assert acknowledged, "the history has no acknowledged write to check"
    reader = world.client(name="final-reader")
    lost = world.history.lost_writes(lambda path: world.read(path, "final-read", client=reader))
    assert not lost, (f"{len(lost)} of {acknowledged} acknowledged writes are lost or damaged:\n"
                      + "\n".join(lost.values()))
