"""The mutation campaign: cosmic-ray over MooseNG, with pytest and the acceptance suite as judges.

Usage (from the repository root, through make):
  scripts/mutation.py run [GROUP ...]    a fresh sampled campaign (mutation/campaign.toml)
  scripts/mutation.py survivors          run the last campaign's survivors again (after new
                                         scenarios or assertions), then write the report again
  scripts/mutation.py report             write the report from the stored sessions

Mutants run in a copy of the working tree with its own virtualenv (an editable install of the
checkout would otherwise be imported by every daemon instead of the mutated copy). Sessions are
kept in .cache/mutation/; the report goes to reports/mutation/ (report.md, report.json).
"""
from __future__ import annotations

import json
import random
import shlex
import shutil
import sqlite3
import subprocess
import sys
import threading
import time
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / ".cache" / "mutation"
WORK = CACHE / "work"
VENV = CACHE / "venv"
REPORTS = ROOT / "reports" / "mutation"
CAMPAIGN = ROOT / "mutation" / "campaign.toml"
EQUIVALENT = ROOT / "mutation" / "equivalent.toml"


def main(argv: list[str]) -> int:
    command, groups = (argv[0], argv[1:]) if argv else ("run", [])
    campaign = tomllib.loads(CAMPAIGN.read_text())
    unknown = sorted(set(groups) - set(campaign["groups"]))
    if command not in ("run", "survivors", "report") or unknown:
        print(f"mutation: unknown {'group ' + ', '.join(unknown) if unknown else 'command ' + command}"
              f"; commands: run [GROUP ...], survivors, report; groups: "
              f"{', '.join(campaign['groups'])}", file=sys.stderr)
        return 2
    if command != "report":
        prepare_work_copy()
    names = groups or list(campaign["groups"])
    started = time.monotonic()
    for name in names:
        if command == "run":
            run_group(campaign, name)
        elif command == "survivors":
            rerun_survivors(campaign, name)
    write_report(campaign)
    if command != "report":
        print(f"mutation: {command} took {(time.monotonic() - started) / 60:.0f} min")
    return 0


def prepare_work_copy() -> None:
    """A fresh copy of the tracked and new files, and a venv that imports MooseNG from it."""
    listed = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=ROOT,
                            check=True, capture_output=True).stdout.decode().split("\0")
    shutil.rmtree(WORK, ignore_errors=True)
    for name in filter(None, listed):
        source = ROOT / name
        if source.is_file():
            target = WORK / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    stamp = VENV / ".installed"
    inputs = [ROOT / "requirements.txt", ROOT / "requirements-mutation.txt", ROOT / "pyproject.toml"]
    if not stamp.exists() or any(p.stat().st_mtime > stamp.stat().st_mtime for p in inputs):
        print("mutation: preparing the campaign's virtualenv", flush=True)
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(VENV)], check=True)
        pip = [str(VENV / "bin" / "pip"), "install", "--quiet", "--disable-pip-version-check"]
        subprocess.run([*pip, "-r", str(ROOT / "requirements.txt"),
                        "-r", str(ROOT / "requirements-mutation.txt")], check=True)
        stamp.touch()
    subprocess.run([str(VENV / "bin" / "pip"), "install", "--quiet", "--disable-pip-version-check",
                    "--no-deps", "-e", str(WORK)], check=True)


def judge_command(group: dict) -> str:
    """pytest first (fast kills), then the group's features on the local backend.

    cosmic-ray runs the command without a shell (and without writing bytecode), hence bash -c.
    """
    bin_ = VENV / "bin"
    tests = " ".join(shlex.quote(p) for p in group["tests"])
    features = " ".join(shlex.quote(p) for p in group["features"])
    script = (f"{bin_}/pytest -x -q -p no:cacheprovider {tests} && {bin_}/behave "
              f"-D backend=local --stop -f progress -o /dev/null {features}")
    return f"bash -c {shlex.quote(script)}"


def session_paths(name: str) -> tuple[Path, Path]:
    return CACHE / f"{name}.toml", CACHE / f"{name}.sqlite"


