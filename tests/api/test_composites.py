"""/api/v1/composites/: history, detail, delete, files, re-composite, and create's checks.

The tests here need no model: composites are arranged with their files already stored
(``stored_composite``), and every refusal of ``POST /api/v1/composites/`` happens before
the model would run. Creating composites with the real model: ``test_composite_create.py``.
"""

from __future__ import annotations

import numpy as np
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from compositing.models import Composite
from compositing.services import cut_out
from tests.api import images
from tests.compositing.conftest import make_background

URL = "/api/v1/composites/"


def detail(composite) -> str:
    return f"{URL}{composite.pk}/"


def upload(data: bytes, name: str = "portrait.jpg") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, content_type="application/octet-stream")


def body_bytes(response) -> bytes:
    if getattr(response, "streaming", False):
        return b"".join(response.streaming_content)
    return response.content


@pytest.fixture
def no_model(monkeypatch):
    """Fail the test if anything calls the segmentation model."""

    def refuse(*args, **kwargs):
        raise AssertionError("the segmentation model was called")

    monkeypatch.setattr(cut_out, "_segment", refuse)


# -- history and detail -------------------------------------------------------------------


def test_history_is_own_composites_newest_first_paginated(
    api, user, other_user, stored_composite, settings
):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "PAGE_SIZE": 2}
    made = [stored_composite(user) for _ in range(3)]
    stored_composite(other_user)

    first = api.get(URL)
    second = api.get(URL, {"page": 2})

    assert first.status_code == second.status_code == 200
    assert first.json()["count"] == 3
    ids = [item["id"] for item in first.json()["results"] + second.json()["results"]]
    assert ids == [str(c.pk) for c in reversed(made)]
    assert first.json()["next"].endswith("?page=2")
    assert second.json()["next"] is None


def test_history_page_out_of_range_is_json_404(api):
    response = api.get(URL, {"page": 99})

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


@pytest.mark.parametrize("page", ["", "abc", "0", "-1", "1.5", "\u0663"])
def test_history_page_that_is_not_a_whole_number_is_400(api, page):
    response = api.get(URL, {"page": page})

    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert "page" in response.json()["errors"]


def test_detail_has_the_fields_and_owner_checked_file_urls(api, user, stored_composite):
    composite = stored_composite(user, width=96, height=64)

    response = api.get(detail(composite))

    assert response.status_code == 200
    body = response.json()
    base = f"http://testserver{URL}{composite.pk}/"
    assert body["id"] == str(composite.pk)
    assert body["url"] == base
    assert (body["kind"], body["status"], body["progress"]) == ("image", "done", 100.0)
    assert (body["width"], body["height"]) == (96, 64)
    assert (body["mode"], body["color"], body["format"]) == ("color", "#1E1EDC", "png")
    assert body["background"] is None
    assert body["model"] == "selfie"
    assert body["timings"]["segment_ms"] == 12.0
    assert body["result_url"] == base + "result/"
    assert body["mask_url"] == base + "mask/"
    assert body["source_url"] == base + "source/"
    assert body["thumbnail_url"] == base + "thumbnail/"
    assert "/media/" not in str(body)
    for key in ("created", "finished", "frames_done", "frames_total", "eta_seconds", "error"):
        assert key in body


def test_another_users_composite_is_404_for_every_operation(
    api, other_user, stored_composite, list_storage_files
):
    theirs = stored_composite(other_user)
    files_before = list_storage_files()

    for response in (
        api.get(detail(theirs)),
        api.delete(detail(theirs)),
        api.post(f"{detail(theirs)}recomposite/", {"mode": "blur"}, format="json"),
        api.get(f"{detail(theirs)}result/"),
        api.get(f"{detail(theirs)}mask/"),
        api.get(f"{detail(theirs)}source/"),
        api.get(f"{detail(theirs)}thumbnail/"),
    ):
        assert response.status_code == 404
        assert response.json()["code"] == "not_found"
    assert Composite.objects.filter(pk=theirs.pk).exists()
    assert list_storage_files() == files_before


