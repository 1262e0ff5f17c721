"""Deleting an account removes every file of theirs from storage, then the rows."""

import pytest
from django.contrib.auth import get_user_model
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.test import Client
from django.urls import reverse

from accounts.models import ApiToken
from accounts.services import account_delete, token_create
from backgrounds.models import Background
from compositing.models import Composite
from tests.accounts.factories import make_background, make_composite
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db

URL = reverse("accounts:delete")


@pytest.fixture
def two_people(user, other_user):
    """Alice and Mallory each with a background, a composite and a token."""
    for person in (user, other_user):
        make_background(person)
        make_composite(person)
        token_create(user=person, name="laptop")
    return user, other_user


def files_of(person) -> set[str]:
    names: set[str] = set()
    for background in Background.objects.filter(owner=person):
        names.update(background.file_names())
    for composite in Composite.objects.filter(owner=person):
        names.update(composite.file_names())
    return names


def test_delete_page_asks_for_the_password(client_logged_in):
    response = client_logged_in.get(URL)
    assert response.status_code == 200
    assert b"Delete my account" in response.content


def test_wrong_password_deletes_nothing(client_logged_in, two_people, list_storage_files):
    before = list_storage_files()
    response = client_logged_in.post(URL, {"password": "wrong"})
    assert response.status_code == 400
    assert b"This password is not correct" in response.content
    assert get_user_model().objects.filter(username="alice").exists()
    assert list_storage_files() == before


def test_delete_removes_every_file_then_the_rows(client_logged_in, two_people, list_storage_files):
    alice, mallory = two_people
    alice_files = files_of(alice)
    mallory_files = files_of(mallory)
    assert len(alice_files) == 7  # background image + thumbnail, five composite files
    # A stray file in Alice's folder (an upload interrupted before its row was written).
    stray = default_storage.save(f"users/{alice.pk}/composites/stray.jpg", ContentFile(b"x"))
    assert alice_files | {stray} <= set(list_storage_files())

    response = client_logged_in.post(URL, {"password": PASSWORD}, follow=True)

    assert response.status_code == 200
    assert b"Your account and all your files have been deleted" in response.content
    assert not get_user_model().objects.filter(pk=alice.pk).exists()
    assert not Background.objects.filter(owner_id=alice.pk).exists()
    assert not Composite.objects.filter(owner_id=alice.pk).exists()
    assert not ApiToken.objects.filter(owner_id=alice.pk).exists()
    # Only Mallory's files remain; her rows are untouched.
    assert set(list_storage_files()) == mallory_files
    assert files_of(mallory) == mallory_files
    assert ApiToken.objects.filter(owner=mallory).count() == 1
    # Signed out.
    assert client_logged_in.get(reverse("accounts:tokens")).status_code == 302


def test_builtin_backgrounds_survive(user, list_storage_files):
    from tests.backgrounds.factories import make_builtin

    builtin = make_builtin()
    make_background(user)
    account_delete(user=user)
    assert Background.objects.filter(pk=builtin.pk).exists()
    assert set(list_storage_files()) == set(builtin.file_names())


def test_local_folders_of_the_person_are_removed(user, tmp_media):
    make_composite(user)
    account_delete(user=user)
    assert not (tmp_media / "users" / str(user.pk)).exists()


@pytest.mark.s3
def test_delete_on_s3_removes_every_object(s3_storage, two_people, client_logged_in):
    _alice, mallory = two_people
    mallory_files = files_of(mallory)
    assert len(s3_storage.keys()) == 14
    response = client_logged_in.post(URL, {"password": PASSWORD})
    assert response.status_code == 302
    assert set(s3_storage.keys()) == mallory_files


def test_cancel_goes_back_to_the_account_page(client_logged_in):
    """Issue 14, defect 11: Cancel opened "Change password"."""
    response = client_logged_in.get(URL)
    account = reverse("accounts:account")
    assert f'<a class="btn btn-ghost" href="{account}">Cancel</a>'.encode() in response.content
    page = client_logged_in.get(account)
    assert page.status_code == 200
    assert b"Your account" in page.content


def test_the_account_page_needs_a_sign_in(client):
    response = client.get(reverse("accounts:account"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("accounts:login"))


def test_wrong_passwords_are_throttled_like_sign_in(client_logged_in, user, settings):
    """Issue 14, defect 11: the delete form let anyone with the session guess freely."""
    settings.VBG_LOGIN_MAX_FAILURES = 3
    for _ in range(3):
        assert client_logged_in.post(URL, {"password": "wrong"}).status_code == 400
    # Even the right password is refused now, from any address, and nothing is deleted.
    response = client_logged_in.post(URL, {"password": PASSWORD}, REMOTE_ADDR="192.0.2.99")
    assert response.status_code == 429
    assert b"Too many wrong passwords" in response.content
    assert get_user_model().objects.filter(pk=user.pk).exists()
    # Sign-in counts are separate: the person can still sign in elsewhere.
    other = Client()
    login = other.post(reverse("accounts:login"), {"username": user.username, "password": PASSWORD})
    assert login.status_code == 302
