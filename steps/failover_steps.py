"""Several masters on etcd: the leader killed, stopped or paused, etcd members lost.

The leader is whichever master says so when the step runs (`cluster.leader()`); the steps
remember the one they disturbed as "the old leader".
"""

import time

import grpc
import requests
import support.steptypes  # noqa: F401 - registers {x:Q}
from behave import given, then, when

from mooseng.client import Client
from mooseng.common.errors import MooseNGError
from mooseng.proto import mooseng_pb2 as pb
from mooseng.proto import mooseng_pb2_grpc as pb_grpc

from support import endpoints, rpc, world as worlds
from support.matchers import eventually, health_status
from support.reporting import attach_text
from support.waiting import scaled, throughout, within


@given("a cluster of {masters:d} masters on etcd and {count:d} chunk servers")
def step_ha_cluster(context, masters, count):
    context.world.start_cluster(worlds.topology(count, masters=masters))


def _disturb(context, verb: str, act) -> None:
    world = context.world
    leader = world.cluster.leader()
    world.remembered["old leader"] = leader
    world.history.fault(f"{verb} {leader.name} (the leader)")
    world.remembered["fault at"] = time.time()
    act(leader)


@when("the leader is killed while the clients go on")
def step_kill_leader(context):
    _disturb(context, "kill", lambda node: node.kill())


@when("the leader is stopped cleanly while the clients go on")
def step_stop_leader(context):
    _disturb(context, "stop", lambda node: node.stop())


@when("the leader is paused until another master leads")
def step_pause_leader(context):
    _disturb(context, "pause", lambda node: node.pause())
    step_new_leader(context, 10)


@when("the old leader is resumed")
def step_resume_old(context):
    old = context.world.remembered["old leader"]
    context.world.history.fault(f"resume {old.name}")
    old.resume()


@then("another master leads within {seconds:g} second")
@then("another master leads within {seconds:g} seconds")
def step_new_leader(context, seconds):
    """Counted from the fault to the moment the new leader says it took over (a clean stop
    returns only once the old master has exited, possibly later)."""
    world = context.world
    old = world.remembered["old leader"]
    leader = within(max(seconds, 10), lambda: world.cluster.leader(timeout=0.2),
                    f"a master other than {old.name} to lead", until=lambda node: node is not old)
    took = rpc.master_status(leader.address).leading_since - world.remembered["fault at"]
    world.remembered["new leader after"] = took
    attach_text(f"{leader.name} leads {took:.3f} s after the fault on {old.name}", "new leader")
    assert took <= scaled(seconds), (f"{leader.name} took over {took:.3f} s after the fault on "
                                     f"{old.name}; the bound is {scaled(seconds):g} s")


def _first_write_after(world, moment: float) -> float | None:
    done = [op.completed for op in world.history.ops
            if op.kind == "write" and op.outcome == "ok" and op.completed
            and op.completed > moment]
    return min(done) - moment if done else None


@then("the failover time is attached to the report")
def step_attach_failover(context):
    world = context.world
    fault = world.remembered["fault at"]
    first = _first_write_after(world, fault)
    assert first is not None, "no write was acknowledged after the fault"
    attach_text(f"old leader: {world.remembered['old leader'].name}\n"
                f"new leader: {world.cluster.leader().name}\n"
                f"from the fault to the new leader taking over: "
                f"{world.remembered['new leader after']:.3f} s\n"
                f"from the fault to the first acknowledged write: {first:.3f} s\n",
                "failover time")


@then("no client request failed after the leader was stopped")
def step_none_failed(context):
    world = context.world
    workload = world.remembered["workload"]
    workload.stop()
    fault = world.remembered["fault at"]
    failed = [op.line(world.history.origin) for op in world.history.ops
              if op.invoked >= fault - 0.5 and op.outcome != "ok"]
    assert not failed, ("requests made around or after the clean stop did not succeed:\n"
                        + "\n".join(failed))


