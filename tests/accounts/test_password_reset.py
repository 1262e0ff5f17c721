"""Password reset by email: ask, read the mail, follow the link, choose a new password."""

import re

import pytest
from django.core import mail
from django.core.exceptions import ImproperlyConfigured
from django.urls import reverse

from accounts.models import ApiToken
from accounts.services import token_create
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db

RESET = reverse("accounts:password_reset")
LOGIN = reverse("accounts:login")
NEW = "fresh-Lantern-harbour-42"


def reset_link(message) -> str:
    match = re.search(r"https?://[^/\s]+(/accounts/password/reset/[^/\s]+/[^/\s]+/)", message.body)
    assert match, message.body
    return match.group(1)


def ask(client, email: str, ip: str = "203.0.113.9"):
    return client.post(RESET, {"email": email}, REMOTE_ADDR=ip)


def test_reset_by_email_end_to_end(client, user):
    token_create(user=user, name="laptop")
    response = ask(client, user.email)
    assert response.status_code == 302
    assert response["Location"] == reverse("accounts:password_reset_done")
    assert b"Check your email" in client.get(response["Location"]).content

    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == [user.email]
    assert "Reset your Background Studio password" in message.subject
    assert user.username in message.body

    # The link redirects to a token-less URL (Django keeps the token in the session).
    page = client.get(reset_link(message), follow=True)
    assert b"Choose a new password" in page.content
    form_url = page.redirect_chain[-1][0]
    done = client.post(form_url, {"new_password1": NEW, "new_password2": NEW}, follow=True)
    assert done.redirect_chain[-1][0] == LOGIN
    assert b"Your password has been reset" in done.content
    assert b"API token was revoked" in done.content
    user.refresh_from_db()
    assert user.check_password(NEW)
    assert not ApiToken.objects.filter(owner=user).exists()

    # The old password no longer signs in, the new one does; the link is spent.
    assert client.post(LOGIN, {"username": user.username, "password": PASSWORD}).status_code == 400
    assert client.post(LOGIN, {"username": user.username, "password": NEW}).status_code == 302
    client.post(reverse("accounts:logout"))
    again = client.get(reset_link(message), follow=True)
    assert b"This link no longer works" in again.content


def test_unknown_email_says_the_same_and_sends_nothing(client, user):
    response = ask(client, "nobody@example.com")
    assert response.status_code == 302
    assert response["Location"] == reverse("accounts:password_reset_done")
    assert mail.outbox == []


def test_weak_new_password_is_refused_under_the_first_field(client, user):
    ask(client, user.email)
    page = client.get(reset_link(mail.outbox[0]), follow=True)
    response = client.post(
        page.redirect_chain[-1][0], {"new_password1": "password", "new_password2": "password"}
    )
    assert response.status_code == 400
    assert response.context["form"].errors["new_password1"]
    assert "new_password2" not in response.context["form"].errors
    user.refresh_from_db()
    assert user.check_password(PASSWORD)


def test_a_tampered_link_is_refused(client, user):
    ask(client, user.email)
    link = reset_link(mail.outbox[0])
    page = client.get(link[:-3] + "xx/", follow=True)
    assert b"This link no longer works" in page.content


def test_reset_emails_to_one_address_are_limited(client, user, settings):
    settings.VBG_LOGIN_MAX_FAILURES = 2
    assert ask(client, user.email).status_code == 302
    assert ask(client, user.email).status_code == 302
    response = ask(client, user.email)
    assert response.status_code == 429
    assert b"Several reset emails were already sent" in response.content
    assert len(mail.outbox) == 2


def test_reset_lifts_the_sign_in_lockout(client, user, settings):
    settings.VBG_LOGIN_MAX_FAILURES = 2
    for _ in range(2):
        client.post(LOGIN, {"username": user.username, "password": "wrong"}, REMOTE_ADDR="1.2.3.4")
    locked = client.post(
        LOGIN, {"username": user.username, "password": PASSWORD}, REMOTE_ADDR="1.2.3.4"
    )
    assert locked.status_code == 429
    # The lockout message points to the reset page.
    assert RESET.encode() in locked.content
    ask(client, user.email, ip="1.2.3.4")
    page = client.get(reset_link(mail.outbox[0]), follow=True, REMOTE_ADDR="1.2.3.4")
    client.post(
        page.redirect_chain[-1][0],
        {"new_password1": NEW, "new_password2": NEW},
        REMOTE_ADDR="1.2.3.4",
    )
    response = client.post(
        LOGIN, {"username": user.username, "password": NEW}, REMOTE_ADDR="1.2.3.4"
    )
    assert response.status_code == 302


def test_the_sign_in_page_links_to_reset(client):
    assert RESET.encode() in client.get(LOGIN).content


def test_email_backend_is_console_by_default_and_smtp_from_the_environment(monkeypatch):
    import importlib

    import vbgsite.settings as site_settings

    for name in ("EMAIL_BACKEND", "EMAIL_HOST", "EMAIL_USE_TLS", "EMAIL_USE_SSL", "EMAIL_PORT"):
        monkeypatch.delenv(name, raising=False)
    try:
        fresh = importlib.reload(site_settings)
        console = "django.core.mail.backends.console.EmailBackend"
        assert fresh.MAILERS["default"] == {"BACKEND": console, "OPTIONS": {}}
        monkeypatch.setenv("EMAIL_BACKEND", "django.core.mail.backends.smtp.EmailBackend")
        monkeypatch.setenv("EMAIL_HOST", "smtp.example.com")
        monkeypatch.setenv("EMAIL_USE_TLS", "1")
        options = importlib.reload(site_settings).MAILERS["default"]["OPTIONS"]
        assert (options["host"], options["port"], options["use_tls"]) == (
            "smtp.example.com",
            587,
            True,
        )
        monkeypatch.setenv("EMAIL_USE_SSL", "1")
        with pytest.raises(ImproperlyConfigured):
            importlib.reload(site_settings)
    finally:
        monkeypatch.undo()
        importlib.reload(site_settings)
