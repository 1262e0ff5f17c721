"""Decoding and validating uploads, encoding results. Pillow and numpy only, no Django.

Uploads are validated by *decoding* them, never by their name or declared content type:
``load_image`` sniffs the real format, checks the byte size and the declared dimensions
before any pixel is decoded (so a decompression bomb costs nothing), decodes the first
frame, applies the EXIF orientation, converts colour (ICC profiles, CMYK, 16-bit, palette,
grey) to 8-bit sRGB and returns an image with no metadata attached. Every failure is one of
the exceptions in ``vbgsite.errors``.

Results are written by ``encode_image`` without EXIF, GPS, XMP, comments or ICC profiles.
The pixels are sRGB (``load_image`` converts other profiles), and untagged images are
treated as sRGB by browsers and viewers, so no profile is needed.

Masks are cached as 8-bit greyscale PNG (``alpha_to_png`` / ``png_to_alpha``). 8 bits are
enough because results are 8-bit: with an 8-bit alpha the composite differs from the
float-alpha composite by at most half a level, and an 8-bit PNG is smaller, faster and
shows in a browser as-is (the history page displays the mask). ``png_to_alpha`` also
reads 16-bit greyscale PNGs.
"""

from __future__ import annotations

import contextlib
import io
import logging
import math
import os
from collections.abc import Iterable
from dataclasses import dataclass
from typing import IO, Literal

import numpy as np
from PIL import Image, ImageFile, UnidentifiedImageError

from compositing import jpeg_codec, srgb
from compositing.mattes import alpha_to_png as alpha_to_png  # re-exported: callers use imaging
from compositing.mattes import alpha_to_uint8 as alpha_to_uint8
from compositing.mattes import png_to_alpha as png_to_alpha
from vbgsite.errors import (
    FileTooLarge,
    ImageTooLarge,
    ImageTooSmall,
    InvalidImage,
    InvalidOption,
    UnsupportedMediaType,
)

logger = logging.getLogger(__name__)

# Pillow format names. MPO (multi-picture JPEG, written by many phone cameras) is a JPEG.
PHOTO_FORMATS: frozenset[str] = frozenset(
    {"JPEG", "MPO", "PNG", "WEBP", "GIF", "BMP", "TIFF", "AVIF"}
)
BACKGROUND_FORMATS: frozenset[str] = frozenset({"JPEG", "MPO", "PNG", "WEBP"})

# Formats we only *recognise* (header parsing, nothing decoded) to tell a person "this is an
# image, but not one we take" (415) instead of "this is not an image" (400).
_RECOGNISED_FORMATS = (
    "JPEG",
    "PNG",
    "WEBP",
    "GIF",
    "BMP",
    "TIFF",
    "AVIF",
    "ICO",
    "PSD",
    "JPEG2000",
    "PPM",
    "TGA",
    "DDS",
    "QOI",
    "EPS",
)
_FORMAT_LABELS = {"JPEG": "JPEG", "MPO": "JPEG", "WEBP": "WebP", "JPEG2000": "JPEG 2000"}

OutputFormat = Literal["jpg", "png", "webp"]
_OUTPUT_FORMATS = {"jpg": "JPEG", "jpeg": "JPEG", "png": "PNG", "webp": "WEBP"}
CONTENT_TYPES = {"jpg": "image/jpeg", "png": "image/png", "webp": "image/webp"}

# PNG: zlib level 1 with the run-length strategy (Z_RLE = 3) writes a 1080p photo in about
# 110 ms where Pillow's default (level 6) takes about 575 ms, and the file is about the same
# size (1.97 MB against 1.96 MB, measured on a 1920x1080 photo). Masks are flat and compress
# very well with it.
_PNG_OPTIONS = {"compress_level": 1, "compress_type": 3}
# WebP effort 0..6: 0 writes 1080p in about 48 ms against 145 ms for the default 4, for about
# 15 % more bytes at quality 90 (still about a third smaller than the JPEG).
_WEBP_METHOD = 0
_WHITE = (255, 255, 255)


