"""Small people get a second pass of the network on a crop around them."""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image

from compositing.segmentation import get_segmenter, segment
from tests.segmentation.photos import iou, photo


def small_person_scene() -> tuple[np.ndarray, np.ndarray]:
    """The astronaut shrunk to 1/5 of a 1600x900 frame of plain wall, and its mask there."""
    person = photo("astronaut", size=(180, 180))
    scene = np.full((900, 1600, 3), (96, 110, 120), np.uint8)
    top, left = 600, 900
    scene[top : top + 180, left : left + 180] = person
    reference = np.zeros((900, 1600), np.float32)
    # The engine's own mask of the full-size astronaut, shrunk the same way.
    full_size = Image.fromarray(segment(photo("astronaut")))
    reference[top : top + 180, left : left + 180] = np.asarray(
        full_size.resize((180, 180), Image.BILINEAR)
    )
    return scene, reference


def test_second_pass_runs_on_a_crop_around_a_small_person(segmenter_ready):
    scene, _ = small_person_scene()
    probability = segmenter_ready.probability(torch.from_numpy(scene))
    box = segmenter_ready.crop_box(probability >= 0.5, 1600, 900)
    assert box is not None
    x0, y0, x1, y1 = box
    assert x0 <= 930 and x1 >= 1050 and y0 <= 630 and y1 >= 760  # around the person
    assert (x1 - x0) * (y1 - y0) < 0.1 * 1600 * 900  # and much smaller than the frame


def test_second_pass_improves_the_small_person_mask(segmenter_ready):
    scene, reference = small_person_scene()
    with_second_pass = get_segmenter("selfie").segment(scene)
    single_pass = get_segmenter("selfie_single").segment(scene)
    assert iou(with_second_pass, reference) > iou(single_pass, reference) + 0.05


def test_no_second_pass_when_the_person_fills_the_frame(segmenter_ready):
    rgb = photo("astronaut")
    probability = segmenter_ready.probability(torch.from_numpy(rgb))
    assert segmenter_ready.crop_box(probability >= 0.5, 512, 512) is None
    np.testing.assert_array_equal(segment(rgb), get_segmenter("selfie_single").segment(rgb))


def test_pil_scene_gives_the_same_as_array(segmenter_ready):
    scene, _ = small_person_scene()
    np.testing.assert_array_equal(segment(Image.fromarray(scene)), segment(scene))
