"""Benchmark results kept in SQLite: one row per run (what ran, where, on what) and one per
workload of a run (the throughput of every repetition and the latency statistics).

The schema's version is SQLite's `user_version`; opening an older database applies the missing
migrations in place, in one transaction. A file that is not such a database, or one written by
a newer MooseNG, is refused with what is wrong and where, and never written to.
"""

from __future__ import annotations

import dataclasses
import json
import os
import pathlib
import sqlite3

from mooseng.common.errors import InvalidArgument, NotFound

DEFAULT_DB = "~/.mooseng/bench.db"
ENV_DB = "MOOSENG_BENCH_DB"

# MIGRATIONS[n] takes a database from version n to n + 1.
MIGRATIONS = [
    """
    CREATE TABLE runs (
        id INTEGER PRIMARY KEY,
        started REAL NOT NULL,          -- wall clock, seconds
        suite TEXT NOT NULL,
        repeat INTEGER NOT NULL,
        version TEXT NOT NULL,          -- MooseNG version
        git_commit TEXT NOT NULL,
        machine TEXT NOT NULL,          -- JSON: cores, memory, platform
        topology TEXT NOT NULL,         -- JSON: masters, chunk servers, goal, chunk size
        settings TEXT NOT NULL          -- JSON: sizes and counts of the workloads
    );
    CREATE TABLE results (
        run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
        workload TEXT NOT NULL,
        unit TEXT NOT NULL,             -- of the throughputs: MB/s, files/s, ops/s
        throughputs TEXT NOT NULL,      -- JSON list, one per repetition
        latency TEXT NOT NULL,          -- JSON: statistics of every operation, in seconds
        PRIMARY KEY (run_id, workload)
    );
    CREATE TABLE baseline (
        only_one INTEGER PRIMARY KEY CHECK (only_one = 1),
        run_id INTEGER NOT NULL REFERENCES runs(id)
    );
    """,
]
SCHEMA_VERSION = len(MIGRATIONS)


def default_path() -> str:
    return os.path.expanduser(os.environ.get(ENV_DB) or DEFAULT_DB)


@dataclasses.dataclass
class WorkloadResult:
    workload: str
    unit: str
    throughputs: list[float]
    latency: dict[str, float]


@dataclasses.dataclass
class Run:
    id: int | None
    started: float
    suite: str
    repeat: int
    version: str
    git_commit: str
    machine: dict
    topology: dict
    settings: dict
    results: dict[str, WorkloadResult]

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)


class ResultStore:
    def __init__(self, path: str, create: bool = False):
        self.path = path
        if not os.path.exists(path):
            if not create:
                raise NotFound(f"no benchmark database at {path}: run `mooseng bench run` "
                               "first, or give --db or MOOSENG_BENCH_DB")
            pathlib.Path(path).parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(path, isolation_level=None)
        try:
            self._migrate()
        except BaseException:
            self.db.close()
            raise

    def _migrate(self) -> None:
        try:
            self.db.execute("PRAGMA foreign_keys = ON")
            version = self.db.execute("PRAGMA user_version").fetchone()[0]
            tables = {row[0] for row in self.db.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table'")}
        except sqlite3.DatabaseError as error:
            raise InvalidArgument(f"{self.path} is not a benchmark database ({error}); it was "
                                  "left as it is: move it away or give another --db") from None
        if version > SCHEMA_VERSION:
            raise InvalidArgument(f"{self.path} holds schema version {version}, this MooseNG "
                                  f"knows up to {SCHEMA_VERSION}: use a newer mooseng")
        if version == 0 and tables:
            raise InvalidArgument(f"{self.path} is an SQLite database of something else "
                                  f"(tables {', '.join(sorted(tables))}); it was left as it "
                                  "is: give another --db")
        if version == SCHEMA_VERSION:
            return
        self.db.execute("BEGIN IMMEDIATE")
        try:
            for step in MIGRATIONS[version:]:
                for statement in step.split(";"):
                    if statement.strip():
                        self.db.execute(statement)
            self.db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> "ResultStore":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ------------------------------------------------------------------ runs

    def add(self, run: Run) -> int:
        self.db.execute("BEGIN IMMEDIATE")
        try:
            cursor = self.db.execute(
                "INSERT INTO runs (started, suite, repeat, version, git_commit, machine, "
                "topology, settings) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (run.started, run.suite, run.repeat, run.version, run.git_commit,
                 json.dumps(run.machine), json.dumps(run.topology), json.dumps(run.settings)))
            run_id = cursor.lastrowid
            self.db.executemany(
                "INSERT INTO results (run_id, workload, unit, throughputs, latency) "
                "VALUES (?, ?, ?, ?, ?)",
                [(run_id, r.workload, r.unit, json.dumps(r.throughputs), json.dumps(r.latency))
                 for r in run.results.values()])
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        run.id = run_id
        return run_id

    def runs(self, workload: str | None = None) -> list[Run]:
        """Every run, oldest first (only those that measured `workload` when given)."""
        ids = [row[0] for row in self.db.execute(
            "SELECT id FROM runs ORDER BY started, id" if workload is None else
            "SELECT id FROM runs WHERE id IN (SELECT run_id FROM results WHERE workload = ?) "
            "ORDER BY started, id", () if workload is None else (workload,))]
        return [self.get(run_id) for run_id in ids]

    def get(self, run_id: int) -> Run:
        row = self.db.execute("SELECT id, started, suite, repeat, version, git_commit, machine, "
                              "topology, settings FROM runs WHERE id = ?", (run_id,)).fetchone()
        if row is None:
            raise NotFound(f"no benchmark run {run_id} in {self.path} (`mooseng bench list` "
                           "shows the runs)")
        results = {workload: WorkloadResult(workload, unit, json.loads(throughputs),
                                            json.loads(latency))
                   for workload, unit, throughputs, latency in self.db.execute(
                       "SELECT workload, unit, throughputs, latency FROM results "
                       "WHERE run_id = ? ORDER BY rowid", (run_id,))}
        return Run(row[0], row[1], row[2], row[3], row[4], row[5], json.loads(row[6]),
                   json.loads(row[7]), json.loads(row[8]), results)

    # ------------------------------------------------------------------ baseline

    def set_baseline(self, run_id: int) -> None:
        self.get(run_id)
        self.db.execute("INSERT OR REPLACE INTO baseline (only_one, run_id) VALUES (1, ?)",
                        (run_id,))

    def baseline(self) -> int | None:
        row = self.db.execute("SELECT run_id FROM baseline").fetchone()
        return row[0] if row else None
