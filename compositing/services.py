"""Composite services: the operations the website, the API and tasks share.

Every function is keyword-only, takes the acting ``user`` and raises the exceptions in
``vbgsite.errors`` (each with a stable ``code``, a human ``message`` and an
``http_status``). Another user's composite or background is ``NotFound``, never "forbidden".

A photo composite is made in three stages, so nothing is ever half-written:

1. **Compute in memory, outside any transaction**: decode and validate the uploads, run
   the segmentation model, compose, encode the result, the mask, the source and the
   thumbnail. Every user error is raised here, before a byte is stored.
2. **Store the files** under random, per-user names (``users/<id>/composites/<hex>/...``).
3. **Insert the row** in a transaction. If stage 2 or 3 fails, every file already written
   (and a background saved to the library for this request) is deleted again, and the
   error is re-raised: there is never a row without its files or a file without its row.

Re-compositing reads the stored source and mask (the cached alpha) and never calls the
model; the new history entry gets its own copies of both, so each row owns its files and
deleting one entry never breaks another.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import IO, Any, Literal

import numpy as np
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.files.storage import Storage
from django.db import transaction
from django.db.models.fields.files import FieldFile
from django.utils import timezone
from django.utils.text import slugify
from PIL import Image

from backgrounds.models import Background
from compositing import imaging
from compositing.compose import compose_image, cover_image, parse_color
from vbgsite.errors import (
    AppError,
    InvalidColor,
    InvalidOption,
    NoPerson,
    NotFound,
)
from compositing.models import Composite

logger = logging.getLogger(__name__)

FileKind = Literal["source", "mask", "result", "thumbnail", "background"]
FILE_KINDS: tuple[str, ...] = ("source", "mask", "result", "thumbnail", "background")
PHOTO_FORMATS: tuple[str, ...] = ("jpg", "png", "webp")
# Content types by file extension (every file we store is one of these).
CONTENT_TYPES = {"jpg": "image/jpeg", "png": "image/png", "webp": "image/webp", "mp4": "video/mp4"}

# Longest side of the history thumbnail, in pixels (the grid shows them at about 300 px,
# so 480 stays sharp on high-density screens).
THUMBNAIL_SIDE = 480
# The source is kept re-encoded (no EXIF/GPS, orientation applied) at a quality where
# re-composites are indistinguishable from the first composite.
SOURCE_QUALITY = 95
RESULT_QUALITY = 90
# A photo "has a person" when at least this fraction of its pixels has alpha >= 0.5.
# The model leaves faint specks on photos without people; a real subject covers far more.
PERSON_MIN_FRACTION = 0.002


# --------------------------------------------------------------------------------------
# Public services
# --------------------------------------------------------------------------------------


def composite_create(
    *,
    user: Any,
    photo: bytes | IO[bytes],
    mode: str,
    background_id: uuid.UUID | str | None = None,
    background_file: IO[bytes] | None = None,
    save_background: bool = False,
    color: str | None = None,
    output_format: str = "jpg",
) -> Composite:
    """Cut the person out of ``photo`` and put them on a new background; record it in history.

    photo: the uploaded file (a Django ``UploadedFile`` or any binary file object, or
        bytes), validated by decoding (JPEG, PNG, WebP, GIF, BMP, TIFF, AVIF; limits
        ``VBG_MAX_UPLOAD_BYTES``, ``VBG_MAX_IMAGE_PIXELS``, ``VBG_MIN_IMAGE_SIDE``).
    mode: ``"image"`` (needs exactly one of ``background_id`` — a built-in or one of the
        user's own backgrounds — or ``background_file``, a one-off upload), ``"color"``
        (needs ``color`` as ``"#RRGGBB"``), ``"blur"`` (the photo's own background,
        blurred) or ``"transparent"``.
    save_background: with ``background_file``, also add it to the user's library (quota
        applies); the composite then refers to the library entry.
    output_format: ``"jpg"``, ``"png"`` or ``"webp"``. JPEG cannot hold transparency, so
        ``mode="transparent"`` with ``"jpg"`` is written as PNG.

    Returns the saved ``Composite`` (status done) with source, mask (8-bit PNG alpha),
    result and thumbnail stored, ``width``/``height`` in pixels, ``model_name`` and
    ``timings`` (``decode_ms``, ``segment_ms``, ``compose_ms``, ``encode_ms``,
    ``store_ms``, ``total_ms``; milliseconds).

    Raises InvalidImage (and its subclasses ImageTooSmall, ImageTooLarge,
    UnsupportedMediaType), FileTooLarge, InvalidOption, InvalidColor, NoPerson (no person
    in the photo), NotFound (background not visible to the user), QuotaExceeded
    (save_background with a full library), ModelUnavailable. Nothing is stored on failure.
    """
    started = time.perf_counter()
    started_at = timezone.now()
    timings: dict[str, float] = {}
    options = _check_options(
        mode=mode,
        background_id=background_id,
        background_file=background_file,
        color=color,
        output_format=output_format,
    )
    with _timed(timings, "decode_ms"):
        picture = _decode_upload(photo, label="Photo")
        background = _resolve_background(
            user=user, options=options, background_file=background_file
        )
    with _timed(timings, "segment_ms"):
        alpha, model_name = _segment(picture)
    if not _has_person(alpha):
        raise NoPerson()

    rendered = _render(picture, alpha, options=options, background=background, timings=timings)
    with _timed(timings, "encode_ms"):
        source_bytes = imaging.encode_image(picture, "jpg", quality=SOURCE_QUALITY)
        mask_bytes = imaging.alpha_to_png(alpha)

    composite = Composite(
        owner=user,
        kind=Composite.Kind.IMAGE,
        source_name=_display_name(photo),
        mode=options.mode,
        color=options.color_hex,
        output_format=rendered.fmt,
        status=Composite.Status.DONE,
        progress=100.0,
        width=picture.width,
        height=picture.height,
        person_found=True,
        model_name=model_name,
        started_at=started_at,
    )
    files = {"source": (source_bytes, "jpg"), "mask": (mask_bytes, "png")}
    return _save_composite(
        composite,
        user=user,
        files=files,
        rendered=rendered,
        background=background,
        background_file=background_file if save_background else None,
        timings=timings,
        started=started,
    )


def composite_recomposite(
    *,
    user: Any,
    composite_id: uuid.UUID | str,
    mode: str,
    background_id: uuid.UUID | str | None = None,
    background_file: IO[bytes] | None = None,
    save_background: bool = False,
    color: str | None = None,
    output_format: str | None = None,
) -> Composite:
    """Put the person from an earlier composite on another background: a NEW history entry.

    Reuses the stored source photo and mask (the cached alpha): the segmentation model is
    not called. Background options are those of ``composite_create``; ``output_format``
    None keeps the original's format. The new entry records the original as ``parent``
    and the original's ``model_name`` (the model that made the mask); its timings have
    ``segment_ms`` 0 and ``mask_reused`` true.

    Raises NotFound (not the user's composite, or its files are gone), InvalidOption (the
    composite is not a finished photo), and the background errors of ``composite_create``.
    """
    started = time.perf_counter()
    started_at = timezone.now()
    timings: dict[str, float] = {}
    original = composite_get(user=user, composite_id=composite_id)
    if original.kind != Composite.Kind.IMAGE or original.status != Composite.Status.DONE:
        raise InvalidOption("Only finished photo composites can be re-composited.")
    if not original.mask or not original.source:
        raise InvalidOption("This composite has no stored mask to reuse.")
    options = _check_options(
        mode=mode,
        background_id=background_id,
        background_file=background_file,
        color=color,
        output_format=output_format or original.output_format,
    )
    with _timed(timings, "decode_ms"):
        source_bytes = _read_file(original.source)
        mask_bytes = _read_file(original.mask)
        picture = imaging.load_image(source_bytes, max_pixels=_max_pixels(), min_side=1)
        alpha = imaging.png_to_alpha(mask_bytes, size=picture.size)
        background = _resolve_background(
            user=user, options=options, background_file=background_file
        )
    timings["segment_ms"] = 0.0
    rendered = _render(picture, alpha, options=options, background=background, timings=timings)

    composite = Composite(
        owner=user,
        kind=Composite.Kind.IMAGE,
        source_name=original.source_name,
        parent=original,
        mode=options.mode,
        color=options.color_hex,
        output_format=rendered.fmt,
        status=Composite.Status.DONE,
        progress=100.0,
        width=picture.width,
        height=picture.height,
        person_found=original.person_found,
        model_name=original.model_name,
        started_at=started_at,
    )
    files = {
        "source": (source_bytes, _suffix(original.source.name, "jpg")),
        "mask": (mask_bytes, "png"),
    }
    timings["mask_reused"] = True
    return _save_composite(
        composite,
        user=user,
        files=files,
        rendered=rendered,
        background=background,
        background_file=background_file if save_background else None,
        timings=timings,
        started=started,
    )


def composite_get(*, user: Any, composite_id: uuid.UUID | str) -> Composite:
    """The user's composite with this id; NotFound for a malformed id or anyone else's."""
    try:
        return (
            Composite.objects.for_user(user)
            .select_related("background", "parent")
            .get(pk=composite_id)
        )
    except (Composite.DoesNotExist, ValidationError, ValueError, TypeError):
        raise NotFound("This composite does not exist.") from None


def composite_delete(*, user: Any, composite_id: uuid.UUID | str) -> None:
    """Delete one of the user's composites: first every file it owns, then the row.

    A saved library background it used is not touched (it belongs to the library).
    Raises NotFound for a missing id or another user's. A storage failure propagates and
    leaves the row in place, so the deletion can be retried.
    """
    composite = composite_get(user=user, composite_id=composite_id)
    storage = composite.source.storage
    for name in composite.file_names():
        storage.delete(name)
    composite.delete()


@dataclass(frozen=True)
class StoredFile:
    """One file a composite shows: where it is and how to hand it to a browser."""

    storage: Storage
    name: str  # storage name (random, never shown as a download name)
    content_type: str
    filename: str  # a friendly download name, e.g. "portrait-composite.jpg"

    def open(self) -> IO[bytes]:
        return self.storage.open(self.name, "rb")


def composite_file(*, user: Any, composite_id: uuid.UUID | str, which: str) -> StoredFile:
    """One of the user's composite files, for serving.

    which: ``"source"`` (the photo as stored: upright, no metadata), ``"mask"`` (8-bit
    PNG, white = person), ``"result"``, ``"thumbnail"`` or ``"background"`` (the one-off
    upload, or the library image used). Raises NotFound for another user's composite, an
    unknown ``which``, or a file this composite does not have.
    """
    if which not in FILE_KINDS:
        raise NotFound("No such file.")
    composite = composite_get(user=user, composite_id=composite_id)
    file: FieldFile | None
    if which == "background":
        file = composite.background_image or None
        if file is None and composite.background is not None:
            file = composite.background.image
    else:
        file = getattr(composite, which)
    if not file:
        raise NotFound("This composite has no such file.")
    ext = _suffix(file.name, "bin")
    content_type = CONTENT_TYPES.get(ext, "application/octet-stream")
    label = {"result": "composite", "thumbnail": "thumbnail"}.get(which, which)
    stem = slugify(PurePosixPath(composite.source_name).stem)[:60] or "photo"
    return StoredFile(
        storage=file.storage,
        name=file.name,
        content_type=content_type,
        filename=f"{stem}-{label}.{ext}",
    )


# --------------------------------------------------------------------------------------
# Options and inputs
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Options:
    mode: str
    fmt: str
    background_id: uuid.UUID | None = None
    color_rgb: tuple[int, int, int] | None = None
    color_hex: str = ""


def background_choice_check(
    *,
    mode: str,
    background_id: uuid.UUID | str | None,
    background_file: IO[bytes] | None,
    color: str | None,
) -> tuple[int, int, int] | None:
    """Check that exactly the inputs ``mode`` needs were given (photos and videos alike).

    Returns the parsed colour (R, G, B) for the solid-colour mode, else None; raises
    InvalidOption / InvalidColor with a message the person can act on.
    """
    has_id = background_id not in (None, "")
    has_file = background_file is not None
    if mode == Composite.Mode.IMAGE:
        if has_id and has_file:
            raise InvalidOption("Choose a background from the library or upload one, not both.")
        if not has_id and not has_file:
            raise InvalidOption("Choose a background image, or upload one.")
    elif has_id or has_file:
        raise InvalidOption("A background image is only used with the background-image mode.")
    if mode == Composite.Mode.COLOR:
        if not color:
            raise InvalidColor("Choose a colour, written as #RRGGBB.")
        return parse_color(color)
    if color:
        raise InvalidOption("A colour is only used with the solid-colour mode.")
    return None


def _check_options(
    *,
    mode: str,
    background_id: uuid.UUID | str | None,
    background_file: IO[bytes] | None,
    color: str | None,
    output_format: str,
) -> _Options:
    """Validate the background choice and format before any work is done."""
    if mode not in Composite.Mode.values:
        raise InvalidOption(
            f"Unknown background mode {mode!r}; use one of {', '.join(Composite.Mode.values)}."
        )
    fmt = (output_format or "").lower().lstrip(".")
    fmt = "jpg" if fmt == "jpeg" else fmt
    if fmt not in PHOTO_FORMATS:
        raise InvalidOption(f"Unknown output format {output_format!r}; use jpg, png or webp.")
    if mode == Composite.Mode.TRANSPARENT and fmt == "jpg":
        fmt = "png"  # JPEG has no alpha channel

    rgb = background_choice_check(
        mode=mode, background_id=background_id, background_file=background_file, color=color
    )
    has_id = background_id not in (None, "")
    color_hex = "#{:02X}{:02X}{:02X}".format(*rgb) if rgb else ""

    parsed_id = None
    if has_id:
        try:
            parsed_id = (
                background_id
                if isinstance(background_id, uuid.UUID)
                else uuid.UUID(str(background_id))
            )
        except ValueError:
            raise NotFound("This background does not exist.") from None
    return _Options(mode=mode, fmt=fmt, background_id=parsed_id, color_rgb=rgb, color_hex=color_hex)


@dataclass
class _Background:
    """The resolved background image of mode "image", and where it came from."""

    image: Image.Image | None = None  # RGB, any size (covered to the photo's size later)
    library: Background | None = None  # a library entry (built-in or the user's own)


def _resolve_background(
    *, user: Any, options: _Options, background_file: IO[bytes] | None
) -> _Background:
    """Decode the background image of mode "image" (a library entry or a one-off upload)."""
    if options.mode != Composite.Mode.IMAGE:
        return _Background()
    if background_file is not None:
        image = _decode_upload(
            background_file, label="Background image", allowed=imaging.BACKGROUND_FORMATS
        )
        return _Background(image=image)
    library = Background.objects.for_user(user).filter(pk=options.background_id).first()
    if library is None:
        raise NotFound("This background does not exist.")
    try:
        data = _read_file(library.image)
    except NotFound:
        raise NotFound("This background's image is no longer available.") from None
    image = imaging.load_image(data, max_pixels=_max_pixels(), min_side=1)
    return _Background(image=image.convert("RGB"), library=library)


def _decode_upload(
    upload: bytes | IO[bytes],
    *,
    label: str,
    allowed: frozenset[str] = imaging.PHOTO_FORMATS,
) -> Image.Image:
    """Validate an upload by decoding it; errors keep their class and name the upload."""
    try:
        image = imaging.load_image(
            upload,
            max_pixels=_max_pixels(),
            min_side=settings.VBG_MIN_IMAGE_SIDE,
            max_bytes=settings.VBG_MAX_UPLOAD_BYTES,
            allowed_formats=allowed,
        )
    except AppError as error:
        raise type(error)(f"{label}: {error.message}") from error
    if image.mode != "RGB":
        image = image.convert("RGB")
    return image


def _max_pixels() -> int:
    return settings.VBG_MAX_IMAGE_PIXELS


def _display_name(upload: bytes | IO[bytes]) -> str:
    """The upload's own file name (shown to its owner only), without any directory part."""
    name = getattr(upload, "name", "") or ""
    return PurePosixPath(str(name).replace("\\", "/")).name[:255]


