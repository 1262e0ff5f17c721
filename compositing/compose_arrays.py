"""The paste of ``compositing.compose`` in one pass over arrays, for photos up to
``ARRAYS_MAX_PIXELS``: the photo decontaminated in its matte's soft band and blended onto
the canvas (``compose_kernels.blend_block``), the same integers as decontaminating a
copy of the photo and letting Pillow paste it through the matte.

Pillow's way crops the photo and matte a strip at a time, copies the strip into an array
for the decontamination and back into an image, then blends: five passes over each pixel
(measured 10 ms at 1 MP on one core). This reads the photo, the matte and the canvas once
and writes the result once (2.7 ms). The result is a new array: painting into the canvas
itself is ``compose``'s way for big photos (no second canvas-sized buffer).

No Django, no storage, no torch: numpy and the compiled kernels (numba, loaded on first use).
"""

from __future__ import annotations

import numpy as np

from compositing.compose_stats import MAP_CELL, BandMaps, LowRes, Runner, in_turn

# Composites up to this many pixels are pasted here (a new result array, 3 bytes a pixel,
# beside the canvas); bigger ones are painted into their canvas in place by Pillow.
ARRAYS_MAX_PIXELS = 4_000_000
# Rows per job: the jobs share out evenly between the request's thread and the side thread.
_ROWS = 128
_NO_MAP = np.zeros((1, 3), np.uint8)


def paste_arrays(
    photo: np.ndarray,
    matte: np.ndarray,
    canvas: np.ndarray,
    low: LowRes | None,
    runner: Runner | None = None,
    out: np.ndarray | None = None,
) -> np.ndarray:
    """The composite (uint8 HxWx3) of ``photo`` (uint8 HxWx3) through ``matte`` (uint8
    HxW, 255 = person) onto ``canvas`` (uint8 HxWx3, any strides: a single colour may be
    broadcast), the soft band decontaminated with the statistics ``low`` (None: not).
    ``runner``: how the bands of rows (and the statistics' blurs) are run
    (``compose_stats.Runner``; default one after the other). The inputs are only read,
    but for ``out``: where the result goes (uint8 HxWx3; default a new array), which may
    be ``photo`` itself (each pixel is read before it is written)."""
    from compositing import compose_kernels  # deferred: numba loads with the first compose

    height, width = matte.shape
    if photo.shape != (height, width, 3) or canvas.shape != (height, width, 3):
        raise ValueError(f"photo {photo.shape}, canvas {canvas.shape}, matte {matte.shape}")
    maps = None
    if low is not None and compose_kernels.has_band(matte):
        maps = BandMaps(low, (width, height), runner)
    fg, bg, grid_width = (maps.fg, maps.bg, maps.grid_width) if maps else (_NO_MAP, _NO_MAP, 1)
    if out is None:
        out = np.empty((height, width, 3), np.uint8)
    elif out.shape != photo.shape or out.dtype != np.uint8:
        raise ValueError(f"out {out.shape} {out.dtype} for a photo {photo.shape}")

    def blend(top: int) -> None:
        rows = slice(top, top + _ROWS)
        compose_kernels.blend_block(
            photo[rows],
            matte[rows],
            canvas[rows],
            fg,
            bg,
            grid_width,
            MAP_CELL,
            top,
            maps is not None,
            out[rows],
        )

    (runner or in_turn)(blend, range(0, height, _ROWS))
    return out
