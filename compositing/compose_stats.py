"""Low-resolution colour statistics for ``compositing.compose``: local foreground and
background colours (F̂, B̂) for edge decontamination and the person-free blur.

No Django, no storage, no torch: numpy and Pillow, plus OpenCV (imported on first use)
for one exact integer blur. Statistics use Pillow's ``reduce`` (box average, C) over
blocks of ``factor x factor`` pixels. A block that mixes person and background would carry
the person's colour into the background estimate (and vice versa), so only blocks that are
(almost) purely background — or purely person — get weight.

Every map here is 8-bit between steps, with the rounding of the Pillow operations the maps
were first made with: the fast paths (numpy premultiplication, OpenCV's 3x3 box) give the
same integers, checked against Pillow in ``tests/compositing_core/test_compose.py``. The
last step, the grid the soft band reads (``_map_grid``), is OpenCV's bilinear resize: at
most a level from Pillow's, six times faster.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import numpy as np
from PIL import Image, ImageFilter

# Statistics are taken at about this many pixels on the long side (factor = long / this;
# 8 at 1920). 480 measured slightly better edges (MAE 3.6 against 3.9 levels) for twice the
# time.
_STATS_LONG_SIDE = 240
# A low-resolution block counts as pure background (or pure person) from this share up; its
# weight ramps from 0 there to 1 at 1.0.
_PURE_FROM = 0.9
# Local colour estimates, sigmas in low-resolution pixels: a near one (3x3 blocks) and a
# far one that fills in where the near one finds no pure pixels (wide soft regions), then
# the plain local mean where neither does. Smaller is better (measured: near sigma 8 px at
# full resolution gave MAE 3.9 levels, 16 px 4.7, 32 px 6.1).
FG_SIGMA, FG_FALLBACK_SIGMA = 0.8, 6.0
_FAR_SHARE, _PLAIN_SHARE = 0.05, 1e-3
# Runs ``work(item)`` for every item, in any order and on any threads, and returns when all
# are done (``in_turn``: one after the other; the web process passes engine.compute_shared).
Runner = Callable[[Callable[[int], object], Iterable[int]], None]
# Full-resolution pixels per cell of the map grid the soft band reads F̂ and B̂ from.
MAP_CELL = 4


def stats_factor(size: tuple[int, int]) -> int:
    """Block size (pixels) of the statistics for a photo of ``size`` (w, h)."""
    return max(1, round(max(size) / _STATS_LONG_SIDE))


def _box3(planes: list[np.ndarray]) -> list[np.ndarray]:
    """Pillow's ``BoxBlur(1)`` of uint8 hxw maps, the same integers: a horizontal then a
    vertical 3-tap mean, each rounded to 8 bits, edges repeated. Pillow's fixed point
    ``(5592405 * sum + 2**23) >> 24`` is ``round(sum / 3)`` for every 3-pixel sum, which is
    what OpenCV's uint8 box gives (no ties: a third is never a half), several times faster,
    all maps in one call."""
    import cv2  # deferred: web processes that never compose do not load OpenCV

    height, width = planes[0].shape
    merged = cv2.merge(planes).reshape(height, width, len(planes))
    rows = cv2.blur(merged, (3, 1), borderType=cv2.BORDER_REPLICATE)
    flat = rows.reshape(height, width * len(planes))  # the vertical pass mixes no channels
    blurred = cv2.blur(flat, (1, 3), borderType=cv2.BORDER_REPLICATE)
    return list(cv2.split(blurred.reshape(height, width, len(planes))))


def _smooth(planes: list[np.ndarray], sigma: float) -> list[np.ndarray]:
    """Gaussian-like blur of small uint8 hxw maps, ``sigma`` in their pixels, same size.

    Below one pixel: a 3x3 box (sigma ≈ 0.8). Larger: blurred on a copy reduced so the
    remaining sigma is about 1.5 px, then scaled back (bilinear); for the smooth maps made
    here the result matches a full Gaussian to the eye at a fraction of the cost. Pillow
    works on 4 maps at a time, as the bands of an "RGBa" image (it premultiplies nothing
    there and mixes no bands).
    """
    if sigma <= 1.0:
        return _box3(planes)
    import cv2  # deferred: web processes that never compose do not load OpenCV

    height, width = planes[0].shape
    step = max(1, min(int(sigma / 1.5), min(width, height) // 2))
    out: list[np.ndarray] = []
    for start in range(0, len(planes), 4):
        chunk = planes[start : start + 4]
        bands = cv2.merge(chunk + [chunk[0]] * (4 - len(chunk)))  # padded to 4 bands
        image = Image.frombytes("RGBa", (width, height), bands.tobytes())
        small = image.reduce(step) if step > 1 else image
        small = small.filter(ImageFilter.GaussianBlur(sigma / step))
        if step > 1:
            small = small.resize((width, height), Image.Resampling.BILINEAR)
        out += list(cv2.split(np.asarray(small)))[: len(chunk)]
    return out


def _premultiplied(colour: list[np.ndarray], weights: list[np.ndarray]) -> list[np.ndarray]:
    """colour x weight and weight, 4 uint8 hxw maps for each of ``weights`` (float hxw,
    0..1, made 8-bit): Pillow's RGBA -> RGBa conversion of the ``colour`` maps (R, G, B).
    Its ``MULDIV255`` is round(c * a / 255), which OpenCV's scaled multiply gives for all
    65536 pairs (no ties: c * a / 255 is never a half)."""
    import cv2  # deferred: web processes that never compose do not load OpenCV

    planes: list[np.ndarray] = []
    for weight in weights:
        alpha = (weight * 255.0 + 0.5).astype(np.uint8)
        planes += [cv2.multiply(c, alpha, scale=1.0 / 255.0) for c in colour] + [alpha]
    return planes


class LowColour:
    """The photo's part of ``LowRes``, which needs no matte: its block averages at
    1/``factor`` (uint8 R, G, B hxw planes) and their wide local means (``plain``). A
    service makes it beside the model, before the matte exists."""

    def __init__(self, photo: Image.Image, factor: int) -> None:
        self.factor = factor
        colour = np.asarray(photo.reduce(factor) if factor > 1 else photo)  # hxwx3
        self.planes = [np.ascontiguousarray(colour[..., i]) for i in range(3)]  # R, G, B
        self._plain: dict[float, np.ndarray] = {}

    def plain(self, sigma: float) -> np.ndarray:
        """The planes' local means at ``sigma`` (uint8 3xhxw; made once per sigma)."""
        plain = self._plain.get(sigma)
        if plain is None:
            plain = self._plain[sigma] = np.stack(_smooth(self.planes, sigma))
        return plain

    def for_decontamination(self) -> LowColour:
        """This, with the local means ``BandMaps`` reads made already."""
        self.plain(FG_FALLBACK_SIGMA)
        return self


