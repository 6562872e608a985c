"""argparse types for sizes and counts, shared by the `mooseng` commands and the benchmark
options, so a bad value is the same one-line usage error everywhere."""

import argparse

from mooseng.client.cache import KINDS
from mooseng.common.config import parse_labels, parse_size

from .format import SECONDS


def size(text: str) -> int:
    try:
        return parse_size(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def count(text: str, minimum: int = 0) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if value < minimum:
        raise argparse.ArgumentTypeError(f"must be at least {minimum}, not {value}")
    return value


def positive(text: str) -> int:
    return count(text, minimum=1)


def percent(text: str) -> float:
    try:
        value = float(text.rstrip("%"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a percentage: {text!r}") from None
    if not 0 < value < 100:
        raise argparse.ArgumentTypeError(f"a percentage between 0 and 100, not {text}")
    return value


def duration(text: str) -> float:
    """'90s', '30m', '12h', '7d' (or plain seconds) -> seconds."""
    number, unit = (text[:-1], text[-1]) if text and text[-1] in SECONDS else (text, "s")
    try:
        value = float(number) * SECONDS[unit]
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a duration: {text!r} (e.g. 90s, 30m, 12h, 7d)") \
            from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"a duration longer than 0, not {text!r}")
    return value


def label(text: str) -> tuple[str, str]:
    try:
        (pair,) = parse_labels([text]).items() or [None]
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    if pair is None:
        raise argparse.ArgumentTypeError(f"not a label: {text!r} (use KEY=VALUE, e.g. rack=r1)")
    return pair


def port(text: str) -> int:
    value = count(text)
    if value > 65535:
        raise argparse.ArgumentTypeError(f"a port is 0-65535, not {value}")
    return value


def cache_ttl(text: str) -> tuple[str, float]:
    """'attr=10' -> ('attr', 10.0): one kind's TTL in seconds, 0 turns the kind off."""
    kind, sep, value = text.partition("=")
    if not sep or kind not in KINDS:
        raise argparse.ArgumentTypeError(
            f"{text!r}: give KIND=SECONDS with KIND one of {', '.join(KINDS)}")
    try:
        seconds = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: {value!r} is not a number of seconds") \
            from None
    if not seconds >= 0:
        raise argparse.ArgumentTypeError(f"{text!r}: a TTL is 0 (off) or more seconds")
    return kind, seconds
