"""Covering: a background scaled to fill the photo's size and centre-cropped, never
stretched (``compositing.compose``'s mode "image", the placement's canvases, the video
planes). Re-exported by ``compositing.compose``.

No Django, no storage, no torch: numpy and Pillow (and OpenCV, deferred, for enlargements).
"""

from __future__ import annotations

import math

import numpy as np
from PIL import Image


def to_rgb_image(image: np.ndarray | Image.Image, what: str) -> Image.Image:
    if isinstance(image, Image.Image):
        return image if image.mode == "RGB" else image.convert("RGB")
    array = np.asarray(image)
    if array.dtype != np.uint8 or array.ndim != 3 or array.shape[2] not in (3, 4):
        raise ValueError(f"{what} must be uint8 HxWx3, got {array.dtype} {array.shape}")
    return Image.fromarray(np.ascontiguousarray(array[..., :3]), "RGB")


def _cover_box(src: tuple[int, int], dst: tuple[int, int]) -> tuple[float, float, float, float]:
    """The centred region of ``src`` (w, h) with ``dst``'s aspect ratio, as a float box."""
    src_w, src_h = src
    dst_w, dst_h = dst
    scale = max(dst_w / src_w, dst_h / src_h)
    crop_w, crop_h = dst_w / scale, dst_h / scale
    left, top = (src_w - crop_w) / 2.0, (src_h - crop_h) / 2.0
    return (left, top, left + crop_w, top + crop_h)


# Enlargements up to this many output pixels run through OpenCV (see ``resize_box``);
# above it Pillow's, which writes the image once instead of an array and then the image
# (at 48 MP the array alone would be 144 MB more at the compose step's peak).
_FAST_ENLARGE_MAX_PIXELS = 16_000_000


def cover_filter(box: tuple[float, float, float, float], size: tuple[int, int]) -> int:
    """Pillow's filter for resizing ``box`` of a background to ``size``: Lanczos when any
    side shrinks (it needs the antialiasing), bicubic when both sides grow, where the two
    differ by 0.04/255 on average and bicubic is a quarter quicker (a 1920x1080 background
    covering 3000x4000: 139 against 180 ms)."""
    if box[2] - box[0] <= size[0] and box[3] - box[1] <= size[1]:
        return Image.Resampling.BICUBIC
    return Image.Resampling.LANCZOS


def resize_box(
    image: Image.Image, size: tuple[int, int], box: tuple[float, float, float, float]
) -> Image.Image:
    """The ``box`` (float, inside the image) of an RGB ``image`` resized to ``size``, as
    ``image.resize(size, cover_filter(box, size), box=box, reducing_gap=2.0)`` does.

    An enlargement of up to 16 MP is a cubic resize in OpenCV of the few source pixels
    around the box, at exactly the box's scale, cropped to the box: 3000x4000 from a
    1920x1080 background in 55 ms against Pillow's 134 (which is 4x slower per pixel; the
    conversion to an image is most of the 55). The crop puts the box's corner on the
    nearest output pixel (``_crop_origin`` makes that a small fraction of a pixel off), and
    the kernel is OpenCV's (a = -0.75 against Pillow's -0.5)."""
    resample = cover_filter(box, size)
    width, height = size
    inside = box[0] >= 0 and box[1] >= 0 and box[2] <= image.width and box[3] <= image.height
    if (
        resample != Image.Resampling.BICUBIC
        or width * height > _FAST_ENLARGE_MAX_PIXELS
        or not inside
        or image.mode != "RGB"
    ):
        return image.resize(size, resample, box=box, reducing_gap=2.0)
    import cv2  # deferred: web processes that never compose do not load OpenCV

    left, top, right, bottom = box
    scale_x, scale_y = width / (right - left), height / (bottom - top)
    x0, y0 = _crop_origin(left, scale_x), _crop_origin(top, scale_y)
    x1, y1 = min(image.width, math.ceil(right) + 2), min(image.height, math.ceil(bottom) + 2)
    source = np.asarray(image.crop((x0, y0, x1, y1)))
    enlarged = cv2.resize(source, None, fx=scale_x, fy=scale_y, interpolation=cv2.INTER_CUBIC)
    ox, oy = round((left - x0) * scale_x), round((top - y0) * scale_y)
    out = enlarged[oy : oy + height, ox : ox + width]
    if out.shape[:2] != (height, width):  # a box flush with the image's far edge, rounded out
        return image.resize(size, resample, box=box, reducing_gap=2.0)
    return Image.fromarray(np.ascontiguousarray(out))


def _crop_origin(start: float, scale: float) -> int:
    """The first source pixel of ``resize_box``'s crop along one axis: at least two pixels
    before ``start`` (the cubic kernel's reach, so the crop's own border never shows), and
    among the next few candidates the one that puts ``start`` closest to a whole output
    pixel, so the rounded crop shifts the picture by a small fraction of a pixel."""
    first = math.floor(start) - 2
    if first <= 0:
        return 0
    best, best_error = first, 1.0
    for origin in range(first, max(-1, first - 9), -1):
        offset = (start - origin) * scale
        error = abs(offset - round(offset))
        if error < best_error:
            best, best_error = origin, error
        if error < 0.02:
            break
    return best


def cover_image(background: np.ndarray | Image.Image, width: int, height: int) -> Image.Image:
    """Scale ``background`` to fill ``width x height`` and centre-crop; never stretched.

    Returns a new RGB image of exactly (width, height). Lanczos resampling (with Pillow's
    box pre-reduction for large downscales; bicubic when enlarging: ``cover_filter``).
    Resizing a large background costs tens of milliseconds at 1080p: services that reuse
    one background for many photos of the same size may keep the result.
    """
    if width < 1 or height < 1:
        raise ValueError(f"cover size must be positive, got {width}x{height}")
    source = to_rgb_image(background, "background")
    if source.size == (width, height):
        return source.copy()
    return resize_box(source, (width, height), _cover_box(source.size, (width, height)))


def cover(background: np.ndarray | Image.Image, width: int, height: int) -> np.ndarray:
    """``cover_image`` as an array: uint8 heightxwidthx3."""
    return np.asarray(cover_image(background, width, height))