def _mkdir_at(address: str, path: str) -> str:
    """What one master answers to a Mkdir sent to it alone: "OK" or the status code name."""
    with grpc.insecure_channel(address) as channel:
        try:
            pb_grpc.MasterStub(channel).Mkdir(pb.MkdirRequest(path=path), timeout=2.0)
        except grpc.RpcError as error:
            return error.code().name
    return "OK"


@then("for {seconds:g} seconds the old leader acknowledges no change sent to it")
def step_old_acknowledges_nothing(context, seconds):
    old = context.world.remembered["old leader"]
    attempts = iter(range(1_000_000))
    throughout(seconds, lambda: _mkdir_at(old.address, f"/from-old-leader-{next(attempts)}"),
               f"{old.name} to acknowledge no change (any answer but OK)",
               until=lambda answer: answer != "OK")


@then("the old leader follows the new one within {seconds:g} seconds")
def step_old_follows(context, seconds):
    world = context.world
    old = world.remembered["old leader"]
    within(seconds, lambda: rpc.role(old.address), f"{old.name} to follow",
           until=lambda role: role == "follower")
    assert not world.client().exists("/from-old-leader-0"), \
        "a change sent to the old leader while it believed it led is in the metadata"


@then("the leader stays the same for {seconds:g} seconds")
def step_same_leader(context, seconds):
    cluster = context.world.cluster
    leader = cluster.leader()
    throughout(seconds, lambda: cluster.leader(timeout=1.0), f"{leader.name} to keep leading",
               until=lambda node: node is leader)


@when('etcd members {names:QList} are killed')
@when('etcd member {names:QList} is killed')
def step_kill_etcd(context, names):
    world = context.world
    for name in names:
        world.history.fault(f"kill {name}")
        world.node(name).kill()
    world.remembered["killed etcd members"] = names
    world.remembered["fault at"] = time.time()


@when("an etcd member that {role} is {fault:Halt}")
def step_halt_etcd_by_role(context, role, fault):
    """etcd's own leader is the harder loss: etcd elects another before any write goes on. A
    paused member is the harder kind: connections to it hang instead of being refused."""
    world = context.world
    members = world.cluster.etcd
    leaders = within(10, lambda: [m for m in members if _leads_etcd(m)],
                     "etcd to have one leader", until=lambda found: len(found) == 1)
    member = {"leads etcd": leaders, "follows": [m for m in members if m not in leaders]}[role][0]
    halt = {"killed": member.kill, "paused": member.pause}[fault]
    world.history.fault(f"{halt.__name__} {member.name} (it {role})")
    halt()
    world.remembered["lost etcd member"] = member.name


def _leads_etcd(member) -> bool:
    status = requests.post(f"http://{member.address}/v3/maintenance/status", json={},
                           timeout=2.0).json()
    return int(status["leader"]) == int(status["header"]["member_id"])


@when("the killed etcd members are started again")
def step_restart_etcd(context):
    world = context.world
    nodes = [world.node(name) for name in world.remembered["killed etcd members"]]
    for node in nodes:
        world.history.fault(f"start {node.name}")
        node.launch()
    for node in nodes:
        node.wait_ready()


def _write_answer(client: Client, path: str) -> str:
    try:
        client.write_bytes(path, b"probe")
    except MooseNGError as error:
        return error.code.name
    return "OK"


@then("for {seconds:g} seconds every change is refused as UNAVAILABLE")
def step_changes_unavailable(context, seconds):
    world = context.world
    client = world.client(timeout=2.0, name="probe")
    # what was in flight when etcd lost its majority settles first
    within(10, lambda: _write_answer(client, "/probe-settle"), "changes to be refused",
           until=lambda answer: answer == "UNAVAILABLE")
    attempts = iter(range(1_000_000))
    throughout(seconds, lambda: _write_answer(client, f"/probe-{next(attempts)}"),
               "every change to be refused as UNAVAILABLE",
               until=lambda answer: answer == "UNAVAILABLE")


