"""Edge-aware upsampling of a low-resolution person probability to the photo's resolution.

Pure functions on tensors (no model, no Django). The refinement is a *fast guided filter*
(He & Sun 2015, colour-guide variant of He, Sun & Tang 2010): at a reduced resolution the
probability ``p`` is modelled locally as an affine function of the photo's colour,
``q = a·I + b``; the coefficient maps ``a`` (3 channels) and ``b`` are smoothed, upsampled
bilinearly to full resolution and applied to the full-resolution photo, so the mask follows
the photo's real edges (hair, shoulders, fingers) instead of a blurry stretch of a 256 px map.

The full-resolution step runs over horizontal strips of rows, so memory stays at a few MB
whatever the photo size (a 50 MP photo never materialises a float copy of itself).

Shapes: ``rgb`` uint8 HxWx3 (torch, HWC); probabilities float32 hxw in 0..1; coefficient
maps float32 4xhxw (a_r, a_g, a_b, b). Coordinates follow ``align_corners=False`` (pixel
centres at +0.5), the convention of both the network's resize layers and PIL.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

# Rows per strip are chosen so a strip's float working set stays around this many bytes.
_STRIP_BYTES = 8 << 20


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
    """Mean over a (2r+1)² window for each channel of Cxhxw, shrinking at the borders.

    Two 1-D box sums (depthwise convolutions with a ones kernel, channels-last so oneDNN's
    fast path runs; ``avg_pool2d`` is ~10x slower here) divided by the clipped window sizes.
    """
    if radius <= 0:
        return x
    channels, height, width = x.shape
    k = 2 * radius + 1
    y = x[None].contiguous(memory_format=torch.channels_last)
    y = F.conv2d(y, x.new_ones(channels, 1, k, 1), padding=(radius, 0), groups=channels)
    y = F.conv2d(y, x.new_ones(channels, 1, 1, k), padding=(0, radius), groups=channels)
    counts = _window_sizes(height, radius, x.dtype)[:, None] * _window_sizes(width, radius, x.dtype)
    return (y[0] / counts).contiguous()


def _window_sizes(n: int, radius: int, dtype: torch.dtype) -> torch.Tensor:
    index = torch.arange(n)
    return ((index + radius).clamp(max=n - 1) - (index - radius).clamp(min=0) + 1).to(dtype)


# Index pairs of the 6 distinct entries of the symmetric 3x3 colour covariance
# (rr, rg, rb, gg, gb, bb), and for each entry of its cofactor matrix the two products
# ``s[i]*s[j] - s[k]*s[l]`` in that 6-vector's indices.
_PAIRS = ((0, 0), (0, 1), (0, 2), (1, 1), (1, 2), (2, 2))
_COFACTOR_PLUS = ((3, 5), (4, 2), (1, 4), (0, 5), (2, 1), (0, 3))
_COFACTOR_MINUS = ((4, 4), (1, 5), (3, 2), (2, 2), (0, 4), (1, 1))
# Row r of the symmetric inverse in the 6-vector's indices: (rr,rg,rb), (rg,gg,gb), (rb,gb,bb).
_ROWS = ((0, 1, 2), (1, 3, 4), (2, 4, 5))


def guided_filter_coefficients(
    guide: torch.Tensor, prob: torch.Tensor, *, radius: int, eps: float
) -> torch.Tensor:
    """Colour guided filter coefficients: guide float 3xhxw, prob float hxw → 4xhxw.

    Returns the box-averaged ``(a_r, a_g, a_b, b)`` such that ``q = a·I + b`` is the filter
    output for any guide ``I`` sampled on (or upsampled to) the same grid. Written as a
    handful of stacked tensor operations (per-pixel 3x3 solve by cofactors) rather than
    dozens of small ones.
    """
    first = torch.tensor([i for i, _ in _PAIRS])
    second = torch.tensor([j for _, j in _PAIRS])
    products = guide.index_select(0, first) * guide.index_select(0, second)  # 6xhxw
    stack = torch.cat([guide, prob[None], guide * prob, products])  # 13xhxw
    m = box_mean(stack, radius)
    mean_i, mean_p = m[0:3], m[3:4]
    cov_ip = torch.addcmul(m[4:7], mean_i, mean_p, value=-1.0)  # 3xhxw
    sigma = torch.addcmul(
        m[7:13], mean_i.index_select(0, first), mean_i.index_select(0, second), value=-1.0
    )
    sigma[[0, 3, 5]] += eps  # regularise the diagonal
    plus_a, plus_b = (torch.tensor(index) for index in zip(*_COFACTOR_PLUS, strict=True))
    minus_a, minus_b = (torch.tensor(index) for index in zip(*_COFACTOR_MINUS, strict=True))
    cofactor = sigma.index_select(0, plus_a) * sigma.index_select(0, plus_b)
    cofactor.sub_(sigma.index_select(0, minus_a) * sigma.index_select(0, minus_b))  # 6xhxw
    det = (sigma[0:3] * cofactor[0:3]).sum(0, keepdim=True)  # first row of S · first column of C
    rows = torch.tensor(_ROWS)
    a = (cofactor[rows] * cov_ip[None]).sum(1) / det  # 3xhxw
    b = mean_p - (a * mean_i).sum(0, keepdim=True)
    return box_mean(torch.cat([a, b]), radius)


def _row_weights(out_size: int, in_size: int, start: int, stop: int) -> tuple[torch.Tensor, ...]:
    """Source rows and weights of a bilinear resize in_size→out_size for output rows
    [start, stop) (``align_corners=False``, indices clamped like PyTorch)."""
    scale = in_size / out_size
    y = (torch.arange(start, stop, dtype=torch.float64) + 0.5) * scale - 0.5
    y = y.clamp_(min=0.0)
    y0 = y.floor().long().clamp_(max=in_size - 1)
    y1 = (y0 + 1).clamp_(max=in_size - 1)
    weight = (y - y0).clamp_(max=1.0).float()
    return y0, y1, weight


def apply_coefficients(
    rgb: torch.Tensor,
    coefficients: torch.Tensor,
    out: torch.Tensor,
    *,
    low: float = 0.0,
    high: float = 1.0,
) -> torch.Tensor:
    """Write ``clamp((a·I + b - low) / (high - low), 0, 1)`` for every full-res pixel.

    rgb: uint8 HxWx3 (I = rgb / 255); coefficients: float 4xhxw (a_r, a_g, a_b, b) or 1xhxw
    (b only: plain bilinear upsampling); out: float32 HxW, or uint8 HxW for the 8-bit matte
    (``round(255 q)``, computed strip by strip: no full-size float array; filled in place
    and returned). The
    coefficient maps are upsampled bilinearly strip by strip (rows by index arithmetic,
    columns by ``F.interpolate``), exactly as one ``F.interpolate`` to HxW would.
    """
    height, width = out.shape
    channels, h, w = coefficients.shape
    with_guide = channels == 4
    # Fold the 1/255 and the low/high mapping into the (small) coefficient maps once:
    # (a·I/255 + b - low)·gain = (a·gain/255)·I + (b - low)·gain.
    gain = 1.0 / max(high - low, 1e-6)
    scale = torch.full((channels, 1, 1), gain / 255.0)
    scale[-1] = gain
    coefficients = coefficients * scale
    coefficients[-1] -= low * gain
    per_row = width * 4 * (channels + 4)
    strip = max(8, min(height, _STRIP_BYTES // max(per_row, 1)))
    for start in range(0, height, strip):
        stop = min(start + strip, height)
        y0, y1, wy = _row_weights(height, h, start, stop)
        top = coefficients.index_select(1, y0)
        rows = torch.lerp(top, coefficients.index_select(1, y1), wy[None, :, None])
        # Columns: a 1-D linear resize w → W of each (channel, row).
        full = F.interpolate(
            rows.reshape(1, channels * (stop - start), w),
            size=width,
            mode="linear",
            align_corners=False,
        ).view(channels, stop - start, width)
        q = out[start:stop] if out.dtype == torch.float32 else full.new_empty(stop - start, width)
        if with_guide:
            # Planar float copy of the strip: the products below then run on contiguous rows.
            pixels = (
                rgb[start:stop]
                .permute(2, 0, 1)
                .to(torch.float32, memory_format=torch.contiguous_format)
            )
            torch.mul(full[0], pixels[0], out=q)
            q.addcmul_(full[1], pixels[1])
            q.addcmul_(full[2], pixels[2])
            q.add_(full[3])
        else:
            q.copy_(full[0])
        q.clamp_(0.0, 1.0)
        if q.data_ptr() != out[start:stop].data_ptr():  # the 8-bit matte: round like numpy
            out[start:stop].copy_(q.mul_(255.0).add_(0.5))
    return out


def coefficient_grid(height: int, width: int, resolution: int) -> tuple[int, int]:
    """Size (h, w) of the reduced grid: long side ``resolution``, never above the photo."""
    scale = min(1.0, resolution / max(height, width))
    return max(1, math.ceil(height * scale - 1e-9)), max(1, math.ceil(width * scale - 1e-9))


def refine_guided(
    rgb: torch.Tensor, prob: torch.Tensor, params: GuidedFilterParams, out: torch.Tensor
) -> torch.Tensor:
    """uint8 HxWx3 photo + float h'xw' probability → float32 HxW alpha, written to ``out``."""
    height, width = rgb.shape[:2]
    h, w = coefficient_grid(height, width, params.resolution)
    guide = downsample_rgb(rgb, h, w)
    p = resize_probability(prob, h, w)
    radius = max(1, round(params.radius * max(h, w) / max(prob.shape)))
    coefficients = guided_filter_coefficients(guide, p, radius=radius, eps=params.eps)
    return apply_coefficients(rgb, coefficients, out, low=params.low, high=params.high)


def upsample_bilinear(prob: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
    """Plain bilinear stretch of a float hxw probability into ``out`` (float32 HxW)."""
    return apply_coefficients(torch.empty(0, dtype=torch.uint8), prob[None], out)
