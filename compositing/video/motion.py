"""Temporal consistency of the second pass's probability, motion-compensated.

The previous frame's smoothed probability is first carried into this frame's crop box (the
box moves), then moved along the picture's motion (OpenCV's DIS optical flow between the
two crops' grey images, at network resolution, about 1 ms), and only then blended with the
new probability (:func:`.temporal.gated_blend`: where they disagree the new one wins). So a
moving arm is followed instead of leaving a fading copy of itself behind, while noise on
still parts is damped.

OpenCV (``opencv-python-headless``) is accepted as a pure dependency of this package: no
Django, no first-party imports; it is used single-threaded (the decoder and encoder keep
the other core busy).
"""

from __future__ import annotations

import cv2
import numpy as np
from PIL import Image

from .crop import Box
from .temporal import gated_blend

cv2.setNumThreads(1)


def carry_to_box(values: np.ndarray, source: Box, target: Box, size: tuple[int, int]) -> np.ndarray:
    """``values`` (float32 or uint8 hxw) covering ``source`` resampled onto a grid of
    ``size`` (height, width) covering ``target`` (bilinear; 0 outside ``source``)."""
    height, width = size
    src_h, src_w = values.shape
    # Continuous output point -> frame point -> continuous source point (Pillow samples at
    # pixel centres itself).
    sx = (target[2] - target[0]) / width * src_w / (source[2] - source[0])
    sy = (target[3] - target[1]) / height * src_h / (source[3] - source[1])
    ox = (target[0] - source[0]) * src_w / (source[2] - source[0])
    oy = (target[1] - source[1]) * src_h / (source[3] - source[1])
    mode = "F" if values.dtype == np.float32 else "L"
    image = Image.fromarray(np.ascontiguousarray(values), mode)
    moved = image.transform(
        (width, height),
        Image.Transform.AFFINE,
        (sx, 0.0, ox, 0.0, sy, oy),
        resample=Image.Resampling.BILINEAR,
    )
    return np.asarray(moved, values.dtype)


class MotionSmoother:
    """Smooths the crop's probability over time along the optical flow.

    ``__call__(probability, grey, box)``: float32 hxw probability of the crop ``box``, uint8
    hxw grey image of the same crop at the same size -> smoothed float32 hxw.
    ``flow``: False skips the optical flow (only the box motion is compensated).
    """

    def __init__(self, *, strength: float = 0.8, motion: float = 0.5, flow: bool = True) -> None:
        self.strength = strength
        self.motion = motion
        self.flow = flow
        self._dis = (
            cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST) if flow else None
        )
        self._previous: tuple[np.ndarray, np.ndarray, Box] | None = None

    def reset(self) -> None:
        self._previous = None

    def __call__(self, probability: np.ndarray, grey: np.ndarray, box: Box) -> np.ndarray:
        previous = self._previous
        if previous is None:
            smoothed = probability.astype(np.float32, copy=True)
        else:
            state, old_grey, old_box = previous
            size = probability.shape
            state = carry_to_box(state, old_box, box, size)
            if self._dis is not None:
                old_grey = carry_to_box(old_grey, old_box, box, size)
                state = self._along_flow(state, grey, old_grey)
            smoothed = gated_blend(state, probability, strength=self.strength, motion=self.motion)
        self._previous = (smoothed, grey, box)
        return smoothed

    def _along_flow(self, state: np.ndarray, grey: np.ndarray, old_grey: np.ndarray) -> np.ndarray:
        """``state`` (on the old picture) moved to where the picture moved in ``grey``."""
        assert self._dis is not None
        flow = self._dis.calc(grey, old_grey, None)  # grey(x) ~ old_grey(x + flow(x))
        height, width = state.shape
        xs, ys = np.meshgrid(
            np.arange(width, dtype=np.float32), np.arange(height, dtype=np.float32)
        )
        flow[..., 0] += xs
        flow[..., 1] += ys
        return cv2.remap(state, flow, None, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
