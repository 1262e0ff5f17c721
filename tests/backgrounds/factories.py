"""Factories and image files for background tests (built with Pillow / scikit-image)."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from backgrounds.models import Background


def encode(image: Image.Image, fmt: str, **options) -> bytes:
    out = io.BytesIO()
    image.save(out, fmt, **options)
    return out.getvalue()


def photo(width: int = 640, height: int = 360) -> Image.Image:
    """A real photo (scikit-image's coffee, public domain), resized: 8-bit RGB."""
    from skimage import data

    return Image.fromarray(data.coffee()).resize((width, height), Image.Resampling.BILINEAR)


def jpeg(width: int = 640, height: int = 360, **options) -> bytes:
    return encode(photo(width, height), "JPEG", quality=90, **options)


def upload(data: bytes, name: str = "holiday.jpg", content_type: str = "image/jpeg"):
    return SimpleUploadedFile(name, data, content_type=content_type)


def png_header_only(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims width x height: a decompression bomb for free."""

    def chunk(kind: bytes, payload: bytes) -> bytes:
        crc = zlib.crc32(kind + payload) & 0xFFFFFFFF
        return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\x00" * 64))
        + chunk(b"IEND", b"")
    )


def make_builtin(slug: str = "test-grey", name: str = "Test grey") -> Background:
    """A small built-in background row (owner NULL) with its files in storage."""
    image = Image.new("RGB", (320, 180), (120, 120, 125))
    data = encode(image, "JPEG")
    background = Background(
        owner=None, slug=slug, name=name, width=320, height=180, size_bytes=len(data)
    )
    background.image.save(f"{slug}.jpg", ContentFile(data), save=False)
    background.thumbnail.save(f"{slug}.jpg", ContentFile(data), save=False)
    background.save()
    return background


def stored_image(background: Background, which: str = "image") -> Image.Image:
    with getattr(background, which).open("rb") as handle:
        image = Image.open(io.BytesIO(handle.read()))
        image.load()
    return image


def mean_colour(image: Image.Image) -> np.ndarray:
    return np.asarray(image.convert("RGB"), dtype=np.float32).reshape(-1, 3).mean(axis=0)
