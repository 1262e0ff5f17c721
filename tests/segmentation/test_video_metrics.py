"""Video metrics on tiny arrays: DAVIS region J, boundary F, stable-pixel flicker."""

from __future__ import annotations

import numpy as np

from compositing.segmentation.metrics import (
    SequenceScore,
    boundary_f,
    dilate_disk,
    mask_boundary,
    region_j,
    stable_flicker,
)


def square(size: int, top: int, left: int, side: int) -> np.ndarray:
    mask = np.zeros((size, size), bool)
    mask[top : top + side, left : left + side] = True
    return mask


def test_region_j_is_intersection_over_union():
    a, b = square(10, 0, 0, 4), square(10, 0, 2, 4)  # 16 px each, overlap 8
    assert region_j(a, b) == 8 / 24
    assert region_j(a, a) == 1.0
    assert region_j(np.zeros((3, 3), bool), np.zeros((3, 3), bool)) == 1.0


def test_boundary_is_the_outline():
    edge = mask_boundary(square(8, 2, 2, 4))
    assert edge.sum() > 0
    assert not edge[3:5, 3:5].any()  # the inside is not boundary
    assert not edge[0].any()


def test_dilate_disk_reaches_radius_not_corners():
    point = np.zeros((9, 9), bool)
    point[4, 4] = True
    grown = dilate_disk(point, 3)
    assert grown[4, 1] and grown[1, 4] and grown[4, 7]
    assert not grown[1, 1]  # distance 4.2 > 3
    assert grown.sum() == 29  # lattice points within a radius-3 disk


def test_boundary_f_tolerates_small_shifts_only():
    truth = square(200, 50, 50, 100)  # diagonal 283 px: tolerance ceil(2.26) = 3 px
    assert boundary_f(truth, truth) == 1.0
    assert boundary_f(np.roll(truth, 2, axis=1), truth) == 1.0
    assert boundary_f(np.roll(truth, 10, axis=1), truth) < 0.6
    assert boundary_f(np.zeros_like(truth), truth) == 0.0


def test_flicker_counts_only_pixels_whose_truth_is_unchanged():
    truth = np.array([[True, False]])
    moved = np.array([[False, False]])
    alpha = np.array([[1.0, 0.2]], np.float32)
    previous = np.array([[0.0, 0.0]], np.float32)
    # The first pixel's truth changed: only the second counts.
    assert abs(stable_flicker(alpha, previous, moved, truth) - 0.2) < 1e-6
    assert stable_flicker(alpha, previous, ~truth, truth) is None


def test_sequence_summary_means():
    score = SequenceScore(j=[0.5, 1.0], f=[1.0, 0.0], flicker=[0.01])
    assert score.summary() == {"frames": 2, "J": 0.75, "F": 0.5, "flicker": 0.01}
