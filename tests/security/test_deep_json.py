"""Hole 2 (issue 13): a JSON body nested 100,000 levels deep answered 500 on recomposite and
on background PATCH. Every API JSON body now goes through ``vbgsite.parsers.JSONParser``."""

from __future__ import annotations

import pytest

from backgrounds.models import Background
from tests.backgrounds.factories import jpeg
from vbgsite.parsers import MAX_JSON_DEPTH, json_depth

pytestmark = pytest.mark.django_db(transaction=True)

DEEP = ("[" * 100_000 + "]" * 100_000).encode()
JSON = {"Content-Type": "application/json"}


def assert_parse_error(response) -> None:
    assert response.status_code == 400, response.text[:300]
    assert response.headers["Content-Type"].startswith("application/json")
    assert response.json()["code"] == "parse_error"


def test_deep_json_on_background_patch_is_a_json_400(live_api, user):
    upload = live_api.request(
        "POST", "/api/v1/backgrounds/", files={"image": ("a.jpg", jpeg(), "image/jpeg")}
    )
    assert upload.status_code == 201, upload.text
    background_id = upload.json()["id"]

    response = live_api.request(
        "PATCH", f"/api/v1/backgrounds/{background_id}/", data=DEEP, headers=JSON
    )

    assert_parse_error(response)
    assert Background.objects.get(pk=background_id).name == upload.json()["name"]


def test_deep_json_on_recomposite_is_a_json_400(live_api, user, stored_composite):
    composite = stored_composite(user)

    response = live_api.request(
        "POST", f"/api/v1/composites/{composite.pk}/recomposite/", data=DEEP, headers=JSON
    )

    assert_parse_error(response)


def test_json_just_over_the_depth_limit_is_refused_too(live_api, user, stored_composite):
    composite = stored_composite(user)
    body = "[" * (MAX_JSON_DEPTH + 1) + "]" * (MAX_JSON_DEPTH + 1)

    response = live_api.request(
        "POST", f"/api/v1/composites/{composite.pk}/recomposite/", data=body, headers=JSON
    )

    assert_parse_error(response)


def test_token_sign_in_refuses_deep_json(live_server, user):
    import requests

    response = requests.post(
        f"{live_server.url}/api/v1/auth/token/", data=DEEP, headers=JSON, timeout=60
    )

    assert_parse_error(response)


def test_json_depth_counts_lists_and_objects():
    assert json_depth(3) == 0
    assert json_depth([]) == 1
    assert json_depth({"a": [{"b": 1}]}) == 3
    assert json_depth([[]] * 3) == 2
