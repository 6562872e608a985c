"""Restore from a metalogger's directory: everything good is copied, a damaged entry ends the
copy and is named, and nothing is ever restored over existing metadata."""

import pytest

from mooseng.common.errors import InvalidArgument
from mooseng.master.changelog import changelog_files, recover, restore

from test_master_changelog import ENTRIES, write_entries


def _copy(tmp_path):
    """A metalogger's directory holding ENTRIES, and a master's data directory (not made)."""
    source, target = tmp_path / "metalogger", tmp_path / "master"
    source.mkdir()
    write_entries(source, ENTRIES)
    return source, target


def test_a_whole_copy_is_restored_to_the_same_state(tmp_path):
    source, target = _copy(tmp_path)
    restored = restore(str(source), str(target))
    assert (restored.version, restored.entries, restored.damaged) == (len(ENTRIES),
                                                                        len(ENTRIES), "")
    assert recover(str(target), 0)[0].to_dict() == recover(str(source), 0)[0].to_dict()


@pytest.mark.parametrize("damage", ["flip", "tear"])
def test_a_damaged_entry_ends_the_copy_and_is_named(tmp_path, damage):
    source, target = _copy(tmp_path)
    (_, path), = changelog_files(str(source))
    lines = open(path, "rb").read().splitlines(keepends=True)
    if damage == "flip":
        lines[3] = lines[3].replace(b'"/d/f"', b'"/d/g"')
    else:
        lines[3] = lines[3][:-10]
    open(path, "wb").write(b"".join(lines[:4] if damage == "tear" else lines))
    restored = restore(str(source), str(target))
    assert restored.version == 3 and restored.entries == 3
    assert f"{path} line 4 is torn or fails its CRC" in restored.damaged
    assert recover(str(target), 0)[0].version == 3


def test_nothing_is_restored_into_a_directory_that_holds_anything(tmp_path):
    source, target = _copy(tmp_path)
    target.mkdir()
    (target / "changelog.1.log").write_bytes(b"precious")
    with pytest.raises(InvalidArgument) as refused:
        restore(str(source), str(target))
    assert "it is not empty (it holds changelog.1.log)" in str(refused.value)
    assert (target / "changelog.1.log").read_bytes() == b"precious"


def test_the_master_refuses_a_restore_into_its_metadata_with_one_line(tmp_path):
    import subprocess
    import sys
    from pathlib import Path

    source, target = _copy(tmp_path)
    target.mkdir()
    write_entries(target, ENTRIES)
    master = Path(sys.executable).parent / "mooseng-master"
    done = subprocess.run([str(master), "--data-dir", str(target), "--port", "0",
                           "--http-port", "0", "--restore-from", str(source)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert done.stderr.strip().splitlines()[-1].startswith(
        f"mooseng-master: error: cannot start: refusing to restore into {target}")


def test_admin_restore_reports_where_a_damaged_copy_stopped(tmp_path, capsys):
    import json

    from mooseng.cli.main import main

    source, target = _copy(tmp_path)
    (_, path), = changelog_files(str(source))
    lines = open(path, "rb").read().splitlines(keepends=True)
    open(path, "wb").write(b"".join(lines[:4]) + lines[4][:-10])
    assert main(["admin", "restore", str(source), str(target), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert (report["version"], report["entries"]) == (4, 4)
    assert f"{path} line 5 is torn or fails its CRC" in report["damaged"]
    assert recover(str(target), 0)[0].version == 4


def test_admin_restore_into_a_non_empty_directory_is_one_line_and_exit_1(tmp_path, capsys):
    from mooseng.cli.main import main

    source, target = _copy(tmp_path)
    target.mkdir()
    (target / "snapshot.json").write_text("precious")
    assert main(["admin", "restore", str(source), str(target)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"mooseng: error: refusing to restore into "
                                               f"{target}: it is not empty")
    assert (target / "snapshot.json").read_text() == "precious"
