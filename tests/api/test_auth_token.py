"""POST/DELETE /api/v1/auth/token/: username and password for a named token; revoke it."""

import pytest

from accounts.models import ApiToken
from tests.conftest import PASSWORD

URL = "/api/v1/auth/token/"


def test_token_for_username_and_password_then_used_as_token_auth(anon, user):
    response = anon.post(URL, {"username": "alice", "password": PASSWORD, "name": "laptop"})

    assert response.status_code == 201
    body = response.json()
    assert body["token"].startswith("vbg_")
    assert body["name"] == "laptop"
    token = ApiToken.objects.get(pk=body["id"])
    assert token.owner == user
    assert body["token"] not in (token.key_digest, token.prefix)  # only a digest is stored

    anon.credentials(HTTP_AUTHORIZATION=f"Token {body['token']}")
    assert anon.get("/api/v1/composites/").status_code == 200


def test_each_call_creates_another_named_token(anon, user):
    first = anon.post(URL, {"username": "alice", "password": PASSWORD}, format="json")
    second = anon.post(URL, {"username": "alice", "password": PASSWORD}, format="json")

    assert first.status_code == second.status_code == 201
    assert first.json()["token"] != second.json()["token"]
    assert ApiToken.objects.filter(owner=user).count() == 2
    assert first.json()["name"].startswith("API token ")


def test_wrong_password_is_400_invalid_credentials(anon, user):
    response = anon.post(URL, {"username": "alice", "password": "wrong"})

    assert response.status_code == 400
    assert response.json()["code"] == "invalid_credentials"
    assert not ApiToken.objects.exists()


def test_missing_fields_are_400_with_field_errors(anon):
    response = anon.post(URL, {"username": "alice"})

    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid"
    assert "password" in body["errors"]
    assert body["detail"]


def test_repeated_failures_lock_the_username_out_with_429(anon, user, settings):
    settings.VBG_LOGIN_MAX_FAILURES = 3
    for _ in range(3):
        assert anon.post(URL, {"username": "alice", "password": "nope"}).status_code == 400

    response = anon.post(URL, {"username": "alice", "password": PASSWORD})

    assert response.status_code == 429
    assert response.json()["code"] == "throttled"
    assert int(response["Retry-After"]) >= 1
    assert not ApiToken.objects.exists()


def test_token_requests_are_rate_limited_per_address(anon, user, settings):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {
            **settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"],
            "auth": "2/hour",
        },
    }
    for _ in range(2):
        assert anon.post(URL, {"username": "alice", "password": PASSWORD}).status_code == 201

    response = anon.post(URL, {"username": "alice", "password": PASSWORD})

    assert response.status_code == 429
    assert 3000 < int(response["Retry-After"]) <= 3600


def test_a_bad_authorization_header_does_not_block_signing_in(anon, user):
    anon.credentials(HTTP_AUTHORIZATION="Token not-a-real-token")

    response = anon.post(URL, {"username": "alice", "password": PASSWORD})

    assert response.status_code == 201


def test_delete_revokes_the_token_used(api):
    assert api.get("/api/v1/composites/").status_code == 200

    assert api.delete(URL).status_code == 204

    response = api.get("/api/v1/composites/")
    assert response.status_code == 401
    assert response.json()["code"] == "authentication_failed"


@pytest.mark.parametrize("header", ["", "Token", "Token a b", "Bearer abc", "Token \u00e9t\u00e9"])
def test_revoking_needs_a_valid_token(anon, header):
    if header:
        anon.credentials(HTTP_AUTHORIZATION=header)

    response = anon.delete(URL)

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"
    assert response.json()["code"] in {"not_authenticated", "authentication_failed"}


def test_get_is_405_json(anon):
    response = anon.get(URL)

    assert response.status_code == 405
    assert response.json()["code"] == "method_not_allowed"
