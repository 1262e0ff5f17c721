"""Compiled (numba) per-pixel loops of the guided filter in :mod:`.refine`.

Each replaces a chain of numpy operations over whole planes (one temporary array per
operation) by one pass that keeps a pixel's values in registers, writing into planes the
caller allocates with :func:`planes` (spaced to avoid 4 KiB aliasing); the arithmetic, its
order and its float32 rounding are those of the numpy versions they replaced. Signatures are
explicit, with any array layout and read-only inputs (a PIL-backed photo is read-only), so
each is compiled once, when this module is first imported (cached on disk by numba), and a
crop of the photo needs neither a copy nor a new compilation. ``nogil``: a side thread can
run beside them.
"""

from __future__ import annotations

import numba
import numpy as np
from numba import types


def planes(count: int, height: int, width: int) -> np.ndarray:
    """float32 count x height x width, each plane C-contiguous (OpenCV can filter it in
    place), the planes one cache line further apart than packed. Packed planes of a grid
    like 384x288 lie a multiple of 4 KiB apart, so a loop reading or writing a dozen of them
    at one pixel has every access land in the same L1 cache set: 5.4 ms against 0.65 ms
    for :func:`guide_products` at that size."""
    spacing = height * width + 16
    flat = np.empty(count * spacing, np.float32)
    return np.lib.stride_tricks.as_strided(
        flat, (count, height, width), (spacing * 4, width * 4, 4), writeable=True
    )


def _array(dtype: types.Type, dims: int, readonly: bool = True) -> types.Array:
    return types.Array(dtype, dims, "A", readonly=readonly)


# The state of a quad (see :func:`quad_states`).
_UNCERTAIN, _ZERO, _ONE = 0, 1, 2


@numba.njit(
    types.Array(types.int8, 2, "C")(_array(types.float32, 3)),
    cache=True,
    nogil=True,
)
def quad_states(coefficients):
    """Where the guided formula is provably clamped: int8 hxw, per *quad*, ``_ZERO``,
    ``_ONE`` or ``_UNCERTAIN``.

    For folded coefficients (q = a·I + b, I in 0..255) a cell's q lies in
    ``b + Σ min(a_c, 0)·255 .. b + Σ max(a_c, 0)·255``. A full-res pixel's coefficients are
    a convex (bilinear) mix of the cells (y0, x0), (y0+1, x0), (y0, x0+1), (y0+1, x0+1), so
    its q is within the same bounds over those four cells: quad (y0, x0) is ``_ZERO`` when
    all four bounds are <= 0 and ``_ONE`` when all are >= 1, with a margin far above float
    rounding, so the skipped pixels get exactly what the formula would give.
    """
    h, w = coefficients.shape[1:]
    cells = np.zeros((h, w), np.int8)
    for y in range(h):
        for x in range(w):
            b = coefficients[3, y, x]
            low = high = b
            size = abs(b)
            for c in range(3):
                a = coefficients[c, y, x] * np.float32(255.0)
                size += abs(a)
                low += min(a, np.float32(0.0))
                high += max(a, np.float32(0.0))
            slack = np.float32(1e-4) + np.float32(1e-5) * size
            if high <= -slack:
                cells[y, x] = _ZERO
            elif low >= np.float32(1.0) + slack:
                cells[y, x] = _ONE
    quads = np.zeros((h, w), np.int8)
    for y in range(h):
        below = min(y + 1, h - 1)  # the last row/column pairs with itself (clamped index)
        for x in range(w):
            right = min(x + 1, w - 1)
            state = cells[y, x]
            if state == cells[y, right] == cells[below, x] == cells[below, right]:
                quads[y, x] = state
    return quads


def _pass_signatures() -> list:
    """One compiled version per output type; any array layout, read-only inputs (a
    PIL-backed photo is read-only), so a crop of the photo needs no copy and no new
    compilation."""

    taps = (_array(types.int64, 1), _array(types.int64, 1), _array(types.float32, 1))
    return [
        types.void(
            _array(types.uint8, 3),
            _array(types.float32, 3),
            *taps,
            *taps,
            _array(types.int64, 1),
            _array(types.int8, 2),
            _array(dtype, 2, readonly=False),
            types.float32,
            types.float32,
        )
        for dtype in (types.uint8, types.float32)
    ]


