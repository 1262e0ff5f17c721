"""Re-compositing reuses the stored source and mask: a new entry, and no model call."""

from __future__ import annotations

import numpy as np
import pytest
from django.urls import reverse
from PIL import Image

from compositing.models import Composite
from compositing.services import composite_create, composite_delete, composite_recomposite
from tests.compositing.conftest import make_background, portrait_jpeg, stored_names, upload
from vbgsite.errors import NotFound

pytestmark = pytest.mark.django_db


@pytest.fixture
def original(user, builtin_background, real_model):
    return composite_create(
        user=user, photo=upload(portrait_jpeg()), mode="image", background_id=builtin_background.pk
    )


def pixels(field) -> np.ndarray:
    with field.open("rb") as handle:
        return np.asarray(Image.open(handle).convert("RGB")).astype(int)


def test_recomposite_reuses_stored_mask_without_calling_the_model(user, original, model_calls):
    before = model_calls()
    created = composite_recomposite(
        user=user, composite_id=original.pk, mode="color", color="#FF0000"
    )
    assert model_calls() == before, "re-compositing must not run the segmentation model"

    assert created.pk != original.pk
    assert created.parent == original
    assert created.timings["mask_reused"] is True
    assert created.timings["segment_ms"] == 0
    assert created.model_name == original.model_name
    assert created.output_format == original.output_format
    with original.mask.open("rb") as a, created.mask.open("rb") as b:
        assert a.read() == b.read()
    # The new result really is on red where the mask says background.
    mask = np.asarray(Image.open(created.mask.open("rb")).convert("L"))
    assert np.abs(pixels(created.result)[mask == 0] - [255, 0, 0]).mean() < 6
    assert Composite.objects.for_user(user).count() == 2


def test_recomposite_works_while_the_model_is_broken(user, original, break_the_model):
    """With every model call raising, re-compositing still works: it never calls it."""
    created = composite_recomposite(user=user, composite_id=original.pk, mode="blur")
    assert created.status == Composite.Status.DONE
    with pytest.raises(RuntimeError):
        composite_create(user=user, photo=upload(portrait_jpeg()), mode="blur")


def test_recomposite_entries_own_their_files(user, original):
    created = composite_recomposite(
        user=user, composite_id=original.pk, mode="transparent", output_format="webp"
    )
    assert set(created.file_names()).isdisjoint(original.file_names())
    composite_delete(user=user, composite_id=original.pk)
    created.refresh_from_db()
    assert created.parent is None
    # The re-composite still has everything it shows.
    for name in created.file_names():
        assert name in stored_names(folder=f"users/{user.pk}")
    again = composite_recomposite(user=user, composite_id=created.pk, mode="blur")
    assert again.status == Composite.Status.DONE


def test_recomposite_onto_own_library_background(user, original):
    own = make_background(user, name="Mine", width=1920, height=1080)
    created = composite_recomposite(
        user=user, composite_id=original.pk, mode="image", background_id=own.pk
    )
    assert created.background == own


def test_recomposite_of_another_users_composite_is_not_found(other_user, original):
    with pytest.raises(NotFound):
        composite_recomposite(user=other_user, composite_id=original.pk, mode="blur")


def test_recomposite_view_redirects_to_the_new_entry(client_logged_in, user, original, model_calls):
    before = model_calls()
    response = client_logged_in.post(
        reverse("compositing:recomposite", args=[original.pk]),
        {"background": "color", "color": "#112233", "output_format": "png"},
    )
    created = Composite.objects.exclude(pk=original.pk).get()
    assert response.status_code == 302
    assert response["Location"] == reverse("compositing:detail", args=[created.pk])
    assert created.output_format == "png" and created.color == "#112233"
    assert model_calls() == before
    page = client_logged_in.get(response["Location"]).content.decode()
    assert "Mask reused" in page


def test_recomposite_view_shows_errors_on_the_detail_page(client_logged_in, user, original):
    response = client_logged_in.post(
        reverse("compositing:recomposite", args=[original.pk]),
        {"background": "color", "color": "not-a-colour"},
    )
    assert response.status_code == 400
    assert "re-composite.</strong>" in response.content.decode()
    assert Composite.objects.count() == 1
