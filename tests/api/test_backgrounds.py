"""/api/v1/backgrounds/: the library (built-in and own), upload, rename, delete, files."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from backgrounds.models import Background
from tests.api import images
from tests.compositing.conftest import make_background

URL = "/api/v1/backgrounds/"


def detail(background) -> str:
    return f"{URL}{background.pk}/"


def upload(data: bytes, name: str = "beach.jpg") -> SimpleUploadedFile:
    # The declared content type is deliberately wrong: files are judged by decoding.
    return SimpleUploadedFile(name, data, content_type="application/octet-stream")


# -- list and detail ----------------------------------------------------------------------


def test_list_shows_builtins_and_own_but_not_others(api, user, other_user):
    builtin = make_background(None, name="Studio grey", width=64, height=48)
    own = make_background(user, name="My beach", width=64, height=48)
    make_background(other_user, name="Mallory's", width=64, height=48)

    response = api.get(URL)

    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 2
    names = [item["name"] for item in body["results"]]
    assert names == ["Studio grey", "My beach"]  # built-ins first
    first = body["results"][0]
    assert first["builtin"] is True
    assert first["id"] == str(builtin.pk)
    assert first["image_url"] == f"http://testserver{URL}{builtin.pk}/image/"
    assert body["results"][1]["builtin"] is False
    assert body["results"][1]["id"] == str(own.pk)


def test_detail_of_own_and_builtin(api, user):
    own = make_background(user, name="Mine", width=64, height=48)
    builtin = make_background(None, name="Built in", width=64, height=48)

    assert api.get(detail(own)).json()["name"] == "Mine"
    assert api.get(detail(builtin)).json()["builtin"] is True


def test_another_users_background_is_404_for_every_operation(api, other_user):
    theirs = make_background(other_user, name="Private", width=64, height=48)

    for response in (
        api.get(detail(theirs)),
        api.patch(detail(theirs), {"name": "Stolen"}, format="json"),
        api.delete(detail(theirs)),
        api.get(f"{detail(theirs)}image/"),
        api.get(f"{detail(theirs)}thumbnail/"),
    ):
        assert response.status_code == 404
        assert response.json()["code"] == "not_found"
    theirs.refresh_from_db()
    assert theirs.name == "Private"


@pytest.mark.parametrize("path", ["not-a-uuid/", "00000000-0000-0000-0000-000000000000/"])
def test_unknown_ids_are_json_404(api, path):
    response = api.get(URL + path)

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_every_operation_needs_a_token(anon, user):
    own = make_background(user, name="Mine", width=64, height=48)

    for response in (
        anon.get(URL),
        anon.post(URL, {"image": upload(images.scenery_jpeg())}, format="multipart"),
        anon.get(detail(own)),
        anon.patch(detail(own), {"name": "x"}, format="json"),
        anon.delete(detail(own)),
        anon.get(f"{detail(own)}image/"),
    ):
        assert response.status_code == 401
        assert response["WWW-Authenticate"] == "Token"
        assert response.json()["code"] == "not_authenticated"


# -- upload -------------------------------------------------------------------------------


def test_upload_adds_to_the_library(api, user, list_storage_files):
    response = api.post(
        URL, {"image": upload(images.scenery_jpeg(240, 160)), "name": "Coffee"}, format="multipart"
    )

    assert response.status_code == 201
    body = response.json()
    assert (body["name"], body["width"], body["height"], body["builtin"]) == (
        "Coffee",
        240,
        160,
        False,
    )
    background = Background.objects.get(pk=body["id"])
    assert background.owner == user
    assert sorted(list_storage_files()) == sorted(background.file_names())

    image = api.get(body["image_url"])
    assert image.status_code == 200
    assert images.decode(b"".join(image.streaming_content)).size == (240, 160)


def test_upload_without_a_name_takes_the_file_name(api):
    response = api.post(URL, {"image": upload(images.scenery_jpeg(), "sea view.png")})

    assert response.status_code == 201
    assert response.json()["name"] == "sea view"


@pytest.mark.parametrize("bad", images.rejected_inputs(), ids=lambda bad: bad.name)
def test_upload_rejects_bad_files_and_stores_nothing(api, bad, list_storage_files):
    response = api.post(URL, {"image": upload(bad.data), "name": "Bad"}, format="multipart")

    assert response.status_code == bad.status
    body = response.json()
    assert body["code"] == bad.code
    assert body["detail"]
    assert not Background.objects.exists()
    assert list_storage_files() == []


@pytest.mark.parametrize(
    ("make", "size"),
    [
        (images.cmyk_jpeg, (200, 200)),
        (images.sixteen_bit_png, (200, 200)),
        (images.palette_alpha_png, (200, 200)),
        (images.animated_webp, (180, 120)),
        (images.exif_rotated_jpeg, (160, 240)),  # stored 240x160, shown upright
    ],
    ids=["cmyk", "16-bit", "palette-alpha", "animated-webp", "exif-rotated"],
)
def test_upload_accepts_unusual_but_valid_images(api, make, size):
    response = api.post(URL, {"image": upload(make()), "name": "Odd"}, format="multipart")

    assert response.status_code == 201
    assert (response.json()["width"], response.json()["height"]) == size


def test_animated_gif_is_not_a_background_format(api):
    response = api.post(URL, {"image": upload(images.animated_gif())}, format="multipart")

    assert response.status_code == 415
    assert response.json()["code"] == "unsupported_media_type"


def test_upload_over_the_byte_limit_is_413(api, settings, list_storage_files):
    data = images.portrait_jpeg(512, quality=95)
    settings.VBG_MAX_UPLOAD_BYTES = len(data) - 1

    response = api.post(URL, {"image": upload(data)}, format="multipart")

    assert response.status_code == 413
    assert response.json()["code"] == "file_too_large"
    assert list_storage_files() == []


def test_a_request_body_far_over_the_limit_is_refused_before_reading(api, settings):
    settings.VBG_MAX_UPLOAD_BYTES = 10_000

    response = api.post(URL, {"image": upload(b"\xff" * 2_100_000)}, format="multipart")

    assert response.status_code == 413
    assert response.json()["code"] == "request_too_large"


def test_upload_over_the_quota_is_403(api, user, settings):
    settings.VBG_BACKGROUND_QUOTA = 1
    make_background(user, name="Only one", width=64, height=48)

    response = api.post(URL, {"image": upload(images.scenery_jpeg())}, format="multipart")

    assert response.status_code == 403
    assert response.json()["code"] == "quota_exceeded"


def test_upload_needs_multipart(api):
    response = api.post(URL, {"name": "x"}, format="json")

    assert response.status_code == 415
    assert response.json()["code"] == "unsupported_media_type"


def test_upload_without_a_file_is_400(api):
    response = api.post(URL, {"name": "x", "image": "not a file"}, format="multipart")

    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert "image" in response.json()["errors"]


# -- rename and delete --------------------------------------------------------------------


def test_rename_own(api, user):
    own = make_background(user, name="Old", width=64, height=48)

    response = api.patch(detail(own), {"name": "  New   name "}, format="json")

    assert response.status_code == 200
    assert response.json()["name"] == "New name"
    own.refresh_from_db()
    assert own.name == "New name"


def test_patch_without_a_name_changes_nothing(api, user):
    own = make_background(user, name="Old", width=64, height=48)

    response = api.patch(detail(own), {}, format="json")

    assert response.status_code == 200
    assert response.json()["name"] == "Old"


@pytest.mark.parametrize(
    "payload", [{"name": ""}, {"name": "   "}, {"name": "x" * 101}, {"name": None}, ["x"]]
)
def test_rename_needs_a_sensible_name(api, user, payload):
    own = make_background(user, name="Old", width=64, height=48)

    response = api.patch(detail(own), payload, format="json")

    assert response.status_code == 400
    assert response.json()["code"] in {"invalid", "invalid_option"}


def test_builtins_are_read_only_a_404_as_on_the_website(api):
    builtin = make_background(None, name="Built in", width=64, height=48)

    renamed = api.patch(detail(builtin), {"name": "Mine now"}, format="json")
    unnamed = api.patch(detail(builtin), {}, format="json")
    deleted = api.delete(detail(builtin))

    assert renamed.status_code == unnamed.status_code == deleted.status_code == 404
    assert renamed.json()["code"] == deleted.json()["code"] == "not_found"
    assert Background.objects.filter(pk=builtin.pk, name="Built in").exists()


def test_put_is_not_offered(api, user):
    own = make_background(user, name="Old", width=64, height=48)

    response = api.put(detail(own), {"name": "New"}, format="json")

    assert response.status_code == 405
    assert response.json()["code"] == "method_not_allowed"


def test_delete_own_removes_row_and_files(api, user, list_storage_files):
    own = make_background(user, name="Gone soon", width=64, height=48)
    assert list_storage_files()

    response = api.delete(detail(own))

    assert response.status_code == 204
    assert not Background.objects.filter(pk=own.pk).exists()
    assert list_storage_files() == []


# -- files --------------------------------------------------------------------------------


def test_files_of_builtins_and_own(api, user):
    builtin = make_background(None, name="Built in", width=64, height=48)
    own = make_background(user, name="Mine", width=64, height=48)

    for background in (builtin, own):
        for which in ("image", "thumbnail"):
            response = api.get(f"{detail(background)}{which}/", HTTP_ACCEPT="image/*")
            assert response.status_code == 200
            assert response["Content-Type"] == "image/jpeg"
            images.decode(b"".join(response.streaming_content))


@pytest.mark.s3
def test_files_in_s3_redirect_to_a_presigned_url(api, user, s3_storage):
    import requests

    own = make_background(user, name="In S3", width=64, height=48)

    response = api.get(f"{detail(own)}image/")

    assert response.status_code == 302
    location = response["Location"]
    assert location.startswith(s3_storage.endpoint_url)
    assert "X-Amz-Signature=" in location
    fetched = requests.get(location, timeout=10)
    assert fetched.status_code == 200
    assert images.decode(fetched.content).size == (64, 48)
