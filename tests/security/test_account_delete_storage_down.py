"""Hole 9 (issue 13): deleting an account while S3 was down signed the person out, then
answered 500, and the account and its tokens stayed. Now nothing changes unless the deletion
can finish: a clear message (503), still signed in, every row and object in place, and the
same request succeeds once S3 is back. S3 over real HTTP (moto server); "down" is the
storage's endpoint refusing connections."""

from __future__ import annotations

import copy
import socket

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from accounts.models import ApiToken
from accounts.services import token_create
from backgrounds.models import Background
from compositing.models import Composite
from tests.accounts.factories import make_background, make_composite
from tests.conftest import PASSWORD

pytestmark = [pytest.mark.django_db, pytest.mark.s3]

URL = reverse("accounts:delete")


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]  # closed again when this returns: connections refused


@pytest.fixture
def s3_outage(s3_storage, settings, monkeypatch):
    """``down()`` points the default storage at a port nobody listens on; ``up()`` back."""
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")  # fail fast instead of retrying
    working = copy.deepcopy(settings.STORAGES)

    class Outage:
        def down(self) -> None:
            broken = copy.deepcopy(working)
            broken["default"]["OPTIONS"]["endpoint_url"] = f"http://127.0.0.1:{_closed_port()}"
            settings.STORAGES = broken

        def up(self) -> None:
            settings.STORAGES = copy.deepcopy(working)

    return Outage()


def test_delete_while_s3_is_down_changes_nothing_and_says_so(
    s3_storage, s3_outage, user, client_logged_in
):
    make_background(user)
    make_composite(user)
    token_create(user=user, name="laptop")
    keys_before = s3_storage.keys()
    assert len(keys_before) == 7

    s3_outage.down()
    response = client_logged_in.post(URL, {"password": PASSWORD})

    assert response.status_code == 503
    assert b"nothing has changed" in response.content
    assert get_user_model().objects.filter(pk=user.pk).exists()
    assert Background.objects.filter(owner=user).count() == 1
    assert Composite.objects.filter(owner=user).count() == 1
    assert ApiToken.objects.filter(owner=user).count() == 1
    assert s3_storage.keys() == keys_before  # listed over HTTP directly, not via the outage
    # Still signed in: the page is there, not a redirect to sign in.
    assert client_logged_in.get(reverse("accounts:tokens")).status_code == 200

    s3_outage.up()
    retry = client_logged_in.post(URL, {"password": PASSWORD})

    assert retry.status_code == 302
    assert not get_user_model().objects.filter(pk=user.pk).exists()
    assert not ApiToken.objects.filter(owner_id=user.pk).exists()
    assert s3_storage.keys() == []
    assert client_logged_in.get(reverse("accounts:tokens")).status_code == 302


def test_delete_while_s3_is_down_leaves_other_people_alone(
    s3_storage, s3_outage, user, other_user, client_logged_in
):
    make_composite(other_user)
    theirs = s3_storage.keys()

    s3_outage.down()
    client_logged_in.post(URL, {"password": PASSWORD})
    s3_outage.up()

    assert s3_storage.keys() == theirs
    assert Composite.objects.filter(owner=other_user).count() == 1
