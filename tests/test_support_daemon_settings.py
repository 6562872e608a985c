"""Settings a scenario gives a daemon: each in the place it names, the driver's own below."""

import pathlib
import sys

# `support/` is the suite's library at the repository root (not an installed package).
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

import tomllib

import pytest

from support.drivers.base import Setting, daemon_settings


def test_each_setting_goes_to_its_place_and_the_base_into_the_file():
    flags, env, toml = daemon_settings(
        [Setting("port", "70000", "command line"), Setting("scrub_interval", "soon", "environment"),
         Setting("http_port", "-1", "configuration file")],
        {"data_dir": "/tmp/d", "port": 0, "http_port": 0})
    assert flags == ["--port", "70000"]
    assert env == {"MOOSENG_SCRUB_INTERVAL": "soon"}
    assert tomllib.loads(toml) == {"data_dir": "/tmp/d", "port": 0, "http_port": -1}


def test_a_word_in_the_file_is_a_string_and_a_number_a_number():
    _, _, toml = daemon_settings([Setting("colour", 'blue "sky"', "configuration file"),
                                  Setting("offline_timeout", "0.1", "configuration file")], {})
    assert tomllib.loads(toml) == {"colour": 'blue "sky"', "offline_timeout": 0.1}


def test_an_unknown_place_is_refused():
    with pytest.raises(ValueError, match="no such place"):
        daemon_settings([Setting("port", "1", "registry")], {})
