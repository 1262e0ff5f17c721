"""The API section's curl and Python examples, run as written against a live server.

The examples are the fenced blocks tagged ``bash api-example`` and ``python api-example``
in ``DOC_FILE`` (the README's API section). Only their
server address is replaced (``http://127.0.0.1:8000`` -> the live server); they sign in as
``alice`` with the password they show, in a folder holding ``portrait.jpg`` and
``beach.jpg``, and must exit 0 and leave the files they say they write.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from compositing.models import Composite
from tests.api import images
from tests.compositing.conftest import make_background

ROOT = Path(__file__).resolve().parents[2]
DOC_FILE = ROOT / "README.md"
DOC_BASE = "http://127.0.0.1:8000"
EXAMPLE = re.compile(r"^```(bash|python) api-example\n(.*?)^```", re.MULTILINE | re.DOTALL)


def examples(language: str) -> list[str]:
    found = [code for lang, code in EXAMPLE.findall(DOC_FILE.read_text()) if lang == language]
    assert found, f"no ```{language} api-example block in {DOC_FILE}"
    return found


def doc_password() -> str:
    match = re.search(r"password='([^']+)'", examples("bash")[0])
    assert match, "the curl example signs in with -d password='...'"
    return match.group(1)


@pytest.fixture
def workdir(tmp_path) -> Path:
    folder = tmp_path / "examples"
    folder.mkdir()
    (folder / "portrait.jpg").write_bytes(images.portrait_jpeg(256))
    (folder / "beach.jpg").write_bytes(images.scenery_jpeg(320, 240))
    return folder


@pytest.fixture
def example_server(live_server, make_user, api_model):
    make_user("alice", password=doc_password())
    make_background(None, name="Studio", width=320, height=240)
    return live_server.url


def run_example(language: str, code: str, base: str, cwd: Path) -> str:
    assert DOC_BASE in code, f"the example should use {DOC_BASE}"
    code = code.replace(DOC_BASE, base)
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    command = (
        ["bash", "-euo", "pipefail", "-c", code]
        if language == "bash"
        else [sys.executable, "-c", code]
    )
    done = subprocess.run(
        command, cwd=cwd, env=env, capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0, f"{language} example failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


@pytest.mark.slow
def test_curl_example(example_server, workdir, user_composites):
    for code in examples("bash"):
        run_example("bash", code, example_server, workdir)

    studio = images.decode((workdir / "portrait-studio.jpg").read_bytes())
    assert (studio.format, studio.size) == ("JPEG", (256, 256))
    blue = images.decode((workdir / "portrait-blue.png").read_bytes())
    assert (blue.format, blue.size) == ("PNG", (256, 256))
    recomposite = json.loads((workdir / "recomposite.json").read_text())
    assert recomposite["timings"]["mask_reused"] is True
    colour_id = json.loads((workdir / "composite.json").read_text())["id"]
    assert not Composite.objects.filter(pk=colour_id).exists()  # the example deleted it
    assert json.loads((workdir / "history.json").read_text())["count"] == 3
    assert user_composites() == 2


@pytest.mark.slow
def test_python_example(example_server, workdir, user_composites):
    output = ""
    for code in examples("python"):
        output += run_example("python", code, example_server, workdir)

    for name in ("portrait-blurred.webp", "portrait-beach.webp"):
        image = images.decode((workdir / name).read_bytes())
        assert (image.format, image.size) == ("WEBP", (256, 256))
    assert "400 invalid_image" in output
    assert user_composites() == 2


@pytest.fixture
def user_composites():
    def count() -> int:
        return Composite.objects.filter(owner__username="alice").count()

    return count
