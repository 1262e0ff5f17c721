"""``manage.py run_worker``: django-tasks-db's ``db_worker`` plus video job recovery.

Same options as ``db_worker``. In addition:

- at start, and then every ``VBG_VIDEO_STALE_SECONDS / 2`` seconds from a watchdog
  thread, it runs ``composites_recover_stale``: a video job whose worker was killed
  (django-tasks-db leaves its task row RUNNING forever and never picks it up again) is
  re-queued with a new task, or failed after ``VBG_VIDEO_MAX_ATTEMPTS``;
- at start, work files left by killed processes are removed (``vbgsite.work_files``);
- once a day (``VBG_SWEEP_INTERVAL_SECONDS``, counted across workers in the shared
  cache), from the watchdog thread: ``storage_sweep(delete=True)`` (objects without rows,
  rows without objects; ``manage.py sweep_storage``) and stale work files;
- on SIGTERM/SIGINT (a deploy or a dyno restart) the running video job stops at the next
  frame and goes back to the queue at once, instead of being killed when the platform's
  grace period runs out. A second signal stops the worker immediately, as in db_worker.

With the Redis queue (``VBG_TASKS_BACKEND=redis``, django-tasks-redis) the same options
run django-tasks-redis's worker instead (``--batch``: exit once the queue is empty;
``--queue-name '*'``: every queue), with the same recovery and signal handling; any
number of these workers, on any number of machines, consume one queue.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from argparse import ArgumentParser, ArgumentTypeError
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.core.management.base import BaseCommand
from django.db import connection
from django.tasks import task_backends
from django.tasks.exceptions import InvalidTaskBackend
from django_tasks_db.management.commands import db_worker
from django_tasks_redis.management.commands import run_redis_tasks

from compositing.services.storage_sweep import storage_sweep
from compositing.services.video_jobs import WORKER_SHUTDOWN
from compositing.services.video_queue import queue_backend_name
from compositing.services.video_recovery import composites_recover_stale
from vbgsite.work_files import work_files_clean_stale

logger = logging.getLogger("compositing.worker")
SWEEP_CACHE_KEY = "vbg_storage_sweep_last"


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


def _sweep_if_due() -> None:
    """Once per ``VBG_SWEEP_INTERVAL_SECONDS`` across every worker (the last run's time is
    in the shared cache): the storage sweep with deletion, and stale work files."""
    interval = settings.VBG_SWEEP_INTERVAL_SECONDS
    if not interval:
        return
    try:
        if not cache.add(SWEEP_CACHE_KEY, time.time(), timeout=interval):
            return  # swept less than an interval ago (here or by another worker)
        work_files_clean_stale()
        storage_sweep(delete=True)
    except Exception:
        logger.exception("daily storage sweep failed")


def _watchdog(stop: threading.Event, interval: float) -> None:
    try:
        _sweep_if_due()
        while not stop.wait(interval):
            _recover()
            _sweep_if_due()
    finally:
        connection.close()


def _known_backend(name: str) -> str:
    try:
        task_backends[name]
    except InvalidTaskBackend as exc:
        raise ArgumentTypeError(exc.args[0]) from exc
    return name


class _RedisWorker(run_redis_tasks.Command):
    """django-tasks-redis's worker; a shutdown signal also stops the running video job at
    its next frame (it goes back to the queue), as with db_worker."""

    def _report_signal(self, signum: int, count: int) -> None:
        WORKER_SHUTDOWN.set()
        super()._report_signal(signum, count)


def _run_redis_worker(command: BaseCommand, options: dict[str, Any]) -> None:
    """Run django-tasks-redis's worker with db_worker's options."""
    queue = options["queue_name"]
    _RedisWorker(stdout=command.stdout, stderr=command.stderr).handle(
        queue_name=None if queue == "*" else queue,
        backend_name=options["backend_name"],
        continuous=not options["batch"],
        interval=options["interval"],
        max_tasks=options.get("max_tasks") or 0,
        claim_interval=60.0,
        shutdown_timeout=0.0,
        no_graceful_shutdown=False,
        empty_exit_code=0,
        failed_exit_code=0,
    )


class Command(db_worker.Command):
    help = "Run the task worker (db_worker) with recovery of video jobs whose worker died."

    def add_arguments(self, parser: ArgumentParser) -> None:
        super().add_arguments(parser)
        # db_worker accepts only database backends; a Redis one is run by its own worker.
        parser._option_string_actions["--backend"].type = _known_backend

    def handle(self, **options: Any) -> None:
        work_files_clean_stale()  # left by a worker that was killed (issue 13, hole 7)
        _recover()
        stale = float(settings.VBG_VIDEO_STALE_SECONDS)
        stop = threading.Event()
        watchdog = threading.Thread(
            target=_watchdog, args=(stop, max(1.0, stale / 2)), name="video-watchdog", daemon=True
        )
        watchdog.start()
        if queue_backend_name() == "redis":
            try:
                _run_redis_worker(self, options)
            finally:
                stop.set()
            return
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