def run_group(campaign: dict, name: str) -> None:
    group = campaign["groups"][name]
    config, session = session_paths(name)
    command = judge_command(group)
    print(f"mutation: {name}: checking that the judges pass on unmutated code", flush=True)
    started = time.monotonic()
    baseline = subprocess.run(shlex.split(command), cwd=WORK, capture_output=True, text=True)
    took = time.monotonic() - started
    if baseline.returncode != 0:
        sys.exit(f"mutation: {name}: the judges fail without any mutation, so no mutant can be "
                 f"judged; fix the suite first. Last output:\n{baseline.stdout[-3000:]}"
                 f"{baseline.stderr[-2000:]}")
    timeout = max(60.0, took * campaign["timeout_factor"])
    write_config(config, group, timeout)
    session.unlink(missing_ok=True)
    cosmic_ray("init", str(config), str(session))
    chosen = select(session, campaign, group["sample"])
    print(f"mutation: {name}: {chosen} mutants (judges {took:.0f} s unmutated, "
          f"timeout {timeout:.0f} s)", flush=True)
    execute(name, config, session)


def write_config(config: Path, group: dict, timeout: float) -> None:
    config.write_text("\n".join([
        "[cosmic-ray]",
        f"module-path = {json.dumps(group['modules'])}",
        f"timeout = {timeout:.0f}",
        "excluded-modules = []",
        f"test-command = {json.dumps(judge_command(group))}",
        "[cosmic-ray.distributor]",
        'name = "local"', ""]))


def select(session: Path, campaign: dict, sample: int) -> int:
    """Mark every mutation outside the campaign's operators or its sample as skipped."""
    with sqlite3.connect(session) as db:
        rows = db.execute("SELECT job_id, module_path, operator_name, occurrence "
                          "FROM mutation_specs ORDER BY module_path, operator_name, occurrence"
                          ).fetchall()
        eligible = [r[0] for r in rows if r[2] in campaign["operators"]]
        chosen = set(random.Random(campaign["seed"]).sample(eligible, min(sample, len(eligible))))
        db.executemany("INSERT INTO work_results (worker_outcome, output, job_id) "
                       "VALUES ('SKIPPED', ?, ?)",
                       [("not in this campaign's sample", r[0]) for r in rows
                        if r[0] not in chosen])
    return len(chosen)


def rerun_survivors(campaign: dict, name: str) -> None:
    config, session = session_paths(name)
    if not session.exists():
        print(f"mutation: {name}: no stored session; run `make mutation` first", file=sys.stderr)
        return
    # The judges as the campaign file names them now (new features or tests included).
    write_config(config, campaign["groups"][name],
                 tomllib.loads(config.read_text())["cosmic-ray"]["timeout"])
    equivalent = load_equivalents()
    with sqlite3.connect(session) as db:
        survivors = [job for job, module, operator, diff in db.execute(
            "SELECT r.job_id, m.module_path, m.operator_name, r.diff FROM work_results r "
            "JOIN mutation_specs m USING (job_id) WHERE r.test_outcome = 'SURVIVED'")
            if not equivalent_reason(equivalent, module, operator, diff)]
        db.executemany("DELETE FROM work_results WHERE job_id = ?", [(j,) for j in survivors])
    print(f"mutation: {name}: running {len(survivors)} survivors again", flush=True)
    if survivors:
        execute(name, config, session)


def execute(name: str, config: Path, session: Path) -> None:
    """cosmic-ray exec, with a progress line whenever a mutant has been judged."""
    done = threading.Event()
    started = time.monotonic()

    def progress() -> None:
        last = None
        while not done.wait(5):
            counts = outcome_counts(session)
            if counts != last:
                print(f"mutation: {name}: {counts.get('pending', 0)} pending, "
                      f"{counts.get('KILLED', 0)} killed, {counts.get('SURVIVED', 0)} survived "
                      f"({(time.monotonic() - started) / 60:.1f} min)", flush=True)
                last = counts

    watcher = threading.Thread(target=progress, daemon=True)
    watcher.start()
    try:
        cosmic_ray("exec", str(config), str(session))
    finally:
        done.set()
        watcher.join()
        # A mutant that timed out was killed with its judges; sweep the daemons they started.
        subprocess.run([str(VENV / "bin" / "python"), "-c",
                        "from support.drivers.local import LocalDriver; LocalDriver().sweep()"],
                       cwd=WORK, check=False)


def outcome_counts(session: Path) -> dict[str, int]:
    with sqlite3.connect(session) as db:
        pending = db.execute("SELECT COUNT(*) FROM work_items WHERE job_id NOT IN "
                             "(SELECT job_id FROM work_results)").fetchone()[0]
        counts = dict(db.execute("SELECT test_outcome, COUNT(*) FROM work_results "
                                 "WHERE test_outcome IS NOT NULL GROUP BY test_outcome"))
    return {**counts, "pending": pending}


def cosmic_ray(*args: str) -> None:
    subprocess.run([str(VENV / "bin" / "cosmic-ray"), "--verbosity", "ERROR", *args],
                   cwd=WORK, check=True)


