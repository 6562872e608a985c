"""A disk of limited size for a node of the `local` backend: a tmpfs mounted on its data
directory (root only), recorded beside the driver's pid files so that the next run unmounts
what an interrupted run left mounted."""

from __future__ import annotations

import errno
import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Callable

from support.drivers.chunk_files import FILLER

_RECORD = "mount-"


def unavailable() -> str | None:
    """Why no disk of limited size can be made here, or None."""
    if os.geteuid() != 0:
        return "a chunk server's disk of limited size is a tmpfs mount, which needs root"
    if not shutil.which("mount") or not shutil.which("umount"):
        return "a chunk server's disk of limited size needs mount and umount (util-linux)"
    return None


def mount(path: Path, size: int, records: Path) -> None:
    records.mkdir(exist_ok=True)
    _record(path, records).write_text(json.dumps({"run": os.getpid(), "path": str(path)}))
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "mooseng-disk", str(path)],
                   check=True, capture_output=True, text=True)


def unmount(path: Path, records: Path) -> None:
    if os.path.ismount(path):
        subprocess.run(["umount", "--lazy", str(path)], check=True, capture_output=True,
                       text=True)
    _record(path, records).unlink(missing_ok=True)


def sweep(records: Path, owner_alive: Callable[[int], bool]) -> None:
    """Unmount the disks of runs that are gone."""
    if not records.is_dir():
        return
    for entry in records.glob(_RECORD + "*"):
        try:
            record = json.loads(entry.read_text())
        except (ValueError, OSError):
            entry.unlink(missing_ok=True)
            continue
        if record.get("run") != os.getpid() and owner_alive(record["run"]):
            continue
        unmount(Path(record["path"]), records)


def fill(path: Path) -> None:
    """Write zeros into a file on the disk until it takes no more."""
    fd = os.open(path / FILLER, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        for block in (bytes(1 << 20), bytes(4096)):
            try:
                while os.write(fd, block):
                    pass
            except OSError as error:
                if error.errno != errno.ENOSPC:
                    raise
    finally:
        os.close(fd)


def free(path: Path) -> None:
    (path / FILLER).unlink(missing_ok=True)


def _record(path: Path, records: Path) -> Path:
    return records / (_RECORD + str(path).strip("/").replace("/", "_"))
