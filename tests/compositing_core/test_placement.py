"""compositing.placement: background focus/zoom/mirror, subject scale/position, crop, matte."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from compositing import compose
from compositing.compose import compose_image
from compositing.placement import (
    Placement,
    background_box,
    background_canvas,
    render,
    subject_box,
    subject_rect,
    subject_region,
)


def _stripes(width: int, height: int, colours) -> Image.Image:
    array = np.zeros((height, width, 3), np.uint8)
    step = width // len(colours)
    for i, colour in enumerate(colours):
        array[:, i * step : (i + 1) * step] = colour
    return Image.fromarray(array)


RED, GREEN, BLUE, YELLOW = (255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 0)
STRIPES = _stripes(400, 100, [RED, GREEN, BLUE, YELLOW])


def _square_subject(width=200, height=100, box=(80, 20, 120, 80)) -> tuple[Image.Image, np.ndarray]:
    """A grey photo with a white square 'person' (alpha 1 inside ``box``)."""
    photo = np.full((height, width, 3), 90, np.uint8)
    alpha = np.zeros((height, width), np.float32)
    x0, y0, x1, y1 = box
    photo[y0:y1, x0:x1] = 255
    alpha[y0:y1, x0:x1] = 1.0
    return Image.fromarray(photo), alpha


# ---------------------------------------------------------------------- background


def test_default_background_box_is_the_centred_cover():
    assert background_box((400, 100), (200, 200), Placement()) == (150.0, 0.0, 250.0, 100.0)


def test_focus_keeps_the_chosen_side_of_the_background():
    left = background_canvas(STRIPES, (100, 100), Placement(background_focus=(0.0, 50.0)))
    right = background_canvas(STRIPES, (100, 100), Placement(background_focus=(100.0, 50.0)))
    assert np.asarray(left)[50, 50].tolist() == list(RED)
    assert np.asarray(right)[50, 50].tolist() == list(YELLOW)


def test_zoom_shows_a_smaller_window():
    box = background_box((400, 100), (100, 100), Placement(background_zoom=2.0))
    assert box == pytest.approx((175.0, 25.0, 225.0, 75.0))


def test_mirror_flips_left_and_right():
    wide = Placement(output_size=(400, 100), background_mirror=True)
    out = np.asarray(background_canvas(STRIPES, (400, 100), wide))
    assert out[50, 10].tolist() == list(YELLOW)
    assert out[50, 390].tolist() == list(RED)


# ---------------------------------------------------------------------- subject


def test_subject_box_is_the_bounding_box_of_the_person():
    _, alpha = _square_subject()
    assert subject_box(alpha) == (80.0, 20.0, 120.0, 80.0)
    assert subject_box(np.zeros((5, 5), np.float32)) is None


def test_crop_margin_in_pixels_and_percent():
    _, alpha = _square_subject()
    px = subject_region(alpha, Placement(crop=True, crop_margin=(10.0, "px")))
    assert px == (70.0, 10.0, 130.0, 90.0)
    pct = subject_region(alpha, Placement(crop=True, crop_margin=(50.0, "%")))
    assert pct == (60.0, -10.0, 140.0, 110.0)  # may reach past the photo


def test_position_and_scale_follow_css_background_position():
    region, canvas = (0.0, 0.0, 100.0, 100.0), (400, 200)
    assert subject_rect(region, canvas, Placement()) == (100.0, 0.0, 300.0, 200.0)
    half_bottom = subject_rect(region, canvas, Placement(scale=50.0, position=(50.0, 100.0)))
    assert half_bottom == (150.0, 100.0, 250.0, 200.0)
    top_left = subject_rect(region, canvas, Placement(scale=50.0, position=(0.0, 0.0)))
    assert top_left == (0.0, 0.0, 100.0, 100.0)


def test_no_placement_is_exactly_the_classic_composite():
    photo, alpha = _square_subject()
    image, _ = render(photo, alpha, mode="color", placement=Placement(), color=(0, 0, 255))
    assert np.array_equal(
        np.asarray(image), np.asarray(compose_image(photo, alpha, mode="color", color=(0, 0, 255)))
    )


def test_crop_cuts_the_output_to_the_subject_and_margin():
    photo, alpha = _square_subject()
    placement = Placement(crop=True, crop_margin=(10.0, "px"))
    image, _ = render(photo, alpha, mode="color", placement=placement, color=(0, 0, 255))
    out = np.asarray(image)
    assert out.shape == (80, 60, 3)
    assert out[40, 30].tolist() == [255, 255, 255]  # the person in the middle
    assert out[2, 2].tolist() == [0, 0, 255]  # the margin is background


def test_output_size_with_scale_and_bottom_position():
    photo, alpha = _square_subject()
    placement = Placement(output_size=(300, 300), scale=50.0, position=(50.0, 100.0))
    image, _ = render(photo, alpha, mode="transparent", placement=placement)
    assert image.size == (300, 300) and image.mode == "RGBA"
    matte = np.asarray(image)[..., 3]
    # The 200x100 photo fits 300 wide (factor 1.5), halved: 150x75 at the bottom centre;
    # its square person (x 80..120, y 20..80) lands at x 135..165, y 240..285.
    ys, xs = np.nonzero(matte > 128)
    assert (xs.min(), xs.max() + 1, ys.min(), ys.max() + 1) == (135, 165, 240, 285)


def test_alpha_channel_is_the_matte_alone():
    photo, alpha = _square_subject()
    image, _ = render(
        photo, alpha, mode="color", placement=Placement(channels="alpha"), color=(1, 2, 3)
    )
    assert image.mode == "L" and image.size == photo.size
    assert np.array_equal(np.asarray(image) > 128, alpha > 0.5)


def test_strong_blur_is_blurrier_than_light():
    rng = np.random.default_rng(1)
    noisy = Image.fromarray(rng.integers(0, 255, (120, 160, 3), dtype=np.uint8))
    alpha = np.zeros((120, 160), np.float32)
    alpha[40:80, 60:100] = 1.0
    light, _ = render(noisy, alpha, mode="blur", placement=Placement(blur_strength=25))
    strong, _ = render(noisy, alpha, mode="blur", placement=Placement(blur_strength=60))
    assert np.asarray(strong)[:30].std() < np.asarray(light)[:30].std()


# ---------------------------------------------------------------------- painting in place


class _SharedCanvases:
    """A CanvasSource whose canvases are shared (as a cached library background's are)."""

    def __init__(self, image: Image.Image) -> None:
        self.image = image
        self.made: list[Image.Image] = []

    def canvas(self, canvas, placement):
        made = background_canvas(self.image, canvas, placement)
        self.made.append(made)
        return made, False


@pytest.mark.parametrize(
    "placement",
    [Placement(), Placement(background_zoom=1.5), Placement(scale=60.0, position=(10.0, 90.0))],
)
def test_painting_in_place_gives_the_same_pixels_and_spares_shared_canvases(placement):
    photo, alpha = _square_subject()
    kept, canvas = render(photo, alpha, mode="image", placement=placement, background=STRIPES)
    assert canvas is not None
    painted, none = render(
        photo, alpha, mode="image", placement=placement, background=STRIPES, keep_background=False
    )
    assert none is None
    assert np.array_equal(np.asarray(painted), np.asarray(kept))

    shared = _SharedCanvases(STRIPES)
    result, _ = render(
        photo, alpha, mode="image", placement=placement, background=shared, keep_background=False
    )
    assert np.array_equal(np.asarray(result), np.asarray(kept))
    assert result is not shared.made[0]  # a shared canvas is never painted on
    assert np.array_equal(np.asarray(shared.made[0]), np.asarray(canvas))


def test_compose_in_place_paints_onto_the_given_canvas(monkeypatch):
    monkeypatch.setattr(compose, "ARRAYS_MAX_PIXELS", 0)  # a big photo's way: no new array
    photo, alpha = _square_subject()
    canvas = Image.new("RGB", photo.size, BLUE)
    copy = compose_image(photo, alpha, mode="image", background=canvas)
    assert np.asarray(canvas)[0, 0].tolist() == list(BLUE) and copy is not canvas
    painted = compose_image(photo, alpha, mode="image", background=canvas, in_place=True)
    assert painted is canvas
    assert np.array_equal(np.asarray(painted), np.asarray(copy))
    other = Image.new("RGB", (50, 50), BLUE)  # not the photo's size: covered onto a new image
    assert compose_image(photo, alpha, mode="image", background=other, in_place=True) is not other
