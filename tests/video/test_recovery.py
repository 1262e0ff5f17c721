"""Recovery of video jobs whose worker died (``composites_recover_stale``), without a
worker: the rows are put in the state a killed worker leaves behind. The end-to-end kill
test is in ``test_worker.py``."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.files.base import ContentFile
from django.core.management import call_command
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from compositing.models import Composite
from compositing.services import composite_video_status, composites_recover_stale
from compositing.tasks import composite_video_task

pytestmark = pytest.mark.django_db


def stuck(user, *, attempts: int, seconds_ago: float, status: str = "running") -> Composite:
    """A video composite as a killed worker leaves it: RUNNING, heartbeat in the past,
    and its task row still RUNNING."""
    composite = Composite(
        owner=user, kind="video", status=status, attempts=attempts, output_format="mp4"
    )
    composite.source.save("source.mp4", ContentFile(b"x"), save=False)
    composite.save()
    result = composite_video_task.enqueue(composite_id=str(composite.pk))
    task_status = "RUNNING" if status == "running" else "READY"
    DBTaskResult.objects.filter(pk=result.id).update(status=task_status)
    Composite.objects.filter(pk=composite.pk).update(
        updated=timezone.now() - timedelta(seconds=seconds_ago), progress=42.0, frames_done=10
    )
    return composite


def test_a_stale_running_job_is_requeued_with_a_new_task(user, settings):
    settings.VBG_VIDEO_STALE_SECONDS = 60
    composite = stuck(user, attempts=1, seconds_ago=120)
    report = composites_recover_stale()
    assert report.requeued == [str(composite.pk)]
    composite.refresh_from_db()
    assert composite.status == "queued" and composite.progress == 0 and composite.frames_done == 0
    assert DBTaskResult.objects.filter(status="READY").count() == 1
    dead = DBTaskResult.objects.get(status="FAILED")
    assert dead.exception_class_path.endswith("WorkerLost")


def test_a_live_job_is_left_alone(user, settings):
    settings.VBG_VIDEO_STALE_SECONDS = 60
    composite = stuck(user, attempts=1, seconds_ago=5)
    assert composites_recover_stale().requeued == []
    composite.refresh_from_db()
    assert composite.status == "running"


def test_after_the_last_attempt_the_job_fails_with_a_reason(user, settings):
    settings.VBG_VIDEO_MAX_ATTEMPTS = 3
    composite = stuck(user, attempts=3, seconds_ago=600)
    report = composites_recover_stale()
    assert report.failed == [str(composite.pk)]
    composite.refresh_from_db()
    assert composite.status == "failed"
    assert "worker stopped while processing this video 3 times" in composite.error
    assert not DBTaskResult.objects.filter(status__in=["READY", "RUNNING"]).exists()


def test_a_cancel_requested_before_the_worker_died_ends_cancelled(user):
    composite = stuck(user, attempts=1, seconds_ago=600)
    Composite.objects.filter(pk=composite.pk).update(cancel_requested=True)
    composites_recover_stale()
    composite.refresh_from_db()
    assert composite.status == "cancelled"


def test_a_queued_job_whose_task_was_lost_gets_a_new_one(user, settings):
    composite = stuck(user, attempts=0, seconds_ago=600, status="queued")
    DBTaskResult.objects.all().delete()  # the enqueue never happened (crash after commit)
    report = composites_recover_stale()
    assert report.reenqueued == [str(composite.pk)]
    assert DBTaskResult.objects.filter(status="READY").count() == 1


def test_looking_at_a_stale_job_recovers_it(user, settings):
    settings.VBG_VIDEO_STALE_SECONDS = 60
    composite = stuck(user, attempts=1, seconds_ago=120)
    status = composite_video_status(user=user, composite_id=composite.pk)
    assert status["status"] == "queued" and status["progress"] == 0


def test_recover_composites_command(user, capsys):
    composite = stuck(user, attempts=1, seconds_ago=30)
    call_command("recover_composites", "--stale-seconds", "10")
    assert str(composite.pk) in capsys.readouterr().out
    composite.refresh_from_db()
    assert composite.status == "queued"
