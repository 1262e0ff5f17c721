"""Photo composites: create one, and re-composite an earlier one onto another background.

Both share one render-and-save path. Every function is keyword-only, takes the acting
``user`` and raises the exceptions in ``vbgsite.errors`` (each with a stable ``code``, a
human ``message`` and an ``http_status``).

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

import time
import uuid
from collections.abc import Mapping
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import datetime
from typing import IO, Any

import numpy as np
from django.utils import timezone
from PIL import Image

from compositing import imaging
from compositing.compose_stats import LowColour
from compositing.engine import (
    compute_beside,
    compute_inline,
    compute_shared,
    compute_slot,
)
from compositing.models import Composite
from compositing.placement import (
    Placement,
    render,
)
from compositing.services.background_choice import (
    BackgroundChoice,
    ResolvedBackground,
    background_attach,
    background_choice_check,
    background_resolve,
    composite_notice_add,
)
from compositing.services.beside import CanvasBeside, ComposeBeside
from compositing.services.composites import composite_delete, composite_get
from compositing.services.cut_out import CANVAS_BESIDE_MAX_PIXELS, mask_file, photo_cut_out
from compositing.services.placement import placement_as_dict, placement_parse
from compositing.services.rate_limits import composite_rate_take
from compositing.services.stage_timings import Timings, ms, timed, timed_call
from compositing.services.stored_files import (
    FileData,
    Undo,
    file_suffix,
    files_store_then_insert,
    stored_file_read,
)
from compositing.services.uploads import (
    DecodedPhoto,
    photo_upload_open,
    stored_image_decode,
    upload_display_name,
)
from compositing.thumbnails import make_thumbnail
from vbgsite.errors import InvalidOption

PHOTO_FORMATS: tuple[str, ...] = ("jpg", "png", "webp")
# Longest side of the history thumbnail, in pixels (the grid shows them at about 300 px,
# so 480 stays sharp on high-density screens).
THUMBNAIL_SIDE = 480
RESULT_QUALITY = 90
MISSING_FILE = "A stored file of this composite is missing."
# Said (composite_notices), not done silently, when the format asked for cannot hold it.
TRANSPARENT_AS_PNG = (
    "JPEG cannot hold transparency, so this composite was saved as PNG (WebP would keep it too)."
)
MATTE_AS_PNG = "The matte alone is a greyscale PNG, so this composite was saved as PNG."


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
    placement: Mapping[str, Any] | None = None,
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
        ``mode="transparent"`` with ``"jpg"`` is written as PNG (and ``channels=alpha``,
        the matte alone, is always a greyscale PNG).
    placement: the placement options by their API names (``output_size``,
        ``background_focus``, ``background_zoom``, ``background_mirror``, ``scale``,
        ``position``, ``crop``, ``crop_margin``, ``channels``, ``blur_strength``), raw
        values as sent; parsed by ``compositing.services.placement`` and stored,
        canonical, on ``Composite.placement``.

    Returns the saved ``Composite`` (status done) with source, mask (8-bit PNG alpha),
    result and thumbnail stored, ``width``/``height`` in pixels, ``model_name`` and
    ``timings`` (``decode_ms``, ``segment_ms``, ``person_check_ms``, ``compose_ms``,
    ``encode_ms``, ``store_ms``, ``total_ms``; milliseconds).

    Raises InvalidImage (and its subclasses ImageTooSmall, ImageTooLarge,
    UnsupportedMediaType), FileTooLarge, InvalidOption, InvalidColor, NoPerson (no person
    in the photo), NotFound (background not visible to the user), QuotaExceeded
    (save_background with a full library), ModelUnavailable, RateLimited (over the
    ``composite`` rate, counted before any work). Nothing is stored on failure.
    """
    composite_rate_take(user=user)
    request = _PhotoRequest(user=user, save_upload=background_file if save_background else None)
    request.check(
        mode=mode,
        background_id=background_id,
        background_file=background_file,
        color=color,
        output_format=output_format,
        placement=placement,
    )
    with compute_slot():  # the CPU-heavy part, VBG_COMPUTE_SLOTS at a time per process
        with timed(request.timings, "decode_ms"):
            decoded, background = _photo_and_background(photo, request, background_file)
        prepared = ComposeBeside(decoded, background, request.placement, request.timings)
        cut = photo_cut_out(photo, decoded, request.timings, idle=prepared.start, mask_now=False)
    composite = Composite(
        source_name=upload_display_name(photo), person_found=True, model_name=cut.model_name
    )
    inputs = _ComposeInputs(
        picture=decoded.picture,
        alpha=cut.alpha,
        pixels=decoded.pixels,
        colour=prepared.colour(),
        canvas=prepared.canvas,
        mask_timings=request.timings,
    )
    files = cut.files
    del decoded, prepared, cut  # the inputs are let go once the result is encoded
    return _render_and_save(
        request, composite, inputs, background=background, files=files, photo_owned=True
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
    placement: Mapping[str, Any] | None = None,
) -> Composite:
    """Put the person from an earlier composite on another background: a NEW history entry.

    Reuses the stored source photo and mask (the cached alpha): the segmentation model is
    not called. Background options are those of ``composite_create``; the format (None) and
    placement options not given keep the original's (its framing). The new entry records
    the original as ``parent`` and its ``model_name`` (the model that made the mask); its
    timings have ``segment_ms`` 0 and ``mask_reused`` true.

    A studio draft (``composite_draft_create``) is saved this way too: the new entry is
    the draft's first history entry (no ``parent``; its timings keep the draft's model
    time) and the draft is deleted once the entry is stored.

    Raises NotFound (not the user's composite, or its files are gone), InvalidOption (the
    composite is not a finished photo), and the background and placement errors of
    ``composite_create``.
    """
    request = _PhotoRequest(user=user, save_upload=background_file if save_background else None)
    original = composite_get(user=user, composite_id=composite_id)
    is_draft = original.status == Composite.Status.DRAFT
    if not is_draft:  # a draft's save: the draft counted already
        composite_rate_take(user=user)
    finished = original.status == Composite.Status.DONE or is_draft
    if original.kind != Composite.Kind.IMAGE or not finished:
        raise InvalidOption("Only finished photo composites can be re-composited.")
    if not original.mask or not original.source:
        raise InvalidOption("This composite has no stored mask to reuse.")
    request.check(
        mode=mode,
        background_id=background_id,
        background_file=background_file,
        color=color,
        output_format=output_format or original.output_format,
        placement={**(original.placement or {}), **(placement or {})},
    )
    with timed(request.timings, "decode_ms"):
        source_bytes = stored_file_read(original.source, missing=MISSING_FILE)
        mask_bytes = stored_file_read(original.mask, missing=MISSING_FILE)
        picture = stored_image_decode(source_bytes)
        inputs = _ComposeInputs(picture, imaging.png_to_alpha(mask_bytes, size=picture.size))
        del picture  # the inputs are let go once the result is encoded
        background = background_resolve(
            user=user, choice=request.choice, background_file=background_file, lazy=True
        )
    request.timings["segment_ms"] = (
        (original.timings or {}).get("segment_ms", 0.0) if is_draft else 0.0
    )
    composite = Composite(
        source_name=original.source_name,
        parent=None if is_draft else original,
        person_found=original.person_found,
        model_name=original.model_name,
    )
    files = {
        "source": (source_bytes, file_suffix(original.source.name, "jpg")),
        "mask": (mask_bytes, "png"),
    }
    request.timings["mask_reused"] = not is_draft
    saved = _render_and_save(request, composite, inputs, background=background, files=files)
    if is_draft:
        composite_delete(user=user, composite_id=original.pk)
    return saved


