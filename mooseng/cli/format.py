"""Human output: aligned tables, readable sizes and times."""

import time

_UNITS = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"]
SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def human_size(n: int) -> str:
    """1536 -> '1.5 KiB'; exact bytes below 1 KiB."""
    value = float(n)
    for unit in _UNITS:
        if value < 1024 or unit == _UNITS[-1]:
            return f"{int(value)} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def human_time(ts: float) -> str:
    if not ts:
        return "-"
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ts))


def human_duration(seconds: float) -> str:
    """604800 -> '7d', 90 -> '90s': the largest unit that divides it."""
    for unit in ("d", "h", "m"):
        if seconds >= SECONDS[unit] and seconds % SECONDS[unit] == 0:
            return f"{int(seconds // SECONDS[unit])}{unit}"
    return f"{seconds:g}s"


def table(headers: list[str], rows: list[list], right: set[int] = frozenset()) -> str:
    """Columns padded to the widest cell; columns in `right` are right-aligned (numbers)."""
    cells = [[str(h) for h in headers]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = []
    for row in cells:
        parts = [cell.rjust(widths[i]) if i in right else cell.ljust(widths[i])
                 for i, cell in enumerate(row)]
        lines.append("  ".join(parts).rstrip())
    return "\n".join(lines)


def pairs(items: list[tuple[str, object]]) -> str:
    """'Key:  value' lines with the values aligned."""
    width = max((len(k) for k, _ in items), default=0) + 1
    return "\n".join(f"{(k + ':').ljust(width)}  {v}" for k, v in items)


def labels(mapping: dict[str, str]) -> str:
    return ",".join(f"{k}={v}" for k, v in sorted(mapping.items())) or "-"