def _format_label(fmt: str) -> str:
    return _FORMAT_LABELS.get(fmt, fmt)


def _allowed_list(allowed: Iterable[str]) -> str:
    labels = sorted({_format_label(f) for f in allowed})
    return ", ".join(labels[:-1]) + f" or {labels[-1]}" if len(labels) > 1 else labels[0]


def _read_bounded(data: bytes | IO[bytes], max_bytes: int | None) -> bytes:
    """The upload's bytes (a file object is read from its start), refusing more than max."""
    if isinstance(data, bytes | bytearray | memoryview):
        raw = bytes(data)
    else:
        if hasattr(data, "seek"):
            # A non-seekable stream is read from where it is.
            with contextlib.suppress(OSError, ValueError):
                data.seek(0)
        raw = data.read() if max_bytes is None else data.read(max_bytes + 1)
    if max_bytes is not None and len(raw) > max_bytes:
        raise FileTooLarge(
            f"This file is larger than the {max_bytes / (1024 * 1024):.0f} MB limit."
        )
    if not raw:
        raise InvalidImage("The file is empty.")
    return raw


def _sniff_other(raw: bytes) -> str | None:
    """A label for well-known non-accepted files we can name, else None."""
    head = raw[:64]
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand in {b"heic", b"heix", b"hevc", b"heim", b"heis", b"mif1", b"msf1"}:
            return "HEIC"
        if brand in {b"avif", b"avis"}:
            return "AVIF"
        return None  # MP4/MOV and friends: not an image
    if head.startswith(b"%PDF"):
        return "PDF"
    stripped = head.lstrip().lower()
    if stripped.startswith(b"<svg") or (stripped.startswith(b"<?xml") and b"<svg" in raw[:1024]):
        return "SVG"
    return None


def _openers(formats: Iterable[str]) -> list[str]:
    """The Pillow openers for ``formats`` that this Pillow build has (MPO is not an opener
    of its own: the JPEG opener returns MPO files; AVIF needs libavif)."""
    Image.init()
    return [name for name in sorted(formats) if name in Image.OPEN]


def _open(raw: bytes, allowed: frozenset[str]) -> Image.Image:
    """Parse the header only. Raises UnsupportedMediaType / ImageTooLarge / InvalidImage."""
    try:
        # Pillow's own bomb guard (2x Image.MAX_IMAGE_PIXELS) may fire here: it raises an
        # error, or emits a warning that becomes an exception under `-W error`. We never
        # change Image.MAX_IMAGE_PIXELS (global, shared by threads): our own, lower limit is
        # checked right after, before decoding.
        return Image.open(io.BytesIO(raw), formats=_openers(allowed))
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageTooLarge("This image's dimensions are far too large.") from exc
    except UnidentifiedImageError:
        pass
    except Exception as exc:  # a recognised header that is corrupt
        logger.debug("image header rejected: %r", exc)
        raise InvalidImage() from exc

    label = _sniff_other(raw)
    if label is None:
        try:
            with Image.open(io.BytesIO(raw), formats=_openers(_RECOGNISED_FORMATS)) as other:
                label = _format_label(other.format or "")
        except Exception:
            label = None
    if label:
        raise UnsupportedMediaType(
            f"{label} files are not accepted here; use {_allowed_list(allowed)}."
        )
    raise InvalidImage("This file is not an image we can read.")


# JPEG start-of-frame markers coded with Huffman tables (SOF0-3, SOF5-7; SOF9-15 are
# arithmetic coded). Every 8x8 block of a Huffman-coded scan costs at least one bit.
_JPEG_HUFFMAN_SOF = frozenset({0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7})
_JPEG_SOS = 0xDA


def _jpeg_frame_marker(raw: bytes) -> int | None:
    """The SOF marker byte of a JPEG (walking the header segments up to the first scan)."""
    position = 2  # after SOI
    while position + 4 <= len(raw):
        if raw[position] != 0xFF:
            return None
        marker = raw[position + 1]
        if marker == 0xFF:  # fill byte
            position += 1
            continue
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            return marker
        if marker == _JPEG_SOS:
            return None
        position += 2 + int.from_bytes(raw[position + 2 : position + 4], "big")
    return None


