"""Test inputs for the API, built in memory (scikit-image's bundled photos, or generated).

Each function returns the bytes of one upload; ``BAD_INPUTS`` lists the website issue's
bad-input classes with what the API must answer for a portrait (``photo``) upload.
"""

from __future__ import annotations

import io
import struct
import zlib
from dataclasses import dataclass
from functools import cache

import numpy as np
from PIL import Image


@cache
def _astronaut() -> np.ndarray:
    from skimage import data

    return data.astronaut()  # 512x512 RGB, a person


@cache
def _coffee() -> np.ndarray:
    from skimage import data

    return data.coffee()  # 400x600 RGB, no person


def _save(image: Image.Image, fmt: str, **options) -> bytes:
    out = io.BytesIO()
    image.save(out, fmt, **options)
    return out.getvalue()


def portrait_jpeg(size: int = 256, quality: int = 90) -> bytes:
    """The astronaut (a person, upper body), sizexsize pixels."""
    image = Image.fromarray(_astronaut()).resize((size, size), Image.Resampling.BILINEAR)
    return _save(image, "JPEG", quality=quality)


def scenery_jpeg(width: int = 240, height: int = 160) -> bytes:
    """A background without a person (coffee cup), widthxheight pixels."""
    image = Image.fromarray(_coffee()).resize((width, height), Image.Resampling.BILINEAR)
    return _save(image, "JPEG", quality=90)


def plain_png(width: int, height: int, color: tuple[int, int, int] = (200, 60, 40)) -> bytes:
    return _save(Image.new("RGB", (width, height), color), "PNG")


def not_an_image() -> bytes:
    return b"Just some text, certainly not a picture.\n" * 20


def zero_bytes() -> bytes:
    return b""


def truncated_jpeg() -> bytes:
    data = portrait_jpeg(256)
    return data[: len(data) // 2]


def one_by_one() -> bytes:
    return plain_png(1, 1)


def _png_chunk(kind: bytes, payload: bytes) -> bytes:
    crc = zlib.crc32(kind + payload) & 0xFFFFFFFF
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", crc)


def huge_dimensions() -> bytes:
    """A PNG header declaring 9000x9000 (81 megapixels) with no pixel data after it."""
    ihdr = struct.pack(">IIBBBBB", 9000, 9000, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr) + _png_chunk(b"IEND", b"")


@cache
def decompression_bomb() -> bytes:
    """A valid 1-bit PNG of 30000x30000 pixels (900 megapixels) in about 100 KB."""
    side = 30_000
    row = b"\x00" + b"\x00" * (side // 8)  # filter byte + packed bits
    compressor = zlib.compressobj(9)
    parts = [compressor.compress(row * 1000) for _ in range(side // 1000)]
    parts.append(compressor.flush())
    ihdr = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", ihdr)
        + _png_chunk(b"IDAT", b"".join(parts))
        + _png_chunk(b"IEND", b"")
    )


def cmyk_jpeg() -> bytes:
    image = Image.fromarray(_astronaut()).resize((200, 200)).convert("CMYK")
    return _save(image, "JPEG", quality=90)


def sixteen_bit_png() -> bytes:
    grey = np.asarray(Image.fromarray(_astronaut()).convert("L").resize((200, 200)))
    values = grey.astype(np.uint16) * 257
    image = Image.frombytes("I;16", (200, 200), values.astype("<u2").tobytes())
    return _save(image, "PNG")


def palette_alpha_png() -> bytes:
    """A palette PNG with a transparent colour (mode P + tRNS)."""
    image = Image.fromarray(_astronaut()).resize((200, 200)).quantize(colors=64)
    return _save(image, "PNG", transparency=0)


def animated_gif() -> bytes:
    base = Image.fromarray(_astronaut()).resize((160, 160))
    frames = [base, base.rotate(10), base.rotate(20)]
    return _save(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)


def animated_webp() -> bytes:
    base = Image.fromarray(_coffee()).resize((180, 120))
    frames = [base, base.rotate(5), base.rotate(10)]
    return _save(frames[0], "WEBP", save_all=True, append_images=frames[1:], duration=100)


def exif_rotated_jpeg(width: int = 240, height: int = 160) -> bytes:
    """Stored landscape widthxheight, EXIF Orientation 6: displayed portrait heightxwidth."""
    image = Image.fromarray(_astronaut()).resize((width, height))
    exif = Image.Exif()
    exif[0x0112] = 6
    return _save(image, "JPEG", quality=90, exif=exif.tobytes())


def pdf_document() -> bytes:
    return b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


def ico_image() -> bytes:
    return _save(Image.new("RGB", (48, 48), (10, 120, 200)), "ICO")


def decode(data: bytes) -> Image.Image:
    """Open and fully decode image bytes (raises if they are not a readable image)."""
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


@dataclass(frozen=True)
class BadInput:
    name: str
    data: bytes
    status: int
    code: str


def rejected_inputs() -> list[BadInput]:
    """Uploads every image endpoint must refuse, with the status and code it must answer."""
    return [
        BadInput("non-image", not_an_image(), 400, "invalid_image"),
        BadInput("truncated", truncated_jpeg(), 400, "invalid_image"),
        BadInput("zero-byte", zero_bytes(), 400, "invalid_image"),
        BadInput("1x1", one_by_one(), 400, "image_too_small"),
        BadInput("huge-dimension", huge_dimensions(), 413, "image_too_large"),
        BadInput("decompression-bomb", decompression_bomb(), 413, "image_too_large"),
        BadInput("pdf", pdf_document(), 415, "unsupported_media_type"),
        BadInput("ico", ico_image(), 415, "unsupported_media_type"),
    ]
