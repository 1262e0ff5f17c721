"""Temporal smoothing hook: ``previous`` damps flicker, lets real motion through."""

from __future__ import annotations

import numpy as np
import pytest

from compositing.segmentation import SegmentationError, VideoSegmenter, segment, temporal_smooth
from tests.segmentation.photos import photo


def test_small_wobble_is_damped_and_large_changes_pass():
    previous = np.array([[0.5, 1.0, 0.0]], np.float32)
    current = np.array([[0.6, 0.0, 1.0]], np.float32)
    smoothed = temporal_smooth(current.copy(), previous, strength=0.5)
    assert 0.5 < smoothed[0, 0] < 0.56  # flicker: pulled strongly towards previous
    assert smoothed[0, 1] == 0.0 and smoothed[0, 2] == 1.0  # motion: the new frame wins


def test_shape_mismatch_is_an_error():
    with pytest.raises(SegmentationError):
        temporal_smooth(np.zeros((4, 4), np.float32), np.zeros((4, 5), np.float32), strength=0.5)


def test_segment_accepts_the_previous_frames_alpha(segmenter_ready):
    frame = photo("astronaut", size=(320, 240))
    first = segment(frame)
    second = segment(frame, previous=first)
    np.testing.assert_allclose(second, first, atol=1e-6)  # a still frame stays put


def test_video_segmenter_carries_state_between_frames(segmenter_ready):
    video = VideoSegmenter(segmenter_ready, temporal_strength=0.5)
    frame = photo("astronaut", size=(320, 240))
    noisy = np.clip(
        frame.astype(int) + np.random.default_rng(0).integers(-25, 26, frame.shape), 0, 255
    )
    noisy = noisy.astype(np.uint8)
    video(frame)
    smoothed = video(noisy)
    raw = segment(noisy)
    first = segment(frame)
    assert np.abs(smoothed - first).mean() < np.abs(raw - first).mean()
    video.reset()
    np.testing.assert_array_equal(video(noisy), raw)