def _check_jpeg_size(raw: bytes, width: int, height: int) -> None:
    """Refuse a JPEG too small to hold its declared frame.

    libjpeg fills the blocks of a scan that ends early (an end-of-image marker after a few
    bytes) with flat grey instead of failing, so a 693-byte file can claim 7000x7000. A
    Huffman-coded scan spends at least one bit on each 8x8 block of the full-resolution
    component, so a file of fewer than ``ceil(width/8) * ceil(height/8) / 8`` bytes cannot
    be complete. (Arithmetic-coded JPEGs can be smaller; they are left to the decoder.)
    """
    if _jpeg_frame_marker(raw) not in _JPEG_HUFFMAN_SOF:
        return
    blocks = math.ceil(width / 8) * math.ceil(height / 8)
    if len(raw) * 8 < blocks:
        raise InvalidImage(
            f"This image is corrupt or truncated: {len(raw)} bytes cannot hold the "
            f"{width}x{height} pixels it declares."
        )


def load_image(
    data: bytes | IO[bytes],
    *,
    max_pixels: int,
    min_side: int,
    max_bytes: int | None = None,
    allowed_formats: Iterable[str] = PHOTO_FORMATS,
    keep_alpha: bool = False,
) -> Image.Image:
    """Decode and validate an uploaded image.

    data: the file's bytes, or a binary file object (read from its start).
    max_pixels: width x height limit, checked from the header before decoding.
    min_side: the smallest width or height accepted, in pixels.
    max_bytes: the file size limit in bytes (None: no limit).
    allowed_formats: Pillow format names accepted (``PHOTO_FORMATS`` for portraits,
        ``BACKGROUND_FORMATS`` — JPEG, PNG, WebP — for backgrounds). An image in another
        format raises ``UnsupportedMediaType``.
    keep_alpha: return RGBA when the image has a transparent pixel. Otherwise (default)
        transparency is flattened onto white and the result is always RGB.

    Returns a fully decoded 8-bit sRGB image, mode RGB (or RGBA, see ``keep_alpha``),
    EXIF orientation applied, first frame of an animation, with an empty ``info`` (no
    EXIF, GPS, ICC or comments travel further). Thread-safe; changes no global state.

    Raises FileTooLarge, InvalidImage (empty, corrupt, truncated, not an image),
    UnsupportedMediaType, ImageTooSmall, ImageTooLarge (all InvalidImage but the first).
    """
    options = {"max_pixels": max_pixels, "min_side": min_side, "max_bytes": max_bytes}
    return load_image_pixels(data, allowed_formats=allowed_formats, **options).rgb(keep_alpha)


@dataclass
class Decoded:
    """An image decoded by :func:`load_image_pixels`: the Pillow image (sRGB, upright, no
    metadata) and, for a plain JPEG, the same pixels as the uint8 HxWx3 array the decoder
    wrote them into (``pixels``; None otherwise), the image then made from them when it
    is first asked for (a copy in Pillow's layout: 1 ms at 1 MP)."""

    decoded: Image.Image | None
    pixels: np.ndarray | None = None

    @property
    def image(self) -> Image.Image:
        if self.decoded is None:
            self.decoded = Image.fromarray(self.pixels, "RGB")
        return self.decoded

    def rgb(self, keep_alpha: bool = False) -> Image.Image:
        """The image as ``load_image`` returns it (transparency flattened onto white unless
        ``keep_alpha``)."""
        image = self.image
        if image.mode == "RGBA" and not keep_alpha:
            flat = Image.new("RGB", image.size, _WHITE)
            flat.paste(image, (0, 0), image.getchannel("A"))
            return flat
        return image


