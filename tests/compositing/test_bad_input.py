"""Every bad-input class of the website issue, through the studio page (a plain form post
and the page script's JSON post): a clear message, a 4xx, and nothing half-written."""

from __future__ import annotations

import pytest
from django.urls import reverse
from PIL import Image

from compositing.models import Composite
from tests.compositing.conftest import (
    BAD_PHOTOS,
    animated_gif,
    background_jpeg,
    cmyk_jpeg,
    encode,
    exif_rotated_jpeg,
    gradient,
    palette_alpha_png,
    portrait_jpeg,
    sixteen_bit_png,
    stored_names,
    upload,
)

pytestmark = pytest.mark.django_db

STUDIO = reverse("compositing:studio")


def post(client, photo, *, json: bool = False, **fields):
    data = {"photo": photo, "background": "blur", "output_format": "jpg", **fields}
    headers = {"Accept": "application/json"} if json else {}
    return client.post(STUDIO, data, headers=headers)


def assert_nothing_written(user):
    assert not Composite.objects.exists()
    assert stored_names(folder=f"users/{user.pk}") == []


@pytest.mark.parametrize("case", sorted(BAD_PHOTOS))
def test_bad_photo_gets_a_message_and_a_4xx(case, client_logged_in, user):
    data, name, status, phrase = BAD_PHOTOS[case]()
    response = post(client_logged_in, upload(data, name=name))
    assert response.status_code == status
    page = response.content.decode()
    assert "make this composite" in page
    assert phrase in page
    assert_nothing_written(user)


@pytest.mark.parametrize("case", sorted(BAD_PHOTOS))
def test_bad_photo_json_has_code_and_detail(case, client_logged_in, user):
    data, name, status, phrase = BAD_PHOTOS[case]()
    response = post(client_logged_in, upload(data, name=name), json=True)
    assert response.status_code == status
    body = response.json()
    assert body["code"] and phrase in body["detail"]
    assert body["detail"].startswith("Photo:")
    assert_nothing_written(user)


def test_file_over_the_byte_limit(client_logged_in, user, settings):
    settings.VBG_MAX_UPLOAD_BYTES = 10_000
    response = post(client_logged_in, upload(portrait_jpeg()))
    assert response.status_code == 413
    assert "larger than" in response.content.decode()
    assert_nothing_written(user)


def test_photo_with_no_person(client_logged_in, user, real_model):
    response = post(client_logged_in, upload(encode(gradient(640, 480), "JPEG")))
    assert response.status_code == 422
    assert "No person was found" in response.content.decode()
    assert_nothing_written(user)


def test_missing_photo(client_logged_in, user):
    response = client_logged_in.post(STUDIO, {"background": "blur"})
    assert response.status_code == 400
    assert "Choose a photo" in response.content.decode()
    assert_nothing_written(user)


def test_bad_colour(client_logged_in, user):
    response = post(client_logged_in, upload(portrait_jpeg()), background="color", color="blue")
    assert response.status_code == 400
    assert "#RRGGBB" in response.content.decode()
    assert_nothing_written(user)


def test_upload_choice_without_a_file(client_logged_in, user):
    response = post(client_logged_in, upload(portrait_jpeg()), background="upload")
    assert response.status_code == 400
    assert "Choose a background image" in response.content.decode()
    assert_nothing_written(user)


def test_tiny_background_is_refused(client_logged_in, user):
    tiny = upload(encode(gradient(8, 8), "PNG"), name="tiny.png", content_type="image/png")
    response = post(
        client_logged_in, upload(portrait_jpeg()), background="upload", background_file=tiny
    )
    assert response.status_code == 400
    page = response.content.decode()
    assert "Background image:" in page and "at least" in page
    assert_nothing_written(user)
    assert user.backgrounds.count() == 0


def test_background_that_is_not_an_image(client_logged_in, user):
    response = post(
        client_logged_in,
        upload(portrait_jpeg()),
        background="upload",
        background_file=upload(b"GIF89a-but-not-really", name="bg.jpg"),
        save_background="on",
    )
    assert response.status_code == 400
    assert "Background image:" in response.content.decode()
    assert_nothing_written(user)
    assert user.backgrounds.count() == 0


def test_a_corrupt_photo_is_reported_before_a_bad_background(client_logged_in, user):
    # The photo's pixels are decoded beside the background's lookup; its error still wins.
    photo = portrait_jpeg()
    response = post(
        client_logged_in,
        upload(photo[: len(photo) * 2 // 3], name="cut.jpg"),
        json=True,
        background="upload",
        background_file=upload(b"GIF89a-but-not-really", name="bg.jpg"),
    )
    assert response.status_code == 400
    detail = response.json()["detail"]
    assert detail.startswith("Photo:") and "corrupt or truncated" in detail
    assert_nothing_written(user)


# Unusual but valid files: decoded correctly, composited, no error.


@pytest.mark.parametrize(
    "case, make, name",
    [
        ("cmyk", cmyk_jpeg, "cmyk.jpg"),
        ("16-bit", sixteen_bit_png, "deep.png"),
        ("palette+alpha", palette_alpha_png, "palette.png"),
        ("animated", animated_gif, "anim.gif"),
    ],
)
def test_unusual_but_valid_photos_are_composited(
    case, make, name, client_logged_in, user, real_model
):
    response = post(client_logged_in, upload(make(), name=name), json=True)
    assert response.status_code == 201, response.content
    composite = Composite.objects.get()
    assert (composite.width, composite.height) == (512, 512)
    with composite.source.open("rb") as handle:
        source = Image.open(handle)
        source.load()
    assert source.mode == "RGB"


def test_cmyk_colours_are_converted(client_logged_in, user, real_model):
    import numpy as np

    from tests.compositing.conftest import astronaut

    post(client_logged_in, upload(cmyk_jpeg()), json=True)
    composite = Composite.objects.get()
    with composite.source.open("rb") as handle:
        source = np.asarray(Image.open(handle).convert("RGB")).astype(int)
    # Not inverted or washed out: close to the RGB original on average.
    assert np.abs(source - np.asarray(astronaut()).astype(int)).mean() < 25


def test_exif_rotated_photo_is_composited_upright(client_logged_in, user, real_model):
    data, upright = exif_rotated_jpeg()
    response = post(client_logged_in, upload(data), json=True)
    assert response.status_code == 201
    body = response.json()
    assert (body["width"], body["height"]) == upright


def test_background_larger_than_the_photo(client_logged_in, user, real_model):
    big = upload(background_jpeg(3000, 2000), name="big.jpg")
    response = post(
        client_logged_in,
        upload(portrait_jpeg()),
        background="upload",
        background_file=big,
        json=True,
    )
    assert response.status_code == 201
    composite = Composite.objects.get()
    with composite.background_image.open("rb") as handle:
        assert Image.open(handle).size == (512, 512)
