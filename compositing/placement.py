"""Pure placement geometry: where the subject and the background go on the output canvas.

No Django, no storage: numpy and Pillow only. The studio's canvas preview
(``static/compositing/preview.js``) implements the same formulas, so the preview matches
the saved result; keep the two in step.

Coordinates are floats in pixels; a box is ``(left, top, right, bottom)``.

1. **Region**: the part of the photo that is the subject layer: the whole photo, or with
   ``crop`` the box of the pixels whose alpha is at least ``SUBJECT_ALPHA`` (26/255),
   grown by ``crop_margin`` (pixels, or percent of the box's width/height per axis); it
   may reach past the photo's edges (there the layer is transparent), as remove.bg does.
2. **Canvas**: ``output_size`` (W, H), or the region's size (rounded) for "original".
3. **Subject rectangle**: the region scaled to fit inside the canvas (aspect kept), times
   ``scale`` (percent, 100 = fit), positioned like CSS ``background-position``:
   ``left = (W - w) * x / 100``, ``top = (H - h) * y / 100`` (50,50 = centred,
   50,0 = top, 50,100 = bottom).
4. **Background**: covers the canvas (scaled to fill, aspect kept) times ``zoom`` (1-4),
   the visible window placed by ``focus`` (percent, the same CSS rule: 0,0 = the
   top-left corner of the image stays in view), then mirrored left-right if asked.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import numpy as np
from PIL import Image

from compositing.compose import (
    LowColour,
    Runner,
    blurred_background_image,
    compose_image,
    compose_onto_photo,
    cover_filter,
    estimate_foreground,
    resize_box,
)
from compositing.mattes import alpha_to_uint8, matte_image

Box = tuple[float, float, float, float]

# A pixel belongs to the subject (for crop) from this 8-bit alpha up: keeps wisps of hair,
# ignores the faint haze the model leaves around people.
SUBJECT_ALPHA = 26
# blur_strength 1..100 -> Gaussian sigma as a share of the photo's long side per unit.
# "light" (25) is the studio's long-standing default blur, 1.5 % of the long side.
BLUR_SHARE_PER_UNIT = 0.0006
# Photos over this many pixels that the caller gives up are painted on in place rather
# than onto a canvas (``render``'s photo_owned): at 48 MP the canvas is 192 MB in Pillow.
# Smaller ones keep the canvas, which can be covered beside the model or cached.
PAINT_ON_PHOTO_MIN_PIXELS = 16_000_000
BLUR_LIGHT, BLUR_STRONG = 25, 60


@dataclass(frozen=True)
class Placement:
    """Checked placement options (see ``compositing.services.placement`` for parsing).

    output_size: (W, H) pixels, or None for "original". background_focus: (x, y) percent.
    background_zoom: 1..4. scale: 10..100 percent. position: (x, y) percent.
    crop_margin: (value, "px" | "%"). channels: "rgba" or "alpha". blur_strength: 1..100.
    """

    output_size: tuple[int, int] | None = None
    background_focus: tuple[float, float] = (50.0, 50.0)
    background_zoom: float = 1.0
    background_mirror: bool = False
    scale: float = 100.0
    position: tuple[float, float] = (50.0, 50.0)
    crop: bool = False
    crop_margin: tuple[float, str] = (0.0, "px")
    channels: str = "rgba"
    blur_strength: float = BLUR_LIGHT

    @property
    def moves_subject(self) -> bool:
        """False when the subject stays exactly where it is in the photo."""
        return self.output_size is not None or self.crop or self.scale != 100.0

    @property
    def moves_background(self) -> bool:
        """False for a centred, unzoomed, unmirrored cover (the classic behaviour)."""
        return (
            self.background_focus != (50.0, 50.0)
            or self.background_zoom != 1.0
            or self.background_mirror
        )


def blur_sigma(strength: float, size: tuple[int, int]) -> float:
    """blur_strength 1..100 -> Gaussian sigma in pixels of a photo of ``size`` (w, h)."""
    return strength * BLUR_SHARE_PER_UNIT * max(size)


def subject_box(alpha: np.ndarray) -> Box | None:
    """Bounding box of the pixels with 8-bit alpha >= SUBJECT_ALPHA (alpha: uint8 HxW,
    or float32 HxW in 0..1); None when there are none."""
    mask = alpha_to_uint8(alpha) >= SUBJECT_ALPHA
    rows = np.flatnonzero(mask.any(axis=1))
    if rows.size == 0:
        return None
    cols = np.flatnonzero(mask.any(axis=0))
    return (float(cols[0]), float(rows[0]), float(cols[-1] + 1), float(rows[-1] + 1))


def subject_region(alpha: np.ndarray, placement: Placement) -> Box:
    """The photo region (photo pixels) that becomes the subject layer."""
    height, width = alpha.shape[:2]
    if not placement.crop:
        return (0.0, 0.0, float(width), float(height))
    box = subject_box(alpha)
    if box is None:
        return (0.0, 0.0, float(width), float(height))
    left, top, right, bottom = box
    value, unit = placement.crop_margin
    mx = value * (right - left) / 100.0 if unit == "%" else value
    my = value * (bottom - top) / 100.0 if unit == "%" else value
    return (left - mx, top - my, right + mx, bottom + my)


def canvas_size(region: Box, placement: Placement) -> tuple[int, int]:
    """The output's (W, H) in pixels."""
    if placement.output_size is not None:
        return placement.output_size
    left, top, right, bottom = region
    return (max(1, round(right - left)), max(1, round(bottom - top)))


