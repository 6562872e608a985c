#!/usr/bin/env bash
# Install the Allure 3 report renderer (npm package `allure`) into .tools/, once.
# Idempotent: does nothing when the pinned version is already there.
set -euo pipefail
cd "$(dirname "$0")/.."
version=3.18.0
tools=.tools/allure
bin="$tools/node_modules/.bin/allure"
if [ -x "$bin" ] && grep -q "\"version\": \"$version\"" "$tools/node_modules/allure/package.json" 2>/dev/null; then
  exit 0
fi
if ! command -v npm >/dev/null; then
  echo "install-allure: npm is missing; install Node.js (e.g. apt-get install -y npm) to render reports" >&2
  exit 1
fi
mkdir -p "$tools"
[ -f "$tools/package.json" ] || echo '{"name": "mooseng-report-tools", "private": true}' > "$tools/package.json"
echo "install-allure: npm install allure@$version into $tools"
npm install --prefix "$tools" --no-audit --no-fund --loglevel=error "allure@$version"
