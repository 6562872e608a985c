"""The client's metadata cache against the master's counters: hits and misses, pushed
invalidation and its latency, eviction, and a client cut off from its master."""

import statistics
import time
from concurrent.futures import ThreadPoolExecutor

import support.steptypes  # noqa: F401 - registers {x:Q}
from behave import given, then, when
from hamcrest import assert_that, equal_to, greater_than, less_than_or_equal_to

from mooseng.client.cache import CacheSettings

from support import endpoints, metrics
from support.reporting import attach_text
from support.waiting import throughout, within

GETATTR = ("mooseng_master_metadata_operations_total", "GetAttr")
FILES = "/files"


def _second(context):
    return context.world.remembered["second client"]


def _master_getattrs(world) -> float:
    text = endpoints.metrics_text(world.master.http_address)
    return metrics.value(text, GETATTR[0], operation=GETATTR[1]) or 0.0


def _files(world) -> list[str]:
    return sorted(entry.path for entry in world.client().listdir(FILES))


def _start(context, settings: CacheSettings, live: bool = True):
    world = context.world
    client = world.client(name="second", cache=settings, timeout=2.0)
    if live:
        within(10, lambda: client.cache_stats()["live"],
               "the second client's cache to hear from the master")
    world.remembered["second client"] = client
    world.remembered["master lookups before"] = _master_getattrs(world)
    return client


@given("a second client with the metadata cache on")
def step_cache_on(context):
    _start(context, CacheSettings())


@given("a second client with the metadata cache off")
def step_cache_off(context):
    _start(context, CacheSettings.off(), live=False)


@given("a second client whose metadata cache holds at most {entries:d} entries")
def step_cache_bounded(context, entries):
    _start(context, CacheSettings(entries=entries))


@given("the second client looks up each of the {count:d} files {times:d} times")
@when("the second client looks up each of the {count:d} files {times:d} times")
def step_look_up(context, count, times):
    client, paths = _second(context), _files(context.world)
    assert len(paths) == count, f"{len(paths)} files in {FILES}, the scenario names {count}"
    for _ in range(times):
        for path in paths:
            client.stat(path)


@then("the second client's cache counts {misses:d} misses and {hits:d} hits for attributes")
def step_counts(context, misses, hits):
    attr = _second(context).cache_stats()["kinds"]["attr"]
    assert_that((attr["misses"], attr["hits"]), equal_to((misses, hits)),
                f"(misses, hits) of attribute lookups: {attr}")


@then("the master answered exactly as many attribute lookups as the second client missed")
def step_master_agrees(context):
    _master_agrees(context.world, [_second(context)])


def _master_agrees(world, clients) -> None:
    missed = sum(c.cache_stats()["kinds"][kind]["misses"] for c in clients
                 for kind in ("attr", "negative"))
    answered = _master_getattrs(world) - world.remembered["master lookups before"]
    assert_that(answered, equal_to(missed),
                f"GetAttr requests the master counted since the {len(clients)} client(s) "
                "started, against their attribute and negative misses together")


@given("{count:d} clients with the metadata cache on")
def step_clients_on(context, count):
    world = context.world
    clients = [world.client(name=f"cached-{n}", cache=CacheSettings(), timeout=2.0)
               for n in range(count)]
    within(10, lambda: all(c.cache_stats()["live"] for c in clients),
           f"the caches of {count} clients to hear from the master")
    world.remembered["cached clients"] = clients
    world.remembered["master lookups before"] = _master_getattrs(world)


@when("each of them looks up each of the {count:d} files {times:d} times, all at the same time")
def step_all_look_up(context, count, times):
    paths = _files(context.world)
    assert len(paths) == count, f"{len(paths)} files in {FILES}, the scenario names {count}"

    def look_up(client):
        for _ in range(times):
            for path in paths:
                client.stat(path)

    with ThreadPoolExecutor(len(context.world.remembered["cached clients"])) as pool:
        list(pool.map(look_up, context.world.remembered["cached clients"]))


@then("each client's cache counts {misses:d} misses and {hits:d} hits for attributes")
def step_each_counts(context, misses, hits):
    counted = [(c.cache_stats()["kinds"]["attr"]["misses"],
                c.cache_stats()["kinds"]["attr"]["hits"])
               for c in context.world.remembered["cached clients"]]
    assert_that(counted, equal_to([(misses, hits)] * len(counted)),
                "(misses, hits) of attribute lookups of each client")


@then("the master answered exactly as many attribute lookups as the clients missed together")
def step_master_agrees_all(context):
    _master_agrees(context.world, context.world.remembered["cached clients"])


@when('a client changes the size of "{path:Q}" {times:d} times while the second client '
      'watches it')