def _suffix(name: str, default: str) -> str:
    return PurePosixPath(name).suffix.lower().lstrip(".") or default


def _read_file(file: FieldFile) -> bytes:
    try:
        with file.storage.open(file.name, "rb") as handle:
            return handle.read()
    except (FileNotFoundError, OSError) as exc:
        logger.warning("stored file %s is missing: %r", file.name, exc)
        raise NotFound("A stored file of this composite is missing.") from exc


# --------------------------------------------------------------------------------------
# Model, compositing and encoding
# --------------------------------------------------------------------------------------


def _segment(image: Image.Image) -> tuple[np.ndarray, str]:
    """alpha float32 HxW in 0..1 for ``image``, and the name of the model that made it."""
    from compositing.engine import get_engine  # the model stays unloaded until first use

    engine = get_engine()
    alpha = engine.segment(image)
    return alpha, engine.model_name


def _has_person(alpha: np.ndarray) -> bool:
    """alpha: float32 HxW in 0..1. True when enough pixels are confidently the person."""
    return int(np.count_nonzero(alpha >= 0.5)) >= PERSON_MIN_FRACTION * alpha.size


@dataclass
class _Rendered:
    fmt: str
    result: bytes
    thumbnail: bytes
    thumbnail_ext: str
    background: bytes | None = None  # the one-off background, covered to the photo's size


