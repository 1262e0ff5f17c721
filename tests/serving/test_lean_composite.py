"""The per-composite work made lean without changing the result: decontamination and paste
strip by strip, the 8-bit matte instead of a float alpha after the model, cheap thumbnails."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from compositing import imaging
from compositing.compose import compose_image, estimate_foreground
from compositing.thumbnails import make_thumbnail
from tests.segmentation.photos import photo


def soft_alpha(width: int, height: int) -> np.ndarray:
    """A person-like blob with a wide soft edge, and speckles of 0.5 everywhere."""
    yy, xx = np.mgrid[0:height, 0:width]
    distance = np.hypot((xx - width / 2) / (width / 3), (yy - height / 2) / (height / 3))
    alpha = np.clip(1.2 - distance, 0, 1).astype(np.float32)
    alpha[np.random.default_rng(0).random((height, width)) < 0.01] = 0.5
    return alpha


@pytest.mark.parametrize("size", [(864, 1152), (301, 700), (1000, 257)])
def test_compose_by_strips_equals_decontaminating_the_whole_photo_first(size):
    picture = Image.fromarray(photo("astronaut", size=size))
    alpha = soft_alpha(*size)
    mask = Image.fromarray(imaging.alpha_to_uint8(alpha), "L")
    whole = Image.fromarray(estimate_foreground(picture, alpha), "RGB")

    expected = Image.new("RGB", size, (16, 255, 32))
    expected.paste(whole, (0, 0), mask)
    composite = compose_image(picture, alpha, mode="color", color="#10ff20")
    assert np.array_equal(np.asarray(composite), np.asarray(expected))

    transparent = compose_image(picture, alpha, mode="transparent")
    expected_rgba = whole.convert("RGBA")
    expected_rgba.putalpha(mask)
    assert np.array_equal(np.asarray(transparent), np.asarray(expected_rgba))


def test_a_float_alpha_and_its_8_bit_matte_give_the_same_composite():
    size = (640, 480)
    picture = Image.fromarray(photo("astronaut", size=size))
    alpha = soft_alpha(*size)
    background = Image.fromarray(photo("coffee", size=(900, 500)))
    for mode in ("image", "blur", "transparent"):
        from_float = compose_image(picture, alpha, mode=mode, background=background)
        from_matte = compose_image(
            picture, imaging.alpha_to_uint8(alpha), mode=mode, background=background
        )
        assert np.array_equal(np.asarray(from_float), np.asarray(from_matte))


def test_person_test_is_the_same_on_the_matte_as_on_the_float_alpha():
    values = np.array([[0.0, 0.49, 0.4979, 0.498, 0.5, 0.501, 1.0]], np.float32)
    for share in (values, np.repeat(values, 1000, axis=0)):
        matte = imaging.alpha_to_uint8(share)
        assert np.array_equal(matte >= 128, share >= 0.5)  # photos._has_person's test


def test_alpha_to_uint8_rounds_and_clips_in_strips():
    alpha = np.random.default_rng(1).random((3000, 700)).astype(np.float32) * 1.4 - 0.2
    expected = np.clip(alpha * np.float32(255) + np.float32(0.5), 0, 255).astype(np.uint8)
    assert np.array_equal(imaging.alpha_to_uint8(alpha), expected)


def test_thumbnail_is_close_to_a_full_lanczos_resize():
    picture = Image.fromarray(photo("astronaut", size=(1152, 864)))
    data = make_thumbnail(picture, 480, fmt="png")
    with Image.open(io.BytesIO(data)) as thumbnail:
        small = np.asarray(thumbnail.convert("RGB"), np.int16)
    reference = np.asarray(picture.resize((480, 360), Image.Resampling.LANCZOS), np.int16)
    assert small.shape == reference.shape
    assert np.abs(small - reference).mean() < 1.5
