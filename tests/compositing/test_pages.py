"""Studio, history, detail and file views as a browser without JavaScript sees them."""

from __future__ import annotations

import pytest
from django.urls import reverse

from compositing.models import Composite
from compositing.services import composite_create
from tests.compositing.conftest import make_background, portrait_jpeg, upload

pytestmark = pytest.mark.django_db


def test_studio_shows_builtin_and_own_backgrounds(client_logged_in, user, builtin_background):
    make_background(user, name="My beach")
    page = client_logged_in.get(reverse("compositing:studio")).content.decode()
    assert "Studio gradient" in page and "My beach" in page
    assert 'name="photo"' in page and 'enctype="multipart/form-data"' in page
    for choice in ("color", "blur", "transparent", "upload"):
        assert f'value="{choice}"' in page


def test_plain_form_post_shows_the_result_in_the_studio(
    client_logged_in, user, builtin_background, real_model
):
    response = client_logged_in.post(
        reverse("compositing:studio"),
        {"photo": upload(portrait_jpeg()), "background": str(builtin_background.pk)},
    )
    composite = Composite.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/?result={composite.pk}#result"
    page = client_logged_in.get(f"/?result={composite.pk}").content.decode()
    assert reverse("compositing:download", args=[composite.pk]) in page
    assert reverse("compositing:file", args=[composite.pk, "result"]) in page
    assert reverse("compositing:file", args=[composite.pk, "source"]) in page
    assert "data-compare" in page


def test_json_post_answers_urls_for_the_page_script(client_logged_in, user, real_model):
    response = client_logged_in.post(
        reverse("compositing:studio"),
        {"photo": upload(portrait_jpeg()), "background": "transparent", "output_format": "webp"},
        headers={"Accept": "application/json"},
    )
    assert response.status_code == 201
    body = response.json()
    composite = Composite.objects.get()
    assert body["id"] == str(composite.pk)
    assert body["output_format"] == "webp"
    assert client_logged_in.get(body["result_url"]).status_code == 200


def test_history_is_newest_first_and_paginated(client_logged_in, user, real_model, tmp_media):
    first = composite_create(user=user, photo=upload(portrait_jpeg()), mode="blur")
    for _ in range(24):
        # Cheap copies of the first entry's rows: the history page only lists them.
        Composite.objects.create(
            owner=user, source=first.source.name, thumbnail=first.thumbnail.name, status="done"
        )
    newest = composite_create(user=user, photo=upload(portrait_jpeg()), mode="transparent")

    page1 = client_logged_in.get(reverse("compositing:history")).content.decode()
    page2 = client_logged_in.get(reverse("compositing:history") + "?page=2").content.decode()
    assert "26 composites" in page1
    assert str(newest.pk) in page1 and str(first.pk) not in page1
    assert str(first.pk) in page2
    assert "Page 2 of 2" in page2
    assert client_logged_in.get(reverse("compositing:history") + "?page=99").status_code == 200


def test_detail_shows_every_part_model_and_timings(
    client_logged_in, user, builtin_background, real_model
):
    composite = composite_create(
        user=user,
        photo=upload(portrait_jpeg(), name="me.jpg"),
        mode="image",
        background_id=builtin_background.pk,
    )
    page = client_logged_in.get(reverse("compositing:detail", args=[composite.pk])).content.decode()
    for which in ("source", "mask", "result", "background"):
        assert reverse("compositing:file", args=[composite.pk, which]) in page
    assert composite.model_name in page
    assert "Segment (model)" in page and "Total" in page
    assert "Studio gradient" in page
    assert reverse("compositing:recomposite", args=[composite.pk]) in page
    assert reverse("compositing:delete", args=[composite.pk]) in page


def test_file_view_serves_content_type_and_disposition(client_logged_in, user, real_model):
    composite = composite_create(
        user=user,
        photo=upload(portrait_jpeg(), name="Eileen.jpg"),
        mode="blur",
        output_format="webp",
    )
    result = client_logged_in.get(reverse("compositing:file", args=[composite.pk, "result"]))
    assert result.status_code == 200
    assert result["Content-Type"] == "image/webp"
    assert result["Content-Disposition"].startswith("inline")
    assert "private" in result["Cache-Control"]
    assert b"".join(result.streaming_content)[8:12] == b"WEBP"

    mask = client_logged_in.get(reverse("compositing:file", args=[composite.pk, "mask"]))
    assert mask["Content-Type"] == "image/png"

    download = client_logged_in.get(reverse("compositing:download", args=[composite.pk]))
    assert download["Content-Disposition"] == 'attachment; filename="eileen-composite.webp"'
