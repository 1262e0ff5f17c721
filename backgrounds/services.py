"""Background library operations. Views, the API and commands call these, nothing else.

Files and rows stay consistent: files are written first and removed again if anything
after them fails (validation, quota, the database), so a failure leaves no row and no file.
"""

from __future__ import annotations

import logging
import uuid
from functools import cache
from pathlib import PurePath
from typing import IO

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.base_user import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models.fields.files import FieldFile

from backgrounds import builtin
from backgrounds.models import Background
from backgrounds.names import name_check, name_without_controls
from compositing.imaging import BACKGROUND_FORMATS, encode_image, load_image
from compositing.thumbnails import make_thumbnail
from vbgsite.errors import FileTooLarge, InvalidOption, NotFound, QuotaExceeded
from vbgsite.stored_file import StoredFile

logger = logging.getLogger(__name__)

THUMBNAIL_SIDE = 480  # pixels, longest side
JPEG_QUALITY = 90
NAME_MAX_LENGTH = Background._meta.get_field("name").max_length


def _clean_name(name: str | None, *, fallback: str) -> str:
    cleaned = " ".join((name or "").split())
    name_check(cleaned)  # no bidi overrides or control characters (backgrounds/names.py)
    if not cleaned:
        fallback = name_without_controls(fallback)
        cleaned = " ".join(fallback.split())[:NAME_MAX_LENGTH] or "Untitled background"
    if len(cleaned) > NAME_MAX_LENGTH:
        raise InvalidOption(f"Background names are at most {NAME_MAX_LENGTH} characters.")
    return cleaned


def _quota_message(quota: int) -> str:
    return (
        f"Your background library is full ({quota} of {quota} backgrounds). "
        "Delete one you no longer use to upload another."
    )


def background_get_owned(*, user: AbstractBaseUser, background_id: uuid.UUID | str) -> Background:
    """One of ``user``'s own backgrounds, i.e. one they may change.

    A built-in (read-only for everyone), another person's, or a malformed id: NotFound, so
    the website and the API both answer 404 ``not_found``.
    """
    try:
        return Background.objects.owned_by(user).get(pk=background_id)
    except (Background.DoesNotExist, ValidationError, ValueError, TypeError):
        raise NotFound("This background does not exist.") from None


def _delete_files(names: list[str]) -> None:
    for name in names:
        try:
            default_storage.delete(name)
        except Exception:  # cleanup after a failure must not hide the original error
            logger.exception("could not delete %s", name)


def background_upload(*, user: AbstractBaseUser, file: IO[bytes], name: str = "") -> Background:
    """Add an uploaded image to ``user``'s library.

    file: an uploaded file (JPEG, PNG or WebP; at most ``VBG_MAX_UPLOAD_BYTES`` bytes and
        ``VBG_MAX_IMAGE_PIXELS`` pixels), validated by decoding it, never by its name.
    name: shown in the library; blank takes the uploaded file's name (without extension).

    The image is stored re-encoded as JPEG (no EXIF/GPS/ICC; EXIF rotation applied;
    transparency flattened onto white) with a JPEG thumbnail, under random per-user names.
    Raises QuotaExceeded, FileTooLarge, InvalidImage (and its subclasses), InvalidOption.
    Nothing is left behind when it raises: no row, no file.
    """
    quota = settings.VBG_BACKGROUND_QUOTA
    if Background.objects.owned_by(user).count() >= quota:
        raise QuotaExceeded(_quota_message(quota))  # cheap check before decoding
    max_bytes = settings.VBG_MAX_UPLOAD_BYTES
    declared = getattr(file, "size", None)
    if declared is not None and declared > max_bytes:
        raise FileTooLarge(
            f"This file is larger than the {max_bytes / (1024 * 1024):.0f} MB limit."
        )
    uploaded_name = PurePath(getattr(file, "name", "") or "").stem
    clean = _clean_name(name, fallback=uploaded_name)

    image = load_image(
        file,
        max_pixels=settings.VBG_MAX_IMAGE_PIXELS,
        min_side=settings.VBG_MIN_IMAGE_SIDE,
        max_bytes=max_bytes,
        allowed_formats=BACKGROUND_FORMATS,
    )
    data = encode_image(image, "jpg", quality=JPEG_QUALITY)
    thumbnail = make_thumbnail(image, THUMBNAIL_SIDE, fmt="jpg")
    width, height = image.size
    image.close()

    background = Background(
        owner=user, name=clean, width=width, height=height, size_bytes=len(data)
    )
    try:
        background.image.save("background.jpg", ContentFile(data), save=False)
        background.thumbnail.save("thumbnail.jpg", ContentFile(thumbnail), save=False)
        with transaction.atomic():
            # Serialise this person's uploads so two at once cannot both pass the quota.
            get_user_model().objects.select_for_update().filter(pk=user.pk).first()
            if Background.objects.owned_by(user).count() >= quota:
                raise QuotaExceeded(_quota_message(quota))
            background.save(force_insert=True)
    except BaseException:
        _delete_files(background.file_names())
        raise
    return background


