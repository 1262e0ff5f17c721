"""Background tasks (Django's tasks framework, worked by ``manage.py run_worker`` /
``db_worker`` from django-tasks-db).

Tasks take ids and call services; everything they do is in
:mod:`compositing.video_services`.
"""

from __future__ import annotations

from django.tasks import task

from compositing.video_services import composite_video_run


@task()
def composite_video_task(*, composite_id: str) -> str:
    """Composite one queued video (see ``composite_video_run``); returns the final status."""
    return composite_video_run(composite_id=composite_id)
