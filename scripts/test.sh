#!/usr/bin/env bash
# Runs every test: unit, integration (S3 over HTTP against a local moto server), browser.
# Usage: scripts/test.sh [pytest arguments]
# The database is SQLite unless DATABASE_URL is set, e.g.
#   DATABASE_URL=postgres://postgres@127.0.0.1:5432/test scripts/test.sh
# (pytest-django creates and drops the test_<name> database itself).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh requirements-dev.txt

# The end-to-end test drives Debian's Chromium through Playwright.
if [ ! -x /usr/bin/chromium ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        apt-get update -qq && apt-get install -y -qq chromium
    else
        echo "note: /usr/bin/chromium is missing (apt-get install chromium); browser tests will be skipped" >&2
    fi
fi

# The segmentation weights (the same step as the set-up command; quick when present), so
# the model tests run against the real network rather than being skipped.
VBG_ALLOW_INSECURE_KEY=1 .venv/bin/python manage.py fetch_model

exec .venv/bin/pytest "$@"