def test_every_operation_needs_a_token(anon, user, stored_composite):
    own = stored_composite(user)

    for response in (
        anon.get(URL),
        anon.post(URL, {"photo": upload(images.portrait_jpeg()), "mode": "blur"}),
        anon.get(detail(own)),
        anon.delete(detail(own)),
        anon.post(f"{detail(own)}recomposite/", {"mode": "blur"}, format="json"),
        anon.get(f"{detail(own)}result/"),
    ):
        assert response.status_code == 401
        assert response["WWW-Authenticate"] == "Token"
        assert response.json()["code"] == "not_authenticated"


def test_an_invalid_token_is_401(anon, user, stored_composite):
    anon.credentials(HTTP_AUTHORIZATION="Token vbg_this-is-not-a-token")

    response = anon.get(URL)

    assert response.status_code == 401
    assert response.json()["code"] == "authentication_failed"


# -- delete -------------------------------------------------------------------------------


def test_delete_removes_the_row_and_every_file(api, user, stored_composite, list_storage_files):
    composite = stored_composite(user)
    assert len(list_storage_files()) == 4

    response = api.delete(detail(composite))

    assert response.status_code == 204
    assert not Composite.objects.filter(pk=composite.pk).exists()
    assert list_storage_files() == []
    assert api.get(detail(composite)).status_code == 404


# -- files --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("which", "content_type", "size"),
    [
        ("result", "image/png", (96, 64)),
        ("mask", "image/png", (96, 64)),
        ("source", "image/jpeg", (96, 64)),
        ("thumbnail", "image/jpeg", (48, 32)),
    ],
)
def test_file_downloads(api, user, stored_composite, which, content_type, size):
    composite = stored_composite(user)

    response = api.get(f"{detail(composite)}{which}/", HTTP_ACCEPT="image/*")

    assert response.status_code == 200
    assert response["Content-Type"] == content_type
    assert "inline" in response["Content-Disposition"]
    assert "red-photo" in response["Content-Disposition"]
    assert images.decode(body_bytes(response)).size == size


def test_result_file_follows_the_url_in_the_json(api, user, stored_composite):
    composite = stored_composite(user)
    result_url = api.get(detail(composite)).json()["result_url"]

    response = api.get(result_url)

    assert response.status_code == 200
    with composite.result.open("rb") as stored:
        assert body_bytes(response) == stored.read()


def test_file_of_a_composite_without_a_result_is_404(api, user, stored_composite):
    composite = stored_composite(user)
    composite.result.delete(save=True)

    response = api.get(f"{detail(composite)}result/")

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"
    assert api.get(detail(composite)).json()["result_url"] is None


@pytest.mark.s3
def test_result_in_s3_redirects_to_a_presigned_url(api, user, stored_composite, s3_storage):
    import requests

    composite = stored_composite(user)

    response = api.get(f"{detail(composite)}result/")

    assert response.status_code == 302
    location = response["Location"]
    assert location.startswith(s3_storage.endpoint_url)
    assert "X-Amz-Signature=" in location and "X-Amz-Expires=300" in location
    fetched = requests.get(location, timeout=10)
    assert fetched.status_code == 200
    assert images.decode(fetched.content).size == (96, 64)
    # Without the signature the private object is refused.
    assert requests.get(location.split("?")[0], timeout=10).status_code == 403


# -- re-composite (reuses the stored mask: no model) --------------------------------------


def test_recomposite_reuses_the_stored_mask_without_the_model(
    api, user, stored_composite, no_model
):
    original = stored_composite(user, width=96, height=64)

    response = api.post(
        f"{detail(original)}recomposite/", {"color": "#00FF00", "format": "png"}, format="json"
    )

    assert response.status_code == 201
    body = response.json()
    assert body["id"] != str(original.pk)
    assert body["parent"] == str(original.pk)
    assert body["timings"]["mask_reused"] is True
    assert body["timings"]["segment_ms"] == 0
    assert response["Location"] == f"http://testserver{URL}{body['id']}/"
    result = np.asarray(images.decode(body_bytes(api.get(body["result_url"]))).convert("RGB"))
    assert result.shape == (64, 96, 3)
    centre, corner = result[32, 48].astype(int), result[2, 2].astype(int)
    assert np.abs(centre - (220, 30, 30)).max() < 12  # the "person" from the stored photo
    assert np.abs(corner - (0, 255, 0)).max() < 12  # the new colour where the mask is 0
    assert Composite.objects.filter(owner=user).count() == 2