class LowRes:
    """Block averages of the photo and its alpha at 1/factor resolution.

    Local means are normalised convolutions on premultiplied 8-bit maps (colour x weight,
    weight): blur both, divide. 8 bits are enough: the colour is imprecise only where the
    blurred weight is tiny, and there the estimate gets (almost) no say in the mix below.
    ``photo``: the photo, or its ``LowColour`` at ``factor`` made beforehand.
    """

    def __init__(self, photo: Image.Image | LowColour, mask: Image.Image, factor: int) -> None:
        self.factor = factor
        if not isinstance(photo, LowColour):
            photo = LowColour(photo, factor)
        elif photo.factor != factor:
            raise ValueError(f"colour statistics at 1/{photo.factor}, wanted 1/{factor}")
        self.low_colour = photo
        self.colour = photo.planes
        alpha = np.asarray(mask.reduce(factor) if factor > 1 else mask, np.float32) / 255.0
        # Only (almost) pure blocks get weight: mixed blocks average both colours.
        ramp = 1.0 / (1.0 - _PURE_FROM)
        self.fg_weight = np.clip((alpha - _PURE_FROM) * ramp, 0.0, 1.0)
        self.bg_weight = np.clip((1.0 - _PURE_FROM - alpha) * ramp, 0.0, 1.0)

    def weighted_means(
        self,
        weights: list[np.ndarray],
        sigma: float,
        *,
        fallback_sigma: float,
        runner: Runner | None = None,
    ) -> np.ndarray:
        """Local mean colours of the pixels with each of ``weights`` (float hxw, 0..1):
        float32 Nx3xhxw (0..255, R, G, B maps), one per weight, all blurred together.

        Mixes a ``sigma`` estimate with a wider ``fallback_sigma`` one where the first sees
        little weight, and with the plain local mean where neither sees any.
        sigma, fallback_sigma: in low-resolution pixels. ``runner``: how the blurs (one
        job per weight, and the plain mean) are run (``compose.Runner``; default in turn).
        Every map is blurred on its own, so any grouping gives the same integers.
        """
        from compositing import compose_kernels  # deferred: numba loads with the first compose

        count = len(weights)
        premultiplied = _premultiplied(self.colour, weights)
        near: list[np.ndarray] = [np.empty(0)] * count
        far: list[np.ndarray] = [np.empty(0)] * (count + 1)

        def blur(index: int) -> None:  # index == count: the plain colour means
            if index == count:
                far[index] = self.low_colour.plain(fallback_sigma)
                return
            planes = premultiplied[4 * index : 4 * index + 4]
            near[index] = np.stack(_smooth(planes, sigma))
            far[index] = np.stack(_smooth(planes, fallback_sigma))

        (runner or in_turn)(blur, range(count, -1, -1))
        colour = np.empty((count, 3, *self.colour[0].shape), np.float32)
        for index in range(count):
            compose_kernels.mixed_means(
                near[index],
                far[index],
                far[count],
                np.float32(_FAR_SHARE),
                np.float32(_PLAIN_SHARE),
                colour[index],
            )
        return colour


