"""Password change: the old password is checked, the new one validated; still signed in."""

import pytest
from django.urls import reverse

from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db

URL = reverse("accounts:password_change")
NEW = "another-Staple-horse-42"


def test_anonymous_people_are_sent_to_sign_in(client):
    response = client.get(URL)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("accounts:login"))


def test_password_change_keeps_this_session_signed_in(client_logged_in, user):
    assert client_logged_in.get(URL).status_code == 200
    response = client_logged_in.post(
        URL, {"old_password": PASSWORD, "new_password1": NEW, "new_password2": NEW}, follow=True
    )
    assert response.status_code == 200
    assert b"Your password has been changed" in response.content
    user.refresh_from_db()
    assert user.check_password(NEW)
    assert client_logged_in.get(reverse("accounts:tokens")).status_code == 200


def test_wrong_old_password_is_refused(client_logged_in, user):
    response = client_logged_in.post(
        URL, {"old_password": "nope", "new_password1": NEW, "new_password2": NEW}
    )
    assert response.status_code == 400
    assert b"old password was entered incorrectly" in response.content
    user.refresh_from_db()
    assert user.check_password(PASSWORD)


def test_weak_new_password_is_refused(client_logged_in, user):
    response = client_logged_in.post(
        URL, {"old_password": PASSWORD, "new_password1": "123", "new_password2": "123"}
    )
    assert response.status_code == 400
    assert b"too short" in response.content
    user.refresh_from_db()
    assert user.check_password(PASSWORD)


def test_other_sessions_are_signed_out(client, user):
    from django.test import Client

    other = Client()
    other.force_login(user)
    client.force_login(user)
    client.post(URL, {"old_password": PASSWORD, "new_password1": NEW, "new_password2": NEW})
    assert other.get(reverse("accounts:tokens")).status_code == 302


def test_a_weak_new_password_is_reported_under_its_own_field(client_logged_in):
    response = client_logged_in.post(
        URL,
        {"old_password": PASSWORD, "new_password1": "password", "new_password2": "password"},
    )
    assert response.status_code == 400
    assert response.context["form"].errors["new_password1"]
    assert "new_password2" not in response.context["form"].errors
