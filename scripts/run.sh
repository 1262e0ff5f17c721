#!/usr/bin/env bash
# One command from a fresh clone to a running studio at http://127.0.0.1:8000 :
# venv + install, model weights, database, built-in backgrounds, task worker, web server.
# Embedded defaults: SQLite (db.sqlite3), local files (media/), model in models/.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh requirements.txt

export DEBUG="${DEBUG:-1}"
PY=.venv/bin/python
$PY manage.py fetch_model
$PY manage.py migrate --noinput
$PY manage.py createcachetable
$PY manage.py seed_backgrounds

# The task worker (videos; db_worker plus recovery of interrupted jobs) runs beside the web server and stops with it.
$PY manage.py run_worker &
WORKER_PID=$!
trap 'kill $WORKER_PID 2>/dev/null || true' EXIT INT TERM

echo "Studio: http://127.0.0.1:8000  (Ctrl-C stops the server and the worker)"
$PY manage.py runserver 127.0.0.1:8000
