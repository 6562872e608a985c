"""Where a benchmark ran: the MooseNG version and commit, the machine, the cluster's shape."""

from __future__ import annotations

import os
import pathlib
import platform
import subprocess

import mooseng


def commit() -> str:
    """The commit of the MooseNG source in use, when it runs from a git checkout; else
    $MOOSENG_COMMIT, else "unknown" (an installed wheel carries no commit)."""
    source = pathlib.Path(mooseng.__file__).resolve().parent.parent
    try:
        done = subprocess.run(["git", "-C", str(source), "rev-parse", "--short=12", "HEAD"],
                              capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        done = None
    if done is not None and done.returncode == 0 and (source / "mooseng").is_dir():
        return done.stdout.strip()
    return os.environ.get("MOOSENG_COMMIT", "unknown")


def machine() -> dict:
    return {"cores": os.cpu_count() or 0,
            "memory_bytes": os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"),
            "platform": platform.platform(), "python": platform.python_version()}


def topology(status: dict, goal: int) -> dict:
    return {"masters": len(status.get("masters") or []) or 1,
            "chunkservers": status["servers_by_state"].get("online", 0),
            "goal": goal, "chunk_size": status["chunk_size"]}
