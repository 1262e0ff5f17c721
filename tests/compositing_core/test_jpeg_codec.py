"""Plain JPEGs decoded straight into the array the model reads (``compositing.jpeg_codec``):
the same pixels as Pillow's decode, and every other file decoded by Pillow as before; and
arrays encoded into the same bytes as Pillow's encoder writes for them."""

from __future__ import annotations

import io
import threading

import numpy as np
import pytest
from PIL import ExifTags, Image, ImageCms

from compositing.imaging import encode_image, load_image, load_image_pixels, open_image
from compositing.jpeg_codec import encode_rgb
from tests.compositing_core.factories import LIMITS, astronaut, encode
from vbgsite import errors


def _pillow_pixels(data: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(data)) as image:
        return np.asarray(image.convert("RGB"))


@pytest.mark.parametrize(
    "options",
    [
        {"quality": 90},  # 4:2:0, the cameras' usual
        {"quality": 95, "subsampling": 0},  # 4:4:4
        {"quality": 85, "subsampling": 1},  # 4:2:2
        {"quality": 90, "progressive": True},
        {"quality": 75, "optimize": True},
    ],
)
def test_a_plain_jpeg_gives_the_model_pillows_own_pixels(options):
    photo = astronaut().resize((515, 389))  # sides that are no multiple of a block
    data = encode(photo, "JPEG", **options)
    decoded = load_image_pixels(data, **LIMITS)
    assert decoded.pixels is not None and decoded.pixels.shape == (389, 515, 3)
    assert np.array_equal(decoded.pixels, _pillow_pixels(data))
    assert np.array_equal(np.asarray(decoded.image), decoded.pixels)
    assert decoded.image.mode == "RGB" and decoded.image.info == {}
    assert np.array_equal(np.asarray(load_image(data, **LIMITS)), decoded.pixels)


def test_an_srgb_tagged_jpeg_keeps_its_pixels_too():
    profile = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    data = encode(astronaut(), "JPEG", quality=90, icc_profile=profile)
    decoded = load_image_pixels(data, **LIMITS)
    assert decoded.pixels is not None
    assert np.array_equal(decoded.pixels, _pillow_pixels(data))


def test_a_rotated_jpeg_is_turned_upright_without_decoder_pixels():
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = 6
    stored = astronaut().resize((96, 64))
    data = encode(stored, "JPEG", quality=95, exif=exif.tobytes())
    decoded = load_image_pixels(data, **LIMITS)
    assert decoded.pixels is None  # the array would be sideways
    assert decoded.image.size == (64, 96)


@pytest.mark.parametrize("fmt", ["PNG", "WEBP"])
def test_other_formats_have_no_decoder_pixels(fmt):
    decoded = load_image_pixels(encode(astronaut(), fmt), **LIMITS)
    assert decoded.pixels is None
    assert decoded.image.mode == "RGB" and decoded.image.size == (512, 512)


def test_a_jpeg_libjpeg_warns_about_is_decoded_by_pillow_as_before():
    data = encode(astronaut(), "JPEG", quality=90)
    # Stray bytes in the scan: libjpeg warns ("Corrupt JPEG data: 114 extraneous bytes
    # before marker 0xd9") and fills in; Pillow has always accepted such files, so they
    # are still accepted, with Pillow's pixels.
    warned = data[:2000] + b"\xff\x00" * 3 + data[2000:]
    decoded = load_image_pixels(warned, **LIMITS)
    assert decoded.pixels is None
    assert np.array_equal(np.asarray(decoded.image), _pillow_pixels(warned))


def test_a_truncated_jpeg_is_still_refused():
    data = encode(astronaut(), "JPEG", quality=90)
    with pytest.raises(errors.InvalidImage, match="corrupt or truncated"):
        load_image_pixels(data[: len(data) // 2], **LIMITS)


def test_the_header_is_checked_when_opened_and_the_pixels_decoded_on_another_thread():
    with pytest.raises(errors.ImageTooSmall):
        open_image(encode(astronaut().resize((20, 20)), "JPEG"), **LIMITS)
    data = encode(astronaut(), "JPEG", quality=90)
    opened = open_image(data, **LIMITS)
    assert opened.size == (512, 512)
    decoded = []
    thread = threading.Thread(target=lambda: decoded.append(opened.decode()))
    thread.start()
    thread.join()
    assert np.array_equal(decoded[0].pixels, _pillow_pixels(data))


@pytest.mark.parametrize("quality", [82, 90, 95])
@pytest.mark.parametrize("shape", [(512, 512), (1153, 865), (37, 61)])
def test_an_array_encodes_to_pillows_very_bytes(shape, quality):
    """``encode_rgb`` (OpenCV's libjpeg-turbo, no copy into Pillow's memory) writes what
    Pillow's ``save(..., "JPEG", quality=q)`` writes for the same pixels: the results and
    thumbnails are the files they always were. A crop (strided rows) as well."""
    rng = np.random.default_rng(shape[0])
    picture = np.asarray(astronaut().resize(shape[::-1]), np.int16)
    pixels = np.clip(picture + rng.integers(-20, 21, picture.shape), 0, 255).astype(np.uint8)
    for array in (pixels, pixels[1:, 2:]):
        written = io.BytesIO()
        Image.fromarray(np.ascontiguousarray(array)).save(written, "JPEG", quality=quality)
        assert encode_rgb(array, quality) == written.getvalue()
        assert encode_image(array, "jpg", quality=quality) == written.getvalue()


def test_encode_rgb_refuses_what_is_not_8_bit_rgb():
    with pytest.raises(ValueError):
        encode_rgb(np.zeros((8, 8, 3), np.float32), 90)
    with pytest.raises(ValueError):
        encode_rgb(np.zeros((8, 8, 4), np.uint8), 90)
