"""Fixtures for the video tests: the real model, the real task worker in a subprocess.

The worker is ``manage.py run_worker`` (django-tasks-db's ``db_worker`` plus recovery),
started as a separate process against the test database, so jobs run exactly as in
production: claimed from the task table, progress written by another process, killable.

A separate process cannot see an in-memory SQLite database, so on SQLite the test
database is a file (``TEST["NAME"]``, set below before pytest-django creates it). On
PostgreSQL the worker connects to pytest-django's ``test_<name>`` database. Tests that use
the worker are ``django_db(transaction=True)``: their rows are committed, so the worker sees
them.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import quote

import numpy as np
import pytest
from django.conf import settings

BASE_DIR = Path(__file__).resolve().parents[2]

_default = settings.DATABASES["default"]
if _default["ENGINE"] == "django.db.backends.sqlite3":
    _test = _default.setdefault("TEST", {})
    if not _test.get("NAME"):
        _test["NAME"] = str(Path(tempfile.gettempdir()) / f"vbg-test-{os.getpid()}.sqlite3")


@pytest.fixture(scope="session")
def video_model_dir(request) -> Path:
    """The converted segmentation weights: the engine's ``selfie_model_dir`` fixture (the
    configured ``VBG_MODEL_DIR`` when it verifies, else fetched once like ``fetch_model``)."""
    try:
        return Path(request.getfixturevalue("selfie_model_dir"))
    except pytest.FixtureLookupError:
        from compositing.segmentation.weights.catalog import SELFIE_WEIGHTS
        from compositing.segmentation.weights.mediapipe import weights_verify

        model_dir = Path(settings.VBG_MODEL_DIR).resolve()
        if not all(weights_verify(spec, model_dir) for spec in SELFIE_WEIGHTS):
            pytest.skip(f"no segmentation weights in {model_dir}: run `manage.py fetch_model`")
        return model_dir


@pytest.fixture
def engine(video_model_dir, settings):
    """The engine configured like the worker's (one torch thread), for pipeline tests."""
    from compositing.segmentation import configure, frame_segmenter

    settings.VBG_MODEL_DIR = video_model_dir
    configure(model_dir=video_model_dir, threads=1)
    return frame_segmenter(settings.VBG_SEGMENTER, threads=1)


@pytest.fixture
def reference_person(engine) -> Callable[[int], np.ndarray]:
    """``reference_person(size)`` -> bool size x size: where the portrait is surely the
    person: the engine's own alpha on the still photo above 0.95, shrunk by 6 pixels (edges,
    where any two segmentations differ, are left out), head and shoulders only (the upper
    45 %: pasted into a wider scene, the model is unsure about her lower suit and the helmet
    she holds whatever the scene or the pipeline, so those pixels would test the model, not
    the video pipeline)."""
    from skimage.morphology import disk, erosion

    from compositing.segmentation import segment
    from tests.video.clips import portrait

    def person(size: int) -> np.ndarray:
        alpha = segment(portrait(size))
        sure = erosion(alpha > 0.95, disk(6)).astype(bool)
        sure[int(0.45 * size) :] = False
        return sure

    return person


def database_url() -> str:
    """A DATABASE_URL for the test database (call inside a test, after it exists)."""
    from django.db import connection

    params = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{params['NAME']}"
    if connection.vendor == "postgresql":
        user = quote(params.get("USER") or "")
        password = params.get("PASSWORD") or ""
        auth = user + (f":{quote(password)}" if password else "")
        host = params.get("HOST") or "127.0.0.1"
        port = params.get("PORT") or 5432
        return f"postgres://{auth}@{host}:{port}/{params['NAME']}"
    raise RuntimeError(f"no worker support for {connection.vendor}")


class WorkerProcess:
    """A running ``manage.py run_worker``; its output goes to ``log``."""

    def __init__(self, process: subprocess.Popen, log: Path) -> None:
        self.process = process
        self.log = log

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def kill(self) -> None:
        """SIGKILL: no handler runs, nothing is cleaned up (a crash or an OOM kill)."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)

    def wait(self, timeout: float) -> int:
        return self.process.wait(timeout=timeout)

    @property
    def alive(self) -> bool:
        return self.process.poll() is None


@pytest.fixture
def start_worker(video_model_dir, tmp_media, tmp_path) -> Iterator[Callable[..., WorkerProcess]]:
    """``start_worker(batch=False, **env)`` -> a worker subprocess on the test database and
    this test's media folder. Killed at the end of the test if still running."""
    started: list[WorkerProcess] = []

    def start(*, batch: bool = False, **env_overrides: str) -> WorkerProcess:
        env = dict(os.environ)
        env.update(
            {
                "DATABASE_URL": database_url(),
                "MEDIA_ROOT": str(tmp_media),
                "VBG_MODEL_DIR": str(video_model_dir),
                "VBG_ALLOW_INSECURE_KEY": "1",
                "VBG_TORCH_THREADS": "1",
                "DEBUG": "0",
                "PYTHONUNBUFFERED": "1",
                "DB_CONN_MAX_AGE": "0",
            }
        )
        env.pop("AWS_STORAGE_BUCKET_NAME", None)
        env.update(env_overrides)
        log = tmp_path / f"worker-{len(started)}.log"
        command = [
            sys.executable,
            "manage.py",
            "run_worker",
            "--no-startup-delay",
            "--no-reload",
            "--interval",
            "0.2",
            "-v",
            "2",
        ]
        if batch:
            command.append("--batch")
        with open(log, "wb") as out:
            process = subprocess.Popen(
                command, cwd=BASE_DIR, env=env, stdout=out, stderr=subprocess.STDOUT
            )
        worker = WorkerProcess(process, log)
        started.append(worker)
        return worker

    yield start
    for worker in started:
        if worker.alive:
            worker.process.kill()
            worker.process.wait(timeout=30)


def wait_for(
    condition: Callable[[], bool],
    *,
    timeout: float,
    interval: float = 0.05,
    what: str = "condition",
    worker: WorkerProcess | None = None,
) -> None:
    """Poll ``condition`` until it is true; fail with the worker's log on timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(interval)
    log = worker.output()[-4000:] if worker is not None else ""
    pytest.fail(f"timed out after {timeout} s waiting for {what}\n--- worker log ---\n{log}")
