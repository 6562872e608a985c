"""What a node says about itself over HTTP: /health, /ready and /metrics."""

from __future__ import annotations

import dataclasses

import requests

TIMEOUT = 2.0


@dataclasses.dataclass(frozen=True)
class Health:
    http_status: int
    status: str                      # healthy | degraded | critical
    checks: dict[str, dict]          # name -> {"status": ..., "message": ...}
    body: dict

    def check(self, name: str) -> dict:
        if name not in self.checks:
            raise AssertionError(f"/health has no check named {name!r}; "
                                 f"checks: {sorted(self.checks)}")
        return self.checks[name]

    def __str__(self) -> str:
        checks = "; ".join(f"{n}={c.get('status')} ({c.get('message', '')})"
                           for n, c in self.checks.items())
        return f"HTTP {self.http_status} status={self.status} [{checks}]"


def _get(http_address: str, path: str) -> requests.Response:
    return requests.get(f"http://{http_address}{path}", timeout=TIMEOUT)


def health(http_address: str) -> Health:
    response = _get(http_address, "/health")
    body = response.json()
    checks = {c["name"]: c for c in body.get("checks", [])}
    return Health(response.status_code, body.get("status", ""), checks, body)


def ready(http_address: str) -> tuple[int, dict]:
    response = _get(http_address, "/ready")
    try:
        body = response.json()
    except ValueError:
        body = {"text": response.text}
    return response.status_code, body


def is_ready(http_address: str) -> bool:
    return ready(http_address)[0] == 200


def metrics_text(http_address: str) -> str:
    response = _get(http_address, "/metrics")
    response.raise_for_status()
    return response.text
