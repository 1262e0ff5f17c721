"""POST /api/v1/composites/ with the real segmentation model: JSON, image bytes, every mode,
unusual but valid photos, no person; then a re-composite of the result without the model."""

from __future__ import annotations

import numpy as np
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from skimage.morphology import binary_erosion, disk

from backgrounds.models import Background
from compositing.models import Composite
from compositing.services import cut_out
from tests.api import images
from tests.compositing.conftest import make_background

URL = "/api/v1/composites/"

pytestmark = pytest.mark.usefixtures("api_model")


def upload(data: bytes, name: str = "portrait.jpg") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, content_type="application/octet-stream")


def fetch(client, url: str) -> bytes:
    response = client.get(url)
    assert response.status_code == 200, url
    return b"".join(response.streaming_content) if response.streaming else response.content


def test_create_onto_a_builtin_background(api, user, list_storage_files):
    builtin = make_background(None, name="Studio", width=320, height=240)

    response = api.post(
        URL, {"photo": upload(images.portrait_jpeg(256)), "background": str(builtin.pk)}
    )

    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["kind"], body["status"], body["mode"]) == ("image", "done", "image")
    assert body["background"] == str(builtin.pk)
    assert (body["width"], body["height"], body["format"]) == (256, 256, "jpg")
    assert body["model"]
    assert body["person_found"] is True
    stages = ("decode_ms", "segment_ms", "person_check_ms", "compose_ms", "encode_ms")
    for key in (*stages, "store_ms", "total_ms"):
        assert body["timings"][key] >= 0
    assert response["Location"] == body["url"]
    result = images.decode(fetch(api, body["result_url"]))
    assert (result.format, result.size) == ("JPEG", (256, 256))
    mask = np.asarray(images.decode(fetch(api, body["mask_url"])).convert("L"))
    assert mask.shape == (256, 256)
    assert mask.max() > 200 and mask.min() < 50  # a person and a background
    composite = Composite.objects.get(pk=body["id"])
    assert composite.owner == user
    assert all(
        name.startswith(f"users/{user.pk}/")
        for name in list_storage_files()
        if not name.startswith("builtin/")
    )
    assert [item["id"] for item in api.get(URL).json()["results"]] == [body["id"]]


@pytest.mark.parametrize(
    ("fields", "mode", "fmt", "pil_mode"),
    [
        ({"color": "#1E90FF"}, "color", "jpg", "RGB"),
        ({"mode": "blur", "format": "webp"}, "blur", "webp", "RGB"),
        ({"mode": "transparent"}, "transparent", "png", "RGBA"),
        ({"mode": "transparent", "format": "webp"}, "transparent", "webp", "RGBA"),
    ],
)
def test_create_in_each_mode(api, fields, mode, fmt, pil_mode):
    response = api.post(URL, {"photo": upload(images.portrait_jpeg(192)), **fields})

    assert response.status_code == 201, response.content
    assert (response.json()["mode"], response.json()["format"]) == (mode, fmt)
    result = images.decode(fetch(api, response.json()["result_url"]))
    assert result.mode == pil_mode


def test_create_with_a_one_off_background_saved_to_the_library(api, user):
    response = api.post(
        URL,
        {
            "photo": upload(images.portrait_jpeg(192)),
            "background_image": upload(images.scenery_jpeg(), "cafe.jpg"),
            "save_background": "true",
        },
    )

    assert response.status_code == 201, response.content
    saved = Background.objects.get(owner=user)
    assert saved.name == "cafe"
    assert response.json()["background"] == str(saved.pk)


def test_accept_image_returns_the_composite_bytes(api, user):
    response = api.post(
        URL, {"photo": upload(images.portrait_jpeg(192)), "mode": "blur"}, HTTP_ACCEPT="image/*"
    )

    assert response.status_code == 201
    assert response["Content-Type"] == "image/jpeg"
    assert images.decode(response.content).size == (192, 192)
    composite = Composite.objects.get(pk=response["X-Composite-Id"], owner=user)
    assert response["Location"].endswith(f"{URL}{composite.pk}/")
    assert (response["X-Width"], response["X-Height"]) == ("192", "192")
    with composite.result.open("rb") as stored:
        assert stored.read() == response.content


def test_accept_image_png_picks_the_format(api):
    response = api.post(
        URL,
        {"photo": upload(images.portrait_jpeg(192)), "color": "#FFFFFF"},
        HTTP_ACCEPT="image/png",
    )

    assert response.status_code == 201
    assert response["Content-Type"] == "image/png"
    assert images.decode(response.content).format == "PNG"


@pytest.mark.parametrize(
    ("make", "size"),
    [
        (images.cmyk_jpeg, (200, 200)),
        (images.sixteen_bit_png, (200, 200)),
        (images.palette_alpha_png, (200, 200)),
        (images.animated_gif, (160, 160)),
        (images.exif_rotated_jpeg, (160, 240)),  # stored 240x160, upright 160x240
    ],
    ids=["cmyk", "16-bit", "palette-alpha", "animated-gif", "exif-rotated"],
)
def test_unusual_but_valid_photos_are_accepted(api, make, size):
    response = api.post(URL, {"photo": upload(make(), "photo"), "mode": "blur"})

    assert response.status_code == 201, response.content
    assert (response.json()["width"], response.json()["height"]) == size
    assert images.decode(fetch(api, response.json()["result_url"])).size == size


def test_a_photo_without_a_person_is_422(api, list_storage_files):
    from tests.compositing.conftest import encode, gradient

    response = api.post(URL, {"photo": upload(encode(gradient(320, 240), "JPEG")), "mode": "blur"})

    assert response.status_code == 422
    assert response.json()["code"] == "no_person"
    assert not Composite.objects.exists()
    assert list_storage_files() == []


def test_recomposite_of_a_new_composite_reuses_its_mask(api, monkeypatch):
    created = api.post(
        URL, {"photo": upload(images.portrait_jpeg(192)), "color": "#FF0000", "format": "png"}
    )
    assert created.status_code == 201

    def refuse(*args, **kwargs):
        raise AssertionError("the segmentation model was called")

    monkeypatch.setattr(cut_out, "_segment", refuse)
    response = api.post(
        f"{URL}{created.json()['id']}/recomposite/", {"color": "#0000FF"}, format="json"
    )

    assert response.status_code == 201
    assert response.json()["timings"]["mask_reused"] is True
    assert fetch(api, response.json()["mask_url"]) == fetch(api, created.json()["mask_url"])
    first = np.asarray(images.decode(fetch(api, created.json()["result_url"])), np.int16)
    second = np.asarray(images.decode(fetch(api, response.json()["result_url"])), np.int16)
    mask = np.asarray(images.decode(fetch(api, created.json()["mask_url"])).convert("L"))
    # Well inside the person (edges blend with the background colour), and well outside.
    person = binary_erosion(mask > 250, disk(4))
    background = binary_erosion(mask < 5, disk(4))
    assert person.sum() > 1000 and background.sum() > 1000
    # The same person (a re-composite starts from the stored JPEG q95 source: tiny noise).
    assert np.abs(first[person] - second[person]).mean() < 2
    assert second[background][:, 2].mean() > 200 and first[background][:, 0].mean() > 200
