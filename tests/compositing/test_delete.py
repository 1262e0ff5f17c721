"""Deleting a composite removes every file it owns from storage, then the row."""

from __future__ import annotations

import pytest
from django.urls import reverse

from compositing.models import Composite
from compositing.services import composite_create
from tests.compositing.conftest import background_jpeg, portrait_jpeg, stored_names, upload

pytestmark = pytest.mark.django_db


@pytest.fixture
def composite(user, real_model, tmp_media):
    return composite_create(
        user=user,
        photo=upload(portrait_jpeg()),
        mode="image",
        background_file=upload(background_jpeg()),
    )


def test_delete_asks_for_confirmation_first(client_logged_in, composite):
    response = client_logged_in.get(reverse("compositing:delete", args=[composite.pk]))
    assert response.status_code == 200
    assert "Delete permanently" in response.content.decode()
    assert Composite.objects.filter(pk=composite.pk).exists()


def test_delete_removes_files_then_row(client_logged_in, user, composite):
    names = composite.file_names()
    assert len(names) == 5  # source, mask, result, thumbnail, one-off background
    assert stored_names(folder=f"users/{user.pk}") == sorted(names)

    response = client_logged_in.post(reverse("compositing:delete", args=[composite.pk]))

    assert response.status_code == 302
    assert response["Location"] == reverse("compositing:history")
    assert not Composite.objects.filter(pk=composite.pk).exists()
    assert stored_names(folder=f"users/{user.pk}") == []


def test_delete_keeps_library_backgrounds(client_logged_in, user, real_model, tmp_media):
    composite = composite_create(
        user=user,
        photo=upload(portrait_jpeg()),
        mode="image",
        background_file=upload(background_jpeg()),
        save_background=True,
    )
    library = user.backgrounds.get()
    client_logged_in.post(reverse("compositing:delete", args=[composite.pk]))
    assert stored_names(folder=f"users/{user.pk}") == sorted(library.file_names())