def _photo_and_background(
    photo: bytes | IO[bytes], request: _PhotoRequest, background_file: IO[bytes] | None
) -> tuple[DecodedPhoto, ResolvedBackground]:
    """The photo decoded on the side thread while the request looks up its background (up
    to ``CANVAS_BESIDE_MAX_PIXELS``: bigger ones in turn, as every big buffer): both are
    ready sooner on two cores. A bad photo is still the error reported first."""
    opened = photo_upload_open(photo, label="Photo")
    small = opened.pixel_count <= CANVAS_BESIDE_MAX_PIXELS
    decoding = (compute_beside if small else compute_inline)(opened.decode)
    try:
        background = background_resolve(
            user=request.user, choice=request.choice, background_file=background_file, lazy=True
        )
        if small and request.placement.channels != "alpha":  # (the matte alone: no canvas)
            # A library image not cached at this size: decoded beside the photo's.
            background.prefetch(opened.upright_size, request.placement)
    except Exception:
        decoding.result()  # raises the photo's error, if any
        raise
    return decoding.result(), background


@dataclass
class _PhotoRequest:
    """One create or re-composite request: who, the checked options, and its clock."""

    user: Any
    save_upload: IO[bytes] | None  # the one-off background, to be saved to the library
    choice: BackgroundChoice = field(default_factory=lambda: BackgroundChoice(mode=""))
    fmt: str = ""
    placement: Placement = field(default_factory=Placement)
    started: float = field(default_factory=time.perf_counter)
    started_at: datetime = field(default_factory=timezone.now)
    timings: dict[str, float] = field(default_factory=dict)
    notices: list[str] = field(default_factory=list)

    def check(
        self,
        *,
        mode: str,
        background_id: uuid.UUID | str | None,
        background_file: IO[bytes] | None,
        color: str | None,
        output_format: str,
        placement: Mapping[str, Any] | None = None,
    ) -> None:
        """Validate the background choice, placement and format before any work is done."""
        self.choice = background_choice_check(
            mode=mode, background_id=background_id, background_file=background_file, color=color
        )
        fmt = (output_format or "").lower().lstrip(".")
        fmt = "jpg" if fmt == "jpeg" else fmt
        if fmt not in PHOTO_FORMATS:
            raise InvalidOption(f"Unknown output format {output_format!r}; use jpg, png or webp.")
        self.placement = placement_parse(placement)
        if self.placement.channels == "alpha" and fmt != "png":
            fmt = "png"  # the matte alone: a greyscale PNG
            self.notices.append(MATTE_AS_PNG)
        elif mode == Composite.Mode.TRANSPARENT and fmt == "jpg":
            fmt = "png"  # JPEG has no alpha channel
            self.notices.append(TRANSPARENT_AS_PNG)
        self.fmt = fmt


