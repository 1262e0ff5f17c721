"""Studio drafts: one upload, one model run, then any number of in-browser previews.

A draft is a ``Composite`` with status ``draft``: its source photo and mask (the cached
alpha) are stored, it has no result and it is not in the history. The studio previews
every background and placement from those two files in the browser; **Save** is a
re-composite of the draft (``composite_recomposite``), which renders the full-quality
result on the server, records it as the history entry and deletes the draft.

Drafts nobody saves are deleted: each new draft removes the same person's drafts beyond
the newest ``DRAFTS_KEPT`` and any older than ``DRAFT_MAX_AGE``; ``manage.py
purge_drafts`` (daily, e.g. Heroku Scheduler) removes everyone's old ones. Deleting an
account removes drafts with everything else. Another person's draft is NotFound, like any
composite.
"""

from __future__ import annotations

import time
from datetime import timedelta
from typing import IO, Any

from django.utils import timezone

from compositing.engine import compute_slot
from compositing.models import Composite
from compositing.services.composites import composite_delete
from compositing.services.cut_out import photo_cut_out
from compositing.services.rate_limits import composite_rate_take
from compositing.services.stage_timings import ms, timed
from compositing.services.stored_files import Undo, files_store_then_insert
from compositing.services.uploads import (
    photo_upload_decode,
    upload_display_name,
)

DRAFTS_KEPT = 5
DRAFT_MAX_AGE = timedelta(hours=24)


def composite_draft_create(*, user: Any, photo: bytes | IO[bytes]) -> Composite:
    """Decode ``photo``, cut the person out once and store the source and mask as a draft.

    Returns the draft (status ``draft``, ``width``/``height``, ``model_name``, timings
    ``decode_ms``/``segment_ms``/``person_check_ms``/``encode_ms``/``store_ms``/``total_ms``).
    Raises the photo errors of ``composite_create`` (InvalidImage..., FileTooLarge, NoPerson,
    ModelUnavailable); nothing is stored on failure.
    """
    composite_rate_take(user=user)  # the studio's composites count like the API's
    started, timings = time.perf_counter(), {}
    with compute_slot():
        with timed(timings, "decode_ms"):
            decoded = photo_upload_decode(photo, label="Photo")
        cut = photo_cut_out(photo, decoded, timings)
        files = {name: data.result() for name, data in cut.files.items()}
    picture = decoded.picture
    draft = Composite(
        owner=user,
        kind=Composite.Kind.IMAGE,
        status=Composite.Status.DRAFT,
        source_name=upload_display_name(photo),
        model_name=cut.model_name,
        width=picture.width,
        height=picture.height,
        started_at=timezone.now(),
    )
    store_started = time.perf_counter()

    def finish() -> None:
        timings["store_ms"] = ms(time.perf_counter() - store_started)
        timings["total_ms"] = ms(time.perf_counter() - started)
        draft.timings = timings

    undo = Undo(storage=draft.source.storage)
    files_store_then_insert(draft, files=files, undo=undo, before_insert=finish)
    composite_drafts_purge(user=user, keep=DRAFTS_KEPT)
    return draft


def composite_drafts_purge(
    *, user: Any | None = None, keep: int = 0, older_than: timedelta = DRAFT_MAX_AGE
) -> int:
    """Delete drafts (files, then rows): those older than ``older_than``, and for ``user``
    any beyond their newest ``keep``. ``user`` None: everyone's old drafts. Returns how
    many were deleted."""
    drafts = Composite.objects.filter(status=Composite.Status.DRAFT).order_by("-created")
    if user is not None:
        drafts = drafts.filter(owner=user)
    cutoff = timezone.now() - older_than
    doomed = [
        draft
        for index, draft in enumerate(drafts.select_related("owner"))
        if draft.created < cutoff or (user is not None and index >= keep > 0)
    ]
    for draft in doomed:
        composite_delete(user=draft.owner, composite_id=draft.pk)
    return len(doomed)
