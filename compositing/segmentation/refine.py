"""Edge-aware upsampling of a low-resolution person probability to the photo's resolution.

Pure functions on tensors (no model, no Django). The refinement is a *fast guided filter*
(He & Sun 2015, colour-guide variant of He, Sun & Tang 2010): at a reduced resolution the
probability ``p`` is modelled locally as an affine function of the photo's colour,
``q = a·I + b``; the coefficient maps ``a`` (3 channels) and ``b`` are smoothed, upsampled
bilinearly to full resolution and applied to the full-resolution photo, so the mask follows
the photo's real edges (hair, shoulders, fingers) instead of a blurry stretch of a 256 px map.

The full-resolution step is one compiled pass (numba) that writes each pixel straight into
the output, so memory stays at the output itself whatever the photo size (a 50 MP photo
never materialises a float copy of itself). Pixels whose value is provably clamped to 0 or 1
(most of a portrait: all but the outline) are filled without evaluating the formula
(:func:`.guided_kernels.quad_states`).

Costs on one core (thread CPU time, 864x1152 portrait): coefficients on the 384x288 grid
~6 ms (numpy planes, OpenCV box sums), full-resolution pass ~2 ms (5 ms as numpy strips);
the former all-torch version took ~35 + ~40 ms (~74 ms). At 4000x3000: ~48 ms (was ~560).

Shapes: ``rgb`` uint8 HxWx3 (torch, HWC); probabilities float32 hxw in 0..1; coefficient
maps float32 4xhxw (a_r, a_g, a_b, b). Coordinates follow ``align_corners=False`` (pixel
centres at +0.5), the convention of both the network's resize layers and PIL.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import cv2
import numpy as np
import torch
import torch.nn.functional as F

# Rows per strip are chosen so a strip's float working set stays around this many bytes.
_STRIP_BYTES = 8 << 20
# Rows per band of the parts a ``Runner`` may share out between threads: of the photo (the
# full-resolution pass) and of the coefficient grid (products, solve).
_PHOTO_BAND_ROWS, _GRID_BAND_ROWS = 128, 64
# Runs ``work(item)`` for every item, in any order and on any threads, and returns when all
# are done (``in_turn``: one after the other; the web process passes engine.compute_shared).
Runner = Callable[[Callable[[int], object], Iterable[int]], None]


@dataclass(frozen=True)
class GuidedFilterParams:
    """Fast guided filter settings.

    ``resolution``: long side (pixels) of the grid the coefficients are computed on (never
    above the photo's); ``radius``: box radius in pixels of the *probability map* (the
    network's output), converted to the grid's scale; ``eps``: regularisation (colour
    variance, RGB in 0..1): larger is smoother, smaller follows colour edges more closely.
    ``low``/``high``: the refined value is mapped linearly so ``low`` → 0 and ``high`` → 1
    (clamped), which snaps near-certain background/foreground to exact 0/1.
    """

    resolution: int = 384
    radius: float = 2.0
    eps: float = 1e-3
    low: float = 0.3
    high: float = 0.7


def downsample_rgb(rgb: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """Area-like (antialiased bilinear) downsample: uint8 HxWx3 → float32 3xheightxwidth in 0..1."""
    image = rgb.permute(2, 0, 1).unsqueeze(0)  # a channels-last view, no copy
    if not image.is_contiguous(memory_format=torch.channels_last):
        image = image.contiguous(memory_format=torch.channels_last)  # a crop of the photo
    if (height, width) != tuple(rgb.shape[:2]):
        image = F.interpolate(
            image, size=(height, width), mode="bilinear", antialias=True, align_corners=False
        )
    return image[0].float().div_(255.0).contiguous()


def resize_probability(prob: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """Bilinear resize of a float hxw map (``align_corners=False``)."""
    if (height, width) == tuple(prob.shape):
        return prob
    return F.interpolate(
        prob[None, None], size=(height, width), mode="bilinear", align_corners=False
    )[0, 0]


def box_mean(x: torch.Tensor, radius: int) -> torch.Tensor:
    """Mean over a (2r+1)² window for each channel of Cxhxw, shrinking at the borders."""
    if radius <= 0:
        return x
    planes = x.detach().contiguous().numpy()
    counts = _window_counts(*planes.shape[1:], radius, planes.dtype)
    return torch.from_numpy(np.stack([_box_mean_plane(plane, radius, counts) for plane in planes]))


@functools.lru_cache(maxsize=16)
def _window_counts(height: int, width: int, radius: int, dtype: np.dtype) -> np.ndarray:
    """Pixels in each (2r+1)² window clipped at the borders: float hxw (read-only, cached:
    the grid's size repeats from photo to photo)."""

    def sizes(n: int) -> np.ndarray:
        index = np.arange(n)
        return np.minimum(index + radius, n - 1) - np.maximum(index - radius, 0) + 1

    counts = np.multiply.outer(sizes(height), sizes(width)).astype(dtype)
    counts.flags.writeable = False
    return counts


def _box_mean_plane(plane: np.ndarray, radius: int, counts: np.ndarray) -> np.ndarray:
    """Box mean of one float hxw plane: two 1-D sums (OpenCV, zeros outside) over the
    clipped window sizes. About 0.2 ms at 384x288, ~10x less than a depthwise torch conv."""
    ones = np.ones(2 * radius + 1, plane.dtype)
    sums = cv2.sepFilter2D(plane, -1, ones, ones, borderType=cv2.BORDER_CONSTANT)
    return np.divide(sums, counts, out=sums)


def guided_filter_coefficients(
    guide: torch.Tensor,
    prob: torch.Tensor,
    *,
    radius: int,
    eps: float,
    runner: Runner | None = None,
) -> torch.Tensor:
    """Colour guided filter coefficients: guide float 3xhxw, prob float hxw → 4xhxw.

    Returns the box-averaged ``(a_r, a_g, a_b, b)`` such that ``q = a·I + b`` is the filter
    output for any guide ``I`` sampled on (or upsampled to) the same grid. The per-pixel
    products and the 3x3 solve (by cofactors) are compiled loops
    (:mod:`.guided_kernels`), the box sums OpenCV's: ~2.5 ms at 384x288 on one core (6 ms
    as numpy planes, 31 ms as stacked torch operations). ``runner``: how the independent
    parts (bands of rows, planes) are run (``Runner``; default one after the other).
    """
    from . import guided_kernels  # deferred: numba loads with the first refinement

    run = runner or in_turn
    g = guide.detach().float().numpy()
    p = prob.detach().float().numpy()
    counts = _window_counts(*p.shape, radius, p.dtype)
    products = guided_kernels.planes(guided_kernels.PRODUCT_PLANES, *p.shape)
    solved = guided_kernels.planes(4, *p.shape)
    bands = range(0, p.shape[0], _GRID_BAND_ROWS)

    def multiply(top: int) -> None:
        rows = slice(top, top + _GRID_BAND_ROWS)
        guided_kernels.guide_products(g[:, rows], p[rows], products[:, rows])

    def solve(top: int) -> None:
        rows = slice(top, top + _GRID_BAND_ROWS)
        guided_kernels.guided_solve(products[:, rows], counts[rows], eps32, solved[:, rows])

    eps32 = np.float32(eps)
    run(multiply, bands)
    _box_sums(products, radius, run)
    run(solve, bands)
    means = _box_sums(solved, radius, run)
    means /= counts
    return torch.from_numpy(means)


def _box_sums(planes: np.ndarray, radius: int, runner: Runner) -> np.ndarray:
    """Sum over a (2r+1)² window (zeros outside) of each C-contiguous plane of float Cxhxw,
    in place, the planes run by ``runner``; with radius 0 the planes themselves."""
    if radius > 0:
        ones = np.ones(2 * radius + 1, planes.dtype)

        def box(index: int) -> None:
            plane = planes[index]
            cv2.sepFilter2D(plane, -1, ones, ones, dst=plane, borderType=cv2.BORDER_CONSTANT)

        runner(box, range(len(planes)))
    return planes


def in_turn(work: Callable[[int], object], items: Iterable[int]) -> None:
    """The default ``Runner``: ``work(item)`` for each item, in order, in this thread."""
    for item in items:
        work(item)


def _row_weights(out_size: int, in_size: int, start: int, stop: int) -> tuple[torch.Tensor, ...]:
    """Source rows and weights of a bilinear resize in_size→out_size for output rows
    [start, stop) (``align_corners=False``, indices clamped like PyTorch)."""
    return tuple(torch.from_numpy(t[start:stop]) for t in _bilinear_taps(out_size, in_size))


def _bilinear_taps(out_size: int, in_size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(i0, i1, weight) of every output index of a bilinear resize in_size→out_size."""
    scale = in_size / out_size
    y = np.maximum((np.arange(out_size, dtype=np.float64) + 0.5) * scale - 0.5, 0.0)
    i0 = np.minimum(np.floor(y).astype(np.int64), in_size - 1)
    i1 = np.minimum(i0 + 1, in_size - 1)
    weight = np.minimum(y - i0, 1.0).astype(np.float32)
    return i0, i1, weight


def apply_coefficients(
    rgb: torch.Tensor,
    coefficients: torch.Tensor,
    out: torch.Tensor,
    *,
    low: float = 0.0,
    high: float = 1.0,
    runner: Runner | None = None,
) -> torch.Tensor:
    """Write ``clamp((a·I + b - low) / (high - low), 0, 1)`` for every full-res pixel.

    rgb: uint8 HxWx3 (I = rgb / 255); coefficients: float 4xhxw (a_r, a_g, a_b, b) or 1xhxw
    (b only: plain bilinear upsampling); out: float32 HxW, or uint8 HxW for the 8-bit matte
    (``round(255 q)``). Filled in place (no full-size float array) and returned. The
    coefficient maps are upsampled bilinearly (``align_corners=False``), as one
    ``F.interpolate`` to HxW would (to float rounding).

    With a guide, pixels whose value is provably clamped (see
    :func:`.guided_kernels.quad_states`) are filled without the formula: on portraits ~90%
    of the photo, so ~2 ms at 1 MP on one core. ``runner``: how the bands of rows are run
    (``Runner``; default one after the other).
    """
    channels = coefficients.shape[0]
    # Fold the 1/255 and the low/high mapping into the (small) coefficient maps once:
    # (a·I/255 + b - low)·gain = (a·gain/255)·I + (b - low)·gain.
    gain = 1.0 / max(high - low, 1e-6)
    scale = torch.full((channels, 1, 1), gain / 255.0)
    scale[-1] = gain
    coefficients = coefficients.float() * scale
    coefficients[-1] -= low * gain
    if channels == 4:
        _apply_guided(rgb.numpy(), coefficients.numpy(), out.numpy(), runner or in_turn)
        return out
    _upsample_strips(coefficients[0], out)
    return out


def _upsample_strips(prob: torch.Tensor, out: torch.Tensor) -> None:
    """Bilinear resize hxw → out's HxW (clamped to 0..1), strip by strip."""
    height, width = out.shape
    h = prob.shape[0]
    strip = max(8, min(height, _STRIP_BYTES // max(width * 4 * 4, 1)))
    for start in range(0, height, strip):
        stop = min(start + strip, height)
        y0, y1, wy = _row_weights(height, h, start, stop)
        rows = torch.lerp(prob.index_select(0, y0), prob.index_select(0, y1), wy[:, None])
        # Columns: a 1-D linear resize w → W of each row.
        q = F.interpolate(rows[None], size=width, mode="linear", align_corners=False)[0]
        q.clamp_(0.0, 1.0)
        if out.dtype == torch.float32:
            out[start:stop].copy_(q)
        else:  # the 8-bit matte: round like numpy
            out[start:stop].copy_(q.mul_(255.0).add_(0.5))


def _apply_guided(
    rgb: np.ndarray, coefficients: np.ndarray, out: np.ndarray, runner: Runner
) -> None:
    """:func:`apply_coefficients` with a guide: folded float32 4xhxw coefficients into
    ``out`` (HxW float32 or uint8) in one compiled pass (:func:`.guided_kernels.guided_pass`)
    per band of rows. Pixels of saturated quads get 0 or 1 (255) directly; the formula runs
    on the rest (the person's outline, ~10% of a portrait)."""
    from . import guided_kernels  # deferred: numba loads with the first refinement

    height, width = out.shape
    h, w = coefficients.shape[1:]
    matte = out.dtype == np.uint8
    y0s, y1s, wys = _bilinear_taps(height, h)
    columns = _bilinear_taps(width, w)
    spans = np.searchsorted(columns[0], np.arange(w + 1))  # the output columns of each quad
    quads = guided_kernels.quad_states(coefficients)
    scale = np.float32(255.0 if matte else 1.0)
    offset = np.float32(0.5 if matte else 0.0)  # the uint8 cast then rounds like numpy

    def band(top: int) -> None:
        rows = slice(top, top + _PHOTO_BAND_ROWS)
        taps = (y0s[rows], y1s[rows], wys[rows])
        guided_kernels.guided_pass(
            rgb[rows], coefficients, *taps, *columns, spans, quads, out[rows], scale, offset
        )

    runner(band, range(0, height, _PHOTO_BAND_ROWS))


def coefficient_grid(height: int, width: int, resolution: int) -> tuple[int, int]:
    """Size (h, w) of the reduced grid: long side ``resolution``, never above the photo."""
    scale = min(1.0, resolution / max(height, width))
    return max(1, math.ceil(height * scale - 1e-9)), max(1, math.ceil(width * scale - 1e-9))


def refine_guide(rgb: torch.Tensor, params: GuidedFilterParams) -> torch.Tensor:
    """The guide :func:`refine_guided` reads the photo's colours from: uint8 HxWx3 → float32
    3xhxw on the coefficient grid. It needs no probability, so a caller may make it while
    the network runs."""
    return downsample_rgb(rgb, *coefficient_grid(*rgb.shape[:2], params.resolution))


def refine_guided(
    rgb: torch.Tensor,
    prob: torch.Tensor,
    params: GuidedFilterParams,
    out: torch.Tensor,
    runner: Runner | None = None,
    guide: torch.Tensor | None = None,
) -> torch.Tensor:
    """uint8 HxWx3 photo + float h'xw' probability → float32 HxW alpha, written to ``out``.
    ``runner``: how independent parts are run (``Runner``; default one after the other).
    ``guide``: :func:`refine_guide` of ``rgb``, when the caller made it already."""
    guide = refine_guide(rgb, params) if guide is None else guide
    h, w = guide.shape[1:]
    p = resize_probability(prob, h, w)
    radius = max(1, round(params.radius * max(h, w) / max(prob.shape)))
    coefficients = guided_filter_coefficients(
        guide, p, radius=radius, eps=params.eps, runner=runner
    )
    return apply_coefficients(
        rgb, coefficients, out, low=params.low, high=params.high, runner=runner
    )


def upsample_bilinear(prob: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
    """Plain bilinear stretch of a float hxw probability into ``out`` (float32 HxW)."""
    return apply_coefficients(torch.empty(0, dtype=torch.uint8), prob[None], out)