def load_equivalents() -> list[dict]:
    if not EQUIVALENT.exists():
        return []
    return tomllib.loads(EQUIVALENT.read_text()).get("equivalent", [])


def mutated_lines(diff: str) -> list[str]:
    return [line[1:].strip() for line in (diff or "").splitlines()
            if line.startswith("+") and not line.startswith("+++")]


def equivalent_reason(equivalents: list[dict], module: str, operator: str, diff: str) -> str:
    """The written reason a survivor changes no observable behaviour, if it has one."""
    lines = mutated_lines(diff)
    for entry in equivalents:
        if entry["module"] == module and entry["operator"] == operator and entry["line"] in lines:
            return entry["reason"]
    return ""


def write_report(campaign: dict) -> None:
    equivalents = load_equivalents()
    groups, totals = [], {"killed": 0, "timeout": 0, "survived": 0, "equivalent": 0,
                          "incompetent": 0, "pending": 0}
    for name, group in campaign["groups"].items():
        session = session_paths(name)[1]
        if not session.exists():
            continue
        with sqlite3.connect(session) as db:
            rows = db.execute(
                "SELECT m.module_path, m.operator_name, m.occurrence, m.start_pos_row, "
                "r.worker_outcome, r.test_outcome, r.diff, r.output FROM mutation_specs m "
                "LEFT JOIN work_results r USING (job_id) ORDER BY m.module_path, m.start_pos_row"
            ).fetchall()
        mutants = []
        for module, operator, occurrence, line, worker, test, diff, output in rows:
            if worker == "SKIPPED":
                continue
            verdict = classify(worker, test, output)
            reason = equivalent_reason(equivalents, module, operator, diff) \
                if verdict == "survived" else ""
            if reason:
                verdict = "equivalent"
            totals[verdict] += 1
            mutants.append({"module": module, "line": line, "operator": operator,
                            "occurrence": occurrence, "verdict": verdict, "reason": reason,
                            "diff": diff or ""})
        groups.append({"group": name, "title": group["title"], "mutants": mutants})
    judged = totals["killed"] + totals["timeout"] + totals["survived"]
    score = (totals["killed"] + totals["timeout"]) / judged if judged else 0.0
    REPORTS.mkdir(parents=True, exist_ok=True)
    summary = {"totals": totals, "score": round(score, 4), "groups": groups}
    (REPORTS / "report.json").write_text(json.dumps(summary, indent=2))
    (REPORTS / "report.md").write_text(markdown(summary))
    print(f"mutation: {totals['killed']} killed, {totals['timeout']} timeouts, "
          f"{totals['survived']} survived, {totals['equivalent']} equivalent, "
          f"{totals['incompetent']} incompetent; {score:.0%} of the non-equivalent mutants "
          f"killed; report: {REPORTS / 'report.md'}")


def classify(worker: str | None, test: str | None, output: str | None) -> str:
    if worker is None:
        return "pending"
    if test == "SURVIVED":
        return "survived"
    if test == "KILLED":
        return "timeout" if output == "timeout" else "killed"   # cosmic-ray's own marker
    return "incompetent"


def markdown(summary: dict) -> str:
    t = summary["totals"]
    out = ["# Mutation campaign", "",
           f"Killed {t['killed']}, timeouts {t['timeout']}, survived {t['survived']}, "
           f"equivalent {t['equivalent']}, incompetent {t['incompetent']}, "
           f"pending {t['pending']}: **{summary['score']:.0%}** of the non-equivalent mutants "
           "killed (timeouts count as killed).", "",
           "| group | mutants | killed | timeout | survived | equivalent |",
           "| --- | --- | --- | --- | --- | --- |"]
    for g in summary["groups"]:
        count = {v: sum(m["verdict"] == v for m in g["mutants"])
                 for v in ("killed", "timeout", "survived", "equivalent")}
        out.append(f"| {g['group']} | {len(g['mutants'])} | {count['killed']} | "
                   f"{count['timeout']} | {count['survived']} | {count['equivalent']} |")
    for g in summary["groups"]:
        listed = [m for m in g["mutants"] if m["verdict"] in ("survived", "equivalent")]
        if not listed:
            continue
        out += ["", f"## {g['group']}: {g['title']}"]
        for m in listed:
            out += ["", f"### {m['verdict']}: {m['module']}:{m['line']} ({m['operator']})"]
            if m["reason"]:
                out.append(f"Equivalent: {m['reason']}")
            out += ["```diff", m["diff"].strip(), "```"]
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