def background_rename(
    *, user: AbstractBaseUser, background_id: uuid.UUID | str, name: str
) -> Background:
    """Rename one of ``user``'s backgrounds. Built-ins and other people's: NotFound (checked
    first); then a blank or over-long name: InvalidOption."""
    background = background_get_owned(user=user, background_id=background_id)
    cleaned = " ".join((name or "").split())
    if not cleaned:
        raise InvalidOption("Give the background a name.")
    background.name = _clean_name(cleaned, fallback="")
    background.save(update_fields=["name"])
    return background


def background_delete(*, user: AbstractBaseUser, background_id: uuid.UUID | str) -> None:
    """Delete one of ``user``'s backgrounds and its files. Built-ins and others': NotFound.

    Composites made with it keep their results (their ``background`` becomes NULL).
    The files are deleted inside the transaction that deletes the row: if storage fails,
    the row stays (and can be deleted again), so a row never outlives its files silently.
    """
    with transaction.atomic():
        try:
            background = Background.objects.owned_by(user).select_for_update().get(pk=background_id)
        except (Background.DoesNotExist, ValidationError, ValueError, TypeError):
            raise NotFound("This background does not exist.") from None
        names = background.file_names()
        background.delete()
        # Thumbnail first: if the image's delete fails, the row (rolled back) still shows.
        for name in reversed(names):
            default_storage.delete(name)


@cache
def _render_builtin(slug: str) -> tuple[bytes, bytes, tuple[int, int]]:
    """(JPEG, thumbnail JPEG, (width, height)) of a built-in; deterministic, so cached
    (about 3 MB for all of them) and rendered at most once per process."""
    image = builtin.render(slug)
    data = encode_image(image, "jpg", quality=JPEG_QUALITY)
    thumbnail = make_thumbnail(image, THUMBNAIL_SIDE, fmt="jpg")
    return data, thumbnail, image.size


def backgrounds_seed_builtin() -> int:
    """Create (or repair) the built-in backgrounds; safe to run any number of times.

    Each built-in is identified by its slug. A missing one is rendered and stored; one
    whose files have gone missing from storage is re-rendered in place; an existing,
    complete one is left alone (its name is refreshed). Returns how many were written.
    """
    written = 0
    for spec in builtin.BUILTINS:
        existing = Background.objects.builtin().filter(slug=spec.slug).first()
        if existing is not None:
            complete = all(default_storage.exists(n) for n in existing.file_names())
            if complete:
                if existing.name != spec.name:
                    existing.name = spec.name
                    existing.save(update_fields=["name"])
                continue
        data, thumbnail, (width, height) = _render_builtin(spec.slug)
        background = existing or Background(owner=None, slug=spec.slug)
        old_names = background.file_names() if existing else []
        background.name = spec.name
        background.width, background.height = width, height
        background.size_bytes = len(data)
        new = Background(owner=None)  # only to generate fresh storage names
        try:
            new.image.save(f"{spec.slug}.jpg", ContentFile(data), save=False)
            new.thumbnail.save(f"{spec.slug}.jpg", ContentFile(thumbnail), save=False)
            background.image.name = new.image.name
            background.thumbnail.name = new.thumbnail.name
            background.save()
        except BaseException:
            _delete_files(new.file_names())
            raise
        _delete_files(old_names)
        written += 1
        logger.info("seeded built-in background %s", spec.slug)
    return written


BACKGROUND_FILES = ("image", "thumbnail")


def background_get(*, user: AbstractBaseUser, background_id: uuid.UUID | str) -> Background:
    """A background ``user`` may see and use (a built-in or their own); else NotFound."""
    try:
        return Background.objects.for_user(user).get(pk=background_id)
    except (Background.DoesNotExist, ValidationError, ValueError, TypeError):
        raise NotFound("This background does not exist.") from None


def background_file(
    *, user: AbstractBaseUser, background_id: uuid.UUID | str, which: str
) -> StoredFile:
    """The stored file ``which`` ("image" or "thumbnail", JPEG) of a background ``user`` may
    see, for serving (download name: the background's name).

    Built-ins are visible to every signed-in person, uploads to their owner only; anything
    else (another person's id, an unknown ``which``, a row without that file) is NotFound.
    """
    if which not in BACKGROUND_FILES or not user.is_authenticated:
        raise NotFound("No such file.")
    background = background_get(user=user, background_id=background_id)
    stored: FieldFile = getattr(background, which)
    if not stored:
        raise NotFound("No such file.")
    return StoredFile(
        storage=stored.storage,
        name=stored.name,
        content_type="image/jpeg",
        filename=f"{background.name or 'background'}.jpg",
    )
