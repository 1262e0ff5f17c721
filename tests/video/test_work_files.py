"""Hole 7 (issue 13): killed processes left upload temp files (9 x 3.5 MB after 10 kills)
and video work folders behind, and nothing cleaned them at start. Work files are now named
``vbg-<kind>-<pid>-...`` in ``VBG_WORK_DIR``; whatever a killed process leaves is removed
when the next one starts (the task worker, gunicorn) or when gunicorn sees a worker die.

Real processes, killed with SIGKILL: ``manage.py run_worker`` mid-job, and
``manage.py runserver`` mid-upload.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests

from accounts.services import token_create
from compositing.models import Composite
from tests.video.clips import make_clip
from tests.video.conftest import BASE_DIR, database_url, wait_for
from tests.video.test_worker import create
from vbgsite.work_files import work_dir, work_files_clean_stale

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


@pytest.fixture
def work(tmp_path, settings) -> Path:
    folder = tmp_path / "work"
    folder.mkdir()
    settings.VBG_WORK_DIR = str(folder)
    return folder


def entries(folder: Path, kind: str) -> list[Path]:
    return sorted(folder.glob(f"vbg-{kind}-*"))


def test_a_killed_workers_video_folder_is_removed_by_the_next_worker(
    user, start_worker, tmp_path, work
):
    clip = make_clip(tmp_path / "long.mp4", width=640, height=368, frames=300, audio=False)
    composite = create(user, clip.path, mode="color", color="#2040C0")
    env = {"VBG_WORK_DIR": str(work), "VBG_VIDEO_STALE_SECONDS": "3"}
    first = start_worker(**env)
    wait_for(
        lambda: Composite.objects.get(pk=composite.pk).frames_done > 0,
        timeout=120,
        what="the job to start",
        worker=first,
    )
    first.kill()
    left = entries(work, "video")
    assert [p.name.split("-")[2] for p in left] == [str(first.process.pid)]
    assert any(p.is_file() for p in left[0].iterdir())  # the source copy, at least

    second = start_worker(**env)
    wait_for(lambda: not left[0].exists(), timeout=60, what="the cleanup", worker=second)
    wait_for(
        lambda: Composite.objects.get(pk=composite.pk).status == "done",
        timeout=180,
        what="the next worker to finish the job",
        worker=second,
    )
    # The finished job removed its own folder too.
    wait_for(lambda: not entries(work, "video"), timeout=10, what="no work folders")
    assert "removed 1 stale work files" in second.output()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _send_slow_upload(sock: socket.socket, key: str, size: int = 3_500_000) -> None:
    """A multipart background upload of ``size`` bytes (over FILE_UPLOAD_MAX_MEMORY_SIZE,
    so Django writes it to a temporary file), sent slowly: 64 KB every 20 ms."""
    head = (
        b'--vbgboundary\r\nContent-Disposition: form-data; name="image"; filename="big.jpg"'
        b"\r\nContent-Type: image/jpeg\r\n\r\n"
    )
    tail = b"\r\n--vbgboundary--\r\n"
    request = (
        "POST /api/v1/backgrounds/ HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        "Content-Type: multipart/form-data; boundary=vbgboundary\r\n"
        f"Content-Length: {len(head) + size + len(tail)}\r\n"
        f"Authorization: Token {key}\r\n\r\n"
    )
    with contextlib.suppress(OSError):  # the server is killed meanwhile
        sock.sendall(request.encode() + head)
        for start in range(0, size, 65536):
            sock.sendall(b"\xff" * min(65536, size - start))
            time.sleep(0.02)
        sock.sendall(tail)


def test_a_killed_web_processs_upload_file_is_removed_at_the_next_start(tmp_path, work, user):
    port = _free_port()
    env = {
        **os.environ,
        "VBG_WORK_DIR": str(work),
        "DEBUG": "1",
        "VBG_ALLOW_INSECURE_KEY": "1",
        "PYTHONUNBUFFERED": "1",
        "DATABASE_URL": database_url(),  # the test database: the token below is in it
    }
    log = (tmp_path / "web.log").open("wb")
    server = subprocess.Popen(
        [sys.executable, "manage.py", "runserver", "--noreload", f"127.0.0.1:{port}"],
        cwd=BASE_DIR,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        session = requests.Session()
        wait_for(lambda: _up(session, base), timeout=60, what="runserver")
        _token, key = token_create(user=user, name="upload")
        upload = socket.create_connection(("127.0.0.1", port))  # closed with the test
        threading.Thread(target=_send_slow_upload, args=(upload, key), daemon=True).start()
        wait_for(lambda: _written(work) >= 1_000_000, timeout=60, what="the upload file")
        server.send_signal(signal.SIGKILL)
        server.wait(timeout=30)
        left = entries(work, "upload")
        assert [p.name.split("-")[2] for p in left] == [str(server.pid)]

        report = work_files_clean_stale()  # what gunicorn's on_starting runs
    finally:
        if server.poll() is None:
            server.kill()
        log.close()

    assert report.removed == 1 and report.bytes >= 1_000_000
    assert entries(work, "upload") == []


def test_files_of_live_processes_are_kept(work):
    mine = work_dir("video")
    (mine / "frame").write_bytes(b"x" * 10)
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        theirs = work / f"vbg-upload-{sleeper.pid}-abc.upload.jpg"
        theirs.write_bytes(b"y" * 10)
        stray = work / "not-ours.tmp"
        stray.write_bytes(b"z")

        report = work_files_clean_stale()

        assert report.removed == 0
        assert mine.exists() and theirs.exists() and stray.exists()
    finally:
        sleeper.kill()
        sleeper.wait()
    assert work_files_clean_stale().removed == 1  # now its process is gone
    assert not theirs.exists() and mine.exists()


def test_gunicorn_removes_a_dead_workers_files_only(work):
    from vbgsite import gunicorn_conf

    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    alive = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        (work / f"vbg-upload-{dead.pid}-a.upload").write_bytes(b"1")
        (work / f"vbg-upload-{alive.pid}-b.upload").write_bytes(b"2")

        gunicorn_conf.child_exit(None, type("Worker", (), {"pid": dead.pid})())

        assert [p.name for p in entries(work, "upload")] == [f"vbg-upload-{alive.pid}-b.upload"]
    finally:
        alive.kill()
        alive.wait()


def _up(session: requests.Session, base: str) -> bool:
    try:
        session.get(f"{base}/accounts/login/", timeout=5)
    except requests.RequestException:
        return False
    return True


def _written(folder: Path) -> int:
    return sum(p.stat().st_size for p in entries(folder, "upload") if p.is_file())
