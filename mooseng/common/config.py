"""Typed daemon configuration: defaults, then a TOML file, then MOOSENG_* variables, then flags.

A daemon declares a dataclass; every field becomes `--field-name`, the TOML key `field_name`
(or `field-name`) and the variable `MOOSENG_FIELD_NAME`. Values are checked at start-up and a bad
one is reported with the key and where it came from.
"""

import argparse
import dataclasses
import os
import re
import tomllib
import typing

_SIZE_UNITS = {"": 1, "b": 1, "k": 1024, "kb": 1024, "kib": 1024, "m": 1024**2, "mb": 1024**2,
               "mib": 1024**2, "g": 1024**3, "gb": 1024**3, "gib": 1024**3, "t": 1024**4,
               "tb": 1024**4, "tib": 1024**4}


class ConfigError(ValueError):
    """A setting is missing or malformed; the message names the key and its source."""


LOG_LEVELS = ("debug", "info", "warning", "error")


def check_log_level(level: str) -> None:
    if level.lower() not in LOG_LEVELS:
        raise ConfigError(f"bad value for 'log_level': {level!r} "
                          f"(use {', '.join(LOG_LEVELS[:-1])} or {LOG_LEVELS[-1]})")


def parse_size(text) -> int:
    """'64MiB', '1m', '4096' -> bytes."""
    if isinstance(text, int):
        return text
    match = re.fullmatch(r"\s*(\d+)\s*([a-zA-Z]*)\s*", str(text))
    if not match or match.group(2).lower() not in _SIZE_UNITS:
        raise ValueError(f"not a size: {text!r} (use e.g. 4096, 64KiB, 64MiB)")
    return int(match.group(1)) * _SIZE_UNITS[match.group(2).lower()]


def parse_labels(value) -> dict[str, str]:
    """'tier=ssd,region=eu-west', ['tier=ssd'], or a TOML table -> {'tier': 'ssd', ...}."""
    if isinstance(value, dict):
        return {str(k): str(v) for k, v in value.items()}
    items = value if isinstance(value, list) else str(value).split(",")
    labels = {}
    for item in items:
        item = item.strip()
        if not item:
            continue
        key, sep, val = item.partition("=")
        if not sep or not key:
            raise ValueError(f"not a label: {item!r} (use KEY=VALUE, e.g. tier=ssd)")
        labels[key.strip()] = val.strip()
    return labels


def setting(default, help: str, *, kind: str = "", required: bool = False):
    """Declare a config field. kind: 'size' (bytes with units), 'labels' or 'port'."""
    if isinstance(default, (dict, list)):
        return dataclasses.field(default_factory=lambda: type(default)(default),
                                 metadata={"help": help, "kind": kind, "required": required})
    return dataclasses.field(default=default,
                             metadata={"help": help, "kind": kind, "required": required})


def _convert(field: dataclasses.Field, raw, source: str):
    kind = field.metadata.get("kind", "")
    typ = field.type if not isinstance(field.type, str) else eval(field.type)  # noqa: S307
    try:
        if kind == "size":
            value = parse_size(raw)
        elif kind == "labels":
            value = parse_labels(raw)
        elif typ is bool:
            if isinstance(raw, bool):
                value = raw
            elif str(raw).lower() in ("1", "true", "yes", "on"):
                value = True
            elif str(raw).lower() in ("0", "false", "no", "off"):
                value = False
            else:
                raise ValueError(f"not a boolean: {raw!r}")
        elif kind == "port":
            value = int(raw)
            if not 0 <= value <= 65535:
                raise ValueError(f"{value} is not a port (0-65535; 0 picks a free one)")
        elif typ is int:
            value = int(raw)
        elif typ is float:
            value = float(raw)
        elif typing.get_origin(typ) is list:
            value = raw if isinstance(raw, list) else [s for s in str(raw).split(",") if s]
        else:
            value = str(raw)
    except (TypeError, ValueError) as error:
        raise ConfigError(f"bad value for '{field.name}' from {source}: {error}") from None
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value < 0:
        raise ConfigError(f"bad value for '{field.name}' from {source}: must not be negative")
    return value


def load(cls, argv=None, prog: str | None = None, description: str | None = None):
    """Build a `cls` instance from defaults, --config FILE, MOOSENG_* and flags (in that order)."""
    fields = {f.name: f for f in dataclasses.fields(cls)}
    parser = argparse.ArgumentParser(prog=prog, description=description)
    parser.add_argument("--config", metavar="FILE", help="TOML file with the same settings")
    for name, field in fields.items():
        flag = "--" + name.replace("_", "-")
        kind = field.metadata.get("kind", "")
        help_text = field.metadata.get("help", "")
        if field.default is not dataclasses.MISSING and field.default not in ("", None):
            help_text += f" (default: {field.default})"
        if kind == "labels":
            parser.add_argument(flag, dest=name, action="append", metavar="KEY=VALUE",
                                help=help_text + "; may be repeated")
        else:
            parser.add_argument(flag, dest=name, metavar=name.upper(), help=help_text)
    args = parser.parse_args(argv)

    raw: dict[str, tuple[object, str]] = {}
    if args.config:
        try:
            with open(args.config, "rb") as handle:
                data = tomllib.load(handle)
        except OSError as error:
            raise ConfigError(f"cannot read config file {args.config}: {error.strerror}") from None
        except tomllib.TOMLDecodeError as error:
            raise ConfigError(f"config file {args.config} is not valid TOML: {error}") from None
        for key, value in data.items():
            name = key.replace("-", "_")
            if name not in fields:
                known = ", ".join(sorted(fields))
                raise ConfigError(f"unknown key '{key}' in {args.config} (known keys: {known})")
            raw[name] = (value, f"config file {args.config}")
    for name in fields:
        env = "MOOSENG_" + name.upper()
        if env in os.environ:
            raw[name] = (os.environ[env], f"environment variable {env}")
    for name in fields:
        value = getattr(args, name)
        if value is not None:
            raw[name] = (value, "--" + name.replace("_", "-"))

    values = {name: _convert(fields[name], value, source) for name, (value, source) in raw.items()}
    for name, field in fields.items():
        if field.metadata.get("required") and not values.get(name, getattr(cls, name, None)):
            flag = "--" + name.replace("_", "-")
            raise ConfigError(f"missing setting '{name}': give {flag}, the TOML key {name} "
                              f"or MOOSENG_{name.upper()}")
    return cls(**values)