def in_turn(work: Callable[[int], object], items: Iterable[int]) -> None:
    """The default ``Runner``: ``work(item)`` for each item, in order, in this thread."""
    for item in items:
        work(item)


def _interleaved(planes: np.ndarray) -> np.ndarray:
    """uint8 Cxhxw maps -> one hxwxC array (C > 1)."""
    import cv2  # deferred: web processes that never compose do not load OpenCV

    return cv2.merge(list(planes))


def upsample(small: np.ndarray, size: tuple[int, int]) -> Image.Image:
    """A smooth low-resolution RGB map (float 3xhxw, 0..255) -> an RGB image of ``size``.

    Bilinear to half size, then nearest: about 4 ms at 1080p where one bilinear resize to
    full size takes about 11 ms; the 2-pixel steps are below one grey level on a map this
    smooth.
    """
    image = Image.fromarray(_interleaved(np.clip(small + 0.5, 0, 255).astype(np.uint8)), "RGB")
    half = (max(1, (size[0] + 1) // 2), max(1, (size[1] + 1) // 2))
    image = image.resize(half, Image.Resampling.BILINEAR)
    return image.resize(size, Image.Resampling.NEAREST)


def _map_grid(maps: np.ndarray, size: tuple[int, int], cell: int) -> tuple[list[np.ndarray], int]:
    """Smooth low-resolution colour maps (float Nx3xhxw) -> uint8 (M x 3) grids of
    ``size / cell``, one per map.

    A bilinear resize (OpenCV's: 0.1 ms a map at 1 MP where Pillow's took 0.6, the two
    a level apart at most) to 1/cell of the photo's size; each full-resolution pixel then
    reads the value of its cell (one gather). The maps vary over tens of pixels, so small
    cells cost nothing visible (measured: same edge error as per-pixel bilinear sampling),
    and this is several times faster than interpolating per pixel for bands of hundreds of
    thousands of pixels. Returns (grids, grid width).
    """
    import cv2  # deferred: web processes that never compose do not load OpenCV

    grid = (max(1, -(-size[0] // cell)), max(1, -(-size[1] // cell)))
    levels = np.clip(maps + 0.5, 0, 255).astype(np.uint8)
    planes = [
        cv2.resize(_interleaved(rgb), grid, interpolation=cv2.INTER_LINEAR).reshape(-1, 3)
        for rgb in levels
    ]
    return planes, grid[0]


class BandMaps:
    """F̂ and B̂, the local foreground and background colours, on a grid of
    ``MAP_CELL``-pixel cells of the full-resolution photo (uint8 N x 3 each)."""

    def __init__(self, low: LowRes, size: tuple[int, int], runner: Runner | None = None) -> None:
        means = low.weighted_means(
            [low.fg_weight, low.bg_weight],
            FG_SIGMA,
            fallback_sigma=FG_FALLBACK_SIGMA,
            runner=runner,
        )
        (self.fg, self.bg), self.grid_width = _map_grid(means, size, MAP_CELL)
