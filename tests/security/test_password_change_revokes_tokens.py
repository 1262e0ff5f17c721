"""Hole 3 (issue 13): API tokens kept working after a password change, although other
sessions were signed out. Changing the password revokes every token of the person's, and
the page says so."""

from __future__ import annotations

import pytest
import requests

from accounts.models import ApiToken
from accounts.services import token_create
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db(transaction=True)

NEW = "another-Staple-horse-42"


def signed_in_session(base: str) -> requests.Session:
    session = requests.Session()
    session.get(f"{base}/accounts/login/", timeout=30)
    response = session.post(
        f"{base}/accounts/login/",
        data={
            "username": "alice",
            "password": PASSWORD,
            "csrfmiddlewaretoken": session.cookies["csrftoken"],
        },
        headers={"Referer": f"{base}/accounts/login/"},
        allow_redirects=False,
        timeout=30,
    )
    assert response.status_code == 302
    return session


def test_changing_the_password_revokes_api_tokens(live_server, user, other_user):
    _token, key = token_create(user=user, name="laptop script")
    token_create(user=user, name="phone")
    token_create(user=other_user, name="theirs")
    api = {"Authorization": f"Token {key}"}
    assert requests.get(f"{live_server.url}/api/v1/composites/", headers=api, timeout=30).ok
    session = signed_in_session(live_server.url)
    page = session.get(f"{live_server.url}/accounts/password/", timeout=30)
    assert "API tokens are revoked" in page.text

    response = session.post(
        f"{live_server.url}/accounts/password/",
        data={
            "old_password": PASSWORD,
            "new_password1": NEW,
            "new_password2": NEW,
            "csrfmiddlewaretoken": session.cookies["csrftoken"],
        },
        headers={"Referer": f"{live_server.url}/accounts/password/"},
        timeout=30,
    )

    assert response.status_code == 200
    assert "Your password has been changed" in response.text
    assert "2 API tokens were revoked" in response.text
    after = requests.get(f"{live_server.url}/api/v1/composites/", headers=api, timeout=30)
    assert after.status_code == 401
    assert not ApiToken.objects.filter(owner=user).exists()
    assert ApiToken.objects.filter(owner=other_user).count() == 1
    # This browser stays signed in.
    assert session.get(f"{live_server.url}/accounts/tokens/", timeout=30).status_code == 200


def test_a_refused_password_change_keeps_the_tokens(client_logged_in, user):
    token_create(user=user, name="laptop script")

    response = client_logged_in.post(
        "/accounts/password/",
        {"old_password": "wrong", "new_password1": NEW, "new_password2": NEW},
    )

    assert response.status_code == 400
    assert ApiToken.objects.filter(owner=user).count() == 1