@numba.njit(_pass_signatures(), cache=True, nogil=True)
def guided_pass(rgb, grid, y0s, y1s, wys, x0s, x1s, wxs, spans, quads, out, scale, offset):
    """``out[y, x] = clamp(a·I + b, 0, 1) * scale + offset`` with (a, b) the bilinear
    interpolation of ``grid`` (4 x h x w) at the pixel: the columns first, then the rows,
    the order (and float32 rounding) of the former numpy version. ``spans[c]`` is the first
    output column whose left grid column (``x0s``) is ``c`` or more, so a row goes run by
    run of quads in the same state: a saturated run's pixels are filled at once (a row of
    a portrait is a few runs), the formula runs on the uncertain quads' pixels. Compiled by
    numba: 1.7 ms at 1 MP (3.8 quad by quad, ~5 for numpy's gathers and temporaries)."""
    height = out.shape[0]
    columns = spans.shape[0] - 1
    full = np.float32(1.0) * scale + offset
    for y in range(height):
        r0, r1, wy = y0s[y], y1s[y], wys[y]
        c0 = 0
        while c0 < columns:
            state = quads[r0, c0]
            end = c0 + 1
            while end < columns and quads[r0, end] == state:
                end += 1
            start, stop = spans[c0], spans[end]
            c0 = end
            if state == _ZERO:
                out[y, start:stop] = 0
            elif state == _ONE:
                out[y, start:stop] = full
            else:
                for x in range(start, stop):
                    left, c1, wx = x0s[x], x1s[x], wxs[x]
                    q = np.float32(0.0)
                    for k in range(4):
                        upper = grid[k, r0, left] + wx * (grid[k, r0, c1] - grid[k, r0, left])
                        lower = grid[k, r1, left] + wx * (grid[k, r1, c1] - grid[k, r1, left])
                        value = upper + wy * (lower - upper)
                        q += value * np.float32(rgb[y, x, k]) if k < 3 else value
                    q = min(max(q, np.float32(0.0)), np.float32(1.0))
                    out[y, x] = q * scale + offset


# The planes :func:`guide_products` makes, in order: I_r, I_g, I_b, p, then I_c·p for each
# colour, then I_i·I_j for the 6 distinct entries of the colour covariance.
_PAIRS = ((0, 0), (0, 1), (0, 2), (1, 1), (1, 2), (2, 2))
PRODUCT_PLANES = 4 + 3 + len(_PAIRS)


@numba.njit(
    types.void(_array(types.float32, 3), _array(types.float32, 2), _array(types.float32, 3, False)),
    cache=True,
    nogil=True,
)
def guide_products(guide, prob, planes):
    """Write into ``planes`` (``PRODUCT_PLANES`` x h x w) the planes whose box means the
    colour guided filter needs: guide float32 3xhxw, prob float32 hxw. A probability below
    1e-12 counts as 0: a sigmoid's far tail is subnormal (< 1.2e-38), and every product
    involving it then runs ~50x slower."""
    h, w = prob.shape
    for y in range(h):
        for x in range(w):
            p = prob[y, x]
            if p < np.float32(1e-12):
                p = np.float32(0.0)
            r, g, b = guide[0, y, x], guide[1, y, x], guide[2, y, x]
            planes[0, y, x], planes[1, y, x], planes[2, y, x], planes[3, y, x] = r, g, b, p
            planes[4, y, x], planes[5, y, x], planes[6, y, x] = r * p, g * p, b * p
            planes[7, y, x], planes[8, y, x], planes[9, y, x] = r * r, r * g, r * b
            planes[10, y, x], planes[11, y, x], planes[12, y, x] = g * g, g * b, b * b


@numba.njit(
    types.void(
        _array(types.float32, 3),
        _array(types.float32, 2),
        types.float32,
        _array(types.float32, 3, False),
    ),
    cache=True,
    nogil=True,
)
def guided_solve(sums, counts, eps, out):
    """Per pixel, from the box sums of :func:`guide_products`'s planes and the window
    sizes ``counts``: the guided filter's (a_r, a_g, a_b, b) into ``out`` (float32 4xhxw),
    before their own box mean. ``a = (Σ + eps·1)⁻¹ cov(I, p)`` by cofactors (the
    3x3 covariance is symmetric), ``b = mean(p) - a·mean(I)``."""
    h, w = counts.shape
    for y in range(h):
        for x in range(w):
            inverse = np.float32(1.0) / counts[y, x]
            mr, mg, mb = sums[0, y, x] * inverse, sums[1, y, x] * inverse, sums[2, y, x] * inverse
            mp = sums[3, y, x] * inverse
            cr = sums[4, y, x] * inverse - mr * mp
            cg = sums[5, y, x] * inverse - mg * mp
            cb = sums[6, y, x] * inverse - mb * mp
            rr = sums[7, y, x] * inverse - mr * mr + eps
            rg = sums[8, y, x] * inverse - mr * mg
            rb = sums[9, y, x] * inverse - mr * mb
            gg = sums[10, y, x] * inverse - mg * mg + eps
            gb = sums[11, y, x] * inverse - mg * mb
            bb = sums[12, y, x] * inverse - mb * mb + eps
            # Cofactors of the symmetric [[rr, rg, rb], [rg, gg, gb], [rb, gb, bb]].
            k_rr, k_rg, k_rb = gg * bb - gb * gb, gb * rb - rg * bb, rg * gb - gg * rb
            k_gg, k_gb, k_bb = rr * bb - rb * rb, rb * rg - rr * gb, rr * gg - rg * rg
            scale = np.float32(1.0) / (rr * k_rr + rg * k_rg + rb * k_rb)  # 1 / det
            ar = (k_rr * cr + k_rg * cg + k_rb * cb) * scale
            ag = (k_rg * cr + k_gg * cg + k_gb * cb) * scale
            ab = (k_rb * cr + k_gb * cg + k_bb * cb) * scale
            out[0, y, x], out[1, y, x], out[2, y, x] = ar, ag, ab
            out[3, y, x] = mp - (ar * mr + ag * mg + ab * mb)
