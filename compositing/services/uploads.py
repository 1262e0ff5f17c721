"""Uploaded files as the services see them: decoded and validated images, display names."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import IO, Any

import numpy as np
from django.conf import settings
from PIL import Image

from compositing import imaging, srgb
from compositing.compose_arrays import ARRAYS_MAX_PIXELS
from compositing.engine import Later
from compositing.jpeg_strip import jpeg_without_metadata
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
    with _labelled(label):
        return imaging.load_image(
            upload,
            max_pixels=settings.VBG_MAX_IMAGE_PIXELS,
            min_side=settings.VBG_MIN_IMAGE_SIDE,
            max_bytes=settings.VBG_MAX_UPLOAD_BYTES,
            allowed_formats=allowed,
        )


# Photos up to this many pixels keep their decoder's array for the model and detectors
# (``DecodedPhoto``); above, Pillow's decode alone (the memory of a 48 MP photo).
PIXELS_MAX_PIXELS = 16_000_000


class DecodedPhoto:
    """A photo upload decoded: ``picture`` (PIL RGB, as ``image_upload_decode`` returns it)
    and, for a plain JPEG, the same pixels as the uint8 HxWx3 array they were decoded
    into, which the model, the detectors and the compose read without a copy. With the
    array, the picture (Pillow's own layout: a copy, 1 ms at 1 MP) is made when first
    asked for, or on the side thread once it is idle (``picture_beside``), for what still
    wants an image (the compose's statistics, a bigger photo's paste)."""

    def __init__(
        self, picture: Image.Image | Callable[[], Image.Image], pixels: np.ndarray | None = None
    ) -> None:
        self._picture: Image.Image | Later[Image.Image] | Callable[[], Image.Image] = picture
        self._pixels = pixels
        shape = pixels.shape if pixels is not None else None
        self.size = (shape[1], shape[0]) if shape else picture.size  # type: ignore[union-attr]

    def picture_beside(self) -> None:
        """Have the side thread make the picture when it has nothing more urgent."""
        if not isinstance(self._picture, Image.Image | Later):
            self._picture = Later(self._picture)

    @property
    def picture(self) -> Image.Image:
        picture = self._picture
        if isinstance(picture, Image.Image):
            return picture
        image = picture.result() if isinstance(picture, Later) else picture()
        self._picture = image
        return image

    def take_pixels(self) -> Image.Image | np.ndarray:
        """What the model reads: the array, or the picture when there is none. Over
        ``compose_arrays.ARRAYS_MAX_PIXELS`` the array is given up by this object (the model
        is its last reader; at 16 MP it is 48 MB); smaller ones stay for the compose."""
        pixels = self._pixels
        if pixels is None:
            return self.picture
        if pixels.shape[0] * pixels.shape[1] > ARRAYS_MAX_PIXELS:
            self._pixels = None
        return pixels

    @property
    def pixels(self) -> np.ndarray | None:
        """The array, while this object keeps it (see ``take_pixels``)."""
        return self._pixels


def photo_upload_decode(upload: bytes | IO[bytes], *, label: str) -> DecodedPhoto:
    """:func:`image_upload_decode` for a portrait (``imaging.PHOTO_FORMATS``), keeping the
    decoder's array of a plain JPEG for the model (``imaging.load_image_pixels``)."""
    return photo_upload_open(upload, label=label).decode()


@dataclass
class OpenedPhoto:
    """A photo upload whose header passed every check (:func:`photo_upload_open`)."""

    opened: imaging.Opened
    label: str
    # (width, height) once decoded: the header's, swapped when the EXIF orientation turns
    # it a quarter (read here, before a decode on another thread reads the same image).
    upright_size: tuple[int, int]

    @property
    def pixel_count(self) -> int:
        return self.opened.size[0] * self.opened.size[1]

    def decode(self) -> DecodedPhoto:
        """Decode it (from any one thread): errors as :func:`image_upload_decode`'s. Photos
        over ``PIXELS_MAX_PIXELS`` keep no array: Pillow's image alone (at 48 MP 192 MB; the
        array would add 144 MB for the whole request, where the model's own copy of the
        photo lives only while it runs)."""
        keep = self.pixel_count <= PIXELS_MAX_PIXELS
        with _labelled(self.label):
            decoded = self.opened.decode(keep_pixels=keep)
        if decoded.pixels is None:
            return DecodedPhoto(decoded.rgb())
        return DecodedPhoto(decoded.rgb, decoded.pixels)


def photo_upload_open(upload: bytes | IO[bytes], *, label: str) -> OpenedPhoto:
    """The checks of :func:`photo_upload_decode` that need no pixels (file size, format,
    dimensions), with the same errors; ``OpenedPhoto.decode`` decodes it."""
    with _labelled(label):
        opened = imaging.open_image(
            upload,
            max_pixels=settings.VBG_MAX_IMAGE_PIXELS,
            min_side=settings.VBG_MIN_IMAGE_SIDE,
            max_bytes=settings.VBG_MAX_UPLOAD_BYTES,
            allowed_formats=imaging.PHOTO_FORMATS,
        )
    width, height = opened.size
    quarter = srgb.exif_orientation(opened.image) in (5, 6, 7, 8)
    return OpenedPhoto(opened, label, (height, width) if quarter else (width, height))


@contextmanager
def _labelled(label: str) -> Iterator[None]:
    """Errors keep their class; their message starts with ``label`` (naming the upload)."""
    try:
        yield
    except AppError as error:
        raise type(error)(f"{label}: {error.message}") from error


def photo_source_bytes(upload: bytes | IO[bytes], decoded: DecodedPhoto, *, quality: int) -> bytes:
    """The source file a composite keeps for the photo ``decoded`` from ``upload``: a JPEG.

    When the upload is a plain colour JPEG whose pixels were used unchanged (no ICC
    profile converted, no EXIF rotation applied), its own bytes without metadata
    (``jpeg_without_metadata``: no EXIF/GPS/XMP/comments): no re-encode, no generation
    loss. Otherwise the decoded picture encoded at ``quality``.
    """
    raw = upload if isinstance(upload, bytes) else _reread(upload)
    if raw is not None and _is_plain_jpeg(raw, decoded.size):
        stripped = jpeg_without_metadata(raw)
        if stripped is not None:
            return stripped
    return imaging.encode_image(decoded.picture, "jpg", quality=quality)


def _reread(upload: IO[bytes]) -> bytes | None:
    if not hasattr(upload, "seek"):
        return None
    upload.seek(0)
    return upload.read()


def _is_plain_jpeg(raw: bytes, size: tuple[int, int]) -> bool:
    """A JPEG (not MPO) that decodes to RGB of ``size`` with no colour profile to convert
    and no orientation to apply: its decoded pixels are the photo's, exactly."""
    try:
        with Image.open(io.BytesIO(raw)) as image:
            orientation = int(image.getexif().get(0x0112, 1))
            return (
                image.format == "JPEG"
                and image.mode == "RGB"
                and image.size == size
                and not image.info.get("icc_profile")
                and orientation == 1
            )
    except Exception:  # unreadable header or EXIF: re-encode
        return False


def stored_image_decode(data: bytes) -> Image.Image:
    """An image we stored ourselves (already validated) -> PIL RGB image. A plain JPEG (a
    stored source, a library background) is decoded by libjpeg-turbo into an array with
    the GIL released (``imaging.load_image_pixels``; the same pixels as Pillow's decode):
    a 1920x1080 background 3.5 against 5.3 ms, and the request's own thread runs on
    meanwhile (``ResolvedBackground.prefetch`` decodes one beside a photo's decode)."""
    image = imaging.load_image_pixels(
        data, max_pixels=settings.VBG_MAX_IMAGE_PIXELS, min_side=1
    ).rgb()
    return image if image.mode == "RGB" else image.convert("RGB")


def upload_display_name(upload: Any) -> str:
    """The upload's own file name (shown to its owner only), without any directory part."""
    name = getattr(upload, "name", "") or ""
    return PurePosixPath(str(name).replace("\\", "/")).name[:255]
