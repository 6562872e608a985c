"""The benchmark suite run through the admin CLI, and its stored results."""

import statistics

import support.steptypes  # noqa: F401 - registers {x:QList}
from behave import given, then, when

from support import reporting
from support.steptables import action

RUN_TIMEOUT = 600.0
# the names of the statistics in the feature, and in the stored latency summary
STATISTICS = {"mean": "mean", "standard deviation": "stdev", "min": "min", "max": "max",
              "p50": "p50", "p90": "p90", "p95": "p95", "p99": "p99", "p99.9": "p99_9"}


def _bench_run(world, *args: str) -> dict:
    run = world.cli.json("bench", "run", *args, timeout=RUN_TIMEOUT)
    world.remembered.setdefault("bench runs", []).append(run)
    return run


@when("an administrator runs the quick benchmark suite with {repeat:d} repetitions")
def step_quick_suite(context, repeat):
    _bench_run(context.world, "--suite", "quick", "--repeat", str(repeat))


@when('an administrator runs the {names:QList} workload with {repeat:d} repetitions')
def step_run_workloads(context, names, repeat):
    _bench_run(context.world, *[arg for name in names for arg in ("--workload", name)],
               "--repeat", str(repeat))


@given('an administrator ran the {names:QList} workloads twice, with {repeat:d} repetitions each')
def step_ran_twice(context, names, repeat):
    chosen = [arg for name in names for arg in ("--workload", name)]
    for _ in range(2):
        _bench_run(context.world, *chosen, "--repeat", str(repeat))
    context.world.remembered["bench workloads"] = names


@then("the benchmark leaves nothing behind in the cluster")
def step_nothing_left(context):
    left = [entry.name for entry in context.world.client().listdir("/")]
    assert not [name for name in left if name.startswith(".mooseng-bench")], \
        f"the root of the cluster holds {left}"


@then("the stored runs list that run with the cluster's {count:d} chunk servers and goal {goal:d}")
def step_listed(context, count, goal):
    world = context.world
    run = world.remembered["bench runs"][-1]
    listed = {r["id"]: r for r in world.cli.json("bench", "list")}
    assert list(listed) == [run["id"]], f"bench list shows runs {list(listed)}"
    topology = listed[run["id"]]["topology"]
    assert (topology["chunkservers"], topology["goal"]) == (count, goal), topology
    assert listed[run["id"]]["version"] and listed[run["id"]]["git_commit"]


@then("the stored run shows every workload of the suite with its throughput per repetition and "
      "the latency statistics:")
def step_shown(context):
    world = context.world
    run = world.remembered["bench runs"][-1]
    shown = world.cli.json("bench", "show", str(run["id"]))
    wanted = [action(STATISTICS, row["statistic"], "latency statistic") for row in context.table]
    suite = {"seq_write", "seq_read", "random_read", "small_files", "metadata", "mixed"}
    assert set(shown["results"]) == suite, f"workloads shown: {sorted(shown['results'])}"
    for name, result in shown["results"].items():
        assert len(result["throughputs"]) == run["repeat"] and min(result["throughputs"]) > 0, \
            f"{name}: throughputs {result['throughputs']}"
        missing = [k for k in wanted if not isinstance(result["latency"].get(k), float)]
        assert not missing, f"{name}: no {missing} in {result['latency']}"
        latency = result["latency"]
        assert latency["min"] <= latency["p50"] <= latency["p99"] <= latency["max"], latency


@when("the administrator compares the two runs")
def step_compare(context):
    world = context.world
    first, second = world.remembered["bench runs"][-2:]
    world.remembered["comparison"] = world.cli.json("bench", "compare", str(first["id"]),
                                                    str(second["id"]))
    world.remembered["comparison text"] = world.cli.run("bench", "compare", str(first["id"]),
                                                        str(second["id"])).stdout


@then("each of {names:QList} is named with its change in percent, the significance and a "
      "verdict")
def step_compared(context, names):
    world = context.world
    rows = {row["workload"]: row for row in world.remembered["comparison"]["workloads"]}
    assert sorted(rows) == sorted(names), f"compared workloads: {sorted(rows)}"
    first, second = world.remembered["bench runs"][-2:]
    for name, row in rows.items():
        before = first["results"][name]["throughputs"]
        after = second["results"][name]["throughputs"]
        assert row["verdict"] in ("faster", "slower", "unchanged"), row
        assert 0.0 <= row["p_value"] <= 1.0, row
        expected = (statistics.median(after) - statistics.median(before)) \
            / statistics.median(before) * 100
        assert abs(row["percent"] - expected) < 1e-6, (row, before, after)
        line = next((ln for ln in world.remembered["comparison text"].splitlines()
                     if ln.startswith(name)), "")
        assert f"{row['percent']:+.1f}%" in line and row["verdict"] in line, line


@given("a benchmark baseline of the {names:QList} workloads with {repeat:d} repetitions")
def step_baseline(context, names, repeat):
    world = context.world
    chosen = [arg for name in names for arg in ("--workload", name)]
    world.remembered["bench args"] = [*chosen, "--repeat", str(repeat)]
    run = _bench_run(world, *world.remembered["bench args"])
    set_baseline = world.cli.run("bench", "baseline", "set", str(run["id"]))
    assert set_baseline.exit_code == 0, str(set_baseline)


@when("the same benchmark runs again")
def step_run_again(context):
    _bench_run(context.world, *context.world.remembered["bench args"])


@when("every chunk server is limited to a tenth of a CPU")
def step_limit_cpu(context):
    world = context.world
    for node in world.cluster.chunkservers:
        world.history.fault(f"limit {node.name} to 0.1 CPU")
        node.limit_cpu(0.1)


@then("the benchmark check fails naming {names:QList} as regressed")
def step_check_fails(context, names):
    result = context.world.cli.run("bench", "check")
    reporting.attach_text(str(result), "mooseng bench check")
    assert result.exit_code == 1, f"bench check did not fail:\n{result}"
    for name in names:
        assert f"REGRESSION {name}:" in result.stdout, f"{name} not named:\n{result}"
