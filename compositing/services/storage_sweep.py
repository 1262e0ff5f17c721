"""Storage and rows back in step: objects without rows, rows without objects.

Every upload stores its files first and inserts the row after (``stored_files``), and
every deletion removes files before the row, so a failure in between (an S3 outage, a
killed process) can leave an object nobody refers to, or a row whose file is gone.
``storage_sweep`` finds both under the folders the application writes (``users/`` and
``builtin/``), locally or on S3, from one listing of the storage:

- an object no row names, older than ``min_age`` (so an upload between its files and its
  row is never touched), is deleted;
- a row whose required file is missing (a composite's source, a finished one's result; a
  background's image) cannot be shown or re-used: it is deleted with its remaining files.

``manage.py sweep_storage`` runs it (dry run unless ``--delete``); the task worker runs it
with deletion once a day (``VBG_SWEEP_INTERVAL_SECONDS``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from django.core.files.storage import Storage, default_storage

from backgrounds.models import Background
from compositing.models import Composite
from vbgsite.storage_listing import storage_objects

logger = logging.getLogger(__name__)

MANAGED_PREFIXES = ("users/", "builtin/")
DEFAULT_MIN_AGE = timedelta(hours=1)


@dataclass
class SweepReport:
    orphan_objects: list[str] = field(default_factory=list)  # names, no row refers to them
    orphan_bytes: int = 0
    broken_composites: list[str] = field(default_factory=list)  # ids, required file missing
    broken_backgrounds: list[str] = field(default_factory=list)
    deleted: bool = False  # False: a dry run, nothing changed

    @property
    def clean(self) -> bool:
        return not (self.orphan_objects or self.broken_composites or self.broken_backgrounds)


def storage_sweep(
    *, delete: bool = False, min_age: timedelta = DEFAULT_MIN_AGE, storage: Storage | None = None
) -> SweepReport:
    """Find (and with ``delete``, remove) objects without rows and rows without objects.

    ``min_age``: objects modified more recently are never orphans (an upload may be
    between storing its files and inserting its row). Storage errors propagate (nothing
    is deleted after a failed listing).
    """
    storage = storage or default_storage
    cutoff = datetime.now(UTC) - min_age
    present: set[str] = set()
    recent: set[str] = set()
    sizes: dict[str, int] = {}
    for prefix in MANAGED_PREFIXES:
        for item in storage_objects(storage, prefix):
            present.add(item.name)
            sizes[item.name] = item.size
            if item.modified > cutoff:
                recent.add(item.name)

    report = SweepReport(deleted=delete)
    referenced: set[str] = set()
    broken: list[Composite | Background] = []
    for composite in Composite.objects.all().iterator():
        referenced.update(composite.file_names())
        if any(name not in present for name in _required_composite_files(composite)):
            report.broken_composites.append(str(composite.pk))
            broken.append(composite)
    for background in Background.objects.all().iterator():
        referenced.update(background.file_names())
        if background.image.name not in present:
            report.broken_backgrounds.append(str(background.pk))
            broken.append(background)
    report.orphan_objects = sorted(present - referenced - recent)
    report.orphan_bytes = sum(sizes[name] for name in report.orphan_objects)
    if delete:
        _delete(storage, report.orphan_objects, broken, present)
    _log(report)
    return report


def _required_composite_files(composite: Composite) -> list[str]:
    required = [composite.source.name]
    if composite.status == Composite.Status.DONE:
        required.append(composite.result.name)
    return required


def _delete(
    storage: Storage, orphans: list[str], broken: list[Composite | Background], present: set[str]
) -> None:
    for name in orphans:
        storage.delete(name)
    for row in broken:
        for name in row.file_names():  # files first, as every deletion does
            if name in present:
                storage.delete(name)
        row.delete()


def _log(report: SweepReport) -> None:
    if report.clean:
        return
    logger.warning(
        "storage sweep (%s): %d orphan objects (%d bytes), %d composites and %d backgrounds"
        " with missing files",
        "deleted" if report.deleted else "dry run",
        len(report.orphan_objects),
        report.orphan_bytes,
        len(report.broken_composites),
        len(report.broken_backgrounds),
    )
