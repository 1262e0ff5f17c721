"""The second pass's pieces on small arrays: the tracked crop box, the crop's colours, the
probability carried into a moved box and along the picture's motion."""

from __future__ import annotations

import numpy as np

from compositing.video.crop import BoxTracker, CropOptions, crop_rgb, person_box
from compositing.video.motion import MotionSmoother, carry_to_box


def test_person_box_covers_the_main_blob_not_a_far_speck():
    probability = np.zeros((40, 80), np.float32)
    probability[10:30, 20:30] = 0.9  # the person
    probability[2, 75] = 0.9  # one stray pixel far away
    box = person_box(probability, 800, 400, CropOptions(margin=0.0))
    assert box == (200, 100, 300, 300)


def test_tracked_box_grows_at_once_and_shrinks_gradually():
    tracker = BoxTracker(1000, 1000, CropOptions(shrink=0.5, max_fraction=1.0))
    assert tracker.update((100, 100, 300, 300)) == (100, 100, 300, 300)
    assert tracker.update((50, 100, 300, 300)) == (50, 100, 300, 300)  # grows at once
    assert tracker.update((150, 100, 300, 300)) == (100, 100, 300, 300)  # half-way in
    # A person too large for a second pass: no box.
    assert BoxTracker(100, 100, CropOptions(max_fraction=0.5)).update((0, 0, 90, 90)) is None


def test_crop_rgb_turns_limited_range_planes_into_rgb():
    y = np.full((64, 64), 126, np.uint8)  # mid grey in limited range: (126-16)*255/219 = 128
    chroma = np.full((32, 32), 128, np.uint8)
    rgb = crop_rgb((y, chroma, chroma), (8, 8, 40, 40), (16, 16), "bt709")
    assert rgb.shape == (16, 16, 3)
    assert np.all(np.abs(rgb.astype(int) - 128) <= 1)


def test_carry_to_box_keeps_values_in_place_on_the_frame():
    values = np.zeros((100, 100), np.float32)
    values[40:60, 40:60] = 1.0  # frame pixels 140..160 of the box (100, 100, 200, 200)
    moved = carry_to_box(values, (100, 100, 200, 200), (120, 120, 220, 220), (100, 100))
    assert moved[25, 25] == 1.0 and moved[45, 45] == 0.0 and moved[15, 15] == 0.0
    assert moved[90, 90] == 0.0  # outside the old box: nothing known, background


def test_flow_follows_a_moving_blob_without_a_trail():
    rng = np.random.default_rng(0)
    texture = rng.integers(0, 255, (128, 192), np.uint8)
    smoother = MotionSmoother(flow=True)
    box = (0, 0, 192, 128)
    for step in range(4):
        x = 40 + 12 * step
        grey = np.roll(texture, 12 * step, axis=1)
        probability = np.zeros((128, 192), np.float32)
        probability[40:90, x : x + 40] = 1.0
        smoothed = smoother(probability, grey, box)
    assert smoothed[60, x + 20] > 0.9  # the blob where it is now
    assert smoothed[60, x - 18] < 0.1  # no copy where it was