@dataclass
class _ComposeInputs:
    """What a photo's compose reads: the picture (RGB WxH), its alpha (uint8 HxW or float32
    0..1) and, for a photo decoded into an array, that array (``pixels``), its colour
    statistics and the background's canvas made beside (``CanvasBeside``). Let go as soon
    as the result is encoded: the files' round trips to storage (tens of milliseconds on
    S3, with any number of requests in them at once) then hold the files' bytes only, not
    ~12 MB of a 1 MP photo's buffers each. ``mask_timings``: the alpha's PNG (the ``mask``
    file) is still to be made, once composed (``cut_out.mask_file``), timed there."""

    picture: Image.Image | None
    alpha: np.ndarray | None
    pixels: np.ndarray | None = None
    colour: LowColour | None = None
    canvas: CanvasBeside | None = None
    mask_timings: Timings | None = None

    def release(self) -> None:
        self.picture = self.alpha = self.pixels = self.colour = self.canvas = None


def _render_and_save(
    request: _PhotoRequest,
    composite: Composite,
    inputs: _ComposeInputs,
    *,
    background: ResolvedBackground,
    files: dict[str, FileData | Future[FileData]],
    photo_owned: bool = False,
) -> Composite:
    """Compose and encode ``inputs`` (released then), then store every file (``files``: the
    source and mask, possibly still being encoded beside) and insert the row; on any
    failure delete what was written. ``photo_owned``: the picture is given up (a big
    photo's result may be painted into it: ``render``)."""
    choice = request.choice
    stored, encoded, (width, height), one_off = _render_and_encode(
        request, inputs, background, files, photo_owned
    )
    composite.owner = request.user
    composite.kind = Composite.Kind.IMAGE
    composite.mode, composite.color = choice.mode, choice.color_hex
    composite.output_format = request.fmt
    composite.placement = placement_as_dict(request.placement)
    composite.status, composite.progress = Composite.Status.DONE, 100.0
    composite.width, composite.height = width, height
    composite.started_at = request.started_at
    store_started = time.perf_counter()
    undo = Undo(storage=composite.source.storage)
    files = {
        **stored,
        **background_attach(
            composite,
            user=request.user,
            background=background,
            save_upload=request.save_upload,
            one_off=one_off,
            undo=undo,
        ),
        **encoded,
    }
    del one_off, stored, encoded

    def finish() -> None:
        timings = request.timings
        timings["store_ms"] = ms(time.perf_counter() - store_started)
        timings["total_ms"] = ms(time.perf_counter() - request.started)
        composite.timings = timings
        composite.finished_at = timezone.now()

    files_store_then_insert(composite, files=files, undo=undo, before_insert=finish)
    for message in request.notices:
        composite_notice_add(composite, message)
    return composite


