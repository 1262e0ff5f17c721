#!/usr/bin/env bash
# Creates .venv with Python 3.12 (if missing) and installs the pinned requirements.
# Usage: scripts/bootstrap.sh [requirements file]   (default: requirements.txt)
set -euo pipefail
cd "$(dirname "$0")/.."
REQS="${1:-requirements.txt}"

find_python() {
    for candidate in python3.12 "$HOME/.pyenv/versions/3.12"*/bin/python3.12 /usr/bin/python3.12; do
        if command -v "$candidate" >/dev/null 2>&1 && "$candidate" -c 'import sys; assert sys.version_info[:2] == (3, 12)' 2>/dev/null; then
            command -v "$candidate"
            return 0
        fi
    done
    echo "Python 3.12 is required (pyenv install 3.12, or your OS package)." >&2
    return 1
}

if [ ! -x .venv/bin/python ]; then
    PYTHON="$(find_python)"
    "$PYTHON" -m venv .venv
fi
# Some build machines carry a global pip constraint file capping torch below our pin
# (/etc/xdg/pip); it does not apply to this project, so skip pip's config files there.
if grep -qs '^torch' /etc/xdg/pip/constraints.txt; then
    export PIP_CONFIG_FILE=/dev/null
fi
.venv/bin/python -m pip install --quiet --upgrade pip
STAMP=".venv/.installed-$(basename "$REQS")"
if [ ! -f "$STAMP" ] || [ "$REQS" -nt "$STAMP" ] || [ requirements.txt -nt "$STAMP" ]; then
    .venv/bin/python -m pip install --quiet -r "$REQS"
    touch "$STAMP"
fi
