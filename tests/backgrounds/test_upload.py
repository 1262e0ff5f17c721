"""Uploading a background: validated by decoding, re-encoded without metadata, a quota,
and every bad input refused with a clear message, a 4xx and nothing left behind."""

import io

import numpy as np
import pytest
from django.db import DatabaseError
from django.urls import reverse
from PIL import Image

from backgrounds.models import Background
from backgrounds.services import background_upload
from tests.backgrounds.factories import (
    encode,
    jpeg,
    mean_colour,
    photo,
    png_header_only,
    stored_image,
    upload,
)
from vbgsite.errors import QuotaExceeded

pytestmark = pytest.mark.django_db

URL = reverse("backgrounds:library")


def post(client, data: bytes, name: str = "holiday.jpg", title: str = ""):
    return client.post(URL, {"image": upload(data, name), "name": title})


def animated(fmt: str) -> bytes:
    frames = [photo(320, 180), Image.new("RGB", (320, 180), "red")]
    if fmt == "GIF":
        frames = [f.convert("P", palette=Image.Palette.ADAPTIVE) for f in frames]
    return encode(frames[0], fmt, save_all=True, append_images=frames[1:], duration=100, loop=0)


# name: (bytes factory, upload name, status, phrase of the message shown on the page)
BAD_INPUTS = {
    "non_image": (lambda: b"just some text, not a picture\n" * 40, "a.jpg", 400, "not an image"),
    "truncated": (lambda: jpeg()[:4000], "cut.jpg", 400, "corrupt or truncated"),
    "zero_byte": (lambda: b"", "empty.jpg", 400, "empty"),
    "one_by_one": (lambda: encode(Image.new("RGB", (1, 1)), "PNG"), "1.png", 400, "at least 32"),
    "huge_dimensions": (lambda: png_header_only(10_000, 6_000), "wide.png", 413, "megapixels"),
    "decompression_bomb": (lambda: png_header_only(60_000, 60_000), "bomb.png", 413, "large"),
    "animated_gif": (lambda: animated("GIF"), "anim.gif", 415, "GIF files are not accepted"),
    "pdf": (lambda: b"%PDF-1.7\n1 0 obj\n<<>>\nendobj\n", "doc.jpg", 415, "PDF"),
    "bmp": (lambda: encode(photo(64, 64), "BMP"), "pic.bmp", 415, "JPEG, PNG or WebP"),
}


@pytest.mark.parametrize("case", BAD_INPUTS, ids=list(BAD_INPUTS))
def test_bad_input_gets_a_clear_message_a_4xx_and_leaves_nothing(
    client_logged_in, list_storage_files, case
):
    make, name, status, phrase = BAD_INPUTS[case]
    response = post(client_logged_in, make(), name)
    assert response.status_code == status
    assert phrase in response.content.decode()
    assert 'class="message message-error' in response.content.decode()
    assert not Background.objects.exists()
    assert list_storage_files() == []


def test_too_many_bytes_is_413(client_logged_in, settings, list_storage_files):
    settings.VBG_MAX_UPLOAD_BYTES = 20_000
    data = jpeg(1280, 720)
    assert len(data) > 20_000
    response = post(client_logged_in, data)
    assert response.status_code == 413
    assert "larger than" in response.content.decode()
    assert not Background.objects.exists()
    assert list_storage_files() == []


def test_no_file_is_a_form_error(client_logged_in):
    response = client_logged_in.post(URL, {"name": "x"})
    assert response.status_code == 400
    assert not Background.objects.exists()


def test_upload_stores_a_reencoded_jpeg_and_thumbnail_under_random_names(
    client_logged_in, user, list_storage_files
):
    response = post(client_logged_in, encode(photo(1280, 720), "PNG"), "My Secret Beach.png")
    assert response.status_code == 302
    background = Background.objects.get()
    assert background.owner == user
    assert background.name == "My Secret Beach"  # the file name, when no name is given
    assert (background.width, background.height) == (1280, 720)
    assert set(list_storage_files()) == set(background.file_names())
    for name in background.file_names():
        assert name.startswith(f"users/{user.pk}/backgrounds/")
        assert "Secret" not in name and "Beach" not in name
    image = stored_image(background)
    assert image.format == "JPEG" and image.size == (1280, 720)
    assert background.size_bytes == background.image.size
    thumb = stored_image(background, "thumbnail")
    assert max(thumb.size) <= 480 and thumb.format == "JPEG"
    page = client_logged_in.get(URL)
    assert "“My Secret Beach” was added" in page.content.decode()


def test_the_given_name_is_used(client_logged_in):
    post(client_logged_in, jpeg(), "IMG_0001.jpg", title="  Home   office ")
    assert Background.objects.get().name == "Home office"


