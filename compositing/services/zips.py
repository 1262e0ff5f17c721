"""Several of a person's composites as one ZIP download (the studio's batch mode).

Only the person's own finished composites: a malformed id, another person's or a draft is
``NotFound`` (404, as everywhere), so nothing about other people's ids leaks; a composite
that is not finished yet is ``InvalidOption``. The archive is written to a spooled
temporary file (memory up to ``SPOOL_BYTES``, then disk) and stored results are copied
into it as they are (``ZIP_STORED``: JPEG, PNG and WebP are compressed already).
"""

from __future__ import annotations

import tempfile
import uuid
import zipfile
from collections.abc import Sequence
from pathlib import PurePosixPath
from typing import IO, Any

from django.utils.text import slugify

from compositing.models import Composite
from compositing.services.composites import composite_get
from compositing.services.stored_files import file_suffix
from vbgsite.dependencies import dependency_failure
from vbgsite.errors import InvalidOption, NotFound

ZIP_MAX_COMPOSITES = 50
SPOOL_BYTES = 32 * 1024 * 1024
MISSING_RESULT = "A composite's result file is missing."


def composites_zip(*, user: Any, composite_ids: Sequence[uuid.UUID | str]) -> IO[bytes]:
    """A ZIP of the results of ``composite_ids`` (the user's own, in the order given,
    duplicates once), as a binary file positioned at its start; the caller closes it.

    Entries are named ``NN-<photo name>.<ext>`` (NN: position, so names never clash).
    Raises InvalidOption (no ids, more than ``ZIP_MAX_COMPOSITES``, one not finished),
    NotFound (a malformed id, another person's, a draft, a result gone from storage).
    """
    ids = list(dict.fromkeys(str(composite_id) for composite_id in composite_ids))
    if not ids:
        raise InvalidOption("Choose at least one composite to download.")
    if len(ids) > ZIP_MAX_COMPOSITES:
        raise InvalidOption(f"At most {ZIP_MAX_COMPOSITES} composites fit in one download.")
    composites = [composite_get(user=user, composite_id=composite_id) for composite_id in ids]
    for composite in composites:
        if composite.status == Composite.Status.DRAFT:
            raise NotFound("This composite does not exist.")
        if composite.status != Composite.Status.DONE or not composite.result:
            raise InvalidOption("Only finished composites can be downloaded; wait for it.")
    archive = tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES)  # noqa: SIM115 (returned)
    try:
        with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_STORED) as zipped:
            for number, composite in enumerate(composites, start=1):
                _add_result(zipped, composite, f"{number:02d}-{_stem(composite)}")
    except BaseException:
        archive.close()
        raise
    archive.seek(0)
    return archive


def _stem(composite: Composite) -> str:
    return slugify(PurePosixPath(composite.source_name).stem)[:60] or "photo"


def _add_result(zipped: zipfile.ZipFile, composite: Composite, stem: str) -> None:
    name = f"{stem}.{file_suffix(composite.result.name, 'bin')}"
    try:
        with (
            composite.result.storage.open(composite.result.name, "rb") as source,
            zipped.open(name, "w", force_zip64=True) as target,
        ):
            while chunk := source.read(1024 * 1024):
                target.write(chunk)
    except OSError as exc:
        unavailable = dependency_failure(exc)
        if unavailable is not None:
            raise unavailable from exc
        raise NotFound(MISSING_RESULT) from exc
