"""Prometheus text parsing (prometheus_client.parser) into values a step can compare."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families


def samples(text: str) -> list[tuple[str, dict[str, str], float]]:
    return [(s.name, dict(s.labels), s.value)
            for family in text_string_to_metric_families(text) for s in family.samples]


def value(text: str, name: str, **labels: str) -> float | None:
    """Sum of the samples called `name` whose labels include `labels`; None when absent."""
    found = [v for n, ls, v in samples(text)
             if n == name and all(ls.get(k) == want for k, want in labels.items())]
    return sum(found) if found else None


def names(text: str) -> set[str]:
    return {n for n, _, _ in samples(text)}
