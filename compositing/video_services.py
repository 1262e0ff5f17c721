"""Video composites: upload, background job, progress, cancel, recovery after a dead worker.

The website, the API, the task and the management commands call these functions; the
numeric work is :func:`compositing.video.composite_video` (no Django there).

Life of a video composite::

    QUEUED --(worker claims it: attempts + 1)--> RUNNING --> DONE | FAILED (reason) | CANCELLED
      ^  |                                          |
      |  +--> CANCELLED (cancelled while queued)    | heartbeat older than
      +---------------------------------------------+ VBG_VIDEO_STALE_SECONDS: re-queued
                                                      (or FAILED after the last attempt)

- **Progress**: while a job runs, a monitor thread writes ``progress`` (percent),
  ``frames_done``, ``frames_total``, ``eta_seconds`` and the heartbeat ``updated`` twice a
  second, and reads ``cancel_requested`` back. Every write is conditional on
  ``status=RUNNING`` and this run's ``attempts``, so a run that lost its claim (recovered
  as stale, cancelled, deleted) notices and stops without touching the row again.
- **Results**: the MP4 is written to a local temporary file; only when it is complete is it
  stored, and only then does the row point at it and say DONE (in one transaction that
  re-checks the claim). A half-written result is never visible.
- **Dead workers**: django-tasks-db leaves a killed worker's task row RUNNING forever and
  never picks it up again. :func:`composites_recover_stale` (run by ``manage.py
  run_worker`` at start and every ``VBG_VIDEO_STALE_SECONDS / 2``, by ``manage.py
  recover_composites``, and lazily by :func:`composite_video_status` for the composite
  being looked at) re-queues a RUNNING composite whose heartbeat is stale with a new task
  while ``attempts < VBG_VIDEO_MAX_ATTEMPTS``, and fails it with a reason otherwise. A
  graceful worker shutdown (SIGTERM to ``run_worker``) re-queues the running job at once.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path, PurePosixPath
from typing import IO, Any

import av
import numpy as np
from django.conf import settings
from django.core.files import File
from django.core.files.base import ContentFile
from django.db import connection, transaction
from django.utils import timezone

from backgrounds.models import Background
from compositing import imaging
from compositing.compose import parse_color
from vbgsite.errors import (
    AppError,
    FileTooLarge,
    InvalidOption,
    InvalidVideo,
    ModelUnavailable,
    NotFound,
    VideoTooLong,
)
from compositing.models import Composite
from compositing.services import background_choice_check
from compositing.video import VideoCancelled, VideoInfo, output_size, probe_video

logger = logging.getLogger(__name__)

VIDEO_MODES: tuple[str, ...] = ("image", "color", "blur")
VIDEO_FORMATS: tuple[str, ...] = ("mp4",)
# Container name (from the probe) -> the extension the stored source gets.
_SOURCE_EXTENSIONS = {"MP4/MOV": "mp4", "WebM/MKV": "mkv"}
# How often the monitor writes progress and the heartbeat, in seconds.
PROGRESS_INTERVAL = 0.5
THUMBNAIL_SIDE = 480

# Set by ``manage.py run_worker`` when the worker is asked to stop (SIGTERM/SIGINT): the
# running job stops at the next frame and is re-queued for the next worker.
WORKER_SHUTDOWN = threading.Event()


class _Stop(Exception):
    """The run lost its claim on the composite (deleted, recovered elsewhere)."""


def _max_attempts() -> int:
    return int(getattr(settings, "VBG_VIDEO_MAX_ATTEMPTS", 3))


def _stale_seconds() -> float:
    return float(getattr(settings, "VBG_VIDEO_STALE_SECONDS", 60))


# --------------------------------------------------------------------------------------
# Upload


def composite_create_video(
    *,
    user: Any,
    video: IO[bytes],
    mode: str,
    background_id: uuid.UUID | str | None = None,
    background_file: IO[bytes] | None = None,
    save_background: bool = False,
    color: str | None = None,
    output_format: str = "mp4",
) -> Composite:
    """Accept a video and queue it; returns at once with a QUEUED composite.

    video: the uploaded file (a Django ``UploadedFile`` or any binary file object):
        MP4, MOV, WebM or MKV with a video stream (H.264, HEVC, VP8, VP9, AV1...), at most
        ``VBG_MAX_VIDEO_BYTES`` bytes and ``VBG_MAX_VIDEO_SECONDS`` seconds. Frames larger
        than ``VBG_MAX_VIDEO_SIDE`` pixels on the long side are scaled down.
    mode: ``"image"`` (exactly one of ``background_id`` or ``background_file``),
        ``"color"`` (``color`` as ``"#RRGGBB"``) or ``"blur"``. ``"transparent"`` is for
        photos only (H.264 has no alpha).
    output_format: ``"mp4"`` (H.264, yuv420p, faststart; the audio is copied).

    The check is quick (a probe that decodes one frame); the work runs on the task worker
    (``compositing.tasks.composite_video_task``), enqueued when the transaction commits.
    Raises InvalidVideo, VideoTooLong, FileTooLarge, InvalidOption, InvalidColor,
    InvalidImage (background upload), NotFound (background), QuotaExceeded. Nothing is
    stored on failure.
    """
    options = _check_video_options(
        mode=mode,
        background_id=background_id,
        background_file=background_file,
        color=color,
        output_format=output_format,
    )
    background, one_off = _resolve_video_background(
        user=user, options=options, background_file=background_file
    )
    with _local_copy(video, max_bytes=settings.VBG_MAX_VIDEO_BYTES) as path:
        info = probe_video(path)
        if info.duration > settings.VBG_MAX_VIDEO_SECONDS:
            raise VideoTooLong(
                f"This video is {_minutes(info.duration)} long; videos can be at most "
                f"{_minutes(settings.VBG_MAX_VIDEO_SECONDS)}."
            )
        composite = Composite(
            id=uuid.uuid4(),
            owner=user,
            kind=Composite.Kind.VIDEO,
            source_name=_display_name(video),
            mode=options["mode"],
            color=options["color_hex"],
            output_format="mp4",
            status=Composite.Status.QUEUED,
            frames_total=info.frames,
            duration=info.duration,
            model_name="",
        )
        width, height = _display_output_size(info)
        composite.width, composite.height = width, height
        written: list[str] = []
        storage = composite.source.storage
        try:
            if background_file is not None and save_background:
                from backgrounds.services import background_upload

                background_file.seek(0)
                stem = PurePosixPath(_display_name(background_file)).stem
                name = " ".join(stem.replace("_", " ").replace("-", " ").split())[:100]
                background = background_upload(
                    user=user, file=background_file, name=name or "My background"
                )
                one_off = None
            composite.background = background
            if one_off is not None:
                composite.background_image.save("background.jpg", ContentFile(one_off), save=False)
                written.append(composite.background_image.name)
            ext = _SOURCE_EXTENSIONS[info.container]
            with open(path, "rb") as handle:
                composite.source.save(f"source.{ext}", File(handle), save=False)
            written.append(composite.source.name)
            with transaction.atomic():
                composite.save(force_insert=True)
                transaction.on_commit(lambda: _enqueue(composite.pk))
        except BaseException:
            for name in written:
                with suppress(Exception):
                    storage.delete(name)
            if save_background and background is not None and background.owner_id == user.pk:
                with suppress(Exception):
                    from backgrounds.services import background_delete

                    background_delete(user=user, background_id=background.pk)
            raise
    return composite


def _check_video_options(
    *,
    mode: str,
    background_id: uuid.UUID | str | None,
    background_file: IO[bytes] | None,
    color: str | None,
    output_format: str,
) -> dict[str, Any]:
    if mode == Composite.Mode.TRANSPARENT:
        raise InvalidOption(
            "Transparent backgrounds are for photos: an H.264 video has no transparency. "
            "Pick a background image, a colour or blur."
        )
    if mode not in VIDEO_MODES:
        raise InvalidOption(f"Unknown background mode {mode!r}; use image, color or blur.")
    fmt = (output_format or "mp4").lower().lstrip(".")
    if fmt not in VIDEO_FORMATS:
        raise InvalidOption(f"Videos are written as MP4 (H.264), not {output_format!r}.")
    rgb = background_choice_check(
        mode=mode, background_id=background_id, background_file=background_file, color=color
    )
    color_hex = "#{:02X}{:02X}{:02X}".format(*rgb) if rgb else ""
    has_id = background_id not in (None, "")
    return {
        "mode": mode,
        "background_id": background_id if has_id else None,
        "color_hex": color_hex,
    }


def _resolve_video_background(
    *, user: Any, options: dict[str, Any], background_file: IO[bytes] | None
) -> tuple[Background | None, bytes | None]:
    """(library background, one-off background as JPEG bytes) for mode "image"."""
    if options["mode"] != Composite.Mode.IMAGE:
        return None, None
    if background_file is not None:
        try:
            image = imaging.load_image(
                background_file,
                max_pixels=settings.VBG_MAX_IMAGE_PIXELS,
                min_side=settings.VBG_MIN_IMAGE_SIDE,
                max_bytes=settings.VBG_MAX_UPLOAD_BYTES,
                allowed_formats=imaging.BACKGROUND_FORMATS,
            )
        except AppError as error:
            raise type(error)(f"Background image: {error.message}") from error
        return None, imaging.encode_image(image.convert("RGB"), "jpg", quality=92)
    try:
        background_id = uuid.UUID(str(options["background_id"]))
    except ValueError:
        raise NotFound("This background does not exist.") from None
    background = Background.objects.for_user(user).filter(pk=background_id).first()
    if background is None:
        raise NotFound("This background does not exist.")
    return background, None


@contextmanager
def _local_copy(upload: IO[bytes], *, max_bytes: int) -> Iterator[Path]:
    """A local file path holding the upload (PyAV needs a seekable file).

    Django's large uploads already are temporary files; anything else is copied in
    chunks, counting bytes, so an oversized upload is refused without reading it all.
    """
    size = getattr(upload, "size", None)
    if size is not None and size > max_bytes:
        raise FileTooLarge(_too_large_message(max_bytes))
    temporary_path = getattr(upload, "temporary_file_path", None)
    if callable(temporary_path):
        yield Path(temporary_path())
        return
    with tempfile.TemporaryDirectory(prefix="vbg-upload-") as folder:
        path = Path(folder) / "upload"
        total = 0
        if hasattr(upload, "seek"):
            upload.seek(0)
        with open(path, "wb") as out:
            while chunk := upload.read(1 << 20):
                total += len(chunk)
                if total > max_bytes:
                    raise FileTooLarge(_too_large_message(max_bytes))
                out.write(chunk)
        if total == 0:
            raise InvalidVideo("This file is empty.")
        yield path


def _minutes(seconds: float) -> str:
    """``75.2`` -> ``"1 min 15 s"``; under a minute ``"42 s"`` (one decimal below 10 s)."""
    if seconds < 10:
        return f"{seconds:.1f} s"
    whole = round(seconds)
    return f"{whole // 60} min {whole % 60:02d} s" if whole >= 60 else f"{whole} s"


def _too_large_message(max_bytes: int) -> str:
    return f"Videos can be at most {max_bytes / (1024 * 1024):.0f} MB."


def _display_name(upload: Any) -> str:
    name = getattr(upload, "name", "") or ""
    return PurePosixPath(str(name).replace("\\", "/")).name[:255]


def _display_output_size(info: VideoInfo) -> tuple[int, int]:
    width, height = output_size(info.width, info.height, settings.VBG_MAX_VIDEO_SIDE)
    return (height, width) if info.rotation % 180 else (width, height)


def _enqueue(composite_id: uuid.UUID | str) -> None:
    from compositing.tasks import composite_video_task

    composite_video_task.enqueue(composite_id=str(composite_id))


# --------------------------------------------------------------------------------------
# Cancel and status


def composite_cancel(*, user: Any, composite_id: uuid.UUID | str) -> Composite:
    """Cancel one of the user's video jobs.

    A queued job is cancelled at once; a running one is asked to stop (``cancel_requested``)
    and the worker marks it CANCELLED within a second, discarding its partial output. A
    finished composite is returned unchanged. Raises NotFound for another user's id.
    """
    composite = _get(user=user, composite_id=composite_id)
    now = timezone.now()
    Composite.objects.filter(pk=composite.pk, status=Composite.Status.QUEUED).update(
        status=Composite.Status.CANCELLED,
        cancel_requested=True,
        eta_seconds=None,
        finished_at=now,
        updated=now,
    )
    Composite.objects.filter(pk=composite.pk, status=Composite.Status.RUNNING).update(
        cancel_requested=True
    )
    composite.refresh_from_db()
    return composite


def composite_video_status(*, user: Any, composite_id: uuid.UUID | str) -> dict[str, Any]:
    """The job's progress as plain data (for the JSON status endpoint and the API).

    Also the lazy half of recovery: a RUNNING composite whose heartbeat is stale is
    re-queued (or failed) right here, so nobody ever watches a dead job "running".
    """
    composite = _get(user=user, composite_id=composite_id)
    if composite.status == Composite.Status.RUNNING and _is_stale(composite):
        composites_recover_stale(composite_ids=[composite.pk])
        composite.refresh_from_db()
    return video_progress(composite)


def video_progress(composite: Composite) -> dict[str, Any]:
    """``{"status", "progress", "frames_done", "frames_total", "eta_seconds", "error",
    "attempts", "cancel_requested", "finished"}`` for one composite (no queries)."""
    return {
        "id": str(composite.pk),
        "kind": composite.kind,
        "status": composite.status,
        "progress": round(float(composite.progress), 1),
        "frames_done": composite.frames_done,
        "frames_total": composite.frames_total,
        "eta_seconds": None if composite.eta_seconds is None else round(composite.eta_seconds, 1),
        "error": composite.error,
        "attempts": composite.attempts,
        "cancel_requested": composite.cancel_requested,
        "finished": composite.is_finished,
    }


def _get(*, user: Any, composite_id: uuid.UUID | str) -> Composite:
    from compositing.services import composite_get

    return composite_get(user=user, composite_id=composite_id)


def _is_stale(composite: Composite) -> bool:
    return composite.updated < timezone.now() - timedelta(seconds=_stale_seconds())


# --------------------------------------------------------------------------------------
# Recovery


@dataclass
class Recovery:
    """What :func:`composites_recover_stale` did (composite ids)."""

    requeued: list[str]
    failed: list[str]
    reenqueued: list[str]  # QUEUED composites whose task row had gone missing


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
    from django_tasks_db.models import DBTaskResult

    stale = stale_seconds if stale_seconds is not None else _stale_seconds()
    cutoff = timezone.now() - timedelta(seconds=stale)
    report = Recovery(requeued=[], failed=[], reenqueued=[])
    running = Composite.objects.filter(
        kind=Composite.Kind.VIDEO, status=Composite.Status.RUNNING, updated__lt=cutoff
    )
    if composite_ids is not None:
        running = running.filter(pk__in=composite_ids)
    for composite in running.only("pk", "attempts", "cancel_requested"):
        now = timezone.now()
        claim = Composite.objects.filter(
            pk=composite.pk,
            status=Composite.Status.RUNNING,
            attempts=composite.attempts,
            updated__lt=cutoff,
        )
        if composite.cancel_requested:
            changed = claim.update(
                status=Composite.Status.CANCELLED, eta_seconds=None, finished_at=now, updated=now
            )
            outcome = None
        elif composite.attempts < _max_attempts():
            changed = claim.update(
                status=Composite.Status.QUEUED,
                progress=0.0,
                frames_done=0,
                eta_seconds=None,
                error="",
                updated=now,
            )
            outcome = report.requeued
        else:
            changed = claim.update(
                status=Composite.Status.FAILED,
                error=(
                    f"The worker stopped while processing this video {composite.attempts} "
                    "times; giving up. Try a shorter or smaller video."
                ),
                eta_seconds=None,
                finished_at=now,
                updated=now,
            )
            outcome = report.failed
        if not changed:
            continue
        _fail_dead_task_rows(DBTaskResult, composite.pk)
        if outcome is report.requeued:
            _enqueue(composite.pk)
        if outcome is not None:
            outcome.append(str(composite.pk))
        logger.warning(
            "recovered video composite %s (attempt %s): %s",
            composite.pk,
            composite.attempts,
            "re-queued" if outcome is report.requeued else "cancelled/failed",
        )

    queued = Composite.objects.filter(
        kind=Composite.Kind.VIDEO, status=Composite.Status.QUEUED, updated__lt=cutoff
    )
    if composite_ids is not None:
        queued = queued.filter(pk__in=composite_ids)
    for composite in queued.only("pk"):
        live = DBTaskResult.objects.filter(
            task_path=_TASK_PATH,
            status__in=("READY", "RUNNING"),
            args_kwargs__kwargs__composite_id=str(composite.pk),
        ).exists()
        if not live:
            _fail_dead_task_rows(DBTaskResult, composite.pk)
            Composite.objects.filter(pk=composite.pk).update(updated=timezone.now())
            _enqueue(composite.pk)
            report.reenqueued.append(str(composite.pk))
    return report


_TASK_PATH = "compositing.tasks.composite_video_task"


def _fail_dead_task_rows(model: Any, composite_id: Any) -> None:
    """Mark the task rows a dead worker left RUNNING for this composite as failed."""
    model.objects.filter(
        task_path=_TASK_PATH,
        status="RUNNING",
        args_kwargs__kwargs__composite_id=str(composite_id),
    ).update(
        status="FAILED",
        finished_at=timezone.now(),
        exception_class_path="compositing.video_services.WorkerLost",
        traceback="The worker running this task stopped (killed or crashed); "
        "the composite was recovered by composites_recover_stale.",
    )


# --------------------------------------------------------------------------------------
# The job


class _Monitor:
    """Writes progress and the heartbeat from its own thread; reads cancel requests back.

    The pipeline only sets attributes and checks :attr:`stop` (an Event); all database
    traffic happens here, at most twice a second, with this thread's own connection.
    """

    def __init__(self, composite_id: Any, attempt: int, frames_total: int) -> None:
        self.composite_id = composite_id
        self.attempt = attempt
        self.frames_done = 0
        self.frames_total = frames_total
        self.eta: float | None = None
        self.stop = threading.Event()
        self.reason: str | None = None  # "cancelled", "lost", "shutdown"
        self._written: tuple[int, int] | None = None
        self._progress = 0.0
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, name="video-progress", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def close(self) -> None:
        self._done.set()
        self._thread.join(timeout=30)

    def update(self, frames_done: int, frames_total: int, eta: float | None) -> None:
        self.frames_done, self.frames_total, self.eta = frames_done, frames_total, eta

    def should_stop(self) -> bool:
        if WORKER_SHUTDOWN.is_set() and self.reason is None:
            self.reason = "shutdown"
            self.stop.set()
        return self.stop.is_set()

    def _run(self) -> None:
        try:
            while not self._done.wait(PROGRESS_INTERVAL):
                self.beat()
        except Exception:
            logger.exception("progress monitor for %s failed", self.composite_id)
        finally:
            connection.close()

    def beat(self) -> None:
        """One heartbeat: write progress if changed (always ``updated``), read cancel."""
        done, total = self.frames_done, max(self.frames_total, self.frames_done, 1)
        progress = max(self._progress, min(99.0, 100.0 * done / total))
        fields: dict[str, Any] = {"updated": timezone.now()}
        if (done, total) != self._written:
            fields.update(
                frames_done=done,
                frames_total=total,
                progress=round(progress, 2),
                eta_seconds=self.eta,
            )
        changed = Composite.objects.filter(
            pk=self.composite_id, status=Composite.Status.RUNNING, attempts=self.attempt
        ).update(**fields)
        if not changed:
            self.reason = self.reason or "lost"
            self.stop.set()
            return
        self._written, self._progress = (done, total), progress
        if Composite.objects.filter(pk=self.composite_id, cancel_requested=True).exists():
            self.reason = self.reason or "cancelled"
            self.stop.set()


def composite_video_run(*, composite_id: uuid.UUID | str) -> str:
    """Process one queued video composite (the task body). Returns the final status.

    Claims the row (QUEUED -> RUNNING, attempts + 1), runs the pipeline with a progress
    monitor, stores the finished MP4 and a thumbnail, then marks it DONE; user errors
    (corrupt or truncated video...) mark it FAILED with the reason; a cancel request marks
    it CANCELLED. Anything unexpected marks it FAILED and is re-raised (so the task row
    records the traceback).
    """
    composite = _claim(composite_id)
    if composite is None:
        return "skipped"
    monitor = _Monitor(composite.pk, composite.attempts, composite.frames_total)
    workdir = Path(tempfile.mkdtemp(prefix="vbg-video-"))
    stored: list[str] = []
    storage = composite.source.storage
    try:
        monitor.start()
        result = _render_video(composite, workdir, monitor)
        monitor.close()
        if monitor.reason in ("cancelled", "lost"):
            raise _Stop()  # a shutdown now would waste a finished result: keep it
        thumbnail = _thumbnail(workdir / "result.mp4", result.rotation)
        with open(workdir / "result.mp4", "rb") as handle:
            composite.result.save("result.mp4", File(handle), save=False)
        stored.append(composite.result.name)
        composite.thumbnail.save("thumb.jpg", ContentFile(thumbnail), save=False)
        stored.append(composite.thumbnail.name)
        status = _finish_done(composite, result)
        if status != Composite.Status.DONE:
            _delete_files(storage, stored)
        return status
    except VideoCancelled:
        _delete_files(storage, stored)
        return _finish_stopped(composite, monitor)
    except _Stop:
        _delete_files(storage, stored)
        return _finish_stopped(composite, monitor)
    except AppError as error:
        _delete_files(storage, stored)
        return _finish_failed(composite, error.message)
    except Exception as exc:
        _delete_files(storage, stored)
        logger.exception("video composite %s failed", composite.pk)
        _finish_failed(
            composite,
            f"Processing failed because of an internal error ({type(exc).__name__}). "
            "Please try again.",
        )
        raise
    except BaseException:
        # SystemExit/KeyboardInterrupt: the worker is being stopped hard. Put the job back.
        _delete_files(storage, stored)
        monitor.reason = "shutdown"
        _finish_stopped(composite, monitor)
        raise
    finally:
        monitor.close()
        shutil.rmtree(workdir, ignore_errors=True)


def _claim(composite_id: uuid.UUID | str) -> Composite | None:
    """QUEUED -> RUNNING (attempts + 1); None when there is nothing to do."""
    now = timezone.now()
    with transaction.atomic():
        composite = Composite.objects.select_for_update().filter(pk=composite_id).first()
        if composite is None or composite.status != Composite.Status.QUEUED:
            return None
        if composite.cancel_requested:
            composite.status = Composite.Status.CANCELLED
            composite.finished_at = now
            composite.save(update_fields=["status", "finished_at", "updated"])
            return None
        if composite.attempts >= _max_attempts():
            composite.status = Composite.Status.FAILED
            composite.error = "This video could not be processed after several attempts."
            composite.finished_at = now
            composite.save(update_fields=["status", "error", "finished_at", "updated"])
            return None
        composite.status = Composite.Status.RUNNING
        composite.attempts += 1
        composite.started_at = now
        composite.progress = 0.0
        composite.frames_done = 0
        composite.eta_seconds = None
        composite.error = ""
        composite.save(
            update_fields=[
                "status",
                "attempts",
                "started_at",
                "progress",
                "frames_done",
                "eta_seconds",
                "error",
                "updated",
            ]
        )
    return composite


def _render_video(composite: Composite, workdir: Path, monitor: _Monitor) -> Any:
    from compositing.video import composite_video, engine_frame_segmenter

    source = workdir / ("source" + (PurePosixPath(composite.source.name).suffix or ".mp4"))
    with (
        composite.source.storage.open(composite.source.name, "rb") as handle,
        open(source, "wb") as out,
    ):
        shutil.copyfileobj(handle, out, 1 << 20)
    background = None
    color = None
    if composite.mode == Composite.Mode.IMAGE:
        background = _background_pixels(composite)
    elif composite.mode == Composite.Mode.COLOR:
        color = parse_color(composite.color)
    segmenter = _frame_segmenter(engine_frame_segmenter)

    def stop() -> bool:
        return monitor.should_stop()

    return composite_video(
        source,
        workdir / "result.mp4",
        segmenter=segmenter,
        mode=composite.mode,
        background=background,
        color=color,
        max_side=settings.VBG_MAX_VIDEO_SIDE,
        progress=monitor.update,
        should_cancel=stop,
        preset=getattr(settings, "VBG_VIDEO_PRESET", "superfast"),
        crf=int(getattr(settings, "VBG_VIDEO_CRF", 20)),
    )


def _frame_segmenter(factory: Any) -> Any:
    """The engine's network for video frames, configured from settings like the photo path."""
    from compositing.segmentation import SegmentationError, configure

    try:
        from compositing.engine import get_engine
    except ImportError:  # the Django-side engine module is optional here
        configure(model_dir=settings.VBG_MODEL_DIR, threads=settings.VBG_TORCH_THREADS)
    else:
        get_engine()
    try:
        return factory(settings.VBG_SEGMENTER)
    except SegmentationError as exc:
        logger.error("segmentation model unavailable: %s", exc)
        raise ModelUnavailable() from exc