def test_recomposite_onto_a_library_background_multipart(api, user, stored_composite, no_model):
    original = stored_composite(user)
    builtin = make_background(None, name="Studio", width=160, height=120)

    response = api.post(
        f"{detail(original)}recomposite/", {"background": str(builtin.pk)}, format="multipart"
    )

    assert response.status_code == 201
    assert response.json()["background"] == str(builtin.pk)
    assert response.json()["mode"] == "image"
    assert response.json()["format"] == "png"  # the original's format by default


def test_recomposite_with_accept_image_returns_the_bytes(api, user, stored_composite, no_model):
    original = stored_composite(user)

    response = api.post(
        f"{detail(original)}recomposite/",
        {"mode": "blur"},
        format="json",
        HTTP_ACCEPT="image/webp",
    )

    assert response.status_code == 201
    assert response["Content-Type"] == "image/webp"
    assert images.decode(response.content).format == "WEBP"
    new = Composite.objects.get(pk=response["X-Composite-Id"])
    assert new.output_format == "webp"
    assert response["Location"].endswith(f"{URL}{new.pk}/")


def test_recomposite_onto_a_one_off_background_and_save_it(api, user, stored_composite, no_model):
    original = stored_composite(user)

    response = api.post(
        f"{detail(original)}recomposite/",
        {"background_image": upload(images.scenery_jpeg(), "cafe.jpg"), "save_background": True},
        format="multipart",
    )

    assert response.status_code == 201
    library = api.get("/api/v1/backgrounds/").json()["results"]
    assert [b["name"] for b in library if not b["builtin"]] == ["cafe"]
    assert response.json()["background"] == library[-1]["id"]


@pytest.mark.parametrize("bad", images.rejected_inputs(), ids=lambda bad: bad.name)
def test_recomposite_rejects_bad_background_images(
    api, user, stored_composite, bad, list_storage_files, no_model
):
    original = stored_composite(user)
    files_before = list_storage_files()

    response = api.post(
        f"{detail(original)}recomposite/",
        {"background_image": upload(bad.data, "bg.png")},
        format="multipart",
    )

    assert response.status_code == bad.status
    assert response.json()["code"] == bad.code
    assert Composite.objects.count() == 1
    assert list_storage_files() == files_before


@pytest.mark.parametrize(
    "make",
    [
        images.cmyk_jpeg,
        images.sixteen_bit_png,
        images.palette_alpha_png,
        images.animated_webp,
        images.exif_rotated_jpeg,
    ],
    ids=["cmyk", "16-bit", "palette-alpha", "animated-webp", "exif-rotated"],
)
def test_recomposite_accepts_unusual_but_valid_backgrounds(
    api, user, stored_composite, make, no_model
):
    original = stored_composite(user)

    response = api.post(
        f"{detail(original)}recomposite/",
        {"background_image": upload(make(), "bg")},
        format="multipart",
    )

    assert response.status_code == 201
    assert (response.json()["width"], response.json()["height"]) == (96, 64)


@pytest.mark.parametrize(
    ("payload", "code"),
    [
        ({}, "invalid_option"),
        ({"color": "green"}, "invalid_color"),
        ({"color": "#12345G"}, "invalid_color"),
        ({"mode": "color"}, "invalid_color"),
        ({"mode": "image"}, "invalid_option"),
        ({"mode": "blur", "color": "#FFFFFF"}, "invalid_option"),
        ({"mode": "sparkles"}, "invalid"),
        ({"mode": "blur", "format": "gif"}, "invalid"),
        ({"background": "not-a-uuid"}, "invalid"),
        ({"mode": "blur", "save_background": "perhaps"}, "invalid"),
    ],
)
def test_recomposite_bad_options_are_400(api, user, stored_composite, payload, code, no_model):
    original = stored_composite(user)

    response = api.post(f"{detail(original)}recomposite/", payload, format="json")

    assert response.status_code == 400
    assert response.json()["code"] == code
    assert response.json()["detail"]
    assert Composite.objects.count() == 1


