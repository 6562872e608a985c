"""The protocol itself: services through their real clients, the standard health service,
status codes of bad requests and of a damaged copy (seen on the wire, not through the client's
mapping), deadlines."""

import time

import grpc
from behave import given, then, when
from hamcrest import assert_that, equal_to

from support import rpc, steptables
from support.rpc import pb
from support.waiting import scaled, within


def _master(world):
    return rpc.master(world.master.address)


def _short_write(world):
    """A write of chunk 0 of /docs/readme.txt whose stream carries 5 of the 10 bytes its header
    announces, sent to the first server of the chain the master grants."""
    attr = _master(world).GetAttr(pb.PathRequest(path="/docs/readme.txt"), timeout=5).attr
    grant = _master(world).AllocateChunk(pb.AllocateChunkRequest(inode=attr.inode,
                                                                 chunk_index=0), timeout=5)
    header = pb.WriteChunkHeader(chunk_id=grant.chunk_id, version=grant.version,
                                 base_version=grant.base_version, chain=grant.chain[1:],
                                 lease_id=grant.lease_id, lease_token=grant.lease_token,
                                 lease_expires=grant.lease_expires, data_length=10)
    first = world.cluster.address_map()(grant.chain[0])
    return rpc.chunkserver(first).WriteChunk(
        iter([pb.WriteChunkRequest(header=header), pb.WriteChunkRequest(data=b"12345")]),
        timeout=5)


REQUESTS = {
    "ask for a file that does not exist":
        lambda w: _master(w).GetAttr(pb.PathRequest(path="/docs/missing.txt"), timeout=5),
    "create a file in a directory that does not exist":
        lambda w: _master(w).Create(pb.CreateRequest(path="/nowhere/file.txt"), timeout=5),
    "create a directory that already exists":
        lambda w: _master(w).Mkdir(pb.MkdirRequest(path="/docs"), timeout=5),
    "create a file whose name is 256 bytes long":
        lambda w: _master(w).Create(pb.CreateRequest(path=f"/docs/{steptables.LONG_NAME}"),
                                    timeout=5),
    "create a file whose path is 1025 bytes long":
        lambda w: _master(w).Create(pb.CreateRequest(path=steptables.LONG_PATH),
                                    timeout=5),
    "remove a directory that is not empty":
        lambda w: _master(w).Remove(pb.RemoveRequest(path="/docs"), timeout=5),
    "list a file as if it were a directory":
        lambda w: _master(w).ReadDir(pb.ReadDirRequest(path="/docs/readme.txt"), timeout=5),
    "set a goal of 5 with only 2 chunk servers":
        lambda w: _master(w).SetGoal(pb.SetGoalRequest(path="/docs/readme.txt", goal=5),
                                     timeout=5),
    "read a chunk that the chunk server does not store":
        lambda w: list(rpc.chunkserver(w.cluster.chunkservers[0].address).ReadChunk(
            pb.ReadChunkRequest(chunk_id=0xDEAD_BEEF_0000, version=1), timeout=5)),
    "write a chunk with fewer bytes than its header announces": _short_write,
}


@given('a directory "{directory:Q}" holding a file "{path:Q}"')
def step_dir_with_file(context, directory, path):
    world = context.world
    world.mkdir(directory)
    world.write(path, world.new_payload(1024))


@when("a client sends these bad requests:")
def step_bad_requests(context):
    world = context.world
    answers = []
    for row in context.table:
        send = steptables.action(REQUESTS, row["request"], "request")
        try:
            send(world)
            answers.append((row, "OK (no error)", ""))
        except grpc.RpcError as error:
            answers.append((row, error.code().name, error.details() or ""))
    world.remembered["answers"] = answers


@then("each request is refused with its status code and a message that mentions the culprit")
def step_bad_request_codes(context):
    wrong = [f"- {row['request']}: expected {row['status']} mentioning {row['mention']!r}, "
             f"got {code} {details!r}"
             for row, code, details in context.world.remembered["answers"]
             if code != row["status"] or row["mention"] not in details]
    assert not wrong, "requests answered wrongly:\n" + "\n".join(wrong)


# ---------------------------------------------------------------- services via real clients
@then("the master's namespace service answers a client creating and listing a directory")
def step_namespace_service(context):
    world = context.world
    world.mkdir("/probe/inner")
    names = [entry.name for entry in world.client().listdir("/probe")]
    assert_that(names, equal_to(["inner"]))


@then("the master's cluster service answers a client asking for the cluster status")
def step_cluster_service(context):
    status = context.world.client().status()
    assert_that(status["chunk_size"], equal_to(context.world.cluster.topology.master.chunk_size))
    assert_that(status["default_goal"],
                equal_to(context.world.cluster.topology.master.default_goal))


