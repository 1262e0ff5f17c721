"""Sign in and out; repeated failed sign-ins are throttled per username and address."""

import time

import pytest
from django.urls import reverse

from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db

LOGIN = reverse("accounts:login")


def attempt(client, username: str, password: str, ip: str = "203.0.113.5"):
    return client.post(LOGIN, {"username": username, "password": password}, REMOTE_ADDR=ip)


def test_sign_in_and_sign_out(client, user):
    response = attempt(client, "alice", PASSWORD)
    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(user.pk)
    # Signing out is a POST (a link or an image tag cannot sign anyone out).
    assert client.get(reverse("accounts:logout")).status_code == 405
    response = client.post(reverse("accounts:logout"))
    assert response.status_code == 302
    assert "_auth_user_id" not in client.session


def test_wrong_password_is_a_400_with_a_message(client, user):
    response = attempt(client, "alice", "wrong")
    assert response.status_code == 400
    assert b"enter a correct username and password" in response.content
    assert "_auth_user_id" not in client.session


def test_repeated_failures_are_throttled_even_with_the_right_password(client, user, settings):
    settings.VBG_LOGIN_MAX_FAILURES = 3
    for _ in range(3):
        assert attempt(client, "alice", "wrong").status_code == 400
    response = attempt(client, "alice", PASSWORD)
    assert response.status_code == 429
    assert b"Too many failed sign-in attempts" in response.content
    assert "_auth_user_id" not in client.session


def test_throttle_is_per_username_and_address(client, user, make_user, settings):
    settings.VBG_LOGIN_MAX_FAILURES = 2
    make_user("bob")
    for _ in range(2):
        attempt(client, "alice", "wrong", ip="198.51.100.1")
    assert attempt(client, "alice", PASSWORD, ip="198.51.100.1").status_code == 429
    # Another person from the same address, and the same person from elsewhere, may sign in.
    assert attempt(client, "bob", PASSWORD, ip="198.51.100.1").status_code == 302
    client.post(reverse("accounts:logout"))
    assert attempt(client, "alice", PASSWORD, ip="192.0.2.7").status_code == 302


def test_usernames_are_counted_case_insensitively(client, user, settings):
    settings.VBG_LOGIN_MAX_FAILURES = 2
    attempt(client, "alice", "wrong")
    attempt(client, "Alice", "wrong")
    assert attempt(client, "ALICE", PASSWORD).status_code == 429


def test_a_successful_sign_in_resets_the_count(client, user, settings):
    settings.VBG_LOGIN_MAX_FAILURES = 3
    attempt(client, "alice", "wrong")
    attempt(client, "alice", "wrong")
    assert attempt(client, "alice", PASSWORD).status_code == 302
    client.post(reverse("accounts:logout"))
    attempt(client, "alice", "wrong")
    attempt(client, "alice", "wrong")
    assert attempt(client, "alice", PASSWORD).status_code == 302


def test_the_throttle_ends_after_the_window(client, user, settings):
    settings.VBG_LOGIN_MAX_FAILURES = 1
    # The database cache keeps expiry times in whole seconds, so a window of N seconds
    # lasts between N-1 and N: 3 leaves at least 2 s for the second attempt on a busy machine.
    settings.VBG_LOGIN_LOCKOUT_SECONDS = 3
    attempt(client, "alice", "wrong")
    assert attempt(client, "alice", PASSWORD).status_code == 429
    time.sleep(3.2)
    assert attempt(client, "alice", PASSWORD).status_code == 302


def test_behind_a_proxy_the_forwarded_address_counts(client, user, settings):
    settings.VBG_LOGIN_MAX_FAILURES = 1
    settings.VBG_PROXY_HOPS = 1
    client.post(
        LOGIN,
        {"username": "alice", "password": "wrong"},
        REMOTE_ADDR="10.0.0.1",
        HTTP_X_FORWARDED_FOR="198.51.100.9",
    )
    blocked = client.post(
        LOGIN,
        {"username": "alice", "password": PASSWORD},
        REMOTE_ADDR="10.0.0.2",  # another router instance, same client
        HTTP_X_FORWARDED_FOR="198.51.100.9",
    )
    assert blocked.status_code == 429
    other_client = client.post(
        LOGIN,
        {"username": "alice", "password": PASSWORD},
        REMOTE_ADDR="10.0.0.1",
        HTTP_X_FORWARDED_FOR="198.51.100.10",
    )
    assert other_client.status_code == 302


def test_the_error_says_only_the_password_is_case_sensitive(client, user):
    """Issue 14, defect 11: Django's message said both fields may be case-sensitive."""
    response = attempt(client, "alice", "wrong")
    assert b"The password is case-sensitive; the username is not." in response.content
    assert b"both fields may be case-sensitive" not in response.content


def test_usernames_sign_in_whatever_their_case(client, user):
    response = attempt(client, "ALICE", PASSWORD)
    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(user.pk)
    # A page after sign-in still knows who it is (the session's backend is installed).
    assert client.get(reverse("accounts:account")).status_code == 200


def test_passwords_stay_case_sensitive(client, user):
    assert attempt(client, "alice", PASSWORD.upper()).status_code == 400
