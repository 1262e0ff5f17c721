"""Background tasks (Django's tasks framework, worked by ``manage.py run_worker`` /
``db_worker`` from django-tasks-db).

Tasks take ids and call services; everything they do is in
:mod:`compositing.services.video_jobs`. The task's path,
``compositing.tasks.composite_video_task``, is stored in queued task rows: keep it.
"""

from __future__ import annotations

from django.tasks import task

from compositing.services.video_jobs import composite_video_run


@task()
def composite_video_task(*, composite_id: str) -> str:
    """Composite one queued video (see ``composite_video_run``); returns the final status."""
    return composite_video_run(composite_id=composite_id)
