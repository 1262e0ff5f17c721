"""Pure compositing: a photo, its person alpha and a new background -> the composite.

No Django, no storage, no torch: numpy and Pillow (and OpenCV, deferred, for the
low-resolution statistics in ``compositing.compose_stats``). Arrays in, arrays out (``compose``,
``cover``); the ``*_image`` variants take and return PIL images and skip the conversions
(the fast path the services use: decode -> segment -> ``compose_image`` -> encode).

The composite is ``alpha * photo + (1 - alpha) * background`` (sRGB, 8-bit), done by
Pillow's C paste with an 8-bit mask (a rounded integer blend, about 5 ms at 1080p; numpy's
uint16 version of the same formula measured 23 ms). An 8-bit alpha changes the result by at
most half a level against a float alpha.

Background modes:

- ``image``: a background image scaled to *cover* the photo (scale to fill, centre-crop;
  the aspect ratio is never changed).
- ``color``: a solid ``(r, g, b)``.
- ``blur``: the photo's own background, blurred *without the person*: a normalised
  convolution that only averages pixels the alpha says are background, so the person's
  colours do not bleed into a halo around them.
- ``transparent``: RGBA, the person's alpha in the A channel.

Edge decontamination (on by default): in the soft band of the alpha (hair, motion blur) an
observed pixel is ``a * F + (1 - a) * B_old``; pasting it onto a new background keeps a
fringe of the old background's colour. ``estimate_foreground`` recovers ``F`` with a fast
approximation of blur-fusion foreground estimation (Forte & Pitié, "Approximate Fast
Foreground Colour Estimation", ICIP 2021): local foreground and background colours come
from a normalised blur at low resolution, then ``F = F̂ + a (I - a F̂ - (1 - a) B̂)``, only
for the pixels of the soft band. See ``tests/compositing_core/test_compose.py`` and
``bench/bench_composite.py`` for the measured effect.

The low-resolution colour statistics (F̂, B̂ and the person-free blur) live in
``compositing.compose_stats``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Literal

import numpy as np
from PIL import Image

from compositing.compose_arrays import ARRAYS_MAX_PIXELS, paste_arrays
from compositing.compose_stats import (
    MAP_CELL,
    BandMaps,
    LowColour,
    LowRes,
    Runner,
    in_turn,
    stats_factor,
    upsample,
)
from compositing.cover import cover as cover  # re-exported: the covering lives in cover.py
from compositing.cover import cover_filter as cover_filter
from compositing.cover import cover_image, to_rgb_image
from compositing.cover import resize_box as resize_box
from compositing.mattes import matte_image
from vbgsite.errors import InvalidColor, InvalidOption

Mode = Literal["image", "color", "blur", "transparent"]
MODES: tuple[str, ...] = ("image", "color", "blur", "transparent")
RGB = tuple[int, int, int]

_HEX_COLOR = re.compile(r"#?([0-9a-fA-F]{6}|[0-9a-fA-F]{3})")

# Default blur of the background, as a share of the photo's long side (29 px at 1920).
_BLUR_SHARE = 0.015


def parse_color(value: str) -> RGB:
    """``"#RRGGBB"`` (or ``"#RGB"``, ``#`` optional) -> ``(r, g, b)`` in 0..255.

    Raises InvalidColor for anything else.
    """
    match = _HEX_COLOR.fullmatch(value.strip()) if isinstance(value, str) else None
    if match is None:
        raise InvalidColor(f"{value!r} is not a colour; write it as #RRGGBB, e.g. #1E90FF.")
    digits = match.group(1)
    if len(digits) == 3:
        digits = "".join(d * 2 for d in digits)
    return (int(digits[0:2], 16), int(digits[2:4], 16), int(digits[4:6], 16))


def _mask_image(alpha: np.ndarray | Image.Image, size: tuple[int, int]) -> Image.Image:
    """alpha (float32 HxW 0..1, uint8 HxW, or an L image) -> an L image of ``size``."""
    if isinstance(alpha, Image.Image):
        mask = alpha if alpha.mode == "L" else alpha.convert("L")
    else:
        array = np.asarray(alpha)
        if array.ndim != 2:
            raise ValueError(f"alpha must be HxW, got shape {array.shape}")
        mask = matte_image(array)
    if mask.size != size:
        raise ValueError(f"alpha is {mask.size[0]}x{mask.size[1]}, photo is {size[0]}x{size[1]}")
    return mask


# Rows per strip of the full-resolution passes (decontamination and paste): a strip's
# copies stay a few MB, so a 48 MP photo never gets a full-size float or uint8 copy.
_STRIP_ROWS = 256
# Rows per strip of the paste onto a canvas (``_paste_decontaminated``): shorter, so the
# strips share out evenly between two threads.
_PASTE_ROWS = 128


def _foreground_rows(
    photo_array: np.ndarray, mask_array: np.ndarray, maps: BandMaps, top: int, left: int = 0
) -> np.ndarray:
    """Decontaminated copy of the photo's block at (``left``, ``top``) (uint8 hxwx3, with its
    hxw matte): only the soft band changes (``compose_kernels.foreground_block``)."""
    from compositing import compose_kernels  # deferred: numba loads with the first compose

    out = np.empty_like(photo_array)
    compose_kernels.foreground_block(
        photo_array, mask_array, maps.fg, maps.bg, maps.grid_width, MAP_CELL, top, left, out
    )
    return out


def _band_maps(
    low: LowRes | None,
    size: tuple[int, int],
    mask: Image.Image,
    bbox: tuple[int, int, int, int] | None,
    runner: Runner | None,
) -> BandMaps | None:
    """F̂ and B̂ for decontaminating the photo of ``size``, or None when there is nothing to
    decontaminate (no ``low``: not asked; no matte level in the soft band). The matte is
    searched strip by strip, stopping at the first soft pixel (usually in the first strip;
    Pillow's histogram takes 2.2 ms at 1 MP, a full-size copy 48 MB at 48 MP). ``bbox``:
    the matte's bounding box."""
    from compositing import compose_kernels  # deferred: numba loads with the first compose

    if low is None or bbox is None:
        return None
    left, top, right, bottom = bbox
    for y in range(top, bottom, _PASTE_ROWS):
        strip = np.asarray(mask.crop((left, y, right, min(bottom, y + _PASTE_ROWS))))
        if compose_kernels.has_band(strip):
            return BandMaps(low, size, runner)
    return None


def _foreground_array(photo_array: np.ndarray, mask_array: np.ndarray, low: LowRes) -> np.ndarray:
    """Decontaminated copy of photo_array (uint8 HxWx3); only the soft band changes."""
    from compositing import compose_kernels  # deferred: numba loads with the first compose

    height, width = mask_array.shape
    if not compose_kernels.has_band(mask_array):
        return photo_array
    return _foreground_rows(photo_array, mask_array, BandMaps(low, (width, height)), 0, 0)


def _paste_decontaminated(
    target: Image.Image,
    photo: Image.Image,
    mask: Image.Image,
    low: LowRes,
    runner: Runner | None = None,
) -> None:
    """Paste the decontaminated photo onto ``target`` through ``mask`` (None: copy it
    over, for the transparent mode), strip by strip: the same pixels as decontaminating
    the whole photo first, without a full-size copy of it. Only the matte's bounding box
    is visited (outside it the matte is 0: nothing to paste or decontaminate), and F̂/B̂
    are made only if the matte has a soft band (none: a plain paste). The strips are
    independent (disjoint rows of ``target``): ``runner`` may do them on several threads."""
    from compositing import compose_kernels  # deferred: numba loads with the first compose

    bbox = mask.getbbox()
    if bbox is None:
        return
    left, y0, right, y1 = bbox
    maps = _band_maps(low, photo.size, mask, bbox, runner)

    def paste(top: int) -> None:
        box = (left, top, right, min(y1, top + _PASTE_ROWS))
        matte = mask.crop(box)
        matte_array = np.asarray(matte)
        if maps is not None and compose_kernels.has_band(matte_array):
            rows = np.asarray(photo.crop(box))
            strip = Image.fromarray(_foreground_rows(rows, matte_array, maps, top, left), "RGB")
        elif target.mode == "RGBA":
            return  # the transparent copy already holds these pixels
        else:
            strip = photo.crop(box)
        target.paste(strip, (left, top), None if target.mode == "RGBA" else matte)

    (runner or in_turn)(paste, range(y0, y1, _PASTE_ROWS))


def compose_onto_photo(
    photo: Image.Image,
    alpha: np.ndarray | Image.Image,
    canvas_rows: Callable[[int, int], Image.Image],
    *,
    decontaminate: bool = True,
) -> Image.Image:
    """Mode "image" painted into ``photo`` itself, which the caller gives up (RGB; it is
    returned, now the result): the same pixels as ``compose_image(photo, alpha,
    mode="image", background=canvas)``, without a canvas the photo's size.

    ``canvas_rows(top, bottom)`` gives rows [top, bottom) of the covered background (a new
    RGB image, the photo's width). Strip by strip, top to bottom: the photo's rows are
    decontaminated and pasted through the matte onto those background rows, which are then
    written back over the photo's rows (the statistics for decontamination are taken from
    the whole photo first). At 48 MP this leaves out the canvas (192 MB in Pillow)."""
    from compositing import compose_kernels  # deferred: numba loads with the first compose

    photo_image = to_rgb_image(photo, "photo")
    if photo_image is not photo:
        raise ValueError("compose_onto_photo paints into an RGB image")
    width, height = photo.size
    mask = _mask_image(alpha, photo.size)
    low = LowRes(photo, mask, stats_factor(photo.size)) if decontaminate else None
    bbox = mask.getbbox()
    maps = _band_maps(low, photo.size, mask, bbox, None)
    for top in range(0, height, _STRIP_ROWS):
        bottom = min(height, top + _STRIP_ROWS)
        strip = canvas_rows(top, bottom)
        if strip.size != (width, bottom - top) or strip.mode != "RGB":
            raise ValueError(f"canvas rows {top}..{bottom} came back {strip.mode} {strip.size}")
        if bbox is not None and top < bbox[3] and bottom > bbox[1]:
            box = (bbox[0], top, bbox[2], bottom)
            matte = mask.crop(box)
            matte_array = np.asarray(matte)
            if maps is not None and compose_kernels.has_band(matte_array):
                rows = np.asarray(photo.crop(box))
                rows = _foreground_rows(rows, matte_array, maps, top, bbox[0])
                foreground = Image.fromarray(rows, "RGB")
            else:
                foreground = photo.crop(box)
            strip.paste(foreground, (bbox[0], 0), matte)
        photo.paste(strip, (0, top))
    return photo


def estimate_foreground(
    photo: np.ndarray | Image.Image, alpha: np.ndarray | Image.Image
) -> np.ndarray:
    """Foreground colours with the old background removed from the soft edges.

    photo: uint8 HxWx3 (or an RGB image); alpha: float32 HxW in 0..1 (or uint8 / L).
    Returns uint8 HxWx3: equal to the photo where alpha is (nearly) 0 or 1.
    """
    photo_image = to_rgb_image(photo, "photo")
    mask = _mask_image(alpha, photo_image.size)
    low = LowRes(photo_image, mask, stats_factor(photo_image.size))
    return _foreground_array(np.asarray(photo_image), np.asarray(mask), low)


def blurred_background_image(
    photo: np.ndarray | Image.Image,
    alpha: np.ndarray | Image.Image,
    *,
    blur_radius: float | None = None,
    _low: LowRes | None = None,
) -> Image.Image:
    """The photo's own background, person removed and blurred (RGB image, photo's size).

    blur_radius: Gaussian sigma in pixels of the photo (default 1.5 % of the long side).
    Only background pixels are averaged (normalised convolution), so the person's colours
    do not bleed into it; where the person covers everything nearby the estimate reaches
    further out.
    """
    photo_image = to_rgb_image(photo, "photo")
    size = photo_image.size
    if blur_radius is None:
        blur_radius = _BLUR_SHARE * max(size)
    if not blur_radius > 0 or not math.isfinite(blur_radius):
        raise InvalidOption("The blur radius must be a positive number of pixels.")
    low = _low or LowRes(photo_image, _mask_image(alpha, size), stats_factor(size))
    sigma = blur_radius / low.factor
    means = low.weighted_means([low.bg_weight], sigma, fallback_sigma=max(4.0 * sigma, 8.0))
    return upsample(means[0], size)


def compose_image(
    photo: np.ndarray | Image.Image,
    alpha: np.ndarray | Image.Image,
    *,
    mode: Mode | str,
    background: np.ndarray | Image.Image | None = None,
    color: RGB | str | None = None,
    blur_radius: float | None = None,
    decontaminate: bool = True,
    in_place: bool = False,
    runner: Runner | None = None,
    pixels: np.ndarray | None = None,
    colour: LowColour | None = None,
    pixels_owned: bool = False,
    as_array: bool = False,
) -> Image.Image | np.ndarray:
    """Composite the person over a new background; returns a new PIL image.

    photo: RGB image or uint8 HxWx3. alpha: float32 HxW in 0..1 (uint8 0..255 and L
    images are accepted too), the photo's size.
    mode: "image" (needs ``background``, any size: it is covered), "color" (needs
    ``color``, ``(r, g, b)`` or "#RRGGBB"), "blur" (optional ``blur_radius``, Gaussian sigma
    in pixels), "transparent".
    decontaminate: remove the old background's colour from the soft edges first.
    in_place: mode "image" with an RGB ``background`` image of the photo's size that the
        caller gives up: over ``ARRAYS_MAX_PIXELS`` the person is painted onto it and it
        is returned, instead of onto a copy (a 48 MP canvas is 144 MB).
    runner: how the strips of the paste are run (``Runner``; default one after the other).
    pixels: the photo's uint8 HxWx3 array when the caller has one (the same pixels):
        read instead of a copy of ``photo``. Up to ``ARRAYS_MAX_PIXELS`` the paste is
        ``compose_arrays.paste_arrays`` (``background`` may then be that array already
        covered to the photo's size), above it Pillow's, painting into the canvas.
    colour: the photo's ``LowColour`` at ``stats_factor(size)``, when the caller made it
        beforehand (the statistics then need only the matte's part).
    pixels_owned: the caller gives up ``pixels``: the array paste writes into them
        (no result array of its own; the returned image is a copy either way).
    as_array: where the paste is the array one (above), return its uint8 HxWx3 result
        itself instead of a PIL copy of it (0.5 ms at 1 MP; what an encoder that reads
        arrays wants); other paths return their image as always.
    Returns RGB WxH (RGBA for "transparent"). The inputs are not modified (but for
    ``in_place``).
    Raises InvalidOption (unknown mode, missing background/colour), InvalidColor.
    """
    if mode not in MODES:
        raise InvalidOption(f"Unknown background mode {mode!r}; use one of {', '.join(MODES)}.")
    photo_image = to_rgb_image(photo, "photo")
    size = photo_image.size
    mask = _mask_image(alpha, size)

    arrays = mode != "transparent" and size[0] * size[1] <= ARRAYS_MAX_PIXELS
    if mode == "image":
        if background is None:
            raise InvalidOption("Choose a background image.")
        mine = in_place and isinstance(background, Image.Image) and background.mode == "RGB"
        if (arrays and _is_canvas(background, size)) or (mine and background.size == size):
            canvas = background  # covered already: read as it is (or painted on: mine)
        else:
            canvas = cover_image(background, *size)
    elif mode == "color":
        if color is None:
            raise InvalidOption("Choose a colour.")
        rgb = parse_color(color) if isinstance(color, str) else _check_rgb(color)
        canvas = (
            np.broadcast_to(np.array(rgb, np.uint8), (size[1], size[0], 3))
            if arrays
            else Image.new("RGB", size, rgb)
        )
    else:
        canvas = None

    low = None
    if decontaminate or mode == "blur":
        low = LowRes(photo_image if colour is None else colour, mask, stats_factor(size))
    if mode == "blur":
        canvas = blurred_background_image(photo_image, mask, blur_radius=blur_radius, _low=low)
    if arrays:
        if pixels is None:
            own = isinstance(photo, np.ndarray) and photo.shape[2:] == (3,)
            pixels = photo if own else np.asarray(photo_image)
        canvas_pixels = np.asarray(canvas)
        used = low if decontaminate else None
        into = pixels if pixels_owned and pixels.flags.writeable else None
        out = paste_arrays(pixels, np.asarray(mask), canvas_pixels, used, runner, into)
        return out if as_array else Image.fromarray(out, "RGB")

    if canvas is None:  # transparent: the (decontaminated) photo with the matte as A
        out = photo_image.convert("RGBA")
        if decontaminate:
            _paste_decontaminated(out, photo_image, mask, low, runner)
        out.putalpha(mask)
        return out
    if decontaminate:
        _paste_decontaminated(canvas, photo_image, mask, low, runner)
    else:
        canvas.paste(photo_image, (0, 0), mask)
    return canvas


def _is_canvas(background: np.ndarray | Image.Image, size: tuple[int, int]) -> bool:
    """An RGB image or uint8 array of ``size``: the covered canvas itself."""
    if isinstance(background, Image.Image):
        return background.mode == "RGB" and background.size == size
    return background.dtype == np.uint8 and background.shape == (size[1], size[0], 3)


def _check_rgb(color: tuple[int, int, int]) -> RGB:
    try:
        r, g, b = (int(c) for c in color)
    except (TypeError, ValueError):
        raise InvalidColor(f"{color!r} is not an (r, g, b) colour.") from None
    if not all(0 <= c <= 255 for c in (r, g, b)):
        raise InvalidColor(f"{color!r}: each channel must be in 0..255.")
    return (r, g, b)


def compose(
    photo: np.ndarray | Image.Image,
    alpha: np.ndarray | Image.Image,
    *,
    mode: Mode | str,
    background: np.ndarray | Image.Image | None = None,
    color: RGB | str | None = None,
    blur_radius: float | None = None,
    decontaminate: bool = True,
) -> np.ndarray:
    """``compose_image`` as an array: uint8 HxWx3 (HxWx4 for "transparent")."""
    return np.asarray(
        compose_image(
            photo,
            alpha,
            mode=mode,
            background=background,
            color=color,
            blur_radius=blur_radius,
            decontaminate=decontaminate,
        )
    )
