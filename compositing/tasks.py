"""Background tasks (Django's tasks framework, worked by ``manage.py run_worker`` /
``db_worker`` from django-tasks-db).

Tasks take ids and call services; everything they do is in
:mod:`compositing.services.video_jobs` and :mod:`compositing.services.webhooks`. The
tasks' paths (``compositing.tasks.composite_video_task``, ``...webhook_deliver_task``)
are stored in queued task rows: keep them.
"""

from __future__ import annotations

from django.tasks import task

from compositing.models import Composite
from compositing.services.video_jobs import composite_video_run
from compositing.services.webhooks import webhook_deliver, webhook_schedule

_ENDED = {Composite.Status.DONE, Composite.Status.FAILED, Composite.Status.CANCELLED}


@task()
def composite_video_task(*, composite_id: str) -> str:
    """Composite one queued video (see ``composite_video_run``); returns the final status.
    A job that ended (done, failed, cancelled) calls its webhook, if it has one."""
    try:
        status = composite_video_run(composite_id=composite_id)
    except Exception:
        webhook_schedule(composite_id)  # the run marked it failed
        raise
    if status in _ENDED:
        webhook_schedule(composite_id)
    return status


@task()
def webhook_deliver_task(*, composite_id: str, attempt: int) -> str:
    """One attempt at a job's webhook (see ``webhook_deliver``); retries are new tasks."""
    delivery = webhook_deliver(composite_id=composite_id, attempt=attempt)
    if delivery is None:
        return "nothing to deliver"
    return "delivered" if delivery.delivered else (delivery.error or "failed")
