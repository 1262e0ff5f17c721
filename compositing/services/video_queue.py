"""Putting a video composite on the task queue, and asking the queue about its tasks.

The task is enqueued by its stored path, not by importing ``compositing.tasks`` (which
imports the services: that would be a cycle). The path is also what queued tasks hold, so
it never changes: jobs queued before a deploy still find their task.

Two task backends (``settings.TASKS``, chosen by ``VBG_TASKS_BACKEND``): django-tasks-db
(the embedded default: task rows in the database, ``manage.py run_worker`` polls them)
and django-tasks-redis (Redis streams; any number of ``run_worker`` processes on any
number of machines consume one queue). Recovery (``video_recovery``) asks the queue two
questions, answered here for each backend: is a task for this composite still waiting or
running, and mark the task a dead worker left running as failed.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

from django.tasks import task_backends
from django.utils import timezone
from django.utils.module_loading import import_string
from django_tasks_db.backend import DatabaseBackend
from django_tasks_db.models import DBTaskResult
from django_tasks_redis.backends import RedisTaskBackend

TASK_PATH = "compositing.tasks.composite_video_task"
_LIVE = ("READY", "RUNNING")


class WorkerLost(Exception):
    """Recorded on the task of a run whose worker stopped (killed or crashed)."""


def video_task_enqueue(composite_id: uuid.UUID | str) -> None:
    """Enqueue ``composite_video_task(composite_id=...)`` now (callers inside a transaction
    pass this to ``transaction.on_commit``)."""
    import_string(TASK_PATH).enqueue(composite_id=str(composite_id))


def queue_backend_name() -> str:
    """``"db"``, ``"redis"`` or the backend's class name (another backend: tests' own)."""
    backend = task_backends["default"]
    if isinstance(backend, DatabaseBackend):
        return "db"
    if isinstance(backend, RedisTaskBackend):
        return "redis"
    return type(backend).__name__


def video_task_live(composite_id: Any) -> bool:
    """True when a task for this composite is waiting or running (or the backend cannot
    tell: then nothing is re-enqueued)."""
    backend = task_backends["default"]
    if isinstance(backend, DatabaseBackend):
        return _db_tasks(composite_id, _LIVE).exists()
    if isinstance(backend, RedisTaskBackend):
        return any(True for _ in _redis_tasks(backend, composite_id, _LIVE))
    return True


def video_tasks_fail_dead(composite_id: Any) -> None:
    """Mark the task(s) a dead worker left RUNNING for this composite as failed, so the
    queue shows why and (Redis) does not deliver it again."""
    reason = (
        "The worker running this task stopped (killed or crashed); "
        "the composite was recovered by composites_recover_stale."
    )
    backend = task_backends["default"]
    if isinstance(backend, DatabaseBackend):
        _db_tasks(composite_id, ("RUNNING",)).update(
            status="FAILED",
            finished_at=timezone.now(),
            exception_class_path=f"{WorkerLost.__module__}.{WorkerLost.__qualname__}",
            traceback=reason,
        )
    elif isinstance(backend, RedisTaskBackend):
        for task in list(_redis_tasks(backend, composite_id, ("RUNNING",))):
            backend.mark_task_failed(task["task_id"], reason)


def _db_tasks(composite_id: Any, statuses: tuple[str, ...]) -> Any:
    return DBTaskResult.objects.filter(
        task_path=TASK_PATH,
        status__in=statuses,
        args_kwargs__kwargs__composite_id=str(composite_id),
    )


def _redis_tasks(
    backend: RedisTaskBackend, composite_id: Any, statuses: tuple[str, ...]
) -> Iterator[dict[str, str]]:
    """The backend's stored tasks of this composite in ``statuses`` (a scan of the queue's
    results; recovery calls this only for jobs that look lost)."""
    wanted = str(composite_id)
    for _task_id, task in backend.iter_task_data():
        if task.get("task_path") != TASK_PATH or task.get("status") not in statuses:
            continue
        try:
            kwargs = json.loads(task.get("kwargs_json") or "{}")
        except ValueError:
            continue
        if kwargs.get("composite_id") == wanted:
            yield task
