"""Renaming a background: only your own; built-ins and other people's are a 404."""

import pytest
from django.urls import reverse

from backgrounds.models import Background
from backgrounds.services import background_rename, background_upload
from tests.backgrounds.factories import jpeg, make_builtin, upload
from vbgsite.errors import InvalidOption, NotFound

pytestmark = pytest.mark.django_db


@pytest.fixture
def own(user):
    return background_upload(user=user, file=upload(jpeg()), name="Old name")


def rename_url(background) -> str:
    return reverse("backgrounds:rename", args=[background.pk])


def test_rename_own_background(client_logged_in, own):
    response = client_logged_in.post(rename_url(own), {"name": "  Garden  "}, follow=True)
    assert response.status_code == 200
    assert "Renamed to “Garden”" in response.content.decode()
    own.refresh_from_db()
    assert own.name == "Garden"


def test_blank_or_too_long_names_are_refused(client_logged_in, own):
    assert client_logged_in.post(rename_url(own), {"name": "   "}).status_code == 400
    assert client_logged_in.post(rename_url(own), {"name": "x" * 101}).status_code == 400
    own.refresh_from_db()
    assert own.name == "Old name"


def test_builtin_backgrounds_cannot_be_renamed(client_logged_in):
    builtin = make_builtin()
    assert client_logged_in.post(rename_url(builtin), {"name": "Mine"}).status_code == 404
    builtin.refresh_from_db()
    assert builtin.name == "Test grey"


def test_someone_elses_background_is_a_404(client_logged_in, other_user):
    theirs = background_upload(user=other_user, file=upload(jpeg()), name="Theirs")
    assert client_logged_in.post(rename_url(theirs), {"name": "Mine"}).status_code == 404
    assert client_logged_in.post(rename_url(theirs), {"name": ""}).status_code == 404
    theirs.refresh_from_db()
    assert theirs.name == "Theirs"


def test_rename_is_post_only(client_logged_in, own):
    assert client_logged_in.get(rename_url(own)).status_code == 405


def test_rename_service(user, other_user, own):
    assert background_rename(user=user, background_id=own.pk, name="New").name == "New"
    with pytest.raises(NotFound):
        background_rename(user=other_user, background_id=own.pk, name="Stolen")
    with pytest.raises(NotFound):
        background_rename(user=user, background_id="not-a-uuid", name="x")
    with pytest.raises(InvalidOption):
        background_rename(user=user, background_id=own.pk, name="")
    assert Background.objects.get(pk=own.pk).name == "New"