def test_recomposite_onto_another_users_background_is_404(
    api, user, other_user, stored_composite, no_model
):
    original = stored_composite(user)
    theirs = make_background(other_user, name="Private", width=64, height=48)

    response = api.post(
        f"{detail(original)}recomposite/", {"background": str(theirs.pk)}, format="json"
    )

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


# -- create: refusals before the model runs -----------------------------------------------


@pytest.mark.parametrize("bad", images.rejected_inputs(), ids=lambda bad: bad.name)
def test_create_rejects_bad_photos_and_stores_nothing(api, bad, list_storage_files, no_model):
    response = api.post(URL, {"photo": upload(bad.data), "mode": "blur"}, format="multipart")

    assert response.status_code == bad.status
    body = response.json()
    assert body["code"] == bad.code
    assert body["detail"].startswith("Photo: ")
    assert not Composite.objects.exists()
    assert list_storage_files() == []


@pytest.mark.parametrize(
    ("payload", "status", "code"),
    [
        ({}, 400, "invalid_option"),
        ({"color": "#ZZZZZZ"}, 400, "invalid_color"),
        ({"mode": "blur", "color": "#FFFFFF"}, 400, "invalid_option"),
        ({"mode": "fancy"}, 400, "invalid"),
        ({"mode": "blur", "format": "bmp"}, 400, "invalid"),
        ({"background": "00000000-0000-0000-0000-000000000000"}, 404, "not_found"),
    ],
)
def test_create_bad_options(api, payload, status, code, no_model):
    response = api.post(
        URL, {"photo": upload(images.portrait_jpeg()), **payload}, format="multipart"
    )

    assert response.status_code == status
    assert response.json()["code"] == code
    assert not Composite.objects.exists()


def test_create_onto_another_users_background_is_404(api, other_user, no_model):
    theirs = make_background(other_user, name="Private", width=64, height=48)

    response = api.post(
        URL, {"photo": upload(images.portrait_jpeg()), "background": str(theirs.pk)}
    )

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_create_without_a_photo_is_400(api, no_model):
    response = api.post(URL, {"mode": "blur"}, format="multipart")

    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert "photo" in response.json()["errors"]


def test_create_needs_multipart(api, no_model):
    response = api.post(URL, {"mode": "blur"}, format="json")

    assert response.status_code == 415
    assert response.json()["code"] == "unsupported_media_type"


def test_create_photo_over_the_byte_limit_is_413(api, settings, list_storage_files, no_model):
    data = images.portrait_jpeg(512, quality=95)
    settings.VBG_MAX_UPLOAD_BYTES = len(data) - 1

    response = api.post(URL, {"photo": upload(data), "mode": "blur"}, format="multipart")

    assert response.status_code == 413
    assert response.json()["code"] == "file_too_large"
    assert list_storage_files() == []


def test_create_request_far_over_the_limit_is_413_before_reading(api, settings, no_model):
    settings.VBG_MAX_UPLOAD_BYTES = 10_000
    settings.VBG_MAX_VIDEO_BYTES = 10_000

    response = api.post(URL, {"photo": upload(b"\0" * 3_000_000), "mode": "blur"})

    assert response.status_code == 413
    assert response.json()["code"] == "request_too_large"


def test_create_accepting_only_text_is_406_json(api, no_model):
    response = api.post(
        URL, {"photo": upload(images.portrait_jpeg()), "mode": "blur"}, HTTP_ACCEPT="text/csv"
    )

    assert response.status_code == 406
    assert response["Content-Type"] == "application/json"
    assert response.json()["code"] == "not_acceptable"


def test_errors_stay_json_when_image_bytes_were_asked_for(api, no_model):
    response = api.post(
        URL,
        {"photo": upload(images.not_an_image()), "mode": "blur"},
        HTTP_ACCEPT="image/*",
    )

    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"
    assert response.json()["code"] == "invalid_image"
