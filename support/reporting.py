"""Allure reporting: labels per scenario, run-wide files, and what is attached on failure."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import allure
import allure_commons
from allure_commons.model2 import Label
from allure_commons.types import AttachmentType, LabelType
from allure_commons.utils import md5

AREAS = {
    "infrastructure": "Core infrastructure",
    "performance": "Performance and caching",
    "cli": "CLI and benchmarking",
    "system": "End-to-end system",
}

# Regexes are written to work in Allure 2 (Java, whole-message match) and Allure 3 (JavaScript).
CATEGORIES = [
    {"name": "Environment problem",
     "description": "The machine or backend could not run the scenario (no engine, no port, "
                    "no disk, a tool missing): not a verdict on MooseNG.",
     "matchedStatuses": ["broken", "failed"],
     "messageRegex": r"[\s\S]*(BackendUnavailable|backend docker was asked|No space left|"
                     r"Address already in use|cannot find the `mooseng|DockerException|"
                     r"docker\.errors|Permission denied)[\s\S]*"},
    {"name": "Product defect",
     "description": "MooseNG did not behave as the scenario states.",
     "matchedStatuses": ["failed"]},
    {"name": "Product defect (unexpected error)",
     "description": "MooseNG answered with an error where the scenario expected success.",
     "matchedStatuses": ["broken"],
     "messageRegex": r"[\s\S]*(NotFound|AlreadyExists|InvalidArgument|FailedPrecondition|"
                     r"ResourceExhausted|Unavailable|DataLoss|DeadlineExceeded|MooseNGError|"
                     r"MasterUnreachable|RpcError|StatusCode\.)[\s\S]*"},
    {"name": "Test defect",
     "description": "The suite itself raised an error (a bug in steps or support code).",
     "matchedStatuses": ["broken"]},
]


def area_of(filename: str) -> str:
    parts = Path(filename).parts
    if "features" in parts and len(parts) > parts.index("features") + 2:
        folder = parts[parts.index("features") + 1]
        return AREAS.get(folder, folder.capitalize())
    return "Other"


def stable_id(tags) -> str | None:
    for tag in tags:
        if tag.startswith("id."):
            return tag[3:]
    return None


def _current_allure_test():
    """The test result allure-behave is building for the running scenario (None without it)."""
    for plugin in allure_commons.plugin_manager.get_plugins():
        logger = getattr(plugin, "logger", None)
        if logger is not None and hasattr(plugin, "current_scenario_uuid"):
            return logger.get_test(plugin.current_scenario_uuid)
    return None


def label_scenario(scenario) -> None:
    """Epic from the feature's folder; history and test-case ids from the stable @id tag.

    allure-behave has no dynamic labels, so the running test result is changed directly."""
    test = _current_allure_test()
    if test is None:
        return
    test.labels.append(Label(name=LabelType.EPIC, value=area_of(scenario.feature.filename)))
    sid = stable_id(scenario.effective_tags)
    if sid:
        row = getattr(scenario, "_row", None)
        params = [f"{h}={v}" for h, v in zip(row.headings, row.cells)] if row else []
        test.historyId = md5(sid, *params)
        test.testCaseId = md5(sid)


def note_skip(reason: str) -> None:
    """Show why a scenario was skipped, in the report (as its description) and on the console."""
    test = _current_allure_test()
    if test is not None:
        test.description = f"Skipped: {reason}"
    print(f"  skipped: {reason}", flush=True)


def write_run_files(results: Path, properties: dict[str, str]) -> None:
    """Empty the results of an earlier run, then write environment.properties and
    categories.json for the Allure report of this one."""
    if results.is_dir():
        for old in results.iterdir():
            if old.is_file():
                old.unlink()
    results.mkdir(parents=True, exist_ok=True)
    lines = [f"{key}={str(value).replace(chr(10), ' ')}" for key, value in properties.items()]
    (results / "environment.properties").write_text("\n".join(lines) + "\n")
    (results / "categories.json").write_text(json.dumps(CATEGORIES, indent=2) + "\n")


def git_commit() -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                             text=True, timeout=5, cwd=os.path.dirname(__file__))
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=5,
                               cwd=os.path.dirname(__file__)).stdout.strip()
        return out.stdout.strip() + ("+local changes" if dirty else "") or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def attach_text(body: str, name: str, kind=AttachmentType.TEXT) -> None:
    """Attach to the running step in the Allure report (figures a scenario measured)."""
    allure.attach(body, name=name, attachment_type=kind)


def attach_failure(world) -> list[str]:
    """Attach what a person needs to see the cause; returns the names attached."""
    attached = []

    def add(name, produce, kind=AttachmentType.TEXT):
        try:
            body = produce()
        except Exception as error:  # noqa: BLE001 - a broken cluster is a reason to attach more
            body = f"(could not collect: {type(error).__name__}: {error})"
        if body:
            attach_text(body, name, kind)
            attached.append(name)

    if world is None:
        return attached
    cluster = world.cluster
    if cluster is not None:
        for node in cluster.nodes:
            add(f"log tail: {node.name}", lambda node=node: node.logs(tail=200))
        add("cluster status (mooseng status --json)",
            lambda: str(world.cli.run("status", "--json", timeout=10)))
        for node in cluster.nodes:
            add(f"metrics: {node.name}", lambda node=node: _metrics(node))
    if world.browser is not None:
        if cluster is not None:
            add("log tail: dashboard", lambda: cluster.dashboard_log(tail=200))
        attach_screenshot(world, "the dashboard when the step failed")
        attached.append("the dashboard when the step failed")
    if world.cli is not None and world.cli.last is not None:
        add("last CLI command", lambda: str(world.cli.last))
    if world.history.ops or world.history.faults:
        add("operation history", lambda: world.history.render(last=400))
    return attached


def attach_screenshot(world, name: str = "the dashboard at the end") -> None:
    """What the browser showed (dashboard scenarios attach it whether they pass or fail)."""
    if world is None or world.browser is None:
        return
    try:
        allure.attach(world.browser.screenshot(), name=name, attachment_type=AttachmentType.PNG)
    except Exception as error:  # noqa: BLE001 - a dead browser is worth a line, not a failure
        attach_text(f"(no screenshot: {type(error).__name__}: {error})", name)


def _metrics(node) -> str:
    from support import endpoints

    if not node.is_running():
        return "(node not running)"
    return endpoints.metrics_text(node.http_address)


class FeatureTimes:
    """Time per feature, printed at the end of the run."""

    def __init__(self):
        self.rows: list[tuple[str, str, float]] = []

    def add(self, feature) -> None:
        self.rows.append((feature.filename, feature.status.name, feature.duration))

    def render(self, total: float) -> str:
        width = max((len(f) for f, _, _ in self.rows), default=10)
        lines = ["", "Time per feature:"]
        lines += [f"  {name:<{width}}  {status:<8} {seconds:7.1f} s"
                  for name, status, seconds in self.rows]
        lines.append(f"  {'total (whole run)':<{width}}  {'':8} {total:7.1f} s")
        return "\n".join(lines)
