"""Issue 13: rate-limit headers on every API answer (``X-RateLimit-Limit``, ``-Remaining``,
``-Reset`` as remove.bg's clients read them) and one ``composite`` limit for both front
doors: the studio accepted 11 composites after the API had refused the same person. The
limit is now taken by the composite services, which the studio and the API both call.
Driven over HTTP against the live server; photos go through the real model."""

from __future__ import annotations

import time

import pytest
import requests

from accounts.services import token_create
from compositing.models import Composite
from tests.api import images

pytestmark = pytest.mark.django_db(transaction=True)

RATE_HEADERS = ("X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset")


def set_rates(settings, **rates: str) -> None:
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], **rates},
    }


@pytest.fixture
def api(live_server, user) -> requests.Session:
    _token, key = token_create(user=user, name="rate tests")
    session = requests.Session()
    session.headers["Authorization"] = f"Token {key}"
    session.base = live_server.url
    yield session
    session.close()


@pytest.fixture
def studio(live_server, client_logged_in) -> requests.Session:
    """The website, signed in as the same person (session cookie and CSRF token)."""
    session = requests.Session()
    session.cookies.set("sessionid", client_logged_in.cookies["sessionid"].value)
    session.get(f"{live_server.url}/", timeout=30)
    session.headers["X-CSRFToken"] = session.cookies["csrftoken"]
    session.headers["Referer"] = f"{live_server.url}/"
    session.base = live_server.url
    yield session
    session.close()


def assert_rate_headers(response, *, limit: int | None = None) -> tuple[int, int, int]:
    for name in RATE_HEADERS:
        assert name in response.headers, (response.status_code, dict(response.headers))
    values = tuple(int(response.headers[name]) for name in RATE_HEADERS)
    if limit is not None:
        assert values[0] == limit
    assert 0 <= values[1] <= values[0]
    assert abs(values[2] - time.time()) < 3 * 86400
    return values


def test_every_api_answer_has_rate_limit_headers(api, live_server, settings):
    set_rates(settings, user="50/hour", anon="30/hour", auth="7/hour")
    answers = {
        "list": api.get(f"{api.base}/api/v1/composites/", timeout=30),
        "other's id": api.get(f"{api.base}/api/v1/composites/{'0' * 32}/", timeout=30),
        "unknown path": api.get(f"{api.base}/api/v1/nothing-here/", timeout=30),
        "bad body": api.post(f"{api.base}/api/v1/composites/", data={"x": "1"}, timeout=30),
    }
    anonymous = {
        "no token": requests.get(f"{live_server.url}/api/v1/composites/", timeout=30),
        "schema": requests.get(f"{live_server.url}/api/v1/schema/", timeout=30),
    }
    sign_in = requests.post(
        f"{live_server.url}/api/v1/auth/token/",
        data={"username": "alice", "password": "wrong"},
        timeout=30,
    )

    for name, response in answers.items():
        assert response.status_code < 500, name
        assert_rate_headers(response, limit=50)
    for response in anonymous.values():
        assert_rate_headers(response, limit=30)
    assert_rate_headers(sign_in, limit=7)


def test_remaining_counts_down_and_429_says_when(api, settings):
    set_rates(settings, user="3/minute")
    url = f"{api.base}/api/v1/composites/"
    remaining = [int(api.get(url, timeout=30).headers["X-RateLimit-Remaining"]) for _ in range(3)]

    refused = api.get(url, timeout=30)

    assert remaining == [2, 1, 0]
    assert refused.status_code == 429
    _limit, left, reset = assert_rate_headers(refused, limit=3)
    assert left == 0
    retry_after = int(refused.headers["Retry-After"])
    assert 1 <= retry_after <= 60
    assert abs(reset - (time.time() + retry_after)) <= 2


def test_studio_refuses_after_the_api_refused(api, studio, user, settings, api_model):
    set_rates(settings, composite="2/hour")
    for _ in range(2):
        made = api.post(
            f"{api.base}/api/v1/composites/",
            files={"photo": ("me.jpg", images.portrait_jpeg(), "image/jpeg")},
            data={"mode": "blur"},
            timeout=120,
        )
        assert made.status_code == 201, made.text
    refused = api.post(
        f"{api.base}/api/v1/composites/",
        files={"photo": ("me.jpg", images.portrait_jpeg(), "image/jpeg")},
        data={"mode": "blur"},
        timeout=120,
    )
    assert refused.status_code == 429
    assert refused.json()["code"] == "throttled"
    assert int(refused.headers["Retry-After"]) > 3000

    page = studio.post(
        f"{studio.base}/",
        files={"photo": ("me.jpg", images.portrait_jpeg(), "image/jpeg")},
        data={"background": "blur"},
        timeout=120,
    )

    assert page.status_code == 429
    assert "composites in the last hour" in page.text
    assert Composite.objects.filter(owner=user).count() == 2


def test_api_refuses_after_the_studio_used_the_limit(api, studio, user, settings, stored_composite):
    set_rates(settings, composite="2/hour")
    original = stored_composite(user)
    for color in ("#112233", "#445566"):
        page = studio.post(
            f"{studio.base}/history/{original.pk}/recomposite/",
            data={"background": "color", "color": color},
            timeout=60,
            allow_redirects=False,
        )
        assert page.status_code == 302, page.text[:500]

    refused = api.post(
        f"{api.base}/api/v1/composites/{original.pk}/recomposite/",
        data={"color": "#00ff00"},
        timeout=60,
    )

    assert refused.status_code == 429
    body = refused.json()
    assert body["code"] == "throttled" and body["retry_after"] > 3000
    assert int(refused.headers["X-RateLimit-Remaining"]) == 0
    assert int(refused.headers["X-RateLimit-Limit"]) == 2
    assert Composite.objects.filter(owner=user).count() == 3


def test_the_composite_limit_is_per_person(api, user, other_user, settings, stored_composite):
    set_rates(settings, composite="1/hour")
    mine, theirs = stored_composite(user), stored_composite(other_user)
    _token, key = token_create(user=other_user, name="other")
    url = f"{api.base}/api/v1/composites/{{}}/recomposite/"

    assert api.post(url.format(mine.pk), data={"mode": "blur"}, timeout=60).status_code == 201
    assert api.post(url.format(mine.pk), data={"mode": "blur"}, timeout=60).status_code == 429
    other = requests.post(
        url.format(theirs.pk),
        data={"mode": "blur"},
        headers={"Authorization": f"Token {key}"},
        timeout=60,
    )
    assert other.status_code == 201