def step_change_and_watch(context, path, times):
    world, second = context.world, _second(context)
    writer = world.client()
    second.stat(path)
    latencies, stale_hits = [], []
    def answered_from_cache() -> bool:
        hits = second.cache_stats()["kinds"]["attr"]["hits"]
        second.stat(path)
        return second.cache_stats()["kinds"]["attr"]["hits"] == hits + 1

    for number in range(times):
        size = 100 + number
        # The last change's event may come just after the lookup that saw it: then the
        # next lookup asks again, and the one after is a hit.
        try:
            within(1.0, answered_from_cache, "a lookup answered from the cache",
                   interval=0.001)
        except AssertionError as error:
            stale_hits.append(f"change {number}: {error}")
        assert second.stat(path).size != size
        with writer.open(path, "wb") as handle:
            handle.write(b"x" * size)
        written = time.perf_counter()
        within(1.0, lambda: second.stat(path).size, f"the second client to see {size} bytes",
               until=lambda seen, size=size: seen == size, interval=0.001)
        latencies.append(time.perf_counter() - written)
    world.remembered["invalidation latencies"] = latencies
    world.remembered["lookups that missed before a change"] = stale_hits


@then("after every change the second client saw the new size within {seconds:g} second")
def step_latency_bound(context, seconds):
    latencies = context.world.remembered["invalidation latencies"]
    assert_that(max(latencies), less_than_or_equal_to(seconds))


@then("before every change the second client answered from its cache")
def step_cached_before(context):
    missed = context.world.remembered["lookups that missed before a change"]
    assert not missed, "\n".join(missed)


@then("the invalidation latency is attached to the report")
def step_attach_latency(context):
    latencies = sorted(context.world.remembered["invalidation latencies"])
    text = (f"changes: {len(latencies)}\n"
            f"median: {statistics.median(latencies) * 1000:.1f} ms\n"
            f"p90: {latencies[int(len(latencies) * 0.9) - 1] * 1000:.1f} ms\n"
            f"max: {latencies[-1] * 1000:.1f} ms\n"
            "each: time from the writer's close() to the watcher's first lookup showing the new "
            "size (the watcher's attribute TTL is 10 s)\n")
    attach_text(text, "invalidation latency")


@when("the second client looks up {hot:d} of the files again and again between lookups of "
      "all {count:d}")
def step_hot_and_cold(context, hot, count):
    client, paths = _second(context), _files(context.world)
    assert len(paths) == count
    hot_paths = paths[:hot]
    for cold in paths[hot:] * 2:
        for path in hot_paths:
            client.stat(path)
        client.stat(cold)
    context.world.remembered["hot files"] = hot_paths


@then("the second client's cache holds at most {entries:d} entries and counts evictions")
def step_bounded(context, entries):
    stats = _second(context).cache_stats()
    assert_that(stats["entries"], less_than_or_equal_to(entries), str(stats))
    assert_that(stats["evictions"], greater_than(0), str(stats))


@then("the {hot:d} files looked up again and again are still answered from its cache")
def step_hot_kept(context, hot):
    world, client = context.world, _second(context)
    hits = client.cache_stats()["kinds"]["attr"]["hits"]
    lookups = _master_getattrs(world)
    for path in world.remembered["hot files"]:
        client.stat(path)
    assert_that(client.cache_stats()["kinds"]["attr"]["hits"] - hits, equal_to(hot))
    assert_that(_master_getattrs(world) - lookups, equal_to(0.0),
                "GetAttr requests the master counted for the hot files")


@when("the master is paused")
def step_pause_master(context):
    context.world.master.pause()        # the cluster's teardown resumes or removes it


@when("the master is resumed")
def step_resume_master(context):
    context.world.master.resume()


@then("within {seconds:g} seconds the second client's cache holds nothing")
def step_cache_empty(context, seconds):
    client = _second(context)
    within(seconds, client.cache_stats, "the second client's cache to be dropped",
           until=lambda stats: not stats["live"] and stats["entries"] == 0)


@then("for {seconds:g} seconds no lookup of the second client is answered from its cache")
def step_never_served(context, seconds):
    client = _second(context)
    path = f"{FILES}/file-1.bin"      # cached before the pause
    hits = client.cache_stats()["kinds"]

    def probe():
        try:
            client.stat(path)
        except Exception:  # noqa: BLE001 - the paused master does not answer: expected
            pass
        return client.cache_stats()["kinds"]

    throughout(seconds, probe, "no cache hit while the master cannot be heard",
               until=lambda kinds: all(kinds[k]["hits"] == hits[k]["hits"] for k in kinds))


@then("the second client's cache is live again within {seconds:g} seconds")
def step_live_again(context, seconds):
    client = _second(context)
    within(seconds, lambda: client.cache_stats()["live"],
           "the second client to hear from the master again")
