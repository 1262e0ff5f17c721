"""Hole 1 (issue 13): /admin/login/ was not throttled: 12 wrong passwords for a staff
account, then the right one signed in. It now counts failures per username and address
like the site's sign-in page (``accounts.throttle``, ``VBG_LOGIN_MAX_FAILURES``) and
answers 429 with a message."""

from __future__ import annotations

import pytest
import requests

from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def staff(make_user):
    person = make_user("boss")
    person.is_staff = True
    person.is_superuser = True
    person.save()
    return person


def admin_attempt(session: requests.Session, base: str, password: str) -> requests.Response:
    """Sign in to the admin as "boss", over HTTP with the page's CSRF token."""
    session.get(f"{base}/admin/login/", timeout=30)
    return session.post(
        f"{base}/admin/login/",
        data={
            "username": "boss",
            "password": password,
            "csrfmiddlewaretoken": session.cookies["csrftoken"],
            "next": "/admin/",
        },
        headers={"Referer": f"{base}/admin/login/"},
        allow_redirects=False,
        timeout=30,
    )


def test_twelve_wrong_passwords_then_the_right_one_is_refused(live_server, staff, settings):
    settings.VBG_LOGIN_MAX_FAILURES = 5
    session = requests.Session()
    for _ in range(12):
        response = admin_attempt(session, live_server.url, "wrong-password")
        assert response.status_code in (200, 429)

    response = admin_attempt(session, live_server.url, PASSWORD)

    assert response.status_code == 429
    assert "Too many failed sign-in attempts" in response.text
    assert (
        session.get(f"{live_server.url}/admin/", timeout=30, allow_redirects=False).status_code
        == 302
    )


def test_the_failures_count_is_shared_with_the_site_sign_in(live_server, staff, settings):
    settings.VBG_LOGIN_MAX_FAILURES = 3
    session = requests.Session()
    for _ in range(3):
        admin_attempt(session, live_server.url, "wrong-password")

    session.get(f"{live_server.url}/accounts/login/", timeout=30)
    response = session.post(
        f"{live_server.url}/accounts/login/",
        data={
            "username": "boss",
            "password": PASSWORD,
            "csrfmiddlewaretoken": session.cookies["csrftoken"],
        },
        headers={"Referer": f"{live_server.url}/accounts/login/"},
        allow_redirects=False,
        timeout=30,
    )

    assert response.status_code == 429


def test_staff_still_sign_in_to_the_admin_below_the_limit(live_server, staff, settings):
    settings.VBG_LOGIN_MAX_FAILURES = 5
    session = requests.Session()
    for _ in range(4):
        assert admin_attempt(session, live_server.url, "wrong-password").status_code == 200

    response = admin_attempt(session, live_server.url, PASSWORD)

    assert response.status_code == 302
    assert response.headers["Location"] == "/admin/"
    assert session.get(f"{live_server.url}/admin/", timeout=30).status_code == 200
