"""API tokens page: several named tokens per person, the key shown once, revocable."""

import re

import pytest
from django.test import Client
from django.urls import reverse

from accounts.models import ApiToken, token_digest
from accounts.services import MAX_TOKENS_PER_USER, token_create, token_revoke
from vbgsite.errors import NotFound

pytestmark = pytest.mark.django_db

PAGE = reverse("accounts:tokens")
API = reverse("api:background-list")


def api_get(key: str):
    return Client().get(API, HTTP_AUTHORIZATION=f"Token {key}")


def created_key(response) -> str:
    match = re.search(rb'id="new-token-key" value="(vbg_[A-Za-z0-9_-]+)"', response.content)
    assert match, "the new key is shown on the page"
    return match.group(1).decode()


def test_anonymous_people_are_sent_to_sign_in(client):
    assert client.get(PAGE).status_code == 302


def test_create_shows_the_key_once_and_stores_only_its_digest(client_logged_in, user):
    response = client_logged_in.post(PAGE, {"name": "laptop script"})
    assert response.status_code == 302  # POST/redirect/GET: a refresh cannot repeat it
    assert response["Location"] == PAGE
    response = client_logged_in.get(PAGE)
    key = created_key(response)
    token = ApiToken.objects.get(owner=user)
    assert token.name == "laptop script"
    assert token.key_digest == token_digest(key)
    assert key not in str(list(ApiToken.objects.values_list()))  # not stored anywhere
    page = client_logged_in.get(PAGE)
    assert b"laptop script" in page.content
    assert token.prefix.encode() in page.content
    assert key.encode() not in page.content  # never shown again


def test_the_key_authenticates_api_requests_and_records_last_use(client_logged_in, user):
    key = created_key(client_logged_in.post(PAGE, {"name": "phone"}, follow=True))
    assert ApiToken.objects.get().last_used is None
    response = api_get(key)
    assert response.status_code == 200
    assert ApiToken.objects.get().last_used is not None


def test_several_tokens_per_person_each_revocable_alone(client_logged_in, user):
    laptop = created_key(client_logged_in.post(PAGE, {"name": "laptop"}, follow=True))
    phone = created_key(client_logged_in.post(PAGE, {"name": "phone"}, follow=True))
    assert laptop != phone
    assert api_get(laptop).status_code == 200
    assert api_get(phone).status_code == 200

    laptop_row = ApiToken.objects.get(name="laptop")
    response = client_logged_in.post(reverse("accounts:token_revoke", args=[laptop_row.pk]))
    assert response.status_code == 302
    assert api_get(laptop).status_code == 401
    assert api_get(phone).status_code == 200


def test_someone_elses_token_cannot_be_revoked(client_logged_in, other_user):
    token, key = token_create(user=other_user, name="theirs")
    response = client_logged_in.post(reverse("accounts:token_revoke", args=[token.pk]))
    assert response.status_code == 404
    assert api_get(key).status_code == 200
    assert b"theirs" not in client_logged_in.get(PAGE).content


def test_revoke_is_post_only(client_logged_in, user):
    token, _ = token_create(user=user, name="x")
    url = reverse("accounts:token_revoke", args=[token.pk])
    assert client_logged_in.get(url).status_code == 405
    assert ApiToken.objects.filter(pk=token.pk).exists()


def test_wrong_or_malformed_keys_are_401(user):
    token_create(user=user, name="x")
    assert api_get("vbg_not-a-real-key").status_code == 401
    response = Client().get(API, HTTP_AUTHORIZATION="Token")
    assert response.status_code == 401
    response = Client().get(API, HTTP_AUTHORIZATION="Token a b")
    assert response.status_code == 401
    assert Client().get(API).status_code in (401, 403)


def test_inactive_users_tokens_stop_working(user):
    _, key = token_create(user=user, name="x")
    user.is_active = False
    user.save()
    assert api_get(key).status_code == 401


def test_a_name_is_required(client_logged_in):
    response = client_logged_in.post(PAGE, {"name": "   "})
    assert response.status_code == 400
    assert not ApiToken.objects.exists()


def test_there_is_a_limit_per_person(client_logged_in, user):
    for number in range(MAX_TOKENS_PER_USER):
        token_create(user=user, name=f"t{number}")
    response = client_logged_in.post(PAGE, {"name": "one too many"})
    assert response.status_code == 400
    assert b"revoke one first" in response.content
    assert ApiToken.objects.filter(owner=user).count() == MAX_TOKENS_PER_USER


def test_revoke_service_raises_not_found_for_others(user, other_user):
    token, _ = token_create(user=other_user, name="theirs")
    with pytest.raises(NotFound):
        token_revoke(user=user, token_id=token.pk)
    with pytest.raises(NotFound):
        token_revoke(user=user, token_id=999_999)


def test_refreshing_after_creating_a_token_creates_no_second_one(client_logged_in, user):
    """Issue 14, defect 7: the key page was the POST's response, so a refresh re-posted."""
    response = client_logged_in.post(PAGE, {"name": "laptop"}, follow=True)
    assert response.redirect_chain == [(PAGE, 302)]
    key = created_key(response)
    # A refresh repeats the last request, now the GET: no new token, and the key is gone.
    again = client_logged_in.get(PAGE)
    assert again.status_code == 200
    assert ApiToken.objects.filter(owner=user).count() == 1
    assert key.encode() not in again.content
    assert key not in str(dict(client_logged_in.session))  # not left in the session


def test_the_key_of_a_token_revoked_before_the_redirect_is_not_shown(client_logged_in, user):
    client_logged_in.post(PAGE, {"name": "laptop"})
    # Revoked (from another tab) before the page after the redirect is seen: no key shown.
    ApiToken.objects.filter(owner=user).delete()
    page = client_logged_in.get(PAGE)
    assert b"new-token-key" not in page.content