def load_image_pixels(
    data: bytes | IO[bytes],
    *,
    max_pixels: int,
    min_side: int,
    max_bytes: int | None = None,
    allowed_formats: Iterable[str] = PHOTO_FORMATS,
) -> Decoded:
    """:func:`load_image` (same checks, same errors), keeping what a photo's model wants:
    a plain JPEG (no colour profile to convert, no orientation to apply) is decoded
    straight into a numpy array (``jpeg_codec``: libjpeg-turbo with the GIL released,
    the same pixels as Pillow's), which the model reads without another copy; the image is
    made from it. An RGBA image keeps its alpha (``Decoded.rgb`` flattens it)."""
    options = {"max_pixels": max_pixels, "min_side": min_side, "max_bytes": max_bytes}
    return open_image(data, allowed_formats=allowed_formats, **options).decode()


@dataclass
class Opened:
    """An image whose header passed every check of :func:`load_image`, not decoded yet."""

    raw: bytes
    image: Image.Image  # Pillow's, opened on ``raw``
    size: tuple[int, int]

    def decode(self, *, keep_pixels: bool = True) -> Decoded:
        """The pixels (:func:`load_image_pixels`). Raises InvalidImage (corrupt or
        truncated data), ImageTooLarge. Once only; from any one thread. ``keep_pixels``
        False: Pillow's decode only, no array (a big photo then holds one copy, not two)."""
        image = self.image
        if ImageFile.LOAD_TRUNCATED_IMAGES:
            # A process-wide Pillow switch (some libraries flip it) that fills missing data
            # with grey instead of failing: refuse to decode anything while it is on.
            raise RuntimeError("PIL.ImageFile.LOAD_TRUNCATED_IMAGES is on; uploads unchecked")
        icc = image.info.get("icc_profile") or None
        orientation = srgb.exif_orientation(image)
        plain = orientation not in srgb.TRANSPOSE and srgb.keeps_pixels(image.mode, icc)
        if keep_pixels and image.format == "JPEG" and plain:
            pixels = jpeg_codec.decode_rgb(self.raw, *self.size)
            if pixels is not None:
                image.close()
                return Decoded(None, pixels)
        return Decoded(_decoded(image, icc, orientation))


def open_image(
    data: bytes | IO[bytes],
    *,
    max_pixels: int,
    min_side: int,
    max_bytes: int | None = None,
    allowed_formats: Iterable[str] = PHOTO_FORMATS,
) -> Opened:
    """The checks of :func:`load_image` that need no pixels (size of the file, format,
    dimensions, a JPEG too short for its frame), with the same errors; ``Opened.decode``
    does the rest, possibly on another thread."""
    allowed = frozenset(allowed_formats)
    if "JPEG" in allowed:
        allowed |= {"MPO"}
    raw = _read_bounded(data, max_bytes)
    image = _open(raw, allowed)
    _check_dimensions(image.size, max_pixels=max_pixels, min_side=min_side)
    if image.format in ("JPEG", "MPO"):
        _check_jpeg_size(raw, *image.size)
    return Opened(raw, image, image.size)


def _check_dimensions(size: tuple[int, int], *, max_pixels: int, min_side: int) -> None:
    width, height = size
    if width * height > max_pixels:
        raise ImageTooLarge(
            f"This image is {width}x{height} pixels ({width * height / 1e6:.0f} megapixels);"
            f" the limit is {max_pixels / 1e6:g} megapixels."
        )
    if min(width, height) < min_side:
        raise ImageTooSmall(
            f"This image is {width}x{height} pixels; each side must be at least {min_side} pixels."
        )


