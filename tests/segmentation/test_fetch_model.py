"""``manage.py fetch_model``: idempotent, verifies SHA-256, fails in one clear line."""

from __future__ import annotations

import io
import shutil
import zipfile

import pytest
from django.core.management import CommandError, call_command

from compositing.segmentation.weights.catalog import MEDIAPIPE_WEIGHTS, source_path, weights_path


def run(*args: str) -> str:
    out = io.StringIO()
    call_command("fetch_model", *args, stdout=out)
    return out.getvalue()


def make_wheel(path, members: dict[str, bytes]):
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


@pytest.fixture
def wheel_from_sources(selfie_model_dir, tmp_path):
    """A local wheel holding the two genuine model files (no download)."""
    members = {
        spec.wheel_member: source_path(spec, selfie_model_dir).read_bytes()
        for spec in MEDIAPIPE_WEIGHTS
    }
    return make_wheel(tmp_path / "mediapipe-0.10.14-py3-none-any.whl", members)


def test_converts_from_a_wheel_then_is_quick_and_idempotent(wheel_from_sources, tmp_path):
    target = tmp_path / "models"
    output = run("--model-dir", str(target), "--wheel", str(wheel_from_sources))
    assert "converted" in output
    files = [weights_path(spec, target) for spec in MEDIAPIPE_WEIGHTS]
    stamps = [path.stat().st_mtime_ns for path in files]

    again = run("--model-dir", str(target))  # no wheel needed: nothing to do

    assert "up to date" in again and "converted" not in again
    assert [path.stat().st_mtime_ns for path in files] == stamps


def test_reconverts_from_kept_sources_without_downloading(selfie_model_dir, tmp_path, monkeypatch):
    target = tmp_path / "models"
    (target / "source").mkdir(parents=True)
    for spec in MEDIAPIPE_WEIGHTS:
        shutil.copy2(source_path(spec, selfie_model_dir), source_path(spec, target))
    monkeypatch.setenv("PIP_INDEX_URL", "http://127.0.0.1:9/simple")  # a download would fail

    output = run("--model-dir", str(target))

    assert output.count("converted ") == len(MEDIAPIPE_WEIGHTS)


def test_hash_mismatch_is_one_line_and_writes_nothing(tmp_path):
    members = {spec.wheel_member: b"not the model" for spec in MEDIAPIPE_WEIGHTS}
    wheel = make_wheel(tmp_path / "mediapipe-0.10.14-py3-none-any.whl", members)
    target = tmp_path / "models"

    with pytest.raises(CommandError, match="SHA-256 mismatch") as caught:
        run("--model-dir", str(target), "--wheel", str(wheel))

    assert "\n" not in str(caught.value)
    assert not any(weights_path(spec, target).exists() for spec in MEDIAPIPE_WEIGHTS)


def test_offline_is_one_clear_line(tmp_path, monkeypatch):
    monkeypatch.setenv("PIP_INDEX_URL", "http://127.0.0.1:9/simple")
    monkeypatch.setenv("PIP_NO_CACHE_DIR", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", "")

    with pytest.raises(CommandError, match=r"could not download mediapipe==0\.10\.14") as caught:
        run("--model-dir", str(tmp_path / "models"))

    assert "\n" not in str(caught.value)
    assert not (tmp_path / "models" / "download").exists()
