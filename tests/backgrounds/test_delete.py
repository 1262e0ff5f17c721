"""Deleting a background removes its files from storage; composites keep their results."""

import pytest
from django.urls import reverse

from backgrounds.models import Background
from backgrounds.services import background_delete, background_upload
from compositing.models import Composite
from tests.accounts.factories import make_composite
from tests.backgrounds.factories import jpeg, make_builtin, upload
from vbgsite.errors import NotFound

pytestmark = pytest.mark.django_db


@pytest.fixture
def own(user):
    return background_upload(user=user, file=upload(jpeg()), name="Beach")


def delete_url(background) -> str:
    return reverse("backgrounds:delete", args=[background.pk])


def test_confirmation_page(client_logged_in, own):
    response = client_logged_in.get(delete_url(own))
    assert response.status_code == 200
    assert "Delete “Beach”?" in response.content.decode()
    assert Background.objects.filter(pk=own.pk).exists()


def test_delete_removes_the_row_and_its_files(client_logged_in, own, list_storage_files):
    names = own.file_names()
    assert set(list_storage_files()) == set(names)
    response = client_logged_in.post(delete_url(own), follow=True)
    assert response.status_code == 200
    assert "“Beach” was deleted" in response.content.decode()
    assert not Background.objects.filter(pk=own.pk).exists()
    assert list_storage_files() == []


def test_composites_made_with_it_keep_their_results(user, own, list_storage_files):
    composite = make_composite(user)
    composite.background = own
    composite.save()
    background_delete(user=user, background_id=own.pk)
    composite.refresh_from_db()
    assert composite.background is None
    assert set(list_storage_files()) == set(composite.file_names())
    assert Composite.objects.filter(pk=composite.pk).exists()


def test_builtins_cannot_be_deleted(client_logged_in, list_storage_files):
    builtin = make_builtin()
    assert client_logged_in.post(delete_url(builtin)).status_code == 404
    assert client_logged_in.get(delete_url(builtin)).status_code == 404
    assert Background.objects.filter(pk=builtin.pk).exists()
    assert set(list_storage_files()) == set(builtin.file_names())


def test_other_peoples_backgrounds_cannot_be_deleted(other_user, user, list_storage_files):
    theirs = background_upload(user=other_user, file=upload(jpeg()), name="Theirs")
    with pytest.raises(NotFound):
        background_delete(user=user, background_id=theirs.pk)
    assert Background.objects.filter(pk=theirs.pk).exists()
    assert set(list_storage_files()) == set(theirs.file_names())


def test_deleting_twice_is_a_404(client_logged_in, own):
    assert client_logged_in.post(delete_url(own)).status_code == 302
    assert client_logged_in.post(delete_url(own)).status_code == 404