def _render(
    picture: Image.Image,
    alpha: np.ndarray,
    *,
    options: _Options,
    background: _Background,
    timings: dict[str, float],
) -> _Rendered:
    """Compose and encode: picture RGB WxH, alpha float32 HxW in 0..1 -> encoded files."""
    with _timed(timings, "compose_ms"):
        covered = None
        if background.image is not None:
            covered = cover_image(background.image, picture.width, picture.height)
        result = compose_image(
            picture,
            alpha,
            mode=options.mode,
            background=covered,
            color=options.color_rgb,
        )
    with _timed(timings, "encode_ms"):
        result_bytes = imaging.encode_image(result, options.fmt, quality=RESULT_QUALITY)
        thumbnail_ext = "webp" if result.mode == "RGBA" else "jpg"
        thumbnail = imaging.make_thumbnail(result, THUMBNAIL_SIDE, fmt=thumbnail_ext)
        one_off = None
        if covered is not None and background.library is None:
            one_off = imaging.encode_image(covered, "jpg", quality=RESULT_QUALITY)
    return _Rendered(
        fmt=options.fmt,
        result=result_bytes,
        thumbnail=thumbnail,
        thumbnail_ext=thumbnail_ext,
        background=one_off,
    )


# --------------------------------------------------------------------------------------
# Storing: all files, then the row; undo everything on failure
# --------------------------------------------------------------------------------------


