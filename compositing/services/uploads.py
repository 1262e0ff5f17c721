"""Uploaded files as the services see them: decoded and validated images, display names."""

from __future__ import annotations

from pathlib import PurePosixPath
from typing import IO, Any

from django.conf import settings
from PIL import Image

from compositing import imaging
from vbgsite.errors import AppError


def image_upload_decode(
    upload: bytes | IO[bytes],
    *,
    label: str,
    allowed: frozenset[str] = imaging.PHOTO_FORMATS,
) -> Image.Image:
    """Validate an uploaded image by decoding it -> PIL RGB image (EXIF-transposed).

    Limits: ``VBG_MAX_UPLOAD_BYTES``, ``VBG_MAX_IMAGE_PIXELS``, ``VBG_MIN_IMAGE_SIDE``.
    Errors keep their class (InvalidImage and subclasses, FileTooLarge) and their message
    starts with ``label`` ("Photo: ...", "Background image: ..."), naming the upload.
    """
    try:
        image = imaging.load_image(
            upload,
            max_pixels=settings.VBG_MAX_IMAGE_PIXELS,
            min_side=settings.VBG_MIN_IMAGE_SIDE,
            max_bytes=settings.VBG_MAX_UPLOAD_BYTES,
            allowed_formats=allowed,
        )
    except AppError as error:
        raise type(error)(f"{label}: {error.message}") from error
    return image if image.mode == "RGB" else image.convert("RGB")


def stored_image_decode(data: bytes) -> Image.Image:
    """An image we stored ourselves (already validated) -> PIL RGB image."""
    image = imaging.load_image(data, max_pixels=settings.VBG_MAX_IMAGE_PIXELS, min_side=1)
    return image if image.mode == "RGB" else image.convert("RGB")


def upload_display_name(upload: Any) -> str:
    """The upload's own file name (shown to its owner only), without any directory part."""
    name = getattr(upload, "name", "") or ""
    return PurePosixPath(str(name).replace("\\", "/")).name[:255]
