"""Compiled (numba) per-pixel loops of ``compositing.compose``'s edge decontamination.

The numpy version gathered the soft band's pixels, their matte values and their cells' F̂
and B̂ into temporary arrays, did the arithmetic on those, and scattered the result into a
copy of the photo's rows: eight passes over each block. These do it in one, with the same
float32 operations in the same order (so the same integers). Signatures are explicit: any
array layout, read-only inputs (arrays over Pillow images are read-only), compiled once
when this module is first imported (cached on disk by numba). ``nogil``: a side thread can
run beside them.
"""

from __future__ import annotations

import numba
import numpy as np
from numba import types

# The soft band: matte values in [BAND_LOW, BAND_HIGH] (of 255). Outside it the pixel is
# (nearly) pure and F = I.
BAND_LOW, BAND_HIGH = 3, 252


def _array(dtype: types.Type, dims: int, readonly: bool = True) -> types.Array:
    return types.Array(dtype, dims, "A", readonly=readonly)


# The kernels' argument types: a read-only uint8 HxWx3 image and HxW plane (matte, grid),
# the uint8 HxWx3 array written, a 64-bit integer.
_IMAGE, _PLANE = _array(types.uint8, 3), _array(types.uint8, 2)
_OUT, _INT = _array(types.uint8, 3, False), types.int64


@numba.njit(inline="always", cache=True, nogil=True)
def _fused(observed, fg, bg, a):
    """Blur-fusion of one channel of one soft-band pixel: ``F = F̂ + a (I - B̂ - a (F̂ - B̂))``
    (float32, this order), rounded and clamped to 0..255."""
    f_hat = np.float32(fg)
    b_hat = np.float32(bg)
    value = np.float32(observed) - b_hat
    value += (b_hat - f_hat) * a
    value *= a
    value += f_hat
    value += np.float32(0.5)
    return min(max(value, np.float32(0.0)), np.float32(255.0))


@numba.njit(types.boolean(_array(types.uint8, 2)), cache=True, nogil=True)
def has_band(matte):
    """Whether any pixel of the uint8 matte block is in the soft band."""
    height, width = matte.shape
    for y in range(height):
        for x in range(width):
            if BAND_LOW <= matte[y, x] <= BAND_HIGH:
                return True
    return False


@numba.njit(
    types.void(_IMAGE, _PLANE, _PLANE, _PLANE, _INT, _INT, _INT, _INT, _OUT),
    cache=True,
    nogil=True,
)
def foreground_block(photo, matte, fg, bg, grid_width, cell, top, left, out):
    """``out`` = the photo's block (uint8 hxwx3, matte hxw, at (``left``, ``top``) of the
    photo) with the old background's colour taken out of the soft band: blur-fusion
    ``F = F̂ + a (I - B̂ - a (F̂ - B̂))``, F̂ and B̂ read from the ``cell``-pixel cells of
    the grids ``fg`` and ``bg`` (uint8 N x 3, ``grid_width`` cells a row); elsewhere F = I."""
    height, width = matte.shape
    scale = np.float32(1.0 / 255.0)
    for y in range(height):
        row = (y + top) // cell * grid_width
        for x in range(width):
            level = matte[y, x]
            if level < BAND_LOW or level > BAND_HIGH:
                for c in range(3):
                    out[y, x, c] = photo[y, x, c]
                continue
            index = row + (x + left) // cell
            a = np.float32(level) * scale
            for c in range(3):
                out[y, x, c] = _fused(photo[y, x, c], fg[index, c], bg[index, c], a)


@numba.njit(
    types.void(
        _array(types.uint8, 3),
        _array(types.uint8, 3),
        _array(types.uint8, 3),
        types.float32,
        types.float32,
        _array(types.float32, 3, False),
    ),
    cache=True,
    nogil=True,
)
def mixed_means(near, far, plain, far_share, plain_share, out):
    """``out`` (float32 3xhxw) = the local mean colour of one weight's pixels, from its
    blurred premultiplied maps ``near`` and ``far`` (uint8 4xhxw: colour x weight, then the
    weight) and the blurred colour ``plain`` (uint8 3xhxw): ``(near + far_share far +
    plain_share plain) / (near_w + far_share far_w + plain_share)``, weights in 0..1."""
    height, width = plain.shape[1:]
    scale = np.float32(1.0 / 255.0)
    for y in range(height):
        for x in range(width):
            near_weight = np.float32(near[3, y, x]) * scale
            far_weight = np.float32(far[3, y, x]) * scale
            total = near_weight + far_share * far_weight + plain_share
            for c in range(3):
                value = np.float32(near[c, y, x]) + far_share * np.float32(far[c, y, x])
                value += plain_share * np.float32(plain[c, y, x])
                out[c, y, x] = value / total


@numba.njit(
    types.void(_IMAGE, _PLANE, _IMAGE, _PLANE, _PLANE, _INT, _INT, _INT, types.boolean, _OUT),
    cache=True,
    nogil=True,
)
def blend_block(photo, matte, canvas, fg, bg, grid_width, cell, top, decontaminate, out):
    """``out`` = the photo's rows (uint8 hxwx3, from row ``top`` of the photo, full width)
    pasted through their ``matte`` onto the ``canvas``'s: with ``decontaminate``, the soft
    band first as ``foreground_block`` makes it (F̂ and B̂ from the grids ``fg`` and
    ``bg``). The same integers as Pillow's ``paste(photo, mask=matte)`` of that block onto
    the canvas: ``(canvas (255 - m) + photo m + 128)`` divided by 255 as Pillow rounds it."""
    height, width = matte.shape
    scale = np.float32(1.0 / 255.0)
    for y in range(height):
        row = (y + top) // cell * grid_width
        for x in range(width):
            level = np.int32(matte[y, x])
            if level == 0:
                for c in range(3):
                    out[y, x, c] = canvas[y, x, c]
                continue
            if level == 255:
                for c in range(3):
                    out[y, x, c] = photo[y, x, c]
                continue
            band = decontaminate and BAND_LOW <= level <= BAND_HIGH
            index = row + x // cell
            a = np.float32(level) * scale
            for c in range(3):
                if band:
                    front = np.int32(_fused(photo[y, x, c], fg[index, c], bg[index, c], a))
                else:
                    front = np.int32(photo[y, x, c])
                mixed = np.int32(canvas[y, x, c]) * (255 - level) + front * level + 128
                out[y, x, c] = ((mixed >> 8) + mixed) >> 8