def test_gps_and_exif_are_not_kept(client_logged_in):
    exif = Image.Exif()
    exif[0x010F] = "SpyCam"  # Make
    gps = exif.get_ifd(0x8825)
    gps[2] = (51.0, 30.0, 0.0)  # GPSLatitude
    data = encode(photo(), "JPEG", exif=exif.tobytes())
    assert b"SpyCam" in data
    post(client_logged_in, data)
    background = Background.objects.get()
    with background.image.open("rb") as handle:
        stored = handle.read()
    assert b"SpyCam" not in stored
    assert not dict(Image.open(io.BytesIO(stored)).getexif())


def test_exif_rotated_photo_is_stored_upright(client_logged_in):
    upright = photo(360, 640)  # portrait
    stored_sideways = upright.transpose(Image.Transpose.ROTATE_90)  # 640x360 on disk
    exif = Image.Exif()
    exif[0x0112] = 6  # display rotated 90° clockwise
    post(client_logged_in, encode(stored_sideways, "JPEG", quality=95, exif=exif.tobytes()))
    background = Background.objects.get()
    assert (background.width, background.height) == (360, 640)
    image = stored_image(background)
    assert image.size == (360, 640)
    difference = np.abs(np.asarray(image, np.float32) - np.asarray(upright, np.float32))
    assert difference.mean() < 12  # the same picture, the right way up


def test_cmyk_jpeg_is_converted_to_rgb(client_logged_in):
    original = photo()
    post(client_logged_in, encode(original.convert("CMYK"), "JPEG", quality=95))
    image = stored_image(Background.objects.get())
    assert image.mode == "RGB"
    assert np.abs(mean_colour(image) - mean_colour(original)).max() < 20


def test_16_bit_png_is_converted_to_8_bit(client_logged_in):
    grey = np.asarray(photo().convert("L"), dtype=np.uint16) * 257
    post(client_logged_in, encode(Image.fromarray(grey), "PNG"), "deep.png")
    image = stored_image(Background.objects.get())
    assert image.mode == "RGB"
    assert abs(mean_colour(image).mean() - (grey / 257).mean()) < 4


def test_palette_png_with_transparency_is_flattened(client_logged_in):
    palette = Image.new("P", (200, 100), 1)
    palette.putpalette([0, 0, 0, 0, 0, 200])  # index 0: black (transparent), 1: blue
    palette.paste(0, (0, 0, 100, 100))  # left half: index 0
    data = encode(palette, "PNG", transparency=0)
    assert Image.open(io.BytesIO(data)).info.get("transparency") == 0
    post(client_logged_in, data, "logo.png")
    image = np.asarray(stored_image(Background.objects.get()), np.float32)
    assert image[:, :90].mean() > 240  # transparent -> white
    assert image[:, 110:, 2].mean() > 180 and image[:, 110:, 0].mean() < 40  # blue stays blue


def test_animated_webp_keeps_its_first_frame(client_logged_in):
    post(client_logged_in, animated("WEBP"), "moving.webp")
    image = stored_image(Background.objects.get())
    # The first frame is the coffee photo, not the solid red second frame.
    assert mean_colour(image)[0] < 200
    assert np.abs(mean_colour(image) - mean_colour(photo(320, 180))).max() < 15


def test_quota_reached_gives_a_clear_message(client_logged_in, user, settings, list_storage_files):
    settings.VBG_BACKGROUND_QUOTA = 2
    assert post(client_logged_in, jpeg()).status_code == 302
    assert post(client_logged_in, jpeg()).status_code == 302
    files_before = list_storage_files()
    response = post(client_logged_in, jpeg())
    assert response.status_code == 403
    assert "Your background library is full (2 of 2 backgrounds)" in response.content.decode()
    assert Background.objects.filter(owner=user).count() == 2
    assert list_storage_files() == files_before


def test_quota_is_per_person(user, other_user, settings):
    settings.VBG_BACKGROUND_QUOTA = 1
    background_upload(user=user, file=upload(jpeg()), name="a")
    with pytest.raises(QuotaExceeded):
        background_upload(user=user, file=upload(jpeg()), name="b")
    background_upload(user=other_user, file=upload(jpeg()), name="c")


def test_a_database_failure_leaves_no_files(user, monkeypatch, list_storage_files):
    def fail(*args, **kwargs):
        raise DatabaseError("the database went away")

    monkeypatch.setattr(Background, "save", fail)
    with pytest.raises(DatabaseError):
        background_upload(user=user, file=upload(jpeg()), name="x")
    monkeypatch.undo()
    assert not Background.objects.exists()
    assert list_storage_files() == []


def test_anonymous_people_cannot_upload(client, list_storage_files):
    response = client.post(URL, {"image": upload(jpeg()), "name": "x"})
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("accounts:login"))
    assert list_storage_files() == []
