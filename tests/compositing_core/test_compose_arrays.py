"""compositing.compose_arrays: the one-pass paste gives Pillow's integers, in every mode
that has a canvas, with and without decontamination, on any runner and canvas layout."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from PIL import Image, ImageFilter

from compositing import compose
from compositing.compose import compose_image
from compositing.compose_arrays import paste_arrays
from tests.compositing_core.factories import astronaut, coffee, disc_alpha


def _soft_subject() -> tuple[Image.Image, np.ndarray]:
    # 333 rows: the bands of 128 rows end in a short one; a wide soft edge for the band.
    photo = astronaut().resize((410, 333))
    alpha = disc_alpha(333, 410, radius=120, soft=35)
    return photo, alpha


def _pillows(monkeypatch, *args, **options) -> Image.Image:
    """compose_image the way big photos go: Pillow's paste, painting into the canvas."""
    with monkeypatch.context() as patch:
        patch.setattr(compose, "ARRAYS_MAX_PIXELS", 0)
        return compose_image(*args, **options)


def _two_threads(work, items) -> None:
    """A runner that really runs the items on two threads at once."""
    items = list(items)
    side = threading.Thread(target=lambda: [work(item) for item in items[1::2]])
    side.start()
    for item in items[::2]:
        work(item)
    side.join()


@pytest.mark.parametrize("decontaminate", [True, False])
@pytest.mark.parametrize("mode", ["image", "color", "blur"])
def test_the_array_paste_gives_pillows_pixels(monkeypatch, mode, decontaminate):
    photo, alpha = _soft_subject()
    options = {
        "mode": mode,
        "background": coffee().filter(ImageFilter.GaussianBlur(1)),
        "color": "#2a7fd4",
        "decontaminate": decontaminate,
    }
    expected = np.asarray(_pillows(monkeypatch, photo, alpha, **options))
    for runner in (None, _two_threads):
        result = compose_image(photo, alpha, runner=runner, **options)
        assert result.mode == "RGB" and result.size == photo.size
        assert np.array_equal(np.asarray(result), expected)
    # The photo's own array (what the services hand over) and the canvas as an array.
    canvas = np.asarray(compose.cover_image(options["background"], *photo.size))
    result = compose_image(
        photo, alpha, **{**options, "background": canvas}, pixels=np.asarray(photo).copy()
    )
    assert np.array_equal(np.asarray(result), expected)


def test_the_array_paste_leaves_its_inputs_alone():
    photo, alpha = _soft_subject()
    pixels = np.asarray(photo).copy()
    canvas = np.full_like(pixels, 200)
    matte = (alpha * 255).astype(np.uint8)
    before = (pixels.copy(), canvas.copy(), matte.copy())
    low = compose.LowRes(photo, Image.fromarray(matte), compose.stats_factor(photo.size))
    out = paste_arrays(pixels, matte, canvas, low)
    assert out.shape == pixels.shape and out.dtype == np.uint8
    for array, copy in zip((pixels, canvas, matte), before, strict=True):
        assert np.array_equal(array, copy)
    assert np.array_equal(out[0, 0], [200, 200, 200])  # no person in the corner: the canvas
    assert np.array_equal(out[166, 205], pixels[166, 205])  # the person's centre: the photo


def test_the_array_paste_refuses_mismatched_sizes():
    photo, alpha = _soft_subject()
    pixels = np.asarray(photo)
    matte = (alpha * 255).astype(np.uint8)
    with pytest.raises(ValueError, match="canvas"):
        paste_arrays(pixels, matte, np.zeros((10, 10, 3), np.uint8), None)


def test_colour_statistics_made_beforehand_give_the_same_composite():
    from compositing.compose_stats import LowColour, stats_factor

    photo, alpha = _soft_subject()
    factor = stats_factor(photo.size)
    colour = LowColour(photo, factor).for_decontamination()
    for mode in ("image", "color", "blur"):
        options = {"mode": mode, "background": coffee(), "color": "#2a7fd4"}
        expected = np.asarray(compose_image(photo, alpha, **options))
        made = compose_image(photo, alpha, colour=colour, **options)
        assert np.array_equal(np.asarray(made), expected)
    with pytest.raises(ValueError, match="1/"):
        compose.LowRes(LowColour(photo, factor + 1), Image.fromarray(alpha > 0.5), factor)


def test_the_array_paste_may_write_into_the_photo_itself():
    photo, alpha = _soft_subject()
    pixels = np.asarray(photo).copy()
    canvas = np.asarray(coffee().resize(photo.size))
    matte = (alpha * 255).astype(np.uint8)
    low = compose.LowRes(photo, Image.fromarray(matte), compose.stats_factor(photo.size))
    expected = paste_arrays(pixels, matte, canvas, low)
    assert paste_arrays(pixels, matte, canvas, low, out=pixels) is pixels
    assert np.array_equal(pixels, expected)
    with pytest.raises(ValueError, match="out"):
        paste_arrays(pixels, matte, canvas, low, out=np.empty((3, 3, 3), np.uint8))
