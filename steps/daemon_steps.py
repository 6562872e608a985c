"""Daemons an operator starts by hand: with settings of their own, or on a running master's data.

The daemon runs in the foreground until it exits (for at most RUN_LIMIT seconds, scaled); the
Then step says how soon it had to stop and how."""

import re
import time

import support.steptypes  # noqa: F401 - registers {x:Q}, {x:Daemon}
from behave import then, when
from hamcrest import assert_that, equal_to

from support.drivers.base import Setting
from support.waiting import scaled

RUN_LIMIT = 30.0
PLACEMENT = r'"([^"]*)" (?:in|on) its (command line|environment|configuration file)'


def _placements(key: str, text: str) -> list[Setting]:
    """'"a" in its configuration file and "b" in its environment' -> one Setting per place."""
    if not re.fullmatch(rf"{PLACEMENT}(?:(?:, |,? and )(?:to )?{PLACEMENT})*", text):
        raise NotImplementedError(f"cannot read the places of a setting in {text!r}: write "
                                  f'"VALUE" in its configuration file, "VALUE" in its '
                                  f'environment and "VALUE" on its command line')
    return [Setting(key, value, place) for value, place in re.findall(PLACEMENT, text)]


def _run(context, start) -> None:
    began = time.monotonic()
    run = start(scaled(RUN_LIMIT))
    context.world.remembered["daemon run"] = (run, time.monotonic() - began)


@when('a {role:Daemon} is started with the setting "{key:Q}" set to {places}')
def step_start_with_setting(context, role, key, places):
    settings = _placements(key, places)
    _run(context, lambda limit: context.world.cluster.run_daemon(role, settings, limit))


@when("a second master is started on the data of the running master")
def step_second_master(context):
    _run(context, context.world.master.run_beside)


@then('it stops within {seconds:g} seconds with exit code {code:d} and one error line naming '
      '"{text:Q}"')
def step_stops_naming(context, seconds, code, text):
    run, took = context.world.remembered["daemon run"]
    assert run.exit_code is not None, f"the daemon was still running after {took:.1f} s:\n{run}"
    assert_that(run.exit_code, equal_to(code), f"exit code of the daemon:\n{run}")
    assert took <= scaled(seconds), f"the daemon took {took:.1f} s to stop:\n{run}"
    lines = [line for line in run.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and ": error: " in lines[0] and text in lines[0], \
        f"expected one line '<daemon>: error: ...' naming {text!r}:\n{run}"
    assert "Traceback" not in run.stderr, f"a traceback was printed:\n{run}"
