"""Bad settings stop manage.py with one clear line, not a traceback."""

import os
import subprocess
import sys

from tests.architecture.source import ROOT


def _manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if k not in {"SECRET_KEY", "DEBUG"}}
    clean.pop("VBG_ALLOW_INSECURE_KEY", None)
    clean.update(env)
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=clean,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_help_without_secret_key_is_one_clear_line():
    run = _manage("--help")
    assert run.returncode != 0
    assert run.stdout == ""
    lines = run.stderr.strip().splitlines()
    assert lines == [
        "manage.py: bad settings: SECRET_KEY must be set when DEBUG is off "
        "(for local development set DEBUG=1 or VBG_ALLOW_INSECURE_KEY=1)"
    ]


def test_a_malformed_value_names_the_variable():
    run = _manage("check", VBG_ALLOW_INSECURE_KEY="1", VBG_MAX_UPLOAD_BYTES="lots")
    assert run.returncode != 0
    assert run.stderr.strip().splitlines() == [
        "manage.py: bad settings: VBG_MAX_UPLOAD_BYTES='lots' is not an integer"
    ]


def test_good_settings_run_the_command():
    run = _manage("--help", VBG_ALLOW_INSECURE_KEY="1")
    assert run.returncode == 0
    assert "fetch_model" in run.stdout
