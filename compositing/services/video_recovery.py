"""Recovering video jobs whose worker died.

django-tasks-db leaves a killed worker's task row RUNNING forever and never picks it up
again. :func:`composites_recover_stale` (run by ``manage.py run_worker`` at start and every
``VBG_VIDEO_STALE_SECONDS / 2``, by ``manage.py recover_composites``, and lazily by
``composite_video_status`` for the composite being looked at) re-queues a RUNNING
composite whose heartbeat is stale with a new task while ``attempts <
VBG_VIDEO_MAX_ATTEMPTS``, and fails it with a reason otherwise.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from compositing.models import Composite
from compositing.services.video_queue import TASK_PATH, video_task_enqueue

logger = logging.getLogger(__name__)


class WorkerLost(Exception):
    """Recorded on the task row of a run whose worker stopped (killed or crashed)."""


@dataclass
class Recovery:
    """What :func:`composites_recover_stale` did (composite ids)."""

    requeued: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    reenqueued: list[str] = field(default_factory=list)  # QUEUED, but the task row was lost


def heartbeat_is_stale(composite: Composite) -> bool:
    """True when the job's heartbeat (``updated``) is older than ``VBG_VIDEO_STALE_SECONDS``."""
    return composite.updated < timezone.now() - timedelta(seconds=settings.VBG_VIDEO_STALE_SECONDS)


def composites_recover_stale(
    *, composite_ids: list[Any] | None = None, stale_seconds: float | None = None
) -> Recovery:
    """Re-queue or fail video jobs whose worker died; re-enqueue queued jobs with no task.

    A RUNNING composite whose heartbeat (``updated``) is older than ``stale_seconds``
    (default ``VBG_VIDEO_STALE_SECONDS``) has lost its worker (a live run writes it twice a
    second). With ``attempts < VBG_VIDEO_MAX_ATTEMPTS`` it goes back to QUEUED with a new
    task; otherwise it is FAILED with a reason. The dead run's task row (left RUNNING by
    django-tasks-db) is marked failed. A QUEUED composite with no ready or running task
    row for that long (an enqueue lost in a crash) gets a new task. Safe to run from any
    number of processes at once: each change is a conditional update.
    """
    stale = stale_seconds if stale_seconds is not None else settings.VBG_VIDEO_STALE_SECONDS
    cutoff = timezone.now() - timedelta(seconds=stale)
    report = Recovery()
    running = Composite.objects.filter(
        kind=Composite.Kind.VIDEO, status=Composite.Status.RUNNING, updated__lt=cutoff
    )
    queued = Composite.objects.filter(
        kind=Composite.Kind.VIDEO, status=Composite.Status.QUEUED, updated__lt=cutoff
    )
    if composite_ids is not None:
        running = running.filter(pk__in=composite_ids)
        queued = queued.filter(pk__in=composite_ids)
    for composite in running.only("pk", "attempts", "cancel_requested"):
        _recover_running(composite, cutoff=cutoff, report=report)
    for composite in queued.only("pk"):
        _reenqueue_if_task_lost(composite, report=report)
    return report


def _recover_running(composite: Composite, *, cutoff: datetime, report: Recovery) -> None:
    """A RUNNING job with a stale heartbeat: cancelled, re-queued or failed (if unchanged)."""
    now = timezone.now()
    claim = Composite.objects.filter(
        pk=composite.pk,
        status=Composite.Status.RUNNING,
        attempts=composite.attempts,
        updated__lt=cutoff,
    )
    outcome: list[str] | None
    if composite.cancel_requested:
        fields: dict[str, Any] = {"status": Composite.Status.CANCELLED, "finished_at": now}
        outcome = None
    elif composite.attempts < settings.VBG_VIDEO_MAX_ATTEMPTS:
        fields = {
            "status": Composite.Status.QUEUED,
            "progress": 0.0,
            "frames_done": 0,
            "error": "",
        }
        outcome = report.requeued
    else:
        fields = {
            "status": Composite.Status.FAILED,
            "error": (
                f"The worker stopped while processing this video {composite.attempts} "
                "times; giving up. Try a shorter or smaller video."
            ),
            "finished_at": now,
        }
        outcome = report.failed
    if not claim.update(eta_seconds=None, updated=now, **fields):
        return  # another process recovered it, or the run came back to life
    _fail_dead_task_rows(composite.pk)
    if outcome is report.requeued:
        video_task_enqueue(composite.pk)
    if outcome is not None:
        outcome.append(str(composite.pk))
    logger.warning(
        "recovered video composite %s (attempt %s): %s",
        composite.pk,
        composite.attempts,
        "re-queued" if outcome is report.requeued else "cancelled/failed",
    )


def _reenqueue_if_task_lost(composite: Composite, *, report: Recovery) -> None:
    """A QUEUED job with no ready or running task row gets a new task."""
    live = DBTaskResult.objects.filter(
        task_path=TASK_PATH,
        status__in=("READY", "RUNNING"),
        args_kwargs__kwargs__composite_id=str(composite.pk),
    ).exists()
    if live:
        return
    _fail_dead_task_rows(composite.pk)
    Composite.objects.filter(pk=composite.pk).update(updated=timezone.now())
    video_task_enqueue(composite.pk)
    report.reenqueued.append(str(composite.pk))


def _fail_dead_task_rows(composite_id: Any) -> None:
    """Mark the task rows a dead worker left RUNNING for this composite as failed."""
    DBTaskResult.objects.filter(
        task_path=TASK_PATH,
        status="RUNNING",
        args_kwargs__kwargs__composite_id=str(composite_id),
    ).update(
        status="FAILED",
        finished_at=timezone.now(),
        exception_class_path=f"{WorkerLost.__module__}.{WorkerLost.__qualname__}",
        traceback="The worker running this task stopped (killed or crashed); "
        "the composite was recovered by composites_recover_stale.",
    )
