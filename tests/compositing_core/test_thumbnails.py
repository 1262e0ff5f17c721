"""Previews (``compositing.thumbnails``): the size, the format, and pixels close to a
filtered resize, from a PIL image or from the composite's own array."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from compositing.thumbnails import make_thumbnail, shrink_pixels
from tests.compositing_core.factories import astronaut


def test_thumbnail_fits_the_box_and_never_enlarges():
    wide = astronaut().resize((800, 400))
    with Image.open(io.BytesIO(make_thumbnail(wide, 320))) as thumb:
        assert thumb.size == (320, 160)
        assert thumb.format == "JPEG"
    with Image.open(io.BytesIO(make_thumbnail(astronaut(), 1000))) as thumb:
        assert thumb.size == (512, 512)
    transparent = astronaut().convert("RGBA")
    transparent.putalpha(0)
    with Image.open(io.BytesIO(make_thumbnail(transparent, 100))) as thumb:
        assert thumb.format == "WEBP"
        assert thumb.mode == "RGBA"


@pytest.mark.parametrize(
    "size, box", [((864, 1152), 480), ((1000, 700), 480), ((2048, 1536), 300), ((700, 500), 480)]
)
def test_thumbnail_pixels_match_a_filtered_resize(size, box):
    """Whichever way it shrinks (whole-factor box, then a short cubic step or Pillow's
    filtered resize), the thumbnail is within a few levels of a Lanczos resize."""
    picture = astronaut().resize(size, Image.Resampling.LANCZOS)
    scale = box / max(size)
    expected_size = (round(size[0] * scale), round(size[1] * scale))
    expected = np.asarray(picture.resize(expected_size, Image.Resampling.LANCZOS), np.float32)
    with Image.open(io.BytesIO(make_thumbnail(picture, box, fmt="png"))) as thumb:
        assert thumb.size == expected_size
        difference = np.abs(np.asarray(thumb.convert("RGB"), np.float32) - expected)
    assert difference.mean() < 4.0  # (a box filter is softer than Lanczos: 3.2 at 6.8x)
    assert np.percentile(difference, 99) < 40


def test_thumbnail_of_an_array_is_the_thumbnail_of_its_image():
    """The composite's array and the same pixels as a PIL image give the same preview."""
    picture = astronaut().resize((864, 1152), Image.Resampling.LANCZOS)
    from_array = make_thumbnail(np.asarray(picture), 480)
    from_image = make_thumbnail(picture, 480)
    assert from_array == from_image
    with Image.open(io.BytesIO(from_array)) as thumb:
        assert (thumb.format, thumb.size, thumb.mode) == ("JPEG", (360, 480), "RGB")
        assert not thumb.info.get("exif") and not thumb.info.get("icc_profile")


@pytest.mark.parametrize("shape", [(1153, 865, 3), (1153, 865), (601, 401, 3)])
def test_shrink_pixels_of_odd_sizes_has_the_asked_size(shape):
    """A whole-factor box leaves out the last row or column that does not fill a box."""
    rng = np.random.default_rng(3)
    pixels = rng.integers(0, 256, shape, dtype=np.uint8)
    small = shrink_pixels(pixels, (300, 400))
    assert small.shape[:2] == (400, 300)
    assert small.dtype == np.uint8
    assert abs(float(small.mean()) - float(pixels.mean())) < 2.0


def test_thumbnail_of_a_grey_array_and_an_rgba_array():
    grey = np.asarray(astronaut().convert("L"))
    with Image.open(io.BytesIO(make_thumbnail(grey, 128))) as thumb:
        assert (thumb.format, thumb.size, thumb.mode) == ("JPEG", (128, 128), "L")
    rgba = np.array(astronaut().convert("RGBA"))
    rgba[:, :256, 3] = 0  # half transparent: the preview keeps it
    with Image.open(io.BytesIO(make_thumbnail(rgba, 128))) as thumb:
        assert (thumb.format, thumb.mode) == ("WEBP", "RGBA")


def test_a_big_pictures_thumbnail_never_copies_it_whole():
    """A 12 MP result's preview: Pillow's own box reduction first, so no array of the whole
    picture (36 MB here; 144 MB at 48 MP) is made on the way."""
    import tracemalloc

    picture = astronaut().resize((3000, 4000))
    tracemalloc.start()
    try:
        make_thumbnail(picture, 480)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 8 << 20  # numpy's arrays are traced: a whole copy would be 36 MB
