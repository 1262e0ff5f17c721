"""Choosing the background of a composite: the one resolver photos and videos both use.

A request names its background in one of four ways, checked here before any work is done:
``mode="image"`` with exactly one of ``background_id`` (a built-in or one of the person's
own library backgrounds) or ``background_file`` (a one-off upload, optionally saved to the
library), ``mode="color"`` with ``color`` (``"#RRGGBB"``), ``"blur"`` or ``"transparent"``
(photos only). The messages and error codes are the same for photos and videos:

- an unknown mode, a missing or conflicting choice -> InvalidOption (400);
- a bad colour -> InvalidColor (400);
- an id that is malformed, another person's, or unknown -> NotFound (404); a library
  background whose image has gone from storage -> NotFound (404);
- an unreadable upload -> InvalidImage and its subclasses, FileTooLarge.

Asking to save a one-off upload to a full library is not an error: the composite is
still made, the background is kept with it alone, and the composite carries a notice
saying so (``composite_notices``).
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from pathlib import PurePosixPath
from typing import IO, Any

import numpy as np
from PIL import Image

from backgrounds.models import Background
from backgrounds.services import background_delete, background_upload
from compositing import imaging
from compositing.compose import parse_color
from compositing.models import Composite
from compositing.placement import Placement, background_canvas, background_rows
from compositing.services.background_cache import (
    cached_canvas,
    cached_canvas_pixels,
    canvas_cached,
)
from compositing.services.stored_files import FileData, Undo, stored_file_read
from compositing.services.uploads import (
    image_upload_decode,
    stored_image_decode,
    upload_display_name,
)
from vbgsite.errors import InvalidColor, InvalidOption, NotFound, QuotaExceeded

# A one-off background is stored with the composite (shown on its page) at this JPEG
# quality, the same as library backgrounds.
ONE_OFF_QUALITY = 90
MISSING_IMAGE = "This background's image is no longer available."
LIBRARY_FULL_NOTICE = (
    "{reason} This background was not added to it; it is kept with this composite only."
)


def composite_notice_add(composite: Composite, message: str) -> None:
    """Tell the person something about ``composite`` that did not stop it (shown once, after
    the request that made it; not stored)."""
    composite.notices = [*composite_notices(composite), message]


def composite_notices(composite: Composite) -> list[str]:
    """The notices a service attached to ``composite`` while making it (``[]`` if none)."""
    return list(getattr(composite, "notices", []))


@dataclass(frozen=True)
class BackgroundChoice:
    """A checked background choice (nothing resolved or decoded yet)."""

    mode: str
    background_id: uuid.UUID | None = None
    color_rgb: tuple[int, int, int] | None = None

    @property
    def color_hex(self) -> str:
        """``"#RRGGBB"`` for the colour mode, else ``""`` (as ``Composite.color`` stores it)."""
        return "#{:02X}{:02X}{:02X}".format(*self.color_rgb) if self.color_rgb else ""


@dataclass(frozen=True)
class ResolvedBackground:
    """The background image of mode "image" and where it came from (empty otherwise).

    ``image``: the decoded image (RGB, any size; covered to the frame size later): always
    for a one-off upload; for a library entry only when resolved with ``lazy=False``.
    A lazy library entry is read and decoded on first need, and its covered canvases come
    from the process's cache (``background_cache``): see :meth:`source`.
    """

    image: Image.Image | None = None
    library: Background | None = None  # a library entry (built-in or the person's own)

    def source(self) -> Image.Image | _LibraryCanvases | None:
        """What ``compositing.placement.render`` takes as ``background``: the image, or for
        a lazily resolved library entry an object whose ``canvas(size, placement)`` gives
        the covered image (cached per process; read-only), the same object every time."""
        if self.image is not None or self.library is None:
            return self.image
        return self._canvases

    def prefetch(self, size: tuple[int, int], placement: Placement) -> None:
        """For a lazily resolved library entry whose canvas for ``size`` and ``placement``
        this process has not cached: read and decode its image now, while the caller
        waits for something else (a photo's composite: the photo's decode on the side
        thread), so that making the canvas later is only the cover. On a miss (a worker's
        first composite, a new photo size) the side thread read, decoded and covered
        after the model's side work, and the compose waited for it. Nothing to do
        otherwise. Raises NotFound when the stored image is gone."""
        if self.image is None and self.library is not None:
            self._canvases.prefetch(size, placement)

    @cached_property
    def _canvases(self) -> _LibraryCanvases:
        return _LibraryCanvases(self.library)


class _LibraryCanvases:
    """A library background's covered canvases, made once per (size, placement) and kept
    in the process's cache; the stored file is read and decoded only on a miss."""

    def __init__(self, library: Background) -> None:
        self.library = library
        self._decoded: Image.Image | None = None
        self._decoding = threading.Lock()  # read and decoded once, whichever thread asks

    def prefetch(self, size: tuple[int, int], placement: Placement) -> None:
        """The image read and decoded now, unless the canvas is cached already."""
        if not canvas_cached(self._key(size, placement)):
            self._image()

    def canvas(self, size: tuple[int, int], placement: Placement) -> tuple[Image.Image, bool]:
        """(the covered image, whether it is the caller's own to paint on: not when cached)"""
        key = self._key(size, placement)
        return cached_canvas(key, lambda: background_canvas(self._image(), size, placement))

    def pixels(self, size: tuple[int, int], placement: Placement) -> np.ndarray:
        """The covered canvas as a read-only array, kept with the cached image."""
        pixels = cached_canvas_pixels(self._key(size, placement))
        return np.asarray(self.canvas(size, placement)[0]) if pixels is None else pixels

    def _key(self, size: tuple[int, int], placement: Placement) -> tuple:
        return (
            self.library.image.name,
            tuple(size),
            placement.background_focus,
            placement.background_zoom,
            placement.background_mirror,
        )

    def rows(
        self, size: tuple[int, int], placement: Placement
    ) -> Callable[[int, int], Image.Image]:
        """The canvas a few rows at a time, for a photo painted in place (not cached)."""
        return background_rows(self._image(), size, placement)

    def _image(self) -> Image.Image:
        with self._decoding:
            if self._decoded is None:
                data = stored_file_read(self.library.image, missing=MISSING_IMAGE)
                self._decoded = stored_image_decode(data)
            return self._decoded


