"""The dashboard, looked at in a real browser (support/browser.py) as an operator would."""

import requests
from behave import given, then

import support.steptypes  # noqa: F401 - registers {x:QList}
from mooseng.bench import stats
from support.waiting import within

SHOWN = 10.0        # seconds for a page to show what the cluster already is

# What the page shows, read from its DOM (the same elements an operator looks at).
SERVERS_JS = """() => [...document.querySelectorAll('#chunkservers tbody tr')].map(
    row => ({id: row.dataset.serverId, state: row.dataset.state}))"""
CHECKS_JS = """() => Object.fromEntries([...document.querySelectorAll('#checks tbody tr')].map(
    row => [row.dataset.check, row.querySelector('[data-status]').dataset.status]))"""
MASTER_JS = """() => {const m = document.getElementById('master-state');
    return {reachable: m.dataset.reachable, text: m.textContent}}"""


def _page(context):
    return context.world.browser.page


def _servers(context) -> dict[str, str]:
    return {row["id"]: row["state"] for row in _page(context).evaluate(SERVERS_JS)}


def _not_reloaded(context) -> None:
    assert not context.world.browser.reloaded(), \
        "the page was loaded again: what it shows did not come from live updates"


@given("the dashboard of the cluster is open in a browser")
def step_dashboard_open(context):
    world = context.world
    url = world.cluster.dashboard()
    world.remembered["dashboard"] = url
    world.open_browser().open(url)
    within(SHOWN, lambda: _page(context).evaluate(MASTER_JS),
           "the dashboard to show the master answering",
           until=lambda master: master["reachable"] == "true")
    # A rate is a change between two readings: until every chunk server's counters were read
    # once, what a client writes now could be in the first reading and never show as a rate.
    within(SHOWN, lambda: requests.get(url + "api/cluster", timeout=2).json(),
           "the dashboard to have read every chunk server's metrics",
           until=lambda cluster: len(cluster.get("chunkservers", [])) == len(
               world.cluster.chunkservers) and all(
               s["metrics_reachable"] for s in cluster["chunkservers"]))


@then("the dashboard shows {count:d} chunk servers, each online")
def step_servers_online(context, count):
    world = context.world
    expected = {world.server_id(node): "online" for node in world.cluster.chunkservers}
    assert len(expected) == count, f"the cluster has {len(expected)} chunk servers"
    within(SHOWN, lambda: _servers(context), f"the dashboard to show {expected}",
           until=lambda shown: shown == expected)


@then("the dashboard shows the cluster healthy with the checks {names:QList}")
def step_healthy_checks(context, names):
    page = _page(context)
    within(SHOWN, lambda: page.locator("#health").get_attribute("data-health"),
           "the dashboard to show the cluster healthy", until=lambda health: health == "healthy")
    checks = page.evaluate(CHECKS_JS)
    missing = [name for name in names if checks.get(name) != "healthy"]
    assert not missing, f"checks not shown healthy: {missing}; the page shows {checks}"


@then("the page loaded nothing from outside the dashboard")
def step_nothing_outside(context):
    url = context.world.remembered["dashboard"]
    requested = context.world.browser.requested
    outside = [r for r in requested if not r.startswith(url)]
    assert requested and not outside, f"the page asked for {outside} (and {len(requested)} " \
                                      "requests in all)"


@then('within {seconds:g} seconds the dashboard shows chunk server "{name:Q}" offline, '
      'without a reload')
def step_server_offline(context, seconds, name):
    server_id = context.world.server_id(context.world.node(name))
    within(seconds, lambda: _servers(context).get(server_id),
           f"the dashboard to show {name} ({server_id}) offline",
           until=lambda state: state == "offline")
    _not_reloaded(context)


@then('the dashboard shows the "{name:Q}" check degraded')
def step_check_degraded(context, name):
    within(SHOWN, lambda: _page(context).evaluate(CHECKS_JS).get(name),
           f"the dashboard to show the {name} check degraded",
           until=lambda status: status == "degraded")


@then("within {seconds:g} seconds the dashboard shows write throughput above zero, "
      "without a reload")
def step_write_throughput(context, seconds):
    chart = _page(context).locator("#throughput")
    within(seconds, lambda: float(chart.get_attribute("data-peak-write") or 0),
           "the dashboard's live chart to show written MB/s", until=lambda peak: peak > 0)
    _not_reloaded(context)


@then('within {seconds:g} seconds the dashboard lists that run with the median of "{name:Q}", '
      'without a reload')
def step_run_listed(context, seconds, name):
    run = context.world.remembered["bench runs"][-1]
    result = run["results"][name]
    shown = f"{name} {stats.median(result['throughputs']):.1f} {result['unit']}"
    row = _page(context).locator(f"#runs tr[data-run-id='{run['id']}']")
    within(seconds, lambda: row.inner_text(timeout=500), f"the dashboard to list run "
           f"{run['id']} with {shown!r}", until=lambda text: shown in text)
    _not_reloaded(context)


@then('the dashboard\'s trend of "{name:Q}" has a point for that run')
def step_trend_point(context, name):
    run = context.world.remembered["bench runs"][-1]
    page = _page(context)
    page.select_option("#trend-workload", name)
    within(SHOWN, lambda: page.locator("#trend").get_attribute("data-runs"),
           f"the trend chart of {name} to plot run {run['id']}",
           until=lambda runs: str(run["id"]) in (runs or "").split(","))
    points = page.locator("#trend circle").count()
    assert points == 1, f"the trend chart of {name} shows {points} points for 1 stored run"


@then("within {seconds:g} seconds the dashboard says the master is unreachable, without a reload")
def step_master_unreachable(context, seconds):
    within(seconds, lambda: _page(context).evaluate(MASTER_JS),
           "the dashboard to say the master is unreachable",
           until=lambda m: m["reachable"] == "false" and "master unreachable" in m["text"])
    _not_reloaded(context)


@then("within {seconds:g} seconds the dashboard shows the master answering and {count:d} chunk "
      "servers online, without a reload")
def step_master_back(context, seconds, count):
    within(seconds, lambda: (_page(context).evaluate(MASTER_JS)["reachable"],
                             sorted(_servers(context).values())),
           f"the dashboard to show the master answering and {count} chunk servers online",
           until=lambda seen: seen == ("true", ["online"] * count))
    _not_reloaded(context)
