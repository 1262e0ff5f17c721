"""Rate limits: 429 with Retry-After, per user, kept in the shared cache across processes."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from django.conf import settings as django_settings
from django.core.cache import caches
from django.core.files.uploadedfile import SimpleUploadedFile

from tests.api import images

ROOT = Path(__file__).resolve().parents[2]
URL = "/api/v1/composites/"


def set_rates(settings, **rates: str) -> None:
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], **rates},
    }


def test_user_rate_answers_429_with_retry_after(api, settings):
    set_rates(settings, user="3/min")
    for _ in range(3):
        assert api.get(URL).status_code == 200

    response = api.get(URL)

    assert response.status_code == 429
    retry_after = int(response["Retry-After"])
    assert 1 <= retry_after <= 60
    body = response.json()
    assert body["code"] == "throttled"
    assert body["retry_after"] == retry_after
    assert body["detail"]


def test_the_rate_is_per_user(api, other_api, settings):
    set_rates(settings, user="2/min")
    for _ in range(3):
        api.get(URL)
    assert api.get(URL).status_code == 429

    assert other_api.get(URL).status_code == 200


def test_composite_rate_counts_only_model_work(api, settings):
    set_rates(settings, composite="2/hour")
    for _ in range(5):
        assert api.get(URL).status_code == 200  # reading history does not count
    for _ in range(2):
        bad = SimpleUploadedFile("x.jpg", images.not_an_image())
        assert api.post(URL, {"photo": bad, "mode": "blur"}).status_code == 400

    photo = SimpleUploadedFile("x.jpg", images.portrait_jpeg())
    response = api.post(URL, {"photo": photo, "mode": "blur"})

    assert response.status_code == 429
    assert 3000 < int(response["Retry-After"]) <= 3600
    assert api.get(URL).status_code == 200


def test_throttle_state_lives_in_the_shared_cache(api, user, settings):
    """The counts are in the configured shared cache (database table or Redis), so a new
    connection to it, as another gunicorn worker would open, sees and changes them."""
    set_rates(settings, user="2/min")
    backend = django_settings.CACHES["default"]["BACKEND"]
    assert backend.endswith(("DatabaseCache", "RedisCache"))
    for _ in range(2):
        api.get(URL)

    other_connection = caches.create_connection("default")
    history = other_connection.get(f"throttle_user_{user.pk}")
    assert len(history) == 2
    assert api.get(URL).status_code == 429

    other_connection.delete(f"throttle_user_{user.pk}")  # e.g. another worker's view
    assert api.get(URL).status_code == 200


def test_a_failing_cache_lets_requests_through(api, settings, monkeypatch):
    from vbgsite import throttles

    def broken(*args, **kwargs):
        raise ConnectionError("cache down")

    monkeypatch.setattr(throttles.UserRateThrottle.cache, "get", broken)
    set_rates(settings, user="1/min")

    assert api.get(URL).status_code == 200
    assert api.get(URL).status_code == 200


# -- two server processes sharing one limit -----------------------------------------------


def _run(args: list[str], env: dict[str, str]) -> str:
    done = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_until_up(url: str, process: subprocess.Popen, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, "server exited"
        try:
            requests.get(url, timeout=20)
            return
        except requests.RequestException:
            time.sleep(0.2)
    raise AssertionError(f"{url} did not come up")


@pytest.mark.slow
def test_two_server_processes_share_one_limit(tmp_path):
    """Two gunicorn processes on one database: requests alternate between them and the
    limit still holds for their sum, so it would hold across a dyno's workers."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DATABASE_URL", "REDIS_URL", "AWS_STORAGE_BUCKET_NAME"}
    }
    env.update(
        {
            "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
            "MEDIA_ROOT": str(tmp_path / "media"),
            "VBG_ALLOW_INSECURE_KEY": "1",
            "DEBUG": "0",
            "SECURE_SSL_REDIRECT": "0",
            "VBG_API_RATE_USER": "4/min",
            "PYTHONUNBUFFERED": "1",
        }
    )
    _run(["migrate", "--noinput", "-v", "0"], env)
    _run(["createcachetable"], env)
    key = _run(
        [
            "shell",
            "-c",
            "from django.contrib.auth import get_user_model\n"
            "from accounts.services import token_create\n"
            "u = get_user_model().objects.create_user('throttled', password='x-Passw0rd-9')\n"
            "print(token_create(user=u, name='test')[1])",
        ],
        env,
    ).split()[-1]  # the shell may print a banner first

    servers, urls = [], []
    try:
        for _ in range(2):
            port = _free_port()
            servers.append(
                subprocess.Popen(
                    [
                        sys.executable,
                        "-m",
                        "gunicorn",
                        "vbgsite.wsgi",
                        "--bind",
                        f"127.0.0.1:{port}",
                        "--workers",
                        "1",
                    ],
                    cwd=ROOT,
                    env=env,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            )
            urls.append(f"http://127.0.0.1:{port}/api/v1/composites/")
        for url, server in zip(urls, servers, strict=True):
            _wait_until_up(url, server)
        headers = {"Authorization": f"Token {key}"}

        statuses = [
            requests.get(urls[i % 2], headers=headers, timeout=30).status_code for i in range(4)
        ]
        refused = [requests.get(url, headers=headers, timeout=30) for url in urls]
    finally:
        for server in servers:
            server.terminate()
        for server in servers:
            server.wait(timeout=30)

    assert statuses == [200, 200, 200, 200]
    assert [r.status_code for r in refused] == [429, 429]
    assert all(1 <= int(r.headers["Retry-After"]) <= 60 for r in refused)
    assert all(r.json()["code"] == "throttled" for r in refused)
