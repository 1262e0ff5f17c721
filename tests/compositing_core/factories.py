"""Image inputs for the compositing core tests, built in memory.

Real photographs come from scikit-image (``astronaut``, ``coffee``, ``chelsea``: public
domain, shipped with the package); every bad file is generated with Pillow or by hand.
"""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
from PIL import Image
from skimage import data as skdata

LIMITS = {"max_pixels": 50_000_000, "min_side": 32}


def astronaut() -> Image.Image:
    """A real portrait, 512x512 RGB."""
    return Image.fromarray(skdata.astronaut())


def coffee() -> Image.Image:
    """A real photo, 600x400 RGB (used as a background)."""
    return Image.fromarray(skdata.coffee())


def encode(image: Image.Image, fmt: str = "JPEG", **options) -> bytes:
    out = io.BytesIO()
    image.save(out, fmt, **options)
    return out.getvalue()


def png_chunk(kind: bytes, payload: bytes) -> bytes:
    crc = zlib.crc32(kind + payload) & 0xFFFFFFFF
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", crc)


def png_declaring(width: int, height: int) -> bytes:
    """A PNG whose header claims width x height RGB pixels but whose data is a few bytes:
    a decompression bomb that costs nothing to build (only the header is ever read)."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 16)
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", ihdr)
        + png_chunk(b"IDAT", idat)
        + png_chunk(b"IEND", b"")
    )


def quadrants(size: int = 64) -> Image.Image:
    """A square with four distinct colour quadrants: red TL, green TR, blue BL, white BR."""
    half = size // 2
    array = np.zeros((size, size, 3), np.uint8)
    array[:half, :half] = (255, 0, 0)
    array[:half, half:] = (0, 255, 0)
    array[half:, :half] = (0, 0, 255)
    array[half:, half:] = (255, 255, 255)
    return Image.fromarray(array)


def disc_alpha(height: int, width: int, *, radius: float, soft: float = 0.0) -> np.ndarray:
    """float32 HxW alpha: 1 inside a centred disc, 0 outside, a linear ramp `soft` px wide."""
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    distance = np.hypot(yy - (height - 1) / 2, xx - (width - 1) / 2)
    if soft <= 0:
        return (distance <= radius).astype(np.float32)
    return np.clip((radius - distance) / soft + 0.5, 0.0, 1.0).astype(np.float32)