def subject_rect(region: Box, canvas: tuple[int, int], placement: Placement) -> Box:
    """Where the region lands on the canvas (canvas pixels): fitted, scaled, positioned."""
    rw, rh = region[2] - region[0], region[3] - region[1]
    cw, ch = canvas
    factor = min(cw / rw, ch / rh) * placement.scale / 100.0
    w, h = rw * factor, rh * factor
    px, py = placement.position
    left, top = (cw - w) * px / 100.0, (ch - h) * py / 100.0
    return (left, top, left + w, top + h)


def background_box(size: tuple[int, int], canvas: tuple[int, int], placement: Placement) -> Box:
    """The window of a background image of ``size`` (w, h) that fills the canvas."""
    bw, bh = size
    cw, ch = canvas
    factor = max(cw / bw, ch / bh) * placement.background_zoom
    w, h = cw / factor, ch / factor
    fx, fy = placement.background_focus
    left, top = (bw - w) * fx / 100.0, (bh - h) * fy / 100.0
    return (left, top, left + w, top + h)


def background_canvas(
    image: Image.Image, canvas: tuple[int, int], placement: Placement
) -> Image.Image:
    """``image`` (RGB, any size) covering the canvas with focus, zoom and mirror: RGB WxH."""
    box = background_box(image.size, canvas, placement)
    out = resize_box(_rgb(image), canvas, box)
    if placement.background_mirror:
        out = out.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    return out


def _rgb(image: Image.Image) -> Image.Image:
    """``image`` in RGB, read only: itself when it is already (``convert`` would copy it:
    a 1920x1080 background's 8 MB, 4.9 ms of an 8.9 ms cover in a web worker, whose buffers
    that big are fresh pages each time)."""
    return image if image.mode == "RGB" else image.convert("RGB")


def background_rows(
    image: Image.Image, canvas: tuple[int, int], placement: Placement
) -> Callable[[int, int], Image.Image]:
    """``rows(top, bottom)``: those rows of ``background_canvas(image, canvas, placement)``
    made on their own (RGB, the canvas's width), for painting a big photo in place
    (``compose.compose_onto_photo``) without the whole canvas.

    Each call resizes a band of the image's rows the way one resize of the whole box does
    (Pillow's horizontal pass, then its vertical pass over the canvas rows asked for, at
    the box's scale), so the rows are exactly those of that resize. Without the box
    pre-reduction, which would be aligned to each band."""
    box = background_box(image.size, canvas, placement)
    resample = cover_filter(box, canvas)
    rgb = _rgb(image)
    width, height = canvas
    step = (box[3] - box[1]) / height  # source rows per canvas row
    reach = math.ceil(3 * max(1.0, step)) + 1  # the filter's reach in source rows, and one

    def rows(top: int, bottom: int) -> Image.Image:
        y0, y1 = box[1] + top * step, box[1] + bottom * step
        first = max(0, math.floor(y0) - reach)
        last = min(rgb.height, math.ceil(y1) + reach)
        band = rgb.crop((0, first, rgb.width, last))
        band = band.resize((width, last - first), resample, box=(box[0], 0, box[2], last - first))
        out = band.resize((width, bottom - top), resample, box=(0, y0 - first, width, y1 - first))
        if placement.background_mirror:
            out = out.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
        return out

    return rows


