"""The 8-bit matte straight from the model (no full-size float alpha): the same values as
rounding the float alpha, for every selfie pipeline, second pass included."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from compositing.imaging import alpha_to_uint8
from compositing.segmentation import configure, get_segmenter
from tests.segmentation.photos import photo


@pytest.fixture
def model(selfie_model_dir):
    configure(model_dir=selfie_model_dir)


def small_person() -> Image.Image:
    """A portrait pasted small into a wide scene: the second pass (a crop) runs."""
    scene = Image.new("RGB", (1500, 1001), (120, 130, 110))
    scene.paste(Image.fromarray(photo("astronaut", size=(260, 260))), (701, 400))
    return scene


@pytest.mark.parametrize("name", ["selfie", "selfie_single", "selfie_bilinear"])
@pytest.mark.parametrize("picture", ["portrait", "odd size", "small person"])
def test_matte_equals_the_rounded_float_alpha(model, name, picture):
    image = {
        "portrait": lambda: Image.fromarray(photo("astronaut", size=(864, 1152))),
        "odd size": lambda: Image.fromarray(photo("astronaut", size=(1001, 777))),
        "small person": small_person,
    }[picture]()
    segmenter = get_segmenter(name)
    alpha = segmenter.segment(image)
    matte = segmenter.segment_matte(image)
    assert matte.dtype == np.uint8 and matte.shape == alpha.shape
    assert np.array_equal(matte, alpha_to_uint8(alpha))
    assert np.count_nonzero(matte >= 128) > 0.01 * matte.size  # a person was found
