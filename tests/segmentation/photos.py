"""Real photographs from scikit-image's bundled data, as uint8 HxWx3 RGB."""

from __future__ import annotations

import numpy as np
from PIL import Image


def photo(name: str = "astronaut", *, size: tuple[int, int] | None = None) -> np.ndarray:
    """``skimage.data.<name>()`` as RGB; ``size`` = (width, height) resizes it."""
    from skimage import data

    array = getattr(data, name)()
    if array.ndim == 2:
        array = np.repeat(array[..., None], 3, axis=2)
    array = np.ascontiguousarray(array[..., :3])
    if size is not None:
        array = np.asarray(Image.fromarray(array).resize(size, Image.BILINEAR))
    return array


def iou(alpha: np.ndarray, reference: np.ndarray) -> float:
    """IoU of the two masks thresholded at 0.5."""
    a, b = alpha >= 0.5, reference >= 0.5
    union = np.count_nonzero(a | b)
    return np.count_nonzero(a & b) / union if union else 1.0
