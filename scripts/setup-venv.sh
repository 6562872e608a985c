#!/usr/bin/env bash
# Create or refresh .venv with the pinned packages and MooseNG itself (idempotent, ~10 s cold).
set -euo pipefail
cd "$(dirname "$0")/.."
stamp=.venv/.installed
if [ -f "$stamp" ] && [ "$stamp" -nt requirements.txt ] && [ "$stamp" -nt pyproject.toml ]; then
  exit 0
fi
python3 -m venv .venv
.venv/bin/pip install --quiet --disable-pip-version-check -r requirements.txt
.venv/bin/pip install --quiet --disable-pip-version-check --no-deps -e .
touch "$stamp"
echo "setup: Python environment ready in .venv"
