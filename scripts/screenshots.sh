#!/usr/bin/env bash
# Screenshots of the main pages at 1280 px and 390 px into docs/screenshots/, taken by the
# browser journeys (tests/browser/test_journeys.py) on a freshly generated sample market.
# Usage: bash scripts/screenshots.sh   (needs Chromium: scripts/ensure_browser.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
out=docs/screenshots
mkdir -p "$out"
rm -f "$out"/*.png
JOBMATCH_SCREENSHOTS="$out" JOBMATCH_REQUIRE_BROWSER=1 \
  "${PYTHON:-.venv/bin/python}" -m pytest -q -p no:cacheprovider tests/browser/test_journeys.py
ls "$out"
