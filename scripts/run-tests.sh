#!/usr/bin/env bash
# The test command behind `make test` and CI: pytest, then the default acceptance set on the
# local backend and, where a Docker engine answers, on the docker backend. Ends with one line
# that counts everything; exits non-zero when anything failed.
set -uo pipefail
cd "$(dirname "$0")/.."
junit=reports/junit
rm -rf "$junit" && mkdir -p "$junit"
status=0

echo "== pytest"
.venv/bin/pytest -q --junitxml="$junit/pytest/results.xml" || status=1

backends=(local)
if .venv/bin/python -c 'import sys; from support.drivers.docker import engine_available; sys.exit(not engine_available())' 2>/dev/null; then
  backends+=(docker)
elif [ "$(id -u)" = 0 ]; then
  echo "tests: no Docker engine answers although set-up ran as root; the docker backend cannot be checked" >&2
  status=1
else
  echo "tests: no Docker engine and not root: the docker backend is skipped on this machine"
fi

for backend in "${backends[@]}"; do
  echo "== acceptance suite, backend $backend"
  .venv/bin/behave -D backend="$backend" --junit --junit-directory "$junit/behave-$backend" \
    || status=1
done

.venv/bin/python scripts/summarize.py tests "$junit" || status=1
exit $status
