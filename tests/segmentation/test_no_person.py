"""A photo with no person gives an all-zero alpha, never a crash."""

from __future__ import annotations

import numpy as np
import pytest

from compositing.segmentation import segment
from tests.segmentation.photos import photo


@pytest.mark.parametrize(
    "image",
    [
        np.full((240, 320, 3), 128, np.uint8),
        np.zeros((100, 100, 3), np.uint8),
        np.full((64, 64, 3), 255, np.uint8),
    ],
    ids=["grey", "black", "white"],
)
def test_blank_photo_gives_all_zero_alpha(segmenter_ready, image):
    alpha = segment(image)
    assert alpha.shape == image.shape[:2]
    assert not alpha.any()


@pytest.mark.parametrize("name", ["rocket", "grass", "brick"])
def test_real_photo_without_people_gives_all_zero_alpha(segmenter_ready, name):
    assert not segment(photo(name)).any()


def test_a_person_is_not_all_zero(segmenter_ready):
    assert segment(photo("astronaut")).any()