def background_choice_check(
    *,
    mode: str,
    background_id: uuid.UUID | str | None,
    background_file: IO[bytes] | None,
    color: str | None,
) -> BackgroundChoice:
    """Check that ``mode`` is known and exactly the inputs it needs were given.

    Raises InvalidOption / InvalidColor with a message the person can act on, NotFound for
    a malformed background id.
    """
    modes = Composite.Mode.values
    if mode not in modes:
        raise InvalidOption(f"Unknown background mode {mode!r}; use one of {', '.join(modes)}.")
    has_id = background_id not in (None, "")
    has_file = background_file is not None
    if mode == Composite.Mode.IMAGE:
        if has_id and has_file:
            raise InvalidOption("Choose a background from the library or upload one, not both.")
        if not has_id and not has_file:
            raise InvalidOption("Choose a background image, or upload one.")
    elif has_id or has_file:
        raise InvalidOption("A background image is only used with the background-image mode.")
    rgb = None
    if mode == Composite.Mode.COLOR:
        if not color:
            raise InvalidColor("Choose a colour, written as #RRGGBB.")
        rgb = parse_color(color)
    elif color:
        raise InvalidOption("A colour is only used with the solid-colour mode.")
    return BackgroundChoice(
        mode=mode, background_id=_parse_id(background_id) if has_id else None, color_rgb=rgb
    )


def _parse_id(background_id: Any) -> uuid.UUID:
    if isinstance(background_id, uuid.UUID):
        return background_id
    try:
        return uuid.UUID(str(background_id))
    except ValueError:
        raise NotFound("This background does not exist.") from None


def background_resolve(
    *,
    user: Any,
    choice: BackgroundChoice,
    background_file: IO[bytes] | None,
    lazy: bool = False,
) -> ResolvedBackground:
    """Decode the background image of mode "image": a library entry or a one-off upload.

    lazy: for a library entry, check only that ``user`` may use it; its image is read
        when a canvas is first needed (``ResolvedBackground.source``), and not at all when
        the process has the covered canvas cached. Photos resolve lazily; videos decode at
        once (the job reads the file again in the worker).
    Other modes resolve to an empty ``ResolvedBackground``. Raises NotFound (not visible to
    ``user``, or its image is gone: for a lazy entry, when the canvas is made),
    InvalidImage/FileTooLarge (the upload).
    """
    if choice.mode != Composite.Mode.IMAGE:
        return ResolvedBackground()
    if background_file is not None:
        image = image_upload_decode(
            background_file, label="Background image", allowed=imaging.BACKGROUND_FORMATS
        )
        return ResolvedBackground(image=image)
    library = Background.objects.for_user(user).filter(pk=choice.background_id).first()
    if library is None:
        raise NotFound("This background does not exist.")
    if lazy:
        return ResolvedBackground(library=library)
    data = stored_file_read(library.image, missing=MISSING_IMAGE)
    return ResolvedBackground(image=stored_image_decode(data), library=library)


def background_attach(
    composite: Composite,
    *,
    user: Any,
    background: ResolvedBackground,
    save_upload: IO[bytes] | None,
    one_off: Image.Image | None,
    undo: Undo,
) -> dict[str, FileData]:
    """Point ``composite`` at its background before it is stored.

    save_upload: the one-off upload, when the person asked to add it to their library: it
        is saved now and ``undo`` learns to delete it again. With the library full, it is
        kept as a one-off instead and ``composite`` gets a notice saying so.
    one_off: the one-off image to keep with the composite (photos keep it covered to the
        photo's size, videos as uploaded); ignored for library backgrounds.
    Returns the files to store with the composite: ``{"background_image": (JPEG, "jpg")}``
    for a one-off that is not saved to the library, else nothing.
    """
    if save_upload is not None:
        try:
            composite.background = _save_to_library(user=user, upload=save_upload, undo=undo)
            return {}
        except QuotaExceeded as full:  # still make the composite, with the one-off kept
            composite_notice_add(composite, LIBRARY_FULL_NOTICE.format(reason=full.message))
    if background.library is not None:
        composite.background = background.library
        return {}
    if one_off is None:
        return {}
    return {
        "background_image": (imaging.encode_image(one_off, "jpg", quality=ONE_OFF_QUALITY), "jpg")
    }


def _save_to_library(*, user: Any, upload: IO[bytes], undo: Undo) -> Background:
    """Add a one-off background upload to the user's library, named after the file."""
    if hasattr(upload, "seek"):
        upload.seek(0)
    stem = PurePosixPath(upload_display_name(upload)).stem.replace("_", " ").replace("-", " ")
    name = " ".join(stem.split())[:100] or "My background"
    saved = background_upload(user=user, file=upload, name=name)
    undo.steps.append(lambda: background_delete(user=user, background_id=saved.pk))
    return saved