def _background_pixels(composite: Composite) -> np.ndarray:
    file = composite.background_image or (
        composite.background.image if composite.background is not None else None
    )
    if not file:
        raise InvalidOption("The background image of this composite is no longer available.")
    try:
        with file.storage.open(file.name, "rb") as handle:
            data = handle.read()
    except OSError as exc:
        raise InvalidOption("The background image of this composite is missing.") from exc
    image = imaging.load_image(data, max_pixels=settings.VBG_MAX_IMAGE_PIXELS, min_side=1)
    return np.asarray(image.convert("RGB"))


def _thumbnail(path: Path, rotation: int) -> bytes:
    """A JPEG of the result's frame at about a third of the clip, upright."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        target = (stream.frames or 3) // 3
        frame_image = None
        for index, frame in enumerate(container.decode(stream)):
            frame_image = frame.to_image()
            if index >= target:
                break
    if frame_image is None:
        raise InvalidVideo("The result has no frames.")
    if rotation:
        frame_image = frame_image.rotate(rotation, expand=True)
    return imaging.make_thumbnail(frame_image, THUMBNAIL_SIDE, fmt="jpg")


def _finish_done(composite: Composite, result: Any) -> str:
    """RUNNING -> DONE with the stored files, if this run still holds the claim."""
    now = timezone.now()
    with transaction.atomic():
        current = Composite.objects.select_for_update().filter(pk=composite.pk).first()
        if (
            current is None
            or current.status != Composite.Status.RUNNING
            or current.attempts != composite.attempts
        ):
            return current.status if current is not None else "deleted"
        if current.cancel_requested:
            current.status = Composite.Status.CANCELLED
            current.finished_at = now
            current.eta_seconds = None
            current.save(update_fields=["status", "finished_at", "eta_seconds", "updated"])
            return current.status
        shown_w, shown_h = (
            (result.height, result.width)
            if result.rotation % 180
            else (result.width, result.height)
        )
        current.result = composite.result.name
        current.thumbnail = composite.thumbnail.name
        current.status = Composite.Status.DONE
        current.progress = 100.0
        current.frames_done = result.frames
        current.frames_total = result.frames
        current.eta_seconds = 0.0
        current.width, current.height = shown_w, shown_h
        current.duration = result.duration
        current.model_name = result.model_name
        current.timings = {
            "total_ms": round(result.seconds * 1000.0, 1),
            "fps": round(result.fps_processed, 2),
            **{f"{k}_ms": round(v * 1000.0, 1) for k, v in result.timings.items()},
            "audio": result.audio or "none",
        }
        current.finished_at = now
        current.save()
    return Composite.Status.DONE


def _finish_failed(composite: Composite, message: str) -> str:
    now = timezone.now()
    Composite.objects.filter(
        pk=composite.pk, status=Composite.Status.RUNNING, attempts=composite.attempts
    ).update(
        status=Composite.Status.FAILED,
        error=message,
        eta_seconds=None,
        finished_at=now,
        updated=now,
    )
    return Composite.Status.FAILED


def _finish_stopped(composite: Composite, monitor: _Monitor) -> str:
    """Cancelled by the user, lost the claim, or the worker is shutting down."""
    now = timezone.now()
    claim = Composite.objects.filter(
        pk=composite.pk, status=Composite.Status.RUNNING, attempts=composite.attempts
    )
    if monitor.reason == "shutdown":
        # Not the video's fault: the attempt does not count, and the job goes back.
        if claim.update(
            status=Composite.Status.QUEUED,
            attempts=max(0, composite.attempts - 1),
            progress=0.0,
            frames_done=0,
            eta_seconds=None,
            updated=now,
        ):
            _enqueue(composite.pk)
        return Composite.Status.QUEUED
    if monitor.reason == "lost":
        return "lost"
    claim.update(status=Composite.Status.CANCELLED, eta_seconds=None, finished_at=now, updated=now)
    return Composite.Status.CANCELLED


def _delete_files(storage: Any, names: list[str]) -> None:
    for name in names:
        try:
            storage.delete(name)
        except Exception:
            logger.exception("could not delete %s", name)
