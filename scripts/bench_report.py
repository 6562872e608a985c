"""The side-by-side summary: per workload the median, min and max over the rounds on each
system and the ratio of the medians MooseNG/MooseFS (every unit counts work per second, so
above 1 means MooseNG is faster), as a table for people and as data for --json."""

import statistics

from mooseng.bench import workloads
from mooseng.cli.format import table

SYSTEMS = {"mooseng": "MooseNG", "moosefs": "MooseFS"}


def summarize(values: list[float]) -> dict:
    return {"median": round(statistics.median(values), 1), "min": min(values),
            "max": max(values), "rounds": list(values)}


def compare(settings: workloads.Settings, samples: dict[str, dict[str, list[float]]]) -> list:
    """One row per workload measured on both systems; `samples[system][workload key]` holds
    the number of every round."""
    rows = []
    for workload in workloads.planned(settings):
        if not all(samples[system].get(workload.key) for system in SYSTEMS):
            continue
        row = {"workload": workload.key, "label": workloads.label(workload, settings),
               "unit": workload.unit}
        row |= {system: summarize(samples[system][workload.key]) for system in SYSTEMS}
        baseline = row["moosefs"]["median"]
        row["ratio"] = round(row["mooseng"]["median"] / baseline, 2) if baseline else None
        rows.append(row)
    return rows


def render(rows: list[dict], rounds: int) -> str:
    headers = ["WORKLOAD", "UNIT"]
    for name in SYSTEMS.values():
        headers += [name, "(min-max)"]
    headers.append("MooseNG/MooseFS")
    cells = []
    for row in rows:
        cells.append([row["label"], row["unit"]]
                     + [cell for system in SYSTEMS for cell in _summary(row[system])]
                     + ["-" if row["ratio"] is None else f"{row['ratio']:.2f}"])
    return (table(headers, cells, right={2, 4, 6})
            + f"\n\nMedians over {rounds} round{'s' if rounds > 1 else ''}; a ratio above 1 "
              "means MooseNG is faster.")


def _summary(summary: dict) -> list[str]:
    return [f"{summary['median']:.1f}", f"({summary['min']:.1f}-{summary['max']:.1f})"]