def layer_paste_box(
    photo_size: tuple[int, int], region: Box, rect: Box, canvas: tuple[int, int]
) -> tuple[tuple[int, int, int, int], Box] | None:
    """Integer canvas box where the subject layer is drawn, and the photo box it shows.

    The layer is the photo clipped to the region, mapped onto ``rect``, clipped to the
    canvas; its edges are rounded to whole canvas pixels and the photo box follows them
    exactly. None when nothing of the photo is visible.
    """
    factor = (rect[2] - rect[0]) / (region[2] - region[0])
    ox, oy = rect[0] - region[0] * factor, rect[1] - region[1] * factor  # photo origin
    pw, ph = photo_size
    visible = (
        max(rect[0], ox, 0.0),
        max(rect[1], oy, 0.0),
        min(rect[2], ox + pw * factor, float(canvas[0])),
        min(rect[3], oy + ph * factor, float(canvas[1])),
    )
    x0, y0, x1, y1 = (round(v) for v in visible)
    if x1 <= x0 or y1 <= y0:
        return None
    source = ((x0 - ox) / factor, (y0 - oy) / factor, (x1 - ox) / factor, (y1 - oy) / factor)
    source = (max(0.0, source[0]), max(0.0, source[1]), min(pw, source[2]), min(ph, source[3]))
    return (x0, y0, x1, y1), source


def place_subject(
    foreground: Image.Image, mask: Image.Image, placement: Placement
) -> tuple[Image.Image, Image.Image]:
    """The foreground (RGB) and its mask (L), both the photo's size, moved onto the canvas.

    Returns (RGB, L) of the canvas size; the mask is 0 wherever the subject layer is not.
    """
    alpha = np.asarray(mask)
    region = subject_region(alpha, placement)
    canvas = canvas_size(region, placement)
    rect = subject_rect(region, canvas, placement)
    colour = Image.new("RGB", canvas)
    matte = Image.new("L", canvas, 0)
    boxes = layer_paste_box(foreground.size, region, rect, canvas)
    if boxes is None:
        return colour, matte
    (x0, y0, x1, y1), source = boxes
    size = (x1 - x0, y1 - y0)
    resample = Image.Resampling.LANCZOS
    colour.paste(foreground.resize(size, resample, box=source, reducing_gap=2.0), (x0, y0))
    matte.paste(mask.resize(size, resample, box=source, reducing_gap=2.0), (x0, y0))
    return colour, matte


class CanvasSource(Protocol):
    """A background that makes (or keeps) its own covered canvases."""

    def canvas(self, canvas: tuple[int, int], placement: Placement) -> tuple[Image.Image, bool]:
        """(``background_canvas`` of its image, whether the image is the caller's own to
        paint on); a canvas that is not (a cached one, shared) is read, never modified."""
        ...

    def rows(
        self, canvas: tuple[int, int], placement: Placement
    ) -> Callable[[int, int], Image.Image]:
        """``background_rows`` of its image: the canvas made a few rows at a time."""
        ...

    def pixels(self, canvas: tuple[int, int], placement: Placement) -> np.ndarray:
        """``canvas``'s image as a uint8 array, read only (a cached one's kept with it)."""
        ...


def canvas_rows(
    background: Image.Image | CanvasSource, canvas: tuple[int, int], placement: Placement
) -> Callable[[int, int], Image.Image]:
    """``covered_canvas`` a few rows at a time (see ``background_rows``)."""
    if isinstance(background, Image.Image):
        return background_rows(background, canvas, placement)
    return background.rows(canvas, placement)


def covered_canvas(
    background: Image.Image | CanvasSource, canvas: tuple[int, int], placement: Placement
) -> tuple[Image.Image, bool]:
    """``background`` covering ``canvas`` (W, H) with the placement's focus, zoom and mirror,
    and whether the image is the caller's own to paint on (see ``CanvasSource``)."""
    if isinstance(background, Image.Image):
        return background_canvas(background, canvas, placement), True  # a new image
    return background.canvas(canvas, placement)


