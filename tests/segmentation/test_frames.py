"""The video pipeline's view of a segmenter (``segmentation.frames``): network input size and
network-resolution probabilities, declared by every backend instead of probed."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from compositing.segmentation import SegmenterFrames
from compositing.segmentation.backends.torchvision_seg import TorchvisionSegmenter


@pytest.mark.parametrize(("width", "height"), [(1280, 720), (720, 1280), (640, 480), (300, 300)])
def test_selfie_frames_are_the_network_input_and_come_back_at_that_size(
    segmenter_ready, width, height
):
    frames = SegmenterFrames(segmenter_ready)
    size = frames.network_size(width, height)
    assert size == ((144, 256) if width >= 1.7 * height else (256, 256))
    batch = np.zeros((3, *size, 3), np.uint8)
    probability = frames(batch)
    assert probability.shape == (3, *size) and probability.dtype == np.float32


def test_frames_give_the_backends_own_probability(segmenter_ready):
    frames = SegmenterFrames(segmenter_ready)
    rng = np.random.default_rng(0)
    frame = rng.integers(0, 256, (*frames.network_size(640, 480), 3), dtype=np.uint8)
    expected = segmenter_ready.probability(torch.from_numpy(frame.copy())).numpy()
    np.testing.assert_array_equal(frames(frame[None])[0], expected)


@pytest.mark.parametrize(("width", "height"), [(1280, 720), (480, 640), (4000, 300), (17, 9)])
def test_torchvision_network_size_keeps_the_aspect_with_the_short_side_at_its_input(width, height):
    segmenter = TorchvisionSegmenter.__new__(TorchvisionSegmenter)  # no weights needed
    segmenter.input_size = 520
    net_h, net_w = segmenter.network_size(width, height)
    assert min(net_h, net_w) == 520
    assert max(net_h, net_w) == min(round(520 * max(width, height) / min(width, height)), 2080)
    # A frame already at that size is not resized again.
    assert segmenter.network_size(net_w, net_h) == (net_h, net_w)
