"""Reads from each region's own master at a consistency level: caches kept by regional
invalidations, bounded staleness refused by a master cut off from the leader, read-your-writes."""

import statistics
import time
from concurrent.futures import ThreadPoolExecutor

import support.steptypes  # noqa: F401 - registers {x:Q}
from behave import given, then, when
from hamcrest import assert_that, contains_string, greater_than_or_equal_to

from mooseng.client.cache import CacheSettings
from mooseng.common.consistency import Consistency
from mooseng.common.errors import MooseNGError, NotFound

from support.reporting import attach_text
from support.waiting import throughout, within

LEVELS = {"bounded staleness": "bounded", "eventual consistency": "eventual",
          "read-your-writes consistency": "read-your-writes"}
UNCACHED = CacheSettings.off()      # a lookup that must reach a master every time


def _reading(world, region: str, level: str, bound: float = 5.0,
             cache: CacheSettings = UNCACHED, timeout: float = 2.0):
    """A client in `region` reading at `level` (its name says both); a short timeout, so a
    read the region cannot answer fails within a check's window."""
    return world.client(name=f"{level} client in {region}", timeout=timeout,
                        labels={"region": region}, cache=cache,
                        consistency=Consistency(LEVELS.get(level, level), bound))


def _answered_by(client, master: str) -> float:
    return client.registry.get_sample_value("mooseng_client_metadata_reads_total",
                                            {"master": master}) or 0.0


def _size(client, path: str) -> int:
    try:
        return client.stat(path).size
    except NotFound:
        return -1


def _cached_size(client, path: str) -> int | None:
    """The size, when the lookup was answered from the client's cache."""
    hits = client.cache_stats()["kinds"]["attr"]["hits"]
    size = _size(client, path)
    return size if client.cache_stats()["kinds"]["attr"]["hits"] > hits else None


def _regions(world) -> list[str]:
    return [region.name for region in world.cluster.topology.regions]


@given("in every region a client with the metadata cache on, reading with bounded staleness "
       "of {seconds:g} seconds")
def step_cached_everywhere(context, seconds):
    world = context.world
    clients = {region: _reading(world, region, "bounded staleness", seconds,
                                cache=CacheSettings()) for region in _regions(world)}
    for region, client in clients.items():
        within(15, lambda client=client: client.cache_stats()["live"],
               f"the cache of the client in {region} to hear from its region's master")
    world.remembered["watchers"] = clients


@when('a client in "{region:Q}" changes the size of "{path:Q}" {times:d} times while those '
      'clients watch it')
def step_change_everywhere(context, region, path, times):
    world = context.world
    writer = world.client(name=f"writer in {region}", labels={"region": region})
    writer.write_bytes(path, b"")
    watchers = world.remembered["watchers"]
    before = {r: {m: _answered_by(c, m) for m in ("regional", "leader")}
              for r, c in watchers.items()}
    latencies: dict[str, list[float]] = {r: [] for r in watchers}
    uncached: list[str] = []        # lookups before a change that the cache did not answer
    previous = 0
    pool = ThreadPoolExecutor(len(watchers))
    context.add_cleanup(pool.shutdown)
    for number in range(times):
        size = 100 + number
        for region, client in watchers.items():
            # The last change's events may come just after the lookup that saw it: then the
            # next lookup asks again, and the one after is a hit.
            try:
                within(1.0, lambda client=client: _cached_size(client, path),
                       f"the client in {region} to answer {previous} bytes from its cache",
                       until=lambda seen, previous=previous: seen == previous, interval=0.001)
            except AssertionError as error:
                uncached.append(f"change {number}, {region}: {error}")
        with writer.open(path, "wb") as handle:
            handle.write(b"x" * size)
        written = time.monotonic()

        def seen(region: str, size=size) -> float:
            """Seconds from the write until the region's client saw it (its own thread: a
            lookup across the WAN must not delay another region's)."""
            within(30, lambda: _size(watchers[region], path), f"the client in {region} to "
                   f"see {size} bytes", until=lambda found: found == size, interval=0.001)
            return time.monotonic() - written

        for region, latency in zip(watchers, pool.map(seen, watchers)):
            latencies[region].append(latency)
        previous = size
    world.remembered["region latencies"] = latencies
    world.remembered["before the changes"] = before
    world.remembered["uncached before a change"] = uncached


@then("after every change each region's client saw the new size within {seconds:g} seconds, "
      "answered by its own region's master")
def step_seen_within(context, seconds):
    world = context.world
    late = {r: max(l) for r, l in world.remembered["region latencies"].items()
            if max(l) > seconds}
    assert not late, f"slower than {seconds:g} s: {late}"
    changes = len(next(iter(world.remembered["region latencies"].values())))
    for region, client in world.remembered["watchers"].items():
        asked = {master: _answered_by(client, master) - count for master, count
                 in world.remembered["before the changes"][region].items()}
        assert asked["leader"] == 0, f"the leader answered {asked['leader']:g} reads of {region}"
        assert asked["regional"] >= changes, (
            f"{region}'s master answered {asked['regional']:g} reads in {changes} changes: "
            "the client did not ask it after each change")


