"""Compositing on Y'CbCr planes: the new background as planes, and the blend.

``out = background + alpha · (frame - background)`` on the Y plane at full resolution and
on the Cb/Cr planes with a 2x2-averaged mask. Blending in Y'CbCr equals blending in R'G'B'
(the conversion is affine) and saves two colour conversions per frame. The background is
fixed planes (an image covering the frame, a colour) or, for "blur", the frame's own
background blurred with the person left out; "transparent" keeps the frame and adds the
mask as an alpha plane. Pure numpy/Pillow.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from PIL import Image

from compositing.compose import cover
from vbgsite.errors import InvalidOption

from .filters import box_mean, resize_float

# Default blur of the background (Gaussian sigma) as a share of the frame's long side, and
# the resolution the blur is computed at.
BLUR_SHARE = 0.015
BLUR_LONG_SIDE = 240


@dataclass
class BackgroundPlan:
    """The background of every frame: fixed planes, or a blur of the frame itself."""

    mode: str
    planes: tuple[np.ndarray, np.ndarray, np.ndarray] | None  # fixed Y, Cb, Cr for image/color
    blur_sigma: float = 0.0


def make_background(
    *,
    mode: str,
    background: np.ndarray | None,
    color: tuple[int, int, int] | None,
    blur_radius: float | None,
    size: tuple[int, int],
    rotation: int,
    matrix: str,
) -> BackgroundPlan:
    """The background for frames of ``size`` (width, height as stored, even sides).

    mode: "image" (``background`` uint8 HxWx3 RGB, any size: covers the *displayed* frame,
    then turned to stored orientation by ``rotation`` degrees), "color" (``color`` (r, g,
    b)), "blur" (``blur_radius`` sigma in pixels, default 1.5 % of the long side),
    "transparent" (no background: the frame keeps its colours and gets the mask as its
    alpha plane; for the WebM/ProRes outputs). matrix: "bt709" or "bt601", the output's
    colour matrix. InvalidOption for an unknown mode or a missing background/colour.
    """
    width, height = size
    if mode == "transparent":
        return BackgroundPlan("transparent", None)
    if mode == "image":
        if background is None:
            raise InvalidOption("Choose a background image.")
        # Cover the *displayed* frame, then turn it into stored orientation.
        shown_w, shown_h = (height, width) if rotation % 180 else (width, height)
        upright = cover(background, shown_w, shown_h)
        stored = np.ascontiguousarray(np.rot90(upright, k=-(rotation // 90)))
        return BackgroundPlan("image", rgb_to_yuv420(stored, matrix))
    if mode == "color":
        if color is None:
            raise InvalidOption("Choose a colour.")
        patch = np.empty((2, 2, 3), np.uint8)
        patch[:] = color
        y, cb, cr = rgb_to_yuv420(patch, matrix)
        return BackgroundPlan(
            "color",
            (
                np.full((height, width), y[0, 0], np.uint8),
                np.full((height // 2, width // 2), cb[0, 0], np.uint8),
                np.full((height // 2, width // 2), cr[0, 0], np.uint8),
            ),
        )
    if mode == "blur":
        sigma = blur_radius if blur_radius else BLUR_SHARE * max(width, height)
        if not (sigma > 0 and math.isfinite(sigma)):
            raise InvalidOption("The blur radius must be a positive number of pixels.")
        return BackgroundPlan("blur", None, blur_sigma=float(sigma))
    raise InvalidOption(f"Unknown background mode {mode!r}.")


def compose_planes(
    planes: tuple[np.ndarray, np.ndarray, np.ndarray],
    mask: Image.Image,
    probability: np.ndarray,
    plan: BackgroundPlan,
) -> tuple[np.ndarray, ...]:
    """Blend Y at full resolution and Cb/Cr with the 2x2-averaged mask (L image, 0..255).

    "transparent": the frame's own planes and the mask as a fourth, alpha plane (uint8
    HxW, 255 = the person)."""
    y, cb, cr = planes
    if plan.mode == "transparent":
        return y, cb, cr, np.asarray(mask, np.uint8)
    chroma_mask = mask.reduce(2)
    if plan.mode == "blur":
        background = _blurred_planes(planes, probability, plan.blur_sigma)
    else:
        assert plan.planes is not None
        background = plan.planes
    return (
        _blend(y, background[0], mask),
        _blend(cb, background[1], chroma_mask),
        _blend(cr, background[2], chroma_mask),
    )


# Y'CbCr (limited range, 8-bit) from R'G'B': rows Y, Cb, Cr.
_KR_KB = {"bt709": (0.2126, 0.0722), "bt601": (0.299, 0.114)}


def rgb_to_yuv420(rgb: np.ndarray, matrix: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """uint8 HxWx3 R'G'B' (H, W even) -> limited-range uint8 planes Y (HxW), Cb, Cr (H/2xW/2).

    matrix: "bt709" or "bt601" — the one the output stream is tagged with.
    """
    kr, kb = _KR_KB[matrix]
    kg = 1.0 - kr - kb
    x = rgb.astype(np.float32) / 255.0
    y = kr * x[..., 0] + kg * x[..., 1] + kb * x[..., 2]
    cb = (x[..., 2] - y) / (2.0 * (1.0 - kb))
    cr = (x[..., 0] - y) / (2.0 * (1.0 - kr))
    height, width = y.shape
    cb = cb.reshape(height // 2, 2, width // 2, 2).mean(axis=(1, 3))
    cr = cr.reshape(height // 2, 2, width // 2, 2).mean(axis=(1, 3))

    def q(v: np.ndarray, scale: float, offset: float) -> np.ndarray:
        return np.clip(np.rint(v * scale + offset), 0, 255).astype(np.uint8)

    return q(y, 219.0, 16.0), q(cb, 224.0, 128.0), q(cr, 224.0, 128.0)


def _blend(frame: np.ndarray, background: np.ndarray, mask: Image.Image) -> np.ndarray:
    """``mask/255 · frame + (1 - mask/255) · background`` on one uint8 plane (Pillow, C)."""
    canvas = Image.fromarray(background, "L")
    canvas.paste(Image.fromarray(frame, "L"), (0, 0), mask)
    return np.asarray(canvas)


def _blurred_planes(
    planes: tuple[np.ndarray, np.ndarray, np.ndarray], probability: np.ndarray, sigma: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The frame's own background with the person left out, blurred.

    A normalised convolution at about 240 px on the long side (only pixels the probability
    calls background are averaged, so the person does not smear into a halo), three box
    passes approximating a Gaussian, then a bilinear upsample. About 2 ms at 720p.
    planes: Y (HxW), Cb, Cr (H/2xW/2) uint8; probability: float32, any small size, stored
    orientation; sigma: Gaussian sigma in full-resolution pixels.
    """
    y, cb, cr = planes
    height, width = y.shape
    factor = max(1, round(max(height, width) / BLUR_LONG_SIDE))
    low_w, low_h = max(1, width // factor), max(1, height // factor)
    weight = 1.0 - resize_float(np.asarray(probability, np.float32), low_w, low_h)
    weight = np.clip((weight - 0.5) * 2.0, 0.0, 1.0) + np.float32(1e-3)
    lows = [
        np.asarray(Image.fromarray(plane, "L").resize((low_w, low_h), Image.Resampling.BOX))
        for plane in (y, cb, cr)
    ]
    stack = np.stack([*(low.astype(np.float32) * weight for low in lows), weight])
    # Three box passes of radius r have the variance of a Gaussian with sigma² = ((2r+1)² - 1)/4.
    low_sigma = sigma / factor
    radius = max(1, round((math.sqrt(4.0 * low_sigma * low_sigma + 1.0) - 1.0) / 2.0))
    radius = min(radius, max(1, min(low_w, low_h) // 2))
    for _ in range(3):
        stack = box_mean(stack, radius)
    means = stack[:3] / stack[3]
    out = []
    for mean, plane in zip(means, (y, cb, cr), strict=True):
        image = Image.fromarray(np.clip(mean + 0.5, 0, 255).astype(np.uint8), "L")
        out.append(np.asarray(image.resize(plane.shape[::-1], Image.Resampling.BILINEAR)))
    return out[0], out[1], out[2]
