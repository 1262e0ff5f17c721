"""Recovering video jobs whose worker died.

django-tasks-db leaves a killed worker's task row RUNNING forever and never picks it up
again; django-tasks-redis delivers a dead worker's message again only after its claim
timeout, and a job's own heartbeat says it much sooner. On either queue (the questions
asked of the queue are answered in ``video_queue``), :func:`composites_recover_stale`
(run by ``manage.py run_worker`` at start and every
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

from compositing.models import Composite
from compositing.services.video_queue import (
    video_task_enqueue,
    video_task_live,
    video_tasks_fail_dead,
)
from compositing.services.webhooks import webhook_schedule

logger = logging.getLogger(__name__)


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
    django-tasks-db) is marked failed. A QUEUED composite with no waiting or running task
    for that long (an enqueue lost in a crash) gets a new task. Safe to run from any
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
    video_tasks_fail_dead(composite.pk)
    if outcome is report.requeued:
        video_task_enqueue(composite.pk)
    else:  # ended: failed, or cancelled
        webhook_schedule(composite.pk)
    if outcome is not None:
        outcome.append(str(composite.pk))
    logger.warning(
        "recovered video composite %s (attempt %s): %s",
        composite.pk,
        composite.attempts,
        "re-queued" if outcome is report.requeued else "cancelled/failed",
    )


def _reenqueue_if_task_lost(composite: Composite, *, report: Recovery) -> None:
    """A QUEUED job with no waiting or running task gets a new task."""
    if video_task_live(composite.pk):
        return
    video_tasks_fail_dead(composite.pk)
    Composite.objects.filter(pk=composite.pk).update(updated=timezone.now())
    video_task_enqueue(composite.pk)
    report.reenqueued.append(str(composite.pk))
