"""-D options, backend choice, metrics parsing, matchers and report helpers."""

import pathlib
import sys

# `support/` is the suite's library at the repository root (not an installed package).
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

import pytest
from hamcrest import equal_to
from hamcrest.core.string_description import StringDescription

from support import backends, metrics, reporting
from support.matchers import all_chunks_at_goal, metric_value
from support.options import OptionError, Options
from support.world import ChunkCopies


def test_options_defaults_and_checks():
    options = Options.from_userdata({"backend": "local", "timeout_scale": "2"})
    assert (options.backend, options.timeout_scale, options.data_scale) == ("local", 2.0, 1.0)
    with pytest.raises(OptionError, match="unknown option -D colour"):
        Options.from_userdata({"colour": "red"})
    with pytest.raises(OptionError, match="timeout_scale"):
        Options.from_userdata({"timeout_scale": "-1"})
    with pytest.raises(OptionError, match="preserve"):
        Options.from_userdata({"preserve": "sometimes"})


def test_unknown_backend_is_one_clear_error():
    with pytest.raises(backends.UnknownBackend, match="choose one of auto, docker, local"):
        backends.choose("kubernetes")


def test_local_backend_on_request():
    driver, line = backends.choose("local")
    assert driver.name == "local" and line.startswith("backend: local")
    assert "partition" not in driver.capabilities


def test_auto_falls_back_to_local_when_the_docker_backend_cannot_run(monkeypatch):
    class Docker:
        @staticmethod
        def engine_available():
            return True

        class DockerDriver:
            def __init__(self):
                raise backends.BackendUnavailable("no base image can be built without root")

    monkeypatch.setattr(backends, "_docker_module", lambda: (Docker, ""))
    driver, line = backends.choose("auto")
    assert driver.name == "local"
    assert "no base image can be built without root" in line and "falling back" in line


TEXT = """# TYPE mooseng_master_chunkservers gauge
mooseng_master_chunkservers{state="online"} 2.0
mooseng_master_chunkservers{state="offline"} 1.0
# TYPE mooseng_chunkserver_checksum_failures_total counter
mooseng_chunkserver_checksum_failures_total 3.0
"""


def test_metric_values_by_name_and_labels():
    assert metrics.value(TEXT, "mooseng_master_chunkservers", state="offline") == 1.0
    assert metrics.value(TEXT, "mooseng_master_chunkservers") == 3.0
    assert metrics.value(TEXT, "mooseng_chunkserver_checksum_failures_total") == 3.0
    assert metrics.value(TEXT, "mooseng_nothing") is None
    assert metric_value("mooseng_master_chunkservers", equal_to(2.0), state="online").matches(TEXT)


def test_goal_matcher_explains_which_chunk_is_wrong():
    copies = [ChunkCopies("/f", 0, 11, 3, ["chunkserver-1", "chunkserver-2"]),
              ChunkCopies("/f", 1, 12, 3, ["chunkserver-1"])]
    matcher = all_chunks_at_goal(2)
    assert not matcher.matches(copies)
    description = StringDescription()
    matcher.describe_mismatch(copies, description)
    assert "chunk 1 (id 12 v3): 1 copies" in str(description)
    assert all_chunks_at_goal(2).matches(copies[:1])
    assert not all_chunks_at_goal(2, avoiding="chunkserver-2").matches(copies[:1])


def test_area_and_stable_id_for_the_report():
    assert reporting.area_of("features/infrastructure/health_endpoints.feature") == \
        "Core infrastructure"
    assert reporting.area_of("features/system/file_operations.feature") == "End-to-end system"
    assert reporting.stable_id(["smoke", "id.files.append"]) == "files.append"
