#!/usr/bin/env bash
# Render reports/allure-results into ONE file, reports/allure-report/index.html, that opens from
# file:// in any browser. Trends: Allure 3 appends every render to reports/history/history.jsonl
# and reads it back next time; an Allure 2 style history/ folder of a previous report is copied
# into the results too. environment.properties and categories.json are written by the suite;
# they are filled in here only if the results lack them (e.g. results from another tool).
set -euo pipefail
cd "$(dirname "$0")/.."
results=${1:-reports/allure-results}
report=reports/allure-report
if [ ! -d "$results" ] || [ -z "$(ls -A "$results" 2>/dev/null)" ]; then
  echo "render-report: no results in $results; run behave first" >&2
  exit 1
fi
scripts/install-allure.sh
mkdir -p reports/history
if [ -d "$report/history" ]; then
  rm -rf "$results/history" && cp -r "$report/history" "$results/history"
fi
if [ ! -f "$results/environment.properties" ]; then
  printf 'commit=%s\n' "$(git rev-parse --short HEAD 2>/dev/null || echo unknown)" \
    > "$results/environment.properties"
fi
if [ ! -f "$results/categories.json" ]; then
  .venv/bin/python -c 'import json, sys; from support.reporting import CATEGORIES; json.dump(CATEGORIES, sys.stdout, indent=2)' \
    > "$results/categories.json"
fi
rm -rf "$report"
ALLURE_RESULTS="$results" .tools/allure/node_modules/.bin/allure generate "$results" --config allurerc.mjs -o "$report" >/dev/null
echo "render-report: open file://$(pwd)/$report/index.html"