@then("changes are acknowledged again within {seconds:g} seconds")
def step_changes_again(context, seconds):
    client = context.world.client(timeout=2.0, name="probe")
    within(seconds, lambda: _write_answer(client, "/probe-after"), "a change to be acknowledged",
           until=lambda answer: answer == "OK")


@then("every master has applied the same metadata within {seconds:g} seconds")
def step_same_metadata(context, seconds):
    cluster = context.world.cluster

    def versions():
        return {m.name: rpc.master_status(m.address).metadata_version for m in cluster.masters
                if m.is_running()}
    within(seconds, versions, "every running master at the same metadata version",
           until=lambda found: len(set(found.values())) == 1)


@when("an administrator asks for the cluster status in the machine-readable format")
def step_cli_status(context):
    context.world.remembered["cli json"] = context.world.cli.json("status")


@then("within {seconds:g} seconds the status names the leader and {followers:d} followers at "
      "most {lag:d} entries behind")
def step_status_roles(context, seconds, followers, lag):
    """Followers report their version every half second, so the status may show one a report
    behind what it applied: the administrator asks again."""
    world = context.world
    leader = world.cluster.leader()

    def wrong() -> str:
        status = world.remembered.pop("cli json", None) or world.cli.json("status")
        world.remembered["last status"] = status
        roles = {m["name"]: m["role"] for m in status["masters"]}
        expected = {m.name: "leader" if m is leader else "follower"
                    for m in world.cluster.masters}
        if roles != expected:
            return f"roles in the status {roles}, the masters say {expected}"
        if status["role"] != "leader":
            return f"the status came from a {status['role']}, not the leader"
        named = world.cluster.address_map()(status["leader"])     # as this process reaches it
        if named != leader.address:
            return (f"the status names {status['leader']} as leader, not {leader.name} "
                    f"({leader.address})")
        behind = {m["name"]: m["lag_entries"] for m in status["masters"]
                  if m["role"] == "follower"}
        if len(behind) != followers or max(behind.values()) > lag:
            return f"lag: {behind}"
        return ""

    within(seconds, wrong, "the status to name the leader and its followers",
           until=lambda problem: problem == "")


@then("the status lists {count:d} etcd members, all up")
def step_status_etcd(context, count):
    members = context.world.remembered["last status"]["etcd"]
    assert len(members) == count and all(m["ok"] for m in members), f"etcd members: {members}"


@then('every master\'s health becomes {status} within {seconds:g} seconds with the check '
      '"{check:Q}" naming the lost member')
def step_every_master_health_lost(context, status, seconds, check):
    step_every_master_health(context, status, seconds, check,
                             context.world.remembered["lost etcd member"])


@then('every master\'s health becomes {status} within {seconds:g} seconds with the check '
      '"{check:Q}" naming "{name:Q}"')
@then('every master\'s health becomes {status} within {seconds:g} seconds with the check '
      '"{check:Q}"')
def step_every_master_health(context, status, seconds, check, name=None):
    world = context.world
    node = world.node(name) if name else None
    named = getattr(node, "internal_address", node.address) if node else None   # as masters see it
    for master in [m for m in world.cluster.masters if m.is_running()]:
        eventually(seconds, lambda: endpoints.health(master.http_address),
                   health_status(status, check=check, mentioning=named),
                   f"the health of {master.name}")


@when("the leader is cut off from etcd, the other masters and the chunk servers while the "
      "clients go on")
def step_cut_leader(context):
    world = context.world
    others = [node for node in world.cluster.nodes]

    def cut(leader):
        others.remove(leader)
        for node in others:
            leader.cut_from(node)
            context.add_cleanup(leader.restore_to, node)
        world.remembered["cut off"] = others
    _disturb(context, "cut off", cut)


@when("the cut heals")
def step_cut_heals(context):
    world = context.world
    old = world.remembered["old leader"]
    world.history.fault(f"heal {old.name}")
    for node in world.remembered["cut off"]:
        old.restore_to(node)
