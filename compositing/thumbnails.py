"""Previews: a picture shrunk so its longest side fits a box, encoded (no Django).

Opaque pictures (RGB or grey, PIL images or uint8 arrays) are shrunk as arrays: a box
average by the largest whole factor (OpenCV's area resize, the same integers as Pillow's
``reduce`` at a whole factor; a PIL image's own ``reduce``, so a big one is never copied
whole), then a short cubic step (or another area resize when more than
``_CUBIC_MAX_RATIO`` is left), and a JPEG is encoded straight from the array
(``jpeg_codec.encode_rgb``). A 1 MP result's 480 px thumbnail: 1.4 ms from its array,
against 2.8-3.7 ms through Pillow's ``reduce``, its image memory and its encoder. Pictures
with transparency keep Pillow's filtered resize, which weighs colours by their alpha.
"""

from __future__ import annotations

import cv2
import numpy as np
from PIL import Image

from compositing import jpeg_codec
from compositing.imaging import OutputFormat, encode_image

# After the integer box reduction, a shrink by at most this much is left to a plain cubic
# resize (OpenCV): too little to alias, and ~10x quicker than Pillow's filtered resize.
_CUBIC_MAX_RATIO = 1.25


def make_thumbnail(
    image: np.ndarray | Image.Image,
    max_side: int,
    *,
    fmt: OutputFormat | None = None,
    quality: int = 82,
) -> bytes:
    """A small preview of ``image`` (a PIL image, or uint8 HxW, HxWx3 or HxWx4): longest
    side at most ``max_side`` pixels (never enlarged).

    fmt: None picks JPEG for opaque images and WebP (which keeps alpha) for RGBA.
    """
    if isinstance(image, Image.Image) and image.mode in ("RGB", "L"):
        # Pillow's own whole-factor box first: no array copy of a big picture (144 MB at
        # 48 MP), then the small rest as an array.
        size = _fitted(image.size, max_side)
        factor = int(min(image.width / size[0], image.height / size[1]))
        image = image.reduce(factor) if factor > 1 else image
    pixels = _opaque_pixels(image)
    if pixels is None:  # with transparency (or another mode): Pillow's way
        return _pillow_thumbnail(_as_image(image), max_side, fmt, quality)
    height, width = pixels.shape[:2]
    size = _fitted((width, height), max_side)
    if size != (width, height):
        pixels = shrink_pixels(pixels, size)
    fmt = fmt or "jpg"
    if fmt in ("jpg", "jpeg") and pixels.ndim == 3:
        return jpeg_codec.encode_rgb(pixels, quality)
    return encode_image(pixels, fmt, quality=quality)


def shrink_pixels(pixels: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """uint8 HxW or HxWx3 shrunk to ``size`` (w, h): box-averaged by the largest whole
    factor (the last rows and columns that do not fill a whole box, fewer than the factor,
    are left out: a thumbnail loses nothing visible), then the rest. Measured against a
    Lanczos resize of the full image at 864x1152 -> 360x480: 2.3/255 mean difference."""
    height, width = pixels.shape[:2]
    factor = int(min(width / size[0], height / size[1]))
    if factor > 1:
        whole = pixels[: height - height % factor, : width - width % factor]
        pixels = cv2.resize(
            whole, (width // factor, height // factor), interpolation=cv2.INTER_AREA
        )
    if (pixels.shape[1], pixels.shape[0]) == size:
        return pixels
    ratio = max(pixels.shape[1] / size[0], pixels.shape[0] / size[1])
    cubic = ratio <= _CUBIC_MAX_RATIO
    return cv2.resize(pixels, size, interpolation=cv2.INTER_CUBIC if cubic else cv2.INTER_AREA)


def _fitted(size: tuple[int, int], max_side: int) -> tuple[int, int]:
    scale = min(1.0, max_side / max(size))
    return max(1, round(size[0] * scale)), max(1, round(size[1] * scale))


def _opaque_pixels(image: np.ndarray | Image.Image) -> np.ndarray | None:
    """The uint8 HxW or HxWx3 pixels of an RGB or grey ``image``; None for other modes."""
    if isinstance(image, Image.Image):
        return np.asarray(image) if image.mode in ("RGB", "L") else None
    array = np.asarray(image)
    if array.dtype != np.uint8 or array.ndim not in (2, 3):
        raise ValueError(f"expected a uint8 HxW, HxWx3 or HxWx4 array, got {array.dtype}")
    return array if array.ndim == 2 or array.shape[2] == 3 else None


def _as_image(image: np.ndarray | Image.Image) -> Image.Image:
    return image if isinstance(image, Image.Image) else Image.fromarray(image)


def _pillow_thumbnail(
    image: Image.Image, max_side: int, fmt: OutputFormat | None, quality: int
) -> bytes:
    size = _fitted(image.size, max_side)
    if size != image.size:
        factor = int(min(image.width / size[0], image.height / size[1]))
        if factor > 1:
            image = image.reduce(factor)
        if image.size != size:
            image = image.resize(size, Image.Resampling.BICUBIC)
    if fmt is None:
        fmt = "webp" if image.mode == "RGBA" else "jpg"
    return encode_image(image, fmt, quality=quality)
