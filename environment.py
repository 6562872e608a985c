"""behave hooks: wire the run to support/ (options, backend, worlds, reports). No logic here."""

from __future__ import annotations

import atexit
import signal
import sys
import time
from pathlib import Path

from support import backends, browser, data, prometheus, reporting, waiting
from support.options import Options
from support.world import World

CAPABILITY_TAG = "needs."
# needs.<tool>: programs on this machine rather than capabilities of the backend
TOOLS = {"prometheus": prometheus.unavailable, "browser": browser.unavailable}


def before_all(context):
    context.options = Options.from_userdata(context.config.userdata)
    waiting.set_scale(context.options.timeout_scale)
    data.set_scale(context.options.data_scale)
    context.driver, line = backends.choose(context.options.backend)
    print(line, flush=True)
    context.driver.sweep()
    atexit.register(_last_resort_teardown, context.driver)
    signal.signal(signal.SIGTERM, _interrupt)
    versions = context.driver.versions()
    reporting.write_run_files(_allure_results(context.config), {
        **{f"backend.{k}" if k != "backend" else k: v for k, v in versions.items()},
        "commit": reporting.git_commit(),
        "timeout_scale": context.options.timeout_scale,
        "data_scale": context.options.data_scale,
        "tags": " ".join(str(t) for t in context.config.tag_expression.tag_expressions)
        if hasattr(context.config.tag_expression, "tag_expressions")
        else str(context.config.tag_expression),
    })
    context.feature_times = reporting.FeatureTimes()
    context.run_started = time.monotonic()


def _allure_results(config) -> Path:
    """Where the Allure formatter writes (its outfile), so the run files land beside them."""
    for name, output in zip(config.format or [], config.outputs or []):
        if "allure" in name.lower() and getattr(output, "name", None):
            return Path(output.name)
    return Path("reports/allure-results")


def _interrupt(signum, frame):
    raise KeyboardInterrupt(f"signal {signum}")


def _last_resort_teardown(driver):
    teardown = getattr(driver, "teardown_all", None)
    if teardown:
        teardown()


def before_scenario(context, scenario):
    reporting.label_scenario(scenario)
    needs = [tag[len(CAPABILITY_TAG):] for tag in scenario.effective_tags
             if tag.startswith(CAPABILITY_TAG)]
    missing = [need for need in needs
               if need not in TOOLS and need not in context.driver.capabilities]
    reason = None
    if missing:
        reason = backends.missing_reason(context.driver, missing)
    else:
        reason = next(filter(None, (TOOLS[need]() for need in needs if need in TOOLS)), None)
    if reason:
        reporting.note_skip(reason)
        scenario.skip(reason)
        return
    context.world = World(context.driver, scenario.name, context.add_cleanup)
    context.add_cleanup(context.world.close)


def after_step(context, step):
    if step.status.has_failed():
        reporting.attach_failure(getattr(context, "world", None))


def after_scenario(context, scenario):
    world = getattr(context, "world", None)
    reporting.attach_screenshot(world)
    cluster = getattr(world, "cluster", None)
    preserve = context.options.preserve
    if cluster is not None and (preserve == "always"
                                or (preserve == "failed" and scenario.status.has_failed())):
        cluster.keep_files = True
        where = getattr(cluster, "workdir", None)
        print(f"\n  preserve={preserve}: the cluster's files and logs stay in {where}\n",
              flush=True)


def after_feature(context, feature):
    context.feature_times.add(feature)


def after_all(context):
    driver = getattr(context, "driver", None)
    if driver is None:
        return
    teardown = getattr(driver, "teardown_all", None)
    leftovers = driver.leftovers()
    if teardown:
        teardown()
    else:
        driver.sweep()
    print(context.feature_times.render(time.monotonic() - context.run_started), flush=True)
    if leftovers:
        message = ("PROCESSES LEFT BEHIND by this run (killed now; this fails the run):\n  "
                   + "\n  ".join(leftovers))
        print(message, file=sys.stderr, flush=True)
        raise AssertionError(message)
