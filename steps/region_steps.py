"""Regions: a cluster spread over emulated regions joined by delaying WAN links, clients in a
region, copies counted per region on the chunk servers' disks, a region cut off and back."""

import statistics
import time

import support.steptypes  # noqa: F401 - registers {x:Q}, {x:Size}
from behave import given, step, then, when

from support import endpoints, metrics, placement, rpc
from support.drivers import regions
from support.drivers.base import Region
from support.reporting import attach_text
from support.waiting import throughout, within
from support.world import topology


def _client_in(world, region: str):
    return world.client(name=f"client in {region}", labels={"region": region})


def _wanted(table) -> list[dict[str, str]]:
    return [{"region": row["region"]} for row in table for _ in range(int(row["copies"]))]


def _lags(world) -> dict[str, float]:
    """The master's replication lag per region, in seconds."""
    text = endpoints.metrics_text(world.master.http_address)
    return {region.name: metrics.value(text, "mooseng_master_replication_lag_seconds",
                                       region=region.name) or 0.0
            for region in world.cluster.topology.regions}


def _regions(table) -> list[Region]:
    return [Region(row["region"], int(row["chunk servers"]), float(row["WAN delay ms"]) / 1000,
                   int(row.get("etcd members", 0))) for row in table]


@given("a cluster spread over these regions, the master in the first:")
def step_regions(context):
    context.world.start_cluster(topology(0, regions=_regions(context.table)))


@given("a cluster spread over these regions, a master in each, the leader in the first:")
def step_masters_in_regions(context, tls=False):
    world = context.world
    regions = _regions(context.table)
    world.start_cluster(topology(0, regions=regions, masters=len(regions), tls=tls))
    first, *others = world.cluster.masters
    if world.cluster.leader() is not first:
        for master in others:       # a clean stop hands over at once: to the only one left
            master.stop()
        within(10, world.cluster.leader, f"{first.name} to lead",
               until=lambda leader: leader is first)
        for master in others:
            master.start()


@given("a cluster on TLS spread over these regions, a master in each, the leader in the first:")
def step_masters_in_regions_on_tls(context):
    step_masters_in_regions(context, tls=True)


@when('a client in "{region:Q}" writes {count:d} files of {size:Size} into the directory '
      '"{directory:Q}" of the storage class "{name:Q}"')
def step_write_in_region(context, region, count, size, directory, name):
    world = context.world
    world.mkdir(directory)
    world.cli.json("fs", "setclass", name, directory)
    client = _client_in(world, region)
    acknowledged = world.remembered.setdefault("acknowledged", {})
    first = len(placement.files_under(world, directory))
    for number in range(first, first + count):
        path = f"{directory}/f{number:03d}.bin"
        world.write(path, world.new_payload(world.size(size)), client=client,
                    process=f"client in {region}")
        acknowledged[path] = time.monotonic()
    world.remembered["directory"] = directory


@then("within {seconds:g} seconds every chunk of those files has these copies per region, "
      "counted on the chunk servers' disks:")
def step_copies_per_region(context, seconds):
    world = context.world
    wanted = _wanted(context.table)
    paths = placement.files_under(world, world.remembered["directory"])
    done: dict[str, float] = {}        # path -> when all its copies were on disk
    peak: dict[str, float] = {}        # region -> highest lag the master reported

    def missing():
        for region, lag in _lags(world).items():
            peak[region] = max(peak.get(region, 0.0), lag)
        wrong = placement.misplaced(world, [p for p in paths if p not in done], wanted)
        done.update({p: time.monotonic() for p in paths if p not in done and p not in wrong})
        return [line for lines in wrong.values() for line in lines]

    within(seconds, lambda: missing() or "none", "every chunk's copies in every region",
           until=lambda found: found == "none")
    acknowledged = world.remembered["acknowledged"]
    lags = [done[p] - acknowledged[p] for p in paths if p in acknowledged]
    lines = [f"{len(lags)} files; from a write's acknowledgement until every copy of it was on "
             f"disk in every region: median {statistics.median(lags):.2f} s, slowest "
             f"{max(lags):.2f} s", "highest replication lag the master reported, per region:"]
    lines += [f"  {region:12s} {lag:.2f} s" for region, lag in sorted(peak.items())]
    if "connected again" in world.remembered:
        lines.insert(1, "since the cut-off region was connected again, until every copy was on "
                     f"disk: {max(done.values()) - world.remembered['connected again']:.2f} s")
    lines += ["WAN delays, one way:"] + [
        f"  {link.name:28s} {link.pair.delay * 1000:.0f} ms" for link in world.cluster.wan]
    attach_text("\n".join(lines), "replication lag across the WAN")


