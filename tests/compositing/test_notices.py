"""Issue 14, defect 9: what the service changed on its own is said, not done silently.

A full library (the background is kept with this composite only) and transparency asked
for in JPEG (written as PNG) are notices: on the studio page (as a warning after the plain
form post, in the JSON the studio's script reads) and in the API's answer.
"""

from __future__ import annotations

import pytest
from django.urls import reverse

from compositing.models import Composite
from compositing.services import composite_create, composite_recomposite
from compositing.services.background_choice import composite_notices
from tests.compositing.conftest import background_jpeg, make_background, portrait_jpeg, upload

pytestmark = pytest.mark.django_db


def test_transparent_in_jpeg_is_png_and_says_so(user, real_model):
    composite = composite_create(
        user=user, photo=upload(portrait_jpeg()), mode="transparent", output_format="jpg"
    )
    assert composite.output_format == "png"
    [notice] = composite_notices(composite)
    assert "PNG" in notice and "JPEG" in notice and "transparen" in notice


def test_matte_only_in_webp_is_png_and_says_so(user, real_model):
    composite = composite_create(
        user=user,
        photo=upload(portrait_jpeg()),
        mode="blur",
        output_format="webp",
        placement={"channels": "alpha"},
    )
    assert composite.output_format == "png"
    [notice] = composite_notices(composite)
    assert "PNG" in notice and "matte" in notice.lower()


def test_transparent_in_png_has_no_notice(user, real_model):
    composite = composite_create(
        user=user, photo=upload(portrait_jpeg()), mode="transparent", output_format="png"
    )
    assert composite_notices(composite) == []


def test_recomposite_to_transparent_jpeg_says_so(user, real_model):
    first = composite_create(user=user, photo=upload(portrait_jpeg()), mode="blur")
    again = composite_recomposite(
        user=user, composite_id=first.pk, mode="transparent", output_format="jpg"
    )
    assert again.output_format == "png" and len(composite_notices(again)) == 1


def test_studio_json_carries_the_notices(client_logged_in, real_model):
    response = client_logged_in.post(
        reverse("compositing:studio"),
        {"photo": upload(portrait_jpeg()), "background": "transparent", "output_format": "jpg"},
        HTTP_ACCEPT="application/json",
    )
    assert response.status_code == 201
    [notice] = response.json()["notices"]
    assert "PNG" in notice


def test_studio_page_shows_a_full_library_as_a_warning(
    user, client_logged_in, real_model, settings
):
    settings.VBG_BACKGROUND_QUOTA = 1
    make_background(user, name="Already one")
    response = client_logged_in.post(
        reverse("compositing:studio"),
        {
            "photo": upload(portrait_jpeg()),
            "background": "upload",
            "background_file": upload(background_jpeg(), name="beach.jpg"),
            "save_background": "on",
            "output_format": "jpg",
        },
        follow=True,
    )
    assert response.status_code == 200
    page = response.content.decode()
    assert Composite.objects.filter(owner=user, status=Composite.Status.DONE).count() == 1
    assert "kept with this composite only" in page
    assert "message-warning" in page
