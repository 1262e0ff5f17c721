"""The second pass's crop around the person, tracked across frames.

As in the photo engine, a small person gets the network a second time on a crop around
them (far more network pixels on the person). In a video the crop box must not jump from
frame to frame, or the mask's edge would too: :class:`BoxTracker` grows the box at once
to cover where the first pass sees the person (never cut a hand off) and shrinks it slowly.
:func:`crop_rgb` cuts the crop out of the decoded Y'CbCr planes at the network's size.

Boxes are ``(x0, y0, x1, y1)`` in full-resolution pixels of the stored frame, end exclusive.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np
from PIL import Image

Box = tuple[int, int, int, int]

# Y'CbCr (limited range) -> R'G'B' coefficients: R = Y' + cr·Cr, G = Y' - cbg·Cb - crg·Cr,
# B = Y' + cb·Cb (Y' and Cb/Cr already expanded to full range).
_TO_RGB = {
    "bt709": (1.5748, 0.1873, 0.4681, 1.8556),
    "bt601": (1.402, 0.3441, 0.7141, 1.772),
}


@dataclass(frozen=True)
class CropOptions:
    """``threshold``: network probability counted as person; ``min_fraction``: fewer person
    pixels than this share of the first pass means no person; ``max_fraction``: person box
    area / frame area above which there is no second pass (the person is large already);
    ``margin``: added on each side, as a fraction of the box's longer side; ``shrink``: share
    of the way an edge moves inwards per frame; ``hold``: frames a box is kept after the
    person is lost."""

    threshold: float = 0.5
    min_fraction: float = 0.0005
    max_fraction: float = 0.8
    margin: float = 0.15
    shrink: float = 0.5
    hold: int = 3
    keep: float = 0.5


def person_box(
    probability: np.ndarray, width: int, height: int, options: CropOptions
) -> Box | None:
    """The box (with margin, clipped to the frame) around the pixels of ``probability``
    (float32 hxw, same orientation as the frame) at or above the threshold; None when
    there are too few."""
    person = probability >= options.threshold
    if np.count_nonzero(person) < options.min_fraction * person.size:
        return None
    person = _main_blobs(person, options.keep)
    rows = np.flatnonzero(person.any(axis=1))
    cols = np.flatnonzero(person.any(axis=0))
    grid_h, grid_w = person.shape
    top, bottom = rows[0] * height / grid_h, (rows[-1] + 1) * height / grid_h
    left, right = cols[0] * width / grid_w, (cols[-1] + 1) * width / grid_w
    margin = options.margin * max(bottom - top, right - left)
    return (
        max(0, math.floor(left - margin)),
        max(0, math.floor(top - margin)),
        min(width, math.ceil(right + margin)),
        min(height, math.ceil(bottom + margin)),
    )


def _main_blobs(person: np.ndarray, keep: float) -> np.ndarray:
    """The largest 8-connected blob of a bool hxw mask and those at least ``keep`` x its size."""
    count, labels, stats, _ = cv2.connectedComponentsWithStats(
        person.view(np.uint8), connectivity=8
    )
    if count <= 2:
        return person
    areas = stats[1:, cv2.CC_STAT_AREA]
    kept = np.flatnonzero(areas >= keep * areas.max()) + 1
    return np.isin(labels, kept)


class BoxTracker:
    """A crop box that covers the person at once and shrinks smoothly.

    ``update(raw)`` takes this frame's :func:`person_box` (or None) and returns the box to
    crop, or None for no second pass (no person, or a person too large for one).
    """

    def __init__(self, width: int, height: int, options: CropOptions | None = None) -> None:
        self.width = width
        self.height = height
        self.options = options or CropOptions()
        self._box: tuple[float, float, float, float] | None = None
        self._missing = 0

    def update(self, raw: Box | None) -> Box | None:
        options = self.options
        if raw is None:
            self._missing += 1
            if self._missing > options.hold:
                self._box = None
            return self._rounded()
        self._missing = 0
        if self._box is None:
            box = tuple(float(v) for v in raw)
        else:
            k = options.shrink
            x0, y0, x1, y1 = self._box
            # Outwards at once, inwards a share of the way.
            box = (
                raw[0] if raw[0] < x0 else x0 + k * (raw[0] - x0),
                raw[1] if raw[1] < y0 else y0 + k * (raw[1] - y0),
                raw[2] if raw[2] > x1 else x1 + k * (raw[2] - x1),
                raw[3] if raw[3] > y1 else y1 + k * (raw[3] - y1),
            )
        self._box = box  # type: ignore[assignment]
        return self._rounded()

    def _rounded(self) -> Box | None:
        if self._box is None:
            return None
        x0, y0, x1, y1 = self._box
        box = (math.floor(x0), math.floor(y0), math.ceil(x1), math.ceil(y1))
        area = (box[2] - box[0]) * (box[3] - box[1])
        if area > self.options.max_fraction * self.width * self.height:
            return None
        return box


def crop_rgb(
    planes: tuple[np.ndarray, np.ndarray, np.ndarray],
    box: Box,
    size: tuple[int, int],
    matrix: str,
) -> np.ndarray:
    """The ``box`` of a frame's Y, Cb, Cr planes (uint8, 4:2:0, limited range) as uint8
    RGB of ``size`` (height, width), area-resampled (Pillow's antialiased bilinear)."""
    height, width = size
    x0, y0, x1, y1 = box
    # reducing_gap: an integer box reduction first, then the bilinear filter on the
    # result (far cheaper than the full antialiased filter on a large crop).
    luma = Image.fromarray(planes[0], "L").resize(
        (width, height), Image.Resampling.BILINEAR, box=(x0, y0, x1, y1), reducing_gap=2.0
    )
    half = (x0 / 2, y0 / 2, x1 / 2, y1 / 2)
    cb, cr = (
        np.asarray(
            Image.fromarray(plane, "L").resize(
                (width, height), Image.Resampling.BILINEAR, box=half, reducing_gap=2.0
            ),
            np.float32,
        )
        - 128.0
        for plane in planes[1:]
    )
    y = (np.asarray(luma, np.float32) - 16.0) * np.float32(255 / 219)
    cb *= np.float32(255 / 224)
    cr *= np.float32(255 / 224)
    k_r, k_gb, k_gr, k_b = _TO_RGB[matrix]
    rgb = np.stack([y + k_r * cr, y - k_gb * cb - k_gr * cr, y + k_b * cb], axis=-1)
    return np.clip(rgb + 0.5, 0, 255).astype(np.uint8)
