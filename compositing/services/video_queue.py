"""Putting a video composite on the task queue.

The task is enqueued by its stored path, not by importing ``compositing.tasks`` (which
imports the services: that would be a cycle). The path is also what task rows in the
database hold, so it never changes: jobs queued before a deploy still find their task.
"""

from __future__ import annotations

import uuid

from django.utils.module_loading import import_string

TASK_PATH = "compositing.tasks.composite_video_task"


def video_task_enqueue(composite_id: uuid.UUID | str) -> None:
    """Enqueue ``composite_video_task(composite_id=...)`` now (callers inside a transaction
    pass this to ``transaction.on_commit``)."""
    import_string(TASK_PATH).enqueue(composite_id=str(composite_id))
