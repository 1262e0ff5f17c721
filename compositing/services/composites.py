"""A person's composites, photo or video: look one up, delete it, find one of its files.

Another person's composite (or a malformed id) is ``NotFound``, never "forbidden".
"""

from __future__ import annotations

import uuid
from pathlib import PurePosixPath
from typing import Any, Literal

from django.core.exceptions import ValidationError
from django.db.models.fields.files import FieldFile
from django.utils.text import slugify

from compositing.models import Composite
from compositing.services.stored_files import file_suffix
from vbgsite.errors import NotFound
from vbgsite.stored_file import StoredFile

FileKind = Literal["source", "mask", "result", "thumbnail", "background"]
FILE_KINDS: tuple[str, ...] = ("source", "mask", "result", "thumbnail", "background")
# Content types by file extension (every file we store is one of these).
CONTENT_TYPES = {
    "jpg": "image/jpeg",
    "png": "image/png",
    "webp": "image/webp",
    "mp4": "video/mp4",
    "webm": "video/webm",
    "mov": "video/quicktime",
}


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


def composite_file(*, user: Any, composite_id: uuid.UUID | str, which: str) -> StoredFile:
    """One of the user's composite files, for serving.

    which: ``"source"`` (the photo or video as stored), ``"mask"`` (8-bit PNG, white =
    person), ``"result"``, ``"thumbnail"`` or ``"background"`` (the one-off upload, or the
    library image used). Raises NotFound for another user's composite, an unknown
    ``which``, or a file this composite does not have.
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
    ext = file_suffix(file.name, "bin")
    content_type = CONTENT_TYPES.get(ext, "application/octet-stream")
    label = {"result": "composite", "thumbnail": "thumbnail"}.get(which, which)
    stem = slugify(PurePosixPath(composite.source_name).stem)[:60] or "photo"
    return StoredFile(
        storage=file.storage,
        name=file.name,
        content_type=content_type,
        filename=f"{stem}-{label}.{ext}",
    )