@dataclass
class _Undo:
    """What this request has written so far, to delete again if a later step fails."""

    storage: Storage | None = None
    names: list[str] = field(default_factory=list)
    steps: list[Callable[[], None]] = field(default_factory=list)

    def run(self) -> None:
        for name in reversed(self.names):
            try:
                self.storage.delete(name)
            except Exception:
                logger.exception("could not delete %s after a failed composite", name)
        for step in reversed(self.steps):
            try:
                step()
            except Exception:
                logger.exception("could not undo a step of a failed composite")


def _save_composite(
    composite: Composite,
    *,
    user: Any,
    files: dict[str, tuple[bytes, str]],
    rendered: _Rendered,
    background: _Background,
    background_file: IO[bytes] | None,
    timings: dict[str, float],
    started: float,
) -> Composite:
    """Store every file, then insert the row; on any failure delete what was written."""
    undo = _Undo(storage=composite.source.storage)
    store_started = time.perf_counter()
    try:
        if background_file is not None:
            composite.background = _save_to_library(user=user, upload=background_file, undo=undo)
        elif background.library is not None:
            composite.background = background.library
        named = dict(files)
        named["result"] = (rendered.result, rendered.fmt)
        named["thumbnail"] = (rendered.thumbnail, rendered.thumbnail_ext)
        if rendered.background is not None and background_file is None:
            named["background_image"] = (rendered.background, "jpg")
        for field_name, (data, ext) in named.items():
            field_file: FieldFile = getattr(composite, field_name)
            field_file.save(f"{field_name}.{ext}", ContentFile(data), save=False)
            undo.names.append(field_file.name)
        timings["store_ms"] = _ms(time.perf_counter() - store_started)
        timings["total_ms"] = _ms(time.perf_counter() - started)
        composite.timings = timings
        composite.finished_at = timezone.now()
        with transaction.atomic():
            composite.save(force_insert=True)
    except BaseException:
        undo.run()
        raise
    return composite


def _save_to_library(*, user: Any, upload: IO[bytes], undo: _Undo) -> Background:
    """Add a one-off background upload to the user's library (quota applies)."""
    from backgrounds.services import background_delete, background_upload

    if hasattr(upload, "seek"):
        upload.seek(0)
    stem = PurePosixPath(_display_name(upload)).stem.replace("_", " ").replace("-", " ")
    name = " ".join(stem.split())[:100] or "My background"
    saved = background_upload(user=user, file=upload, name=name)
    undo.steps.append(lambda: background_delete(user=user, background_id=saved.pk))
    return saved


@contextmanager
def _timed(timings: dict[str, float], key: str) -> Iterator[None]:
    """Add the block's wall time to ``timings[key]`` in milliseconds."""
    started = time.perf_counter()
    try:
        yield
    finally:
        timings[key] = round(timings.get(key, 0.0) + _ms(time.perf_counter() - started), 1)


def _ms(seconds: float) -> float:
    return round(seconds * 1000.0, 1)
