"""PyHamcrest matchers for the domain's facts, with mismatch descriptions a person can act on."""

from __future__ import annotations

from hamcrest.core.base_matcher import BaseMatcher
from hamcrest.core.description import Description

from support import metrics
from support.endpoints import Health


class _AllChunksAtGoal(BaseMatcher):
    """Every chunk (a list of ChunkCopies) has exactly `goal` valid copies on distinct servers."""

    def __init__(self, goal: int, avoiding: str | None = None):
        self.goal = goal
        self.avoiding = avoiding

    def _bad(self, copies) -> list[str]:
        bad = [str(c) for c in copies
               if len(c.nodes) != self.goal or len(set(c.nodes)) != len(c.nodes)
               or (self.avoiding and self.avoiding in c.nodes)]
        return bad

    def _matches(self, copies) -> bool:
        return bool(copies) and not self._bad(copies)

    def describe_to(self, description: Description) -> None:
        description.append_text(f"every chunk with {self.goal} valid copies on distinct servers")
        if self.avoiding:
            description.append_text(f", none on {self.avoiding}")

    def describe_mismatch(self, copies, description: Description) -> None:
        if not copies:
            description.append_text("no chunks at all")
            return
        bad = self._bad(copies)
        description.append_text(f"{len(bad)} of {len(copies)} chunks differ: " + "; ".join(bad[:8]))


def all_chunks_at_goal(goal: int, avoiding: str | None = None) -> _AllChunksAtGoal:
    return _AllChunksAtGoal(goal, avoiding)


class _HealthStatus(BaseMatcher):
    def __init__(self, status: str, check: str | None = None, check_status: str | None = None,
                 mentioning: str | None = None):
        self.status = status
        self.check = check
        self.check_status = check_status or status
        self.mentioning = mentioning

    def _matches(self, health: Health) -> bool:
        if health.status != self.status:
            return False
        if self.check is None:
            return True
        check = health.checks.get(self.check)
        if check is None or check.get("status") != self.check_status:
            return False
        return self.mentioning is None or self.mentioning in check.get("message", "")

    def describe_to(self, description: Description) -> None:
        description.append_text(f"health {self.status}")
        if self.check:
            description.append_text(f" with check {self.check!r} {self.check_status}")
        if self.mentioning:
            description.append_text(f" mentioning {self.mentioning!r}")

    def describe_mismatch(self, health, description: Description) -> None:
        description.append_text(f"was {health}")


def health_status(status: str, check: str | None = None, check_status: str | None = None,
                  mentioning: str | None = None) -> _HealthStatus:
    return _HealthStatus(status, check, check_status, mentioning)


class _MetricValue(BaseMatcher):
    """Metrics text where the named sample (summed over matching labels) satisfies a matcher."""

    def __init__(self, name: str, value_matcher, labels: dict[str, str]):
        self.name = name
        self.value_matcher = value_matcher
        self.labels = labels

    def _matches(self, text: str) -> bool:
        value = metrics.value(text, self.name, **self.labels)
        return value is not None and self.value_matcher.matches(value)

    def describe_to(self, description: Description) -> None:
        description.append_text(f"metric {self.name}{self.labels or ''} ")
        self.value_matcher.describe_to(description)

    def describe_mismatch(self, text: str, description: Description) -> None:
        value = metrics.value(text, self.name, **self.labels)
        if value is None:
            similar = sorted(n for n in metrics.names(text) if n.startswith(self.name[:16]))
            description.append_text(f"no such sample; similar names: {similar}")
        else:
            description.append_text(f"was {value}")


def metric_value(name: str, value_matcher, **labels: str) -> _MetricValue:
    return _MetricValue(name, value_matcher, labels)


def eventually(seconds: float, supplier, matcher, what: str):
    """Poll `supplier()` until its value satisfies `matcher`, within `seconds` (scaled)."""
    from hamcrest.core.string_description import StringDescription

    from support.waiting import within

    def probe():
        value = supplier()
        if matcher.matches(value):
            return value if value else True
        mismatch = StringDescription()
        matcher.describe_mismatch(value, mismatch)
        raise AssertionError(str(mismatch))

    expected = StringDescription()
    matcher.describe_to(expected)
    return within(seconds, probe, f"{what}: {expected}")
