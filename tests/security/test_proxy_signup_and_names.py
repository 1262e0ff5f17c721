"""Hole 10 (issue 13): ``X-Forwarded-Proto`` was trusted from any client; sign-up told
whether an email address has an account; background names accepted right-to-left override
characters."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import requests
from django.contrib.auth import get_user_model

from backgrounds.models import Background
from tests.backgrounds.factories import jpeg

ROOT = Path(__file__).resolve().parents[2]


def proxy_header_setting(hops: str) -> str:
    """SECURE_PROXY_SSL_HEADER as the settings module computes it for VBG_PROXY_HOPS."""
    env = {**os.environ, "VBG_PROXY_HOPS": hops, "DJANGO_SETTINGS_MODULE": "vbgsite.settings"}
    code = "from django.conf import settings; print(settings.SECURE_PROXY_SSL_HEADER)"
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_forwarded_proto_is_trusted_only_behind_configured_proxies():
    assert proxy_header_setting("0") == "None"
    assert proxy_header_setting("1") == "('HTTP_X_FORWARDED_PROTO', 'https')"


@pytest.mark.django_db
def test_a_client_cannot_claim_https_with_a_header(client, settings):
    # The test client builds its middleware per client, so the redirect setting applies.
    settings.SECURE_SSL_REDIRECT = True  # production: plain HTTP is sent to HTTPS

    response = client.get("/accounts/login/", HTTP_X_FORWARDED_PROTO="https")

    assert response.status_code == 301
    assert response["Location"].startswith("https://")


def signup(base: str, username: str, email: str) -> requests.Response:
    session = requests.Session()
    session.get(f"{base}/accounts/signup/", timeout=30)
    return session.post(
        f"{base}/accounts/signup/",
        data={
            "username": username,
            "email": email,
            "password1": "correct-Horse-battery-9",
            "password2": "correct-Horse-battery-9",
            "csrfmiddlewaretoken": session.cookies["csrftoken"],
        },
        headers={"Referer": f"{base}/accounts/signup/"},
        allow_redirects=False,
        timeout=30,
    )


@pytest.mark.django_db(transaction=True)
def test_sign_up_answers_the_same_for_a_registered_email(live_server, make_user):
    make_user("someone", email="taken@example.com")

    fresh = signup(live_server.url, "newcomer", "fresh@example.com")
    taken = signup(live_server.url, "another", "TAKEN@example.com")

    assert (fresh.status_code, taken.status_code) == (302, 302)
    assert fresh.headers["Location"] == taken.headers["Location"]
    assert fresh.text == taken.text
    assert get_user_model().objects.filter(username="another").exists()


RLO_NAMES = ["holiday\u202egpj.exe", "a\u2066b", "left\u200fmark", "bell\x07"]


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("name", RLO_NAMES)
def test_background_upload_refuses_direction_controls_in_the_name(live_api, user, name):
    response = live_api.request(
        "POST",
        "/api/v1/backgrounds/",
        files={"image": ("sky.jpg", jpeg(), "image/jpeg")},
        data={"name": name},
    )

    assert response.status_code == 400, response.text
    assert "text-direction or control characters" in response.json()["detail"]
    assert not Background.objects.filter(owner=user).exists()


@pytest.mark.django_db(transaction=True)
def test_background_rename_refuses_a_right_to_left_override(live_api, user):
    upload = live_api.request(
        "POST", "/api/v1/backgrounds/", files={"image": ("sky.jpg", jpeg(), "image/jpeg")}
    )
    background_id = upload.json()["id"]

    response = live_api.request(
        "PATCH", f"/api/v1/backgrounds/{background_id}/", json={"name": "sea\u202egpj.exe"}
    )

    assert response.status_code == 400
    assert "U+202E" in response.json()["detail"]
    assert Background.objects.get(pk=background_id).name == "sky"


@pytest.mark.django_db(transaction=True)
def test_a_file_name_with_an_override_is_cleaned_when_no_name_is_given(live_api, user):
    response = live_api.request(
        "POST",
        "/api/v1/backgrounds/",
        files={"image": ("beach\u202egpj.jpg", jpeg(), "image/jpeg")},
    )

    assert response.status_code == 201, response.text
    assert response.json()["name"] == "beachgpj"