def _decoded(image: Image.Image, icc: bytes | None, orientation: int) -> Image.Image:
    """Pillow's decode of the opened ``image``: 8-bit sRGB RGB or RGBA (RGBA only with a
    transparent pixel), upright, no metadata."""
    try:
        image.seek(0)  # animations: the first frame
        image.load()  # decodes every pixel; data cut short raises here
        decoded = srgb.to_srgb(image, icc)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageTooLarge("This image's dimensions are far too large.") from exc
    except Exception as exc:
        logger.debug("image decode failed: %r", exc)
        raise InvalidImage("This image is corrupt or truncated.") from exc

    if decoded.mode == "RGBA" and decoded.getchannel("A").getextrema()[0] == 255:
        decoded = decoded.convert("RGB")  # opaque: the alpha carries nothing
    if orientation in srgb.TRANSPOSE:
        decoded = decoded.transpose(srgb.TRANSPOSE[orientation])
    if decoded is not image:
        image.close()
    elif getattr(image, "n_frames", 1) > 1:
        # Multi-frame files keep the upload's buffer open for seeking: detach from it.
        decoded = image.copy()
        image.close()
    # (a single-frame file released its buffer when it was loaded)
    decoded.info = {}
    return decoded


def _as_pil(image: np.ndarray | Image.Image) -> Image.Image:
    if isinstance(image, Image.Image):
        return image
    array = np.asarray(image)
    if array.dtype != np.uint8 or array.ndim not in (2, 3):
        raise ValueError(f"expected a uint8 HxW, HxWx3 or HxWx4 array, got {array.dtype}")
    return Image.fromarray(np.ascontiguousarray(array))


def _normalise_format(fmt: str) -> str:
    key = fmt.lower().lstrip(".")
    if key not in _OUTPUT_FORMATS:
        raise InvalidOption(f"Unknown output format {fmt!r}; use jpg, png or webp.")
    return "jpg" if key == "jpeg" else key


def encode_image(
    image: np.ndarray | Image.Image, fmt: OutputFormat | str, *, quality: int = 90
) -> bytes:
    """Encode to JPEG, PNG or WebP bytes with no metadata (no EXIF/GPS/XMP/ICC/comment).

    image: PIL image (RGB, RGBA or L) or uint8 array HxWx3 / HxWx4 / HxW.
    fmt: "jpg" (alias "jpeg"), "png" or "webp"; anything else raises InvalidOption.
    quality: 1..100 for JPEG and lossy WebP (ignored for PNG).
    RGBA keeps its alpha in PNG and WebP; JPEG has none, so it is flattened onto white.
    """
    key = _normalise_format(fmt)
    if key == "jpg" and isinstance(image, np.ndarray) and image.ndim == 3 and image.shape[2] == 3:
        return jpeg_codec.encode_rgb(image, quality)  # Pillow's bytes, without its copy
    pil = _as_pil(image)
    if pil.mode not in {"RGB", "RGBA", "L"}:
        pil = pil.convert("RGBA" if "A" in pil.mode or "transparency" in pil.info else "RGB")
    # Explicit empty metadata: some Pillow plugins copy ICC/comments from image.info.
    if key == "jpg":
        if pil.mode == "RGBA":
            flat = Image.new("RGB", pil.size, _WHITE)
            flat.paste(pil, (0, 0), pil.getchannel("A"))
            pil = flat
        return _saved(pil, "JPEG", quality=quality, exif=b"", icc_profile=None, comment=b"")
    if key == "png":
        return _saved(pil, "PNG", icc_profile=None, **_PNG_OPTIONS)
    return _saved(pil, "WEBP", quality=quality, method=_WEBP_METHOD, exif=b"", icc_profile=None)


def _saved(image: Image.Image, fmt: str, **options: object) -> bytes:
    """``image.save(..., fmt, **options)``'s bytes, encoded into an in-memory file.

    Pillow encodes into a file descriptor with the GIL released, but into a ``BytesIO``
    chunk by chunk from Python, holding it: a 1 MP JPEG then stops every other thread of
    the process for its whole ~3 ms (measured: a thumbnail "beside" it started only once
    it was done). A memfd is a file descriptor with no file behind it (Linux); elsewhere
    a ``BytesIO`` it is.
    """
    if not hasattr(os, "memfd_create"):
        out = io.BytesIO()
        image.save(out, fmt, **options)
        return out.getvalue()
    with open(os.memfd_create("vbg-encode", os.MFD_CLOEXEC), "w+b") as file:
        image.save(file, fmt, **options)
        file.seek(0)
        return file.read()
