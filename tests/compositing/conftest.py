"""Inputs and helpers for the studio/history tests: real photos from scikit-image, files
built with Pillow (one per bad-input class of the website issue), and small factories.

Shared fixtures (``user``, ``other_user``, ``client_logged_in``, ``tmp_media`` — autouse,
``s3_storage``) come from ``tests/conftest.py``.
"""

from __future__ import annotations

import io
import struct
import zlib
from collections.abc import Callable

import numpy as np
import pytest
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image
from skimage import data as skdata

from backgrounds.models import Background
from tests.storage import list_storage_files

# --------------------------------------------------------------------------------------
# Image bytes
# --------------------------------------------------------------------------------------


def astronaut() -> Image.Image:
    """A real portrait: Eileen Collins, 512x512 RGB (public domain, ships with skimage)."""
    return Image.fromarray(skdata.astronaut())


def encode(image: Image.Image, fmt: str = "JPEG", **options) -> bytes:
    out = io.BytesIO()
    image.save(out, fmt, **options)
    return out.getvalue()


def portrait_jpeg() -> bytes:
    return encode(astronaut(), "JPEG", quality=92)


def gradient(width: int, height: int, top=(40, 90, 160), bottom=(240, 200, 150)) -> Image.Image:
    """A smooth two-colour gradient: a plausible background with no person in it."""
    t = np.linspace(0.0, 1.0, height, dtype=np.float32)[:, None, None]
    rows = (1 - t) * np.array(top, np.float32) + t * np.array(bottom, np.float32)
    return Image.fromarray(np.repeat(rows, width, axis=1).astype(np.uint8), "RGB")


def background_jpeg(width: int = 800, height: int = 600) -> bytes:
    return encode(gradient(width, height), "JPEG", quality=90)


def png_with_header(width: int, height: int) -> bytes:
    """A PNG whose header claims width x height pixels; its pixel data is a few bytes.

    Only the header is read before we refuse it, so this is a decompression bomb that
    costs nothing to build.
    """

    def chunk(kind: bytes, payload: bytes) -> bytes:
        crc = zlib.crc32(kind + payload) & 0xFFFFFFFF
        return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", crc)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit RGB
    idat = zlib.compress(b"\x00" * 16)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def exif_rotated_jpeg() -> tuple[bytes, tuple[int, int]]:
    """A portrait stored sideways with EXIF orientation 6; returns (bytes, upright size)."""
    upright = astronaut().crop((56, 0, 456, 512))  # 400x512, a portrait-shaped frame
    stored = upright.transpose(Image.Transpose.ROTATE_90)  # 512x400 on disk
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90° clockwise to display"
    return encode(stored, "JPEG", quality=92, exif=exif.tobytes()), upright.size


def cmyk_jpeg() -> bytes:
    return encode(astronaut().convert("CMYK"), "JPEG", quality=92)


def sixteen_bit_png() -> bytes:
    grey = np.asarray(astronaut().convert("L")).astype(np.uint16) * 257
    image = Image.fromarray(grey)
    assert image.mode.startswith("I;16")
    return encode(image, "PNG")


def palette_alpha_png() -> bytes:
    image = astronaut().convert("P", palette=Image.Palette.ADAPTIVE, colors=200)
    return encode(image, "PNG", transparency=0)


def animated_gif() -> bytes:
    first = astronaut().convert("P", palette=Image.Palette.ADAPTIVE)
    second = gradient(512, 512).convert("P", palette=Image.Palette.ADAPTIVE)
    return encode(first, "GIF", save_all=True, append_images=[second], duration=100, loop=0)


