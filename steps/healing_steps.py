"""Self-healing: copies back at goal, damaged copies replaced, over-goal and stale copies
removed, a chunk server in maintenance not treated as lost."""

import support.steptypes  # noqa: F401 - registers {x:Q}, {x:Size}
from behave import given, then, when
from hamcrest import greater_than_or_equal_to

from support import endpoints, metrics, rpc
from support.matchers import all_chunks_at_goal, eventually, metric_value
from support.rpc import pb
from support.waiting import throughout, within


@then('every chunk of the files has {goal:d} copies, none on "{name:Q}", within {seconds:g} seconds')
@then("every chunk of the files has {goal:d} copies, none on that chunk server, within "
      "{seconds:g} seconds")
def step_at_goal_avoiding(context, goal, seconds, name=None):
    world = context.world
    name = name or world.remembered["holder"].name
    eventually(seconds, world.all_copies, all_chunks_at_goal(goal, avoiding=name),
               "the master's view of the files' chunks")


@then('every copy lost with "{name:Q}" was made again exactly once')
def step_made_once(context, name):
    """Re-replication is driven by the master's bookkeeping of copies in flight: a copy made
    twice (then deleted as over goal) means it forgot what it had already asked for."""
    world = context.world
    current = {c.chunk_id: c.version for c in world.all_copies()}
    lost = sum(1 for chunk_id, version in world.node(name).stored_chunks().items()
               if current.get(chunk_id) == version)
    assert lost, f"{name} held no copy of the files, so nothing was re-made"
    throughout(3, world.master_replications,
               f"{lost} replications issued by the master (one per lost copy)",
               until=lambda count: count == lost)


@given('chunk server "{name:Q}" was killed and every chunk was restored to {goal:d} copies')
def step_killed_and_restored(context, name, goal):
    world = context.world
    node = world.node(name)
    held = [c.chunk_id for c in world.all_copies() if name in c.nodes]
    assert held, f"{name} holds no copy of the files, so its return would prove nothing"
    world.remembered["copies held by the returning server"] = held
    world.server_id(node)
    world.history.fault(f"kill {name}")
    node.kill()
    eventually(20, world.all_copies, all_chunks_at_goal(goal, avoiding=name),
               "the master's view of the files' chunks")
    on_disk = set(node.stored_chunks())
    assert set(held) <= on_disk, \
        f"{name}'s disk lost copies while it was down: {sorted(set(held) - on_disk)}"


def _disk_count_of_files(world) -> dict[int, list[str]]:
    """chunk id -> chunk servers with a current copy on disk, for every chunk of the files."""
    wanted = {c.chunk_id: c.version for c in world.all_copies()}
    found = {cid: [] for cid in wanted}
    for node in world.cluster.chunkservers:
        if not node.is_running():
            continue
        for chunk_id, version in node.stored_chunks().items():
            if chunk_id in wanted and version == wanted[chunk_id]:
                found[chunk_id].append(node.name)
    return found


@then("every chunk of the files is stored on exactly {goal:d} chunk servers' disks within "
      "{seconds:g} seconds")
def step_disk_copies(context, goal, seconds):
    world = context.world

    def probe():
        found = _disk_count_of_files(world)
        wrong = {cid: nodes for cid, nodes in found.items() if len(nodes) != goal}
        assert found and not wrong, \
            f"{len(wrong)} of {len(found)} chunks are not on {goal} disks: {wrong}"
        return True

    within(seconds, probe, f"every chunk of the files on exactly {goal} chunk servers' disks")


@then("the cluster status shows no chunk over or under goal for {seconds:g} seconds")
def step_no_overgoal(context, seconds):
    client = context.world.client()

    def counts():
        status = client.status()
        return status["chunks_overgoal"], status["chunks_undergoal"]

    throughout(seconds, counts, "(chunks over goal, chunks under goal) = (0, 0)",
               until=lambda value: value == (0, 0))


@given("a stored copy of a chunk of the files was corrupted on its chunk server")
@when("a stored copy of a chunk of the files is corrupted on its chunk server")
def step_corrupt(context):
    world = context.world
    copy = world.all_copies()[0]
    node = world.node(copy.nodes[0])
    chunk_id = node.corrupt_chunk(copy.chunk_id)
    world.history.fault(f"corrupt chunk {chunk_id} on {node.name}")
    world.remembered["corrupted on"] = node
    world.remembered["corrupted copy"] = copy


@then("the chunk server counts a checksum failure within {seconds:g} seconds")
def step_checksum_failure(context, seconds):
    node = context.world.remembered["corrupted on"]
    eventually(seconds, lambda: endpoints.metrics_text(node.http_address),
               metric_value("mooseng_chunkserver_checksum_failures_total",
                            greater_than_or_equal_to(1)),
               f"{node.name}'s metrics")


@then("every chunk of the files has {goal:d} copies that read back intact from their chunk "
      "servers within {seconds:g} seconds")
def step_copies_intact(context, goal, seconds):
    world = context.world
    matcher = all_chunks_at_goal(goal)

    def probe():
        copies = world.all_copies()
        assert matcher.matches(copies), "; ".join(str(c) for c in copies if len(c.nodes) != goal)
        for copy in copies:
            for name in copy.nodes:
                _check_copy(world, copy, name)
        return True

    within(seconds, probe, f"every chunk with {goal} copies, each read intact from its server")


@then('every copy on "{name:Q}" of every chunk of the files reads back intact from it')
def step_copies_on_intact(context, name):
    world = context.world
    held = [copy for copy in world.all_copies() if name in copy.nodes]
    assert held, f"{name} holds no copy of the files"
    for copy in held:
        _check_copy(world, copy, name)


def _check_copy(world, copy, name) -> None:
    """Read one copy straight from its chunk server and check it against the file's data."""
    payload = world.files[copy.path]
    chunk_size = world.cluster.topology.master.chunk_size
    offset = copy.index * chunk_size
    length = min(chunk_size, payload.size - offset)
    stream = rpc.chunkserver(world.node(name).address).ReadChunk(
        pb.ReadChunkRequest(chunk_id=copy.chunk_id, version=copy.version, offset=0,
                            length=length), timeout=10)
    got = b"".join(part.data for part in stream)
    assert len(got) == length, \
        f"{copy.path} chunk {copy.index} from {name}: {len(got)} bytes, expected {length}"
    payload.verify_range(got, offset)


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


@given('chunk server "{name:Q}" was put in maintenance')
def step_maintenance(context, name):
    world = context.world
    server_id = world.server_id(world.node(name))
    world.advertised_address(world.node(name))
    world.remembered["replications before"] = world.master_replications()
    with world.history.record("scenario", "maintenance", name):
        world.client().set_maintenance(server_id, True)


@then("the cluster status shows no chunk under goal for {seconds:g} seconds")
def step_never_undergoal(context, seconds):
    throughout(seconds, lambda: context.world.client().status()["chunks_undergoal"],
               "no chunk under goal in the cluster status", until=lambda count: count == 0)


@then("the master orders no new copy of any chunk for {seconds:g} seconds")
def step_no_new_copies(context, seconds):
    world = context.world
    before = world.remembered["replications before"]
    throughout(seconds, lambda: world.master_replications() - before,
               "no replication ordered by the master", until=lambda ordered: ordered == 0)