@then("the master's registry service has registered every chunk server from its heartbeats")
def step_registry_service(context):
    world = context.world
    servers = rpc.chunkservers(world.master.address)
    assert_that(len(servers), equal_to(len(world.cluster.chunkservers)))
    now = time.time()
    interval = world.cluster.topology.master.heartbeat_interval
    for server in servers:
        assert server.state == pb.ONLINE, f"{server.address} is {rpc.state_name(server.state)}"
        assert now - server.last_heartbeat < max(5 * interval, 2.0), \
            f"{server.address}: last heartbeat {now - server.last_heartbeat:.1f} s ago"


@then("every chunk server's service answers a status request with its identity")
def step_chunkserver_service(context):
    world = context.world
    reach = world.cluster.address_map()
    ids = {reach(s.address): s.id for s in rpc.chunkservers(world.master.address)}
    for node in world.cluster.chunkservers:
        status = rpc.chunkserver(node.address).GetStatus(pb.ChunkServerStatusRequest(), timeout=5)
        assert_that(status.server_id, equal_to(ids.get(node.address)),
                    f"{node.name}'s id versus the master's listing")


@then("the chunk servers' data service stores and returns a file written by a client")
def step_data_service(context):
    world = context.world
    world.write("/probe/data.bin", world.new_payload(300 * 1024))
    world.verify("/probe/data.bin")


# ---------------------------------------------------------------- standard health service
@then("every node answers the standard gRPC health check as serving for the whole server")
def step_health_whole(context):
    for node in context.world.cluster.nodes:
        assert_that(rpc.health_status(node.address), equal_to("SERVING"), node.name)


@then("every node answers the standard gRPC health check as serving for each of its services")
def step_health_services(context):
    for node in context.world.cluster.nodes:
        for service in rpc.SERVICES[node.role]:
            assert_that(rpc.health_status(node.address, service), equal_to("SERVING"),
                        f"{node.name} {service}")


# ---------------------------------------------------------------- deadlines
@then('a status request to "{name:Q}" with a {deadline:g} second deadline fails with '
      'DEADLINE_EXCEEDED within {seconds:g} seconds')
def step_deadline(context, name, deadline, seconds):
    node = context.world.node(name)
    started = time.monotonic()
    try:
        rpc.chunkserver(node.address).GetStatus(pb.ChunkServerStatusRequest(), timeout=deadline)
        answer = "an answer although the server is paused"
    except grpc.RpcError as error:
        answer = error.code().name
    took = time.monotonic() - started
    assert_that(answer, equal_to("DEADLINE_EXCEEDED"))
    assert took <= scaled(seconds), f"the call returned after {took:.2f} s, not within {seconds} s"


@when('the chunk server holding the first copy of "{path:Q}" is paused')
def step_pause_first_copy(context, path):
    world = context.world
    first = world.client().stat(path).chunks[0].servers[0]
    node = world.node_by_address(first)
    world.history.fault(f"pause {node.name}")
    node.pause()


@then('a client with a {timeout:g} second timeout reads "{path:Q}" intact within {seconds:g} '
      'seconds')
def step_read_with_timeout(context, timeout, path, seconds):
    world = context.world
    client = world.client(timeout=timeout, name="short-timeout")
    started = time.monotonic()
    world.verify(path, client=client)
    took = time.monotonic() - started
    bound = scaled(seconds)
    assert took <= bound, f"the read took {took:.1f} s, more than {bound:g} s"


# ---------------------------------------------------------------- damaged copies
@when("a client reads that copy from its chunk server")
def step_read_damaged(context):
    world = context.world
    node, copy = world.remembered["corrupted on"], world.remembered["corrupted copy"]
    try:
        list(rpc.chunkserver(node.address).ReadChunk(
            pb.ReadChunkRequest(chunk_id=copy.chunk_id, version=copy.version), timeout=5))
        world.remembered["answer"] = "the data, without an error"
    except grpc.RpcError as error:
        world.remembered["answer"] = f"{error.code().name} {error.details()}"


@then("the read is answered with DATA_LOSS")
def step_read_data_loss(context):
    world = context.world
    answer = world.remembered["answer"]
    assert answer.startswith("DATA_LOSS "), \
        (f"reading the damaged copy of chunk {world.remembered['corrupted copy'].chunk_id} from "
         f"{world.remembered['corrupted on'].name} gave {answer}")


@then("the master no longer counts that copy within {seconds:g} seconds")
def step_copy_dropped(context, seconds):
    world = context.world
    node, copy = world.remembered["corrupted on"], world.remembered["corrupted copy"]

    def holders():
        return next(c.nodes for c in world.copies(copy.path) if c.chunk_id == copy.chunk_id)

    within(seconds, holders, f"the master to stop counting the copy of chunk {copy.chunk_id} "
                             f"on {node.name}", until=lambda nodes: node.name not in nodes)
