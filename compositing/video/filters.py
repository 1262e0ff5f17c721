"""Small float maps: box mean and bilinear resize (numpy/Pillow), shared by the guided
refinement and the background blur. Arrays are at low resolution (a few hundred pixels)."""

from __future__ import annotations

import numpy as np
from PIL import Image


def box_mean(values: np.ndarray, radius: int) -> np.ndarray:
    """Mean over a (2r+1)² window, edges replicated; values: float32 Kxhxw (small maps).

    Separable sums of shifted views (vectorised adds; faster than running sums for the
    small radii used here).
    """
    size = 2 * radius + 1
    padded = np.pad(values, ((0, 0), (radius, radius), (radius, radius)), mode="edge")
    height, width = values.shape[1:]
    rows = padded[:, 0:height].copy()
    for offset in range(1, size):
        rows += padded[:, offset : offset + height]
    out = rows[:, :, 0:width].copy()
    for offset in range(1, size):
        out += rows[:, :, offset : offset + width]
    out *= np.float32(1.0 / (size * size))
    return out


def resize_float(values: np.ndarray, width: int, height: int) -> np.ndarray:
    """Bilinear resize of a float32 hxw map (Pillow, C)."""
    if values.shape == (height, width):
        return values
    image = Image.fromarray(np.ascontiguousarray(values, dtype=np.float32), "F")
    return np.asarray(image.resize((width, height), Image.Resampling.BILINEAR))