@then('a client in "{region:Q}" reads every one of those files as written')
def step_read_in_region(context, region):
    world = context.world
    client = _client_in(world, region)
    for path in placement.files_under(world, world.remembered["directory"]):
        world.verify(path, client=client)


@step('the region "{region:Q}" is cut off from the others')
def step_cut_off(context, region):
    world = context.world
    for link in world.cluster.region_links(region):
        link.pause()
    servers = [n for n in world.cluster.chunkservers if n.labels["region"] == region]
    for node in servers:
        within(10, lambda node=node: world.listed_state(node), f"the master to mark {node} "
               "offline", until=lambda state: state == "OFFLINE")


@when('the region "{region:Q}" is connected again')
def step_connect_again(context, region):
    for link in context.world.cluster.region_links(region):
        link.resume()
    context.world.remembered["connected again"] = time.monotonic()


@then('the master reports chunks waiting to be copied to "{region:Q}" for {seconds:g} seconds')
def step_pending(context, region, seconds):
    """Longer than a chunk server's calls to the master wait (10 s), so the region's servers find
    the master gone and must find it again."""
    world = context.world

    def pending() -> int:
        status = {r["region"]: r for r in world.client().status()["regions"]}
        return int(status[region]["chunks_pending"]) if region in status else 0

    throughout(seconds, pending, f"chunks pending replication to {region}",
               until=lambda count: count > 0)


def _nodes_in(world, region: str) -> list:
    cluster = world.cluster
    return [node for node in [*cluster.etcd, *cluster.masters, *cluster.chunkservers]
            if regions.region_of(node, cluster.topology) == region]


@when('every node of the region "{region:Q}" is lost at once')
def step_region_lost(context, region):
    world = context.world
    world.remembered["region lost"] = time.monotonic()     # the first kill: the worst case
    for node in _nodes_in(world, region):
        node.kill()


@then('within {seconds:g} seconds a master outside "{region:Q}" leads')
def step_leader_elsewhere(context, seconds, region):
    world = context.world
    others = [m for m in world.cluster.masters if m.labels["region"] != region]

    def leading() -> str:
        found = [m.name for m in others if rpc.role(m.address) == "leader"]
        return found[0] if len(found) == 1 else ""
    leader = within(seconds, leading, f"one master outside {region} to lead")
    elapsed = time.monotonic() - world.remembered["region lost"]
    etcd_left = [n.name for n in world.cluster.etcd if n.labels.get("region") != region]
    attach_text(f"{leader} leads {elapsed:.2f} s after the first node of {region} was killed "
                f"(all {len(_nodes_in(world, region))} of them in turn); "
                f"etcd members left: {', '.join(etcd_left)} of {len(world.cluster.etcd)}",
                "new leader")


@when('every node of the region "{region:Q}" is back')
def step_region_back(context, region):
    for node in _nodes_in(context.world, region):      # etcd, then masters, then servers
        node.start()


@then('within {seconds:g} seconds the master in "{region:Q}" follows the leader, 0 entries '
      'behind')
def step_region_master_follows(context, seconds, region):
    world = context.world
    master = next(m for m in world.cluster.masters if m.labels["region"] == region)

    def behind():
        row = next((m for m in world.cli.json("status")["masters"] if m["name"] == master.name),
                   None)
        return row and (row["role"], row["lag_entries"])
    within(seconds, behind, f"{master} to follow the leader", until=lambda found: found ==
           ("follower", 0))