BAD_PHOTOS: dict[str, Callable[[], tuple[bytes, str, int, str]]] = {
    # name: () -> (bytes, file name, expected status, a phrase of the expected message)
    "non_image": lambda: (b"This is a text file, not a photo.\n" * 20, "photo.jpg", 400, "not"),
    "truncated": lambda: (portrait_jpeg()[:6000], "photo.jpg", 400, "corrupt or truncated"),
    "zero_byte": lambda: (b"", "photo.jpg", 400, "empty"),
    "one_by_one": lambda: (
        encode(Image.new("RGB", (1, 1), "red"), "PNG"),
        "a.png",
        400,
        "at least",
    ),
    "huge_dimension": lambda: (
        encode(Image.new("1", (10_000, 6_000)), "PNG"),
        "huge.png",
        413,
        "megapixels",
    ),
    "bomb": lambda: (png_with_header(60_000, 60_000), "bomb.png", 413, "too"),
    "pdf": lambda: (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n", "cv.pdf", 415, "PDF"),
}


# --------------------------------------------------------------------------------------
# Factories
# --------------------------------------------------------------------------------------


def upload(data: bytes, name: str = "portrait.jpg", content_type: str = "image/jpeg"):
    return SimpleUploadedFile(name, data, content_type=content_type)


def make_background(owner=None, *, name: str = "Sunset", width: int = 800, height: int = 600):
    """A library background row with its files in the current default storage."""
    image = gradient(width, height)
    background = Background(owner=owner, name=name, width=width, height=height, size_bytes=0)
    data = encode(image, "JPEG", quality=90)
    background.size_bytes = len(data)
    background.image.save("bg.jpg", ContentFile(data), save=False)
    thumb = image.copy()
    thumb.thumbnail((320, 320))
    background.thumbnail.save("thumb.jpg", ContentFile(encode(thumb, "JPEG")), save=False)
    background.save()
    return background


def stored_names(folder: str = "") -> list[str]:
    """Every file name under ``folder`` in the default storage (local or S3), sorted."""
    prefix = f"{folder.rstrip('/')}/" if folder else ""
    return [name for name in list_storage_files() if name.startswith(prefix)]


@pytest.fixture
def builtin_background(db):
    return make_background(None, name="Studio gradient")


# --------------------------------------------------------------------------------------
# The real model
# --------------------------------------------------------------------------------------


@pytest.fixture
def real_model(request):
    """The real segmentation model, ready (the engine's ``segmenter_ready`` fixture)."""
    try:
        return request.getfixturevalue("segmenter_ready")
    except pytest.FixtureLookupError:
        pytest.skip("the segmentation engine's segmenter_ready fixture is not available")


def _mask_entry_points():
    """(class, method name) for every way to a mask: the base class and each loaded backend
    that overrides ``segment`` or ``segment_matte`` (selfie makes its 8-bit matte without
    going through ``segment``)."""
    from compositing.segmentation import Segmenter

    classes, pending = [], [Segmenter]
    while pending:
        cls = pending.pop()
        classes.append(cls)
        pending.extend(cls.__subclasses__())
    return [
        (cls, name) for cls in classes for name in ("segment", "segment_matte") if name in vars(cls)
    ]


@pytest.fixture
def model_calls(real_model, monkeypatch) -> Callable[[], int]:
    """``model_calls()`` -> how many masks any segmentation model made in this test.

    Counts at ``segment`` and ``segment_matte`` of the base class and of every backend that
    overrides them (one count per outermost call: the base ``segment_matte`` calling
    ``segment`` counts once); the model itself still runs.
    """
    calls = {"n": 0, "depth": 0}

    def counting(real):
        def wrapper(self, *args, **kwargs):
            calls["depth"] += 1
            try:
                if calls["depth"] == 1:
                    calls["n"] += 1
                return real(self, *args, **kwargs)
            finally:
                calls["depth"] -= 1

        return wrapper

    for cls, name in _mask_entry_points():
        monkeypatch.setattr(cls, name, counting(vars(cls)[name]))
    return lambda: calls["n"]


@pytest.fixture
def break_the_model(real_model, monkeypatch) -> None:
    """Every segmentation model raises when asked for a mask."""

    def broken(self, *args, **kwargs):
        raise RuntimeError("the segmentation model must not be called")

    for cls, name in _mask_entry_points():
        monkeypatch.setattr(cls, name, broken)
