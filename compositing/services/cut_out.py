"""A photo's cut-out: the model's 8-bit matte, checked to show a person, and the two files
every photo keeps (``source`` JPEG and ``mask`` PNG). Both photo services (a composite,
``compositing.services.photos``; a studio draft, ``compositing.services.drafts``) make it
with ``photo_cut_out`` once the upload is decoded. It raises the exceptions in
``vbgsite.errors``.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from typing import IO

import numpy as np
from PIL import Image

from compositing import imaging
from compositing.engine import (
    compute_beside,
    compute_inline,
    get_engine,
    person_in_photo,
)
from compositing.services.stage_timings import Timings, timed, timed_call
from compositing.services.stored_files import FileData, file_future
from compositing.services.uploads import DecodedPhoto, photo_source_bytes
from vbgsite.errors import NoPerson

# The source is kept as uploaded minus its metadata when it is a plain JPEG, else
# re-encoded (no EXIF/GPS, orientation and colour profile applied) at a quality where
# re-composites are indistinguishable from the first composite (uploads.photo_source_bytes).
SOURCE_QUALITY = 95
# A photo "has a person" when at least this fraction of its pixels has alpha >= 0.5.
# The model leaves faint specks on photos without people; a real subject covers far more.
PERSON_MIN_FRACTION = 0.002
# Photos up to this many pixels get their canvas covered (beside.CanvasBeside) and the
# person detectors run beside the model; bigger ones in turn: the peak stays photo + matte +
# canvas.
CANVAS_BESIDE_MAX_PIXELS = 16_000_000


@dataclass
class CutOut:
    """A photo's cut-out: the 8-bit matte, the model that made it, and the two files every
    photo keeps (``source`` JPEG and ``mask`` PNG), still being encoded beside the caller
    (the mask once ``mask_file`` is called, when ``photo_cut_out`` was told to wait)."""

    alpha: np.ndarray  # uint8 HxW, 255 = person
    model_name: str
    files: dict[str, Future[FileData]]


def photo_cut_out(
    photo: bytes | IO[bytes],
    decoded: DecodedPhoto,
    timings: Timings,
    *,
    idle: Callable[[], object] | None = None,
    mask_now: bool = True,
) -> CutOut:
    """Run the model on the ``decoded`` upload ``photo`` and check that it shows a person;
    raises NoPerson (or the model's errors) otherwise. The model and the detectors read the
    decoder's own pixels where there are some (``DecodedPhoto.take_pixels``: a plain JPEG's
    array, kept for the compose up to ``ARRAYS_MAX_PIXELS``, let go after the model above).

    Stages that do not need each other overlap (``compute_beside``): the detectors (up to
    ``CANVAS_BESIDE_MAX_PIXELS``) and the source file beside the model, the mask's PNG
    beside what the caller does next; the model shares its independent parts with the side
    thread when it is idle (``Engine.segment_matte(shared=True)``). ``timings`` gets each
    stage's own time (the files' in ``encode_ms``), so on two cores they add up to more
    than the wall time. ``idle``: called once those stages are queued, to queue the
    caller's own work for the side thread's idle time (``engine.Later``), as the picture
    of a decoded array is (``DecodedPhoto.picture_beside``). ``mask_now``: False when the
    caller queues the mask's PNG itself (``mask_file``) once the side thread has nothing
    more urgent to help with: a composite's compose shares its blurs and bands with it.
    """
    pixels = decoded.take_pixels()  # the model's and the detectors' (read only)
    small = decoded.size[0] * decoded.size[1] <= CANVAS_BESIDE_MAX_PIXELS
    beside = compute_beside if small else compute_inline
    detectors = beside(timed_call, timings, "person_check_ms", person_in_photo, pixels)
    source = compute_beside(
        timed_call,
        timings,
        "encode_ms",
        photo_source_bytes,
        photo,
        decoded,
        quality=SOURCE_QUALITY,
    )
    decoded.picture_beside()  # for the compose, once the stages above are under way
    if idle is not None:
        idle()
    with timed(timings, "segment_ms"):
        alpha, model_name = _segment(pixels)
    with timed(timings, "person_check_ms"):
        has_person = _mask_has_person(alpha)
    if not has_person or not detectors.result():
        raise NoPerson()
    files = {"source": file_future(source, "jpg")}
    if mask_now:
        files["mask"] = mask_file(alpha, timings)
    return CutOut(alpha=alpha, model_name=model_name, files=files)


def mask_file(alpha: np.ndarray, timings: Timings) -> Future[FileData]:
    """The matte's file (an 8-bit PNG), encoded beside the caller; its time in
    ``encode_ms``."""
    png = compute_beside(timed_call, timings, "encode_ms", imaging.alpha_to_png, alpha)
    return file_future(png, "png")


def _segment(image: Image.Image | np.ndarray) -> tuple[np.ndarray, str]:
    """The 8-bit matte (uint8 HxW, 255 = person) of ``image`` (RGB, or its uint8 HxWx3
    pixels), and the name of the model that made it. Everything after the model works on
    the matte (the stored mask is 8-bit too), so the float alpha (4 bytes a pixel: 192 MB
    at 48 MP) is dropped at once.

    The one place the photo path reaches the model (tests patch it to prove a
    re-composite never does)."""
    engine = get_engine()
    return engine.segment_matte(image, shared=True), engine.model_name


def _mask_has_person(alpha: np.ndarray) -> bool:
    """alpha: uint8 HxW (or float32 in 0..1). Enough pixels of the mask are confidently the
    person (alpha >= 0.5, 128 in 8 bits). Not enough on its own: the mask alone calls a
    cat or coins a person, so the detectors (``engine.person_in_photo``) must agree."""
    sure = alpha >= (128 if alpha.dtype == np.uint8 else 0.5)
    return int(np.count_nonzero(sure)) >= PERSON_MIN_FRACTION * alpha.size
