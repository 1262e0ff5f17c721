"""Issue 13: form-encoded bodies (what ``curl -d`` and ``requests.post(data=...)`` send) are
accepted wherever JSON or multipart is; re-composite with ``color=%2300ff00`` answered 415.
Driven over HTTP against the live server."""

from __future__ import annotations

import pytest
import requests

from accounts.services import token_create
from compositing import imaging
from compositing.models import Composite

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def http(live_server, user) -> requests.Session:
    _token, key = token_create(user=user, name="form tests")
    session = requests.Session()
    session.headers["Authorization"] = f"Token {key}"
    session.base = live_server.url
    yield session
    session.close()


def test_recomposite_accepts_a_form_encoded_color(http, user, stored_composite):
    original = stored_composite(user)

    response = http.post(
        f"{http.base}/api/v1/composites/{original.pk}/recomposite/",
        data="color=%2300ff00",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        timeout=60,
    )

    assert response.status_code == 201, response.text
    body = response.json()
    assert body["mode"] == "color" and body["color"] == "#00FF00"
    result = http.get(body["result_url"], timeout=60)
    pixels = imaging.load_image(result.content, max_pixels=10**7, min_side=1)
    assert tuple(pixels.convert("RGB").getpixel((0, 0))) == pytest.approx(
        (0, 255, 0), abs=3
    )  # outside the person
    assert Composite.objects.filter(owner=user).count() == 2


def test_recomposite_form_encoded_by_requests_data_dict(http, user, stored_composite):
    original = stored_composite(user)

    response = http.post(
        f"{http.base}/api/v1/composites/{original.pk}/recomposite/",
        data={"mode": "blur", "format": "webp"},
        timeout=60,
    )

    assert response.status_code == 201, response.text
    assert response.json()["mode"] == "blur" and response.json()["format"] == "webp"


def test_form_encoded_bad_color_is_a_json_400(http, user, stored_composite):
    original = stored_composite(user)

    response = http.post(
        f"{http.base}/api/v1/composites/{original.pk}/recomposite/",
        data={"color": "green"},
        timeout=60,
    )

    assert response.status_code == 400
    assert response.json()["code"] in {"invalid", "invalid_color"}


def test_form_encoded_create_names_the_missing_photo(http):
    response = http.post(f"{http.base}/api/v1/composites/", data={"color": "#00ff00"}, timeout=60)

    assert response.status_code == 400, response.text
    assert "photo" in response.text


def test_form_encoded_recomposite_of_another_users_composite_is_404(
    http, other_user, stored_composite
):
    theirs = stored_composite(other_user)

    response = http.post(
        f"{http.base}/api/v1/composites/{theirs.pk}/recomposite/",
        data={"color": "#00ff00"},
        timeout=60,
    )

    assert response.status_code == 404
    assert Composite.objects.filter(owner=other_user).count() == 1


def test_background_patch_accepts_form_encoded_name(http, user):
    from tests.backgrounds.factories import jpeg

    upload = http.post(
        f"{http.base}/api/v1/backgrounds/",
        files={"image": ("a.jpg", jpeg(), "image/jpeg")},
        timeout=60,
    )
    assert upload.status_code == 201, upload.text

    response = http.patch(
        f"{http.base}/api/v1/backgrounds/{upload.json()['id']}/",
        data={"name": "Beach"},
        timeout=60,
    )

    assert response.status_code == 200, response.text
    assert response.json()["name"] == "Beach"