@then("between changes each region's client answered from its cache")
def step_cached_between(context):
    uncached = context.world.remembered["uncached before a change"]
    assert not uncached, "\n".join(uncached)


@then("the invalidation latency per region is attached to the report")
def step_attach_region_latency(context):
    world = context.world
    delays = {r.name: r for r in world.cluster.topology.regions}
    first = world.cluster.topology.regions[0]
    lines = ["from the writer's close() in the first region until a region's client first saw "
             "the new size: its region's master applied the change and invalidated the "
             "client's cache, and the client's next lookup asked that master for the "
             "attributes and the leader for the chunk list (one WAN round trip from the "
             "other regions)",
             f"{'region':10s} {'WAN delay ms':>12s} {'median ms':>10s} {'p90 ms':>8s} "
             f"{'max ms':>8s}"]
    for region, latencies in world.remembered["region latencies"].items():
        ordered = sorted(latencies)
        wan = 0.0 if region == first.name else first.delay_to(delays[region]) * 1000
        lines.append(f"{region:10s} {wan:12.0f} {statistics.median(ordered) * 1000:10.1f} "
                     f"{ordered[int(len(ordered) * 0.9) - 1] * 1000:8.1f} "
                     f"{ordered[-1] * 1000:8.1f}")
    attach_text("\n".join(lines), "invalidation latency per region")


def _start_reading(world, region: str, level: str, bound: float) -> None:
    client = _reading(world, region, level, bound)
    within(15, lambda: _size(client, "/") >= 0 and _answered_by(client, "regional"),
           f"the {level} client in {region} to be answered by its region's master")
    world.remembered[level] = client


@given('a client in "{region:Q}" reading with bounded staleness of {seconds:g} seconds')
def step_bounded_client(context, region, seconds):
    _start_reading(context.world, region, "bounded staleness", seconds)


@given('a client in "{region:Q}" reading with {level} consistency')
def step_reading_client(context, region, level):
    _start_reading(context.world, region, f"{level} consistency", 5.0)


@when('a client in "{region:Q}" writes the file "{path:Q}"')
def step_write_file(context, region, path):
    world = context.world
    writer = world.client(name=f"writer in {region}", labels={"region": region})
    world.write(path, world.new_payload(1000), client=writer, process=f"client in {region}")


def _refused(client) -> str:
    """The error of a read (the empty string when it was answered)."""
    try:
        client.stat("/")
    except MooseNGError as error:
        return str(error)
    return ""


@then("within {seconds:g} seconds the bounded-staleness client's reads are refused, naming "
      "the bound of {bound:g} s")
def step_refused_within(context, seconds, bound):
    client = context.world.remembered["bounded staleness"]
    message = within(seconds, lambda: _refused(client), "a read to be refused")
    assert_that(message, contains_string(f"more than the staleness bound of {bound:g} s"))


@then("for {seconds:g} seconds every read of the bounded-staleness client is refused, while "
      "its region's master answers every read of the eventual client without \"{path:Q}\"")
def step_stays_refused(context, seconds, path):
    world = context.world
    bounded, eventual = world.remembered["bounded staleness"], world.remembered[
        "eventual consistency"]
    regional = _answered_by(eventual, "regional")

    def look() -> str:
        refusal = _refused(bounded)
        seen = _size(eventual, path)
        if not refusal:
            return "the bounded-staleness client's read was answered"
        if seen != -1:
            return f"the eventual client saw {path} ({seen} bytes): not its region's master"
        return "refused, stale"

    throughout(seconds, look, "bounded reads refused and eventual reads stale",
               until=lambda state: state == "refused, stale")
    assert _answered_by(eventual, "leader") == 0
    assert _answered_by(eventual, "regional") > regional


@then("within {seconds:g} seconds the bounded-staleness client's region's master shows it "
      "\"{path:Q}\"")
def step_caught_up(context, seconds, path):
    client = context.world.remembered["bounded staleness"]
    before = _answered_by(client, "regional")
    within(seconds, lambda: _size(client, path) == 1000 and _answered_by(
        client, "regional") > before, f"its region's master to show {path}")


@when('that client writes {count:d} files into "{directory:Q}", each through the leader')
def step_write_own(context, count, directory):
    world = context.world
    client = world.remembered["read-your-writes consistency"]
    client.mkdir(directory, parents=True)
    regional = _answered_by(client, "regional")
    seen = {}
    for number in range(count):
        path = f"{directory}/f{number:02d}.bin"
        world.write(path, world.new_payload(1000 + number), client=client)
        seen[path] = (_size(client, path), 1000 + number)
    world.remembered["own writes"] = seen
    world.remembered["regional reads before"] = regional


@then("right after each write, its region's master answered that client's lookup of the file "
      "with its full size")
def step_own_seen(context):
    wrong = {p: s for p, (s, want) in context.world.remembered["own writes"].items()
             if s != want}
    assert not wrong, f"lookups right after the write (-1: not found): {wrong}"


@then("its region's master answered every one of those lookups")
def step_own_regional(context):
    world = context.world
    client = world.remembered["read-your-writes consistency"]
    answered = _answered_by(client, "regional") - world.remembered["regional reads before"]
    assert_that(answered, greater_than_or_equal_to(len(world.remembered["own writes"])))
