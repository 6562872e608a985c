"""The admin CLI `mooseng` run against the scenario's cluster, remembering the last command."""

from __future__ import annotations

import json

from support.drivers.base import CliResult, Cluster


class CliRunner:
    def __init__(self, cluster: Cluster):
        self.cluster = cluster
        self.last: CliResult | None = None

    def run(self, *args: str, timeout: float = 60.0) -> CliResult:
        self.last = self.cluster.cli(*args, timeout=timeout)
        return self.last

    def json(self, *args: str, timeout: float = 60.0):
        """Run with --json; the command must succeed and print JSON (else the result is shown)."""
        result = self.run(*args, "--json", timeout=timeout)
        if result.exit_code != 0:
            raise AssertionError(f"the CLI failed:\n{result}")
        try:
            return json.loads(result.stdout)
        except ValueError as error:
            raise AssertionError(f"the CLI did not print JSON ({error}):\n{result}") from None