def render(
    photo: Image.Image,
    alpha: np.ndarray,
    *,
    mode: str,
    placement: Placement,
    background: Image.Image | CanvasSource | None = None,
    color: tuple[int, int, int] | None = None,
    keep_background: bool = True,
    photo_owned: bool = False,
    runner: Runner | None = None,
    pixels: np.ndarray | None = None,
    canvas_pixels: np.ndarray | None = None,
    colour: LowColour | None = None,
    as_array: bool = False,
) -> tuple[Image.Image | np.ndarray, Image.Image | None]:
    """The saved result for these options: (image, the background canvas behind the person).

    photo: RGB WxH; alpha: float32 HxW in 0..1. mode: image | color | blur | transparent.
    background: for mode image, the image (any size; covered here) or a ``CanvasSource``
    that supplies the covered canvas itself (a library background cached per process).
    keep_background: False when the caller does not need the canvas back (it is then
    None): the person is painted straight onto a canvas made for this call instead of a
    copy of it (a 48 MP canvas is 144 MB).
    photo_owned: the caller gives up ``photo`` (and ``pixels``): over
    ``PAINT_ON_PHOTO_MIN_PIXELS``, mode image without keep_background or a moved subject is
    painted into the photo itself, the background covered a few rows at a time
    (``compose.compose_onto_photo``): no canvas; up to ``ARRAYS_MAX_PIXELS`` the array
    paste writes into ``pixels`` (no result array of its own).
    The image is RGB (RGBA for transparent; L, the matte alone, for channels "alpha").
    Without placement the result is ``compose_image``'s, unchanged. ``runner``: how
    ``compose_image`` runs its strips (``compose.Runner``). ``pixels``: the photo's uint8
    array, if the caller has one; ``canvas_pixels``: the covered canvas of mode image
    (``covered_canvas``'s) as an array, if the caller made one: ``compose_image`` reads
    them instead of copies of the images; ``colour``: the photo's statistics made
    beforehand (``compose_image``'s); ``as_array``: the result as ``compose_image``'s
    array where it makes one (the image otherwise).
    """
    mask = matte_image(alpha)
    if placement.channels == "alpha":
        return place_subject(photo, mask, placement)[1] if placement.moves_subject else mask, None
    radius = blur_sigma(placement.blur_strength, photo.size)
    canvas_bg, owned = None, False
    if (
        photo_owned
        and mode == "image"
        and background is not None
        and not keep_background
        and not placement.moves_subject
        and photo.mode == "RGB"
        and photo.width * photo.height > PAINT_ON_PHOTO_MIN_PIXELS
    ):
        rows = canvas_rows(background, photo.size, placement)
        return compose_onto_photo(photo, mask, rows), None
    if not placement.moves_subject:
        if mode == "image" and background is not None:
            canvas_bg, owned = covered_canvas(background, photo.size, placement)
        elif mode == "blur" and placement.moves_background:
            blurred = blurred_background_image(photo, mask, blur_radius=radius)
            canvas_bg, mode = background_canvas(blurred, photo.size, placement), "image"
            owned = True
        in_place = owned and not keep_background
        result = compose_image(
            photo,
            mask,
            mode=mode,
            background=canvas_bg if canvas_pixels is None or mode != "image" else canvas_pixels,
            color=color,
            blur_radius=radius,
            in_place=in_place,
            runner=runner,
            pixels=pixels,
            colour=colour,
            pixels_owned=photo_owned,
            as_array=as_array,
        )
        return result, None if in_place else canvas_bg
    foreground = Image.fromarray(estimate_foreground(photo, mask), "RGB")
    colour, matte = place_subject(foreground, mask, placement)
    if mode == "blur":
        background, mode = blurred_background_image(photo, mask, blur_radius=radius), "image"
    if mode == "image" and background is not None:
        canvas_bg, owned = covered_canvas(background, colour.size, placement)
    in_place = owned and not keep_background
    result = compose_image(
        colour,
        matte,
        mode=mode,
        background=canvas_bg,
        color=color,
        decontaminate=False,
        in_place=in_place,
    )
    return result, None if in_place else canvas_bg
