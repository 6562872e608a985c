"""mooseng.common.config: defaults < TOML < MOOSENG_* environment < flags, with checked values."""

import dataclasses

import pytest

from mooseng.common.config import ConfigError, load, parse_labels, parse_size, setting


@dataclasses.dataclass
class Sample:
    data_dir: str = setting("", "where data lives", required=True)
    port: int = setting(9420, "gRPC port", kind="port")
    interval: float = setting(1.0, "heartbeat interval")
    chunk_size: int = setting(64 * 1024 * 1024, "chunk size", kind="size")
    label: dict = setting({}, "labels", kind="labels")
    verbose: bool = setting(False, "chatty")


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    import os
    for name in list(os.environ):
        if name.startswith("MOOSENG_"):
            monkeypatch.delenv(name)


def write_toml(tmp_path, text):
    path = tmp_path / "c.toml"
    path.write_text(text)
    return str(path)


def test_defaults_apply_when_nothing_is_given():
    config = load(Sample, ["--data-dir", "/d"])
    assert (config.port, config.interval, config.chunk_size, config.label, config.verbose) == \
        (9420, 1.0, 64 * 1024 * 1024, {}, False)


def test_precedence_defaults_toml_env_flags(tmp_path, monkeypatch):
    toml = write_toml(tmp_path, 'data_dir = "/toml"\nport = 1\ninterval = 2.5\n'
                                'chunk-size = "1MiB"\n')
    config = load(Sample, ["--config", toml])
    assert (config.data_dir, config.port, config.interval, config.chunk_size) == \
        ("/toml", 1, 2.5, 1024 * 1024)

    monkeypatch.setenv("MOOSENG_PORT", "2")
    monkeypatch.setenv("MOOSENG_INTERVAL", "0.5")
    config = load(Sample, ["--config", toml])
    assert (config.data_dir, config.port, config.interval) == ("/toml", 2, 0.5)

    config = load(Sample, ["--config", toml, "--port", "3"])
    assert (config.data_dir, config.port, config.interval) == ("/toml", 3, 0.5)


@pytest.mark.parametrize("text,expected", [
    ("4096", 4096), ("64KiB", 65536), ("1m", 1024**2), ("2 GiB", 2 * 1024**3), (512, 512)])
def test_sizes(text, expected):
    assert parse_size(text) == expected


@pytest.mark.parametrize("text", ["", "MiB", "1.5MiB", "12 parsecs", "-1"])
def test_bad_sizes(text):
    with pytest.raises(ValueError):
        parse_size(text)


def test_labels_from_flags_env_and_toml(tmp_path, monkeypatch):
    config = load(Sample, ["--data-dir", "/d", "--label", "tier=ssd", "--label", "region=eu"])
    assert config.label == {"tier": "ssd", "region": "eu"}
    monkeypatch.setenv("MOOSENG_LABEL", "tier=hdd,rack=r1")
    assert load(Sample, ["--data-dir", "/d"]).label == {"tier": "hdd", "rack": "r1"}
    monkeypatch.delenv("MOOSENG_LABEL")
    toml = write_toml(tmp_path, 'data_dir = "/d"\n[label]\ntier = "archive"\n')
    assert load(Sample, ["--config", toml]).label == {"tier": "archive"}
    assert parse_labels(["a=1", " b = 2 "]) == {"a": "1", "b": "2"}


def test_unknown_toml_key_names_the_key(tmp_path):
    toml = write_toml(tmp_path, 'data_dir = "/d"\nprot = 5\n')
    with pytest.raises(ConfigError, match="unknown key 'prot'"):
        load(Sample, ["--config", toml])


@pytest.mark.parametrize("argv,env,key", [
    (["--port", "abc"], {}, "port"),
    (["--port", "-5"], {}, "port"),
    (["--port", "94240"], {}, "port"),
    ([], {"MOOSENG_INTERVAL": "soon"}, "interval"),
    (["--chunk-size", "lots"], {}, "chunk_size"),
    (["--label", "tier"], {}, "label"),
    (["--verbose", "perhaps"], {}, "verbose"),
])
def test_bad_values_name_the_key_and_source(argv, env, key, monkeypatch):
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError, match=f"'{key}'") as caught:
        load(Sample, ["--data-dir", "/d", *argv])
    source = next(iter(env)) if env else "--" + key.replace("_", "-")
    assert source in str(caught.value)


def test_bad_toml_value_names_the_file(tmp_path):
    toml = write_toml(tmp_path, 'data_dir = "/d"\nport = "many"\n')
    with pytest.raises(ConfigError, match=r"'port' from config file .*c\.toml"):
        load(Sample, ["--config", toml])


def test_missing_required_setting():
    with pytest.raises(ConfigError, match="missing setting 'data_dir'.*--data-dir"):
        load(Sample, [])


def test_unreadable_or_invalid_toml(tmp_path):
    with pytest.raises(ConfigError, match="cannot read config file"):
        load(Sample, ["--config", str(tmp_path / "absent.toml")])
    with pytest.raises(ConfigError, match="not valid TOML"):
        load(Sample, ["--config", write_toml(tmp_path, "port = = 1")])