def _render_and_encode(
    request: _PhotoRequest,
    inputs: _ComposeInputs,
    background: ResolvedBackground,
    files: dict[str, FileData | Future[FileData]],
    photo_owned: bool,
) -> tuple[dict[str, FileData], dict[str, FileData], tuple[int, int], Image.Image | None]:
    """``files`` finished, the result's files (``result`` and ``thumbnail``), the result's
    size, and the one-off background as covered (kept with the composite; None for other
    modes). ``inputs`` are released as soon as the result is composed."""
    timings, choice = request.timings, request.choice
    picture, canvas = inputs.picture, inputs.canvas
    if photo_owned and isinstance(files.get("source"), Future):
        files["source"].result()  # encoded from the picture beside: done before painting it
    with compute_slot(), timed(timings, "compose_ms"):
        canvas_pixels = canvas.prepared_pixels(picture.size, request.placement) if canvas else None
        result, covered = render(
            picture,
            inputs.alpha,
            mode=choice.mode,
            placement=request.placement,
            background=canvas or background.source(),
            # Only a one-off upload is stored with the composite, as covered here.
            keep_background=background.image is not None,
            color=choice.color_rgb,
            photo_owned=photo_owned,
            runner=compute_shared,
            pixels=inputs.pixels,
            canvas_pixels=canvas_pixels,
            colour=inputs.colour,
            as_array=True,
        )
    del picture, canvas, canvas_pixels
    with compute_slot():
        thumbnail, thumbnail_ext = _thumbnail_beside(result, timings)
        if inputs.mask_timings is not None:  # the side thread has helped the compose: its turn
            files["mask"] = mask_file(inputs.alpha, inputs.mask_timings)
        inputs.release()
        with timed(timings, "encode_ms"):
            result_file = imaging.encode_image(result, request.fmt, quality=RESULT_QUALITY)
        thumbnail_file = (thumbnail.result(), thumbnail_ext)
        done = {name: _done(data) for name, data in files.items()}
    one_off = covered if choice.mode == Composite.Mode.IMAGE else None
    encoded = {"result": (result_file, request.fmt), "thumbnail": thumbnail_file}
    size = result.size if isinstance(result, Image.Image) else result.shape[1::-1]
    return done, encoded, size, one_off


def _thumbnail_beside(
    result: Image.Image | np.ndarray, timings: Timings
) -> tuple[Future[bytes], str]:
    """The result's thumbnail (JPEG, or WebP to keep transparency), made on the side thread
    while the caller encodes the result (from the compose's array when the result is one:
    ``thumbnails``), and its extension."""
    rgba = isinstance(result, Image.Image) and result.mode == "RGBA"
    ext = "webp" if rgba else "jpg"
    thumbnail = compute_beside(
        timed_call, timings, "encode_ms", make_thumbnail, result, THUMBNAIL_SIDE, fmt=ext
    )
    return thumbnail, ext


def _done(data: FileData | Future[FileData]) -> FileData:
    return data.result() if isinstance(data, Future) else data
