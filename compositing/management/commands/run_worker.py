"""``manage.py run_worker``: django-tasks-db's ``db_worker`` plus video job recovery.

Same options as ``db_worker``. In addition:

- at start, and then every ``VBG_VIDEO_STALE_SECONDS / 2`` seconds from a watchdog
  thread, it runs ``composites_recover_stale``: a video job whose worker was killed
  (django-tasks-db leaves its task row RUNNING forever and never picks it up again) is
  re-queued with a new task, or failed after ``VBG_VIDEO_MAX_ATTEMPTS``;
- on SIGTERM/SIGINT (a deploy or a dyno restart) the running video job stops at the next
  frame and goes back to the queue at once, instead of being killed when the platform's
  grace period runs out. A second signal stops the worker immediately, as in db_worker.
"""

from __future__ import annotations

import logging
import signal
import threading
from typing import Any

from django.conf import settings
from django.db import connection
from django_tasks_db.management.commands import db_worker

from compositing.services.video_jobs import WORKER_SHUTDOWN
from compositing.services.video_recovery import composites_recover_stale

logger = logging.getLogger("compositing.worker")


def _recover() -> None:
    try:
        report = composites_recover_stale()
    except Exception:
        logger.exception("recovering stale video composites failed")
        return
    if report.requeued or report.failed or report.reenqueued:
        logger.warning(
            "recovered video composites: requeued=%s failed=%s reenqueued=%s",
            report.requeued,
            report.failed,
            report.reenqueued,
        )


def _watchdog(stop: threading.Event, interval: float) -> None:
    try:
        while not stop.wait(interval):
            _recover()
    finally:
        connection.close()


class Command(db_worker.Command):
    help = "Run the task worker (db_worker) with recovery of video jobs whose worker died."

    def handle(self, **options: Any) -> None:
        _recover()
        stale = float(settings.VBG_VIDEO_STALE_SECONDS)
        stop = threading.Event()
        watchdog = threading.Thread(
            target=_watchdog, args=(stop, max(1.0, stale / 2)), name="video-watchdog", daemon=True
        )
        watchdog.start()
        original = db_worker.Worker.configure_signals

        def configure_signals(worker: db_worker.Worker) -> None:
            original(worker)
            for signum in (signal.SIGINT, signal.SIGTERM):
                handler = signal.getsignal(signum)

                def stop_job(number: int, frame: Any, handler: Any = handler) -> None:
                    WORKER_SHUTDOWN.set()
                    if callable(handler):
                        handler(number, frame)

                signal.signal(signum, stop_job)

        db_worker.Worker.configure_signals = configure_signals  # type: ignore[method-assign]
        try:
            super().handle(**options)
        finally:
            db_worker.Worker.configure_signals = original  # type: ignore[method-assign]
            stop.set()
