"""Big photos painted in place: the background covered a few rows at a time and the person
composed into the photo's own pixels give the same result as a whole canvas."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageFilter

from compositing import placement as placement_module
from compositing.compose import compose_image, compose_onto_photo, cover_filter
from compositing.placement import Placement, background_box, background_rows, render
from tests.compositing_core.factories import astronaut, coffee, disc_alpha

PLACEMENTS = [
    Placement(),
    Placement(background_zoom=1.7, background_focus=(20.0, 80.0)),
    Placement(background_mirror=True, background_focus=(100.0, 0.0)),
]


def _stitched(rows, canvas: tuple[int, int], step: int) -> np.ndarray:
    return np.concatenate(
        [np.asarray(rows(top, min(canvas[1], top + step))) for top in range(0, canvas[1], step)]
    )


@pytest.mark.parametrize("placement", PLACEMENTS)
@pytest.mark.parametrize("canvas", [(900, 1300), (300, 200)])  # enlarged, shrunk
def test_background_rows_are_the_rows_of_one_resize(placement, canvas):
    image = coffee()  # 600x400
    box = background_box(image.size, canvas, placement)
    whole = image.resize(canvas, cover_filter(box, canvas), box=box)
    if placement.background_mirror:
        whole = whole.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    rows = background_rows(image, canvas, placement)
    for step in (256, 37):
        assert np.abs(_stitched(rows, canvas, step).astype(int) - np.asarray(whole)).max() <= 1


def _soft_subject() -> tuple[Image.Image, np.ndarray]:
    photo = astronaut().resize((640, 700))
    alpha = disc_alpha(700, 640, radius=230, soft=40)
    return photo, alpha


def test_compose_onto_photo_matches_the_canvas_path_exactly():
    photo, alpha = _soft_subject()
    background = coffee().filter(ImageFilter.GaussianBlur(1))
    rows = background_rows(background, photo.size, Placement())
    canvas = Image.fromarray(_stitched(rows, photo.size, 256))
    expected = compose_image(photo, alpha, mode="image", background=canvas)
    target = photo.copy()
    painted = compose_onto_photo(target, alpha, rows)
    assert painted is target
    assert np.array_equal(np.asarray(painted), np.asarray(expected))
    # Without decontamination as well.
    expected = compose_image(photo, alpha, mode="image", background=canvas, decontaminate=False)
    painted = compose_onto_photo(photo.copy(), alpha, rows, decontaminate=False)
    assert np.array_equal(np.asarray(painted), np.asarray(expected))


def test_compose_onto_photo_refuses_rows_of_the_wrong_size():
    photo, alpha = _soft_subject()
    with pytest.raises(ValueError, match="canvas rows"):
        compose_onto_photo(photo, alpha, lambda top, bottom: Image.new("RGB", (10, bottom - top)))


@pytest.mark.parametrize("placement", PLACEMENTS)
def test_render_paints_an_owned_big_photo_in_place(placement, monkeypatch):
    photo, alpha = _soft_subject()
    background = coffee()
    expected, _ = render(
        photo, alpha, mode="image", placement=placement, background=background,
        keep_background=False,
    )  # fmt: skip
    monkeypatch.setattr(placement_module, "PAINT_ON_PHOTO_MIN_PIXELS", 100_000)
    # Not given up, or the canvas is wanted back: the photo is left alone.
    for owned, keep in ((False, False), (True, True)):
        untouched = photo.copy()
        render(
            untouched, alpha, mode="image", placement=placement, background=background,
            keep_background=keep, photo_owned=owned,
        )  # fmt: skip
        assert np.array_equal(np.asarray(untouched), np.asarray(photo))
    mine = photo.copy()
    result, canvas = render(
        mine, alpha, mode="image", placement=placement, background=background,
        keep_background=False, photo_owned=True,
    )  # fmt: skip
    assert result is mine and canvas is None
    # The whole-canvas path enlarges with OpenCV's cubic, the rows with Pillow's.
    difference = np.abs(np.asarray(result, np.float32) - np.asarray(expected, np.float32))
    assert difference.mean() < 0.5
    assert np.percentile(difference, 99.9) < 24


def test_the_matte_image_shares_the_arrays_memory():
    from compositing.mattes import matte_image

    matte = np.zeros((30, 40), np.uint8)
    image = matte_image(matte)
    assert image.mode == "L" and image.size == (40, 30)
    matte[5, 7] = 200  # no copy: the image sees the array
    assert image.getpixel((7, 5)) == 200
    floats = matte_image(np.full((3, 4), 0.5, np.float32))
    assert np.asarray(floats).tolist() == [[128] * 4] * 3
