"""Video jobs on the worker: the task body, its progress monitor and the worker's hooks.

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
- **Dead workers**: see :mod:`compositing.services.video_recovery`. A graceful worker
  shutdown (SIGTERM to ``run_worker``, which sets :data:`WORKER_SHUTDOWN`) re-queues the
  running job at once.
"""

from __future__ import annotations

import logging
import shutil
import threading
import uuid
from pathlib import Path, PurePosixPath
from typing import Any

import av
import numpy as np
from django.conf import settings
from django.core.files import File
from django.core.files.base import ContentFile
from django.db import connection, transaction
from django.utils import timezone
from PIL import Image

from compositing.compose import parse_color
from compositing.engine import get_frame_segmenter
from compositing.models import Composite
from compositing.services.background_choice import MISSING_IMAGE
from compositing.services.stored_files import stored_file_read, stored_files_delete
from compositing.services.uploads import stored_image_decode
from compositing.services.video_queue import video_task_enqueue
from compositing.thumbnails import make_thumbnail
from compositing.video import VideoCancelled, composite_video
from vbgsite.errors import AppError, InvalidVideo, NotFound
from vbgsite.work_files import work_dir

logger = logging.getLogger(__name__)

# How often the monitor writes progress and the heartbeat, in seconds.
PROGRESS_INTERVAL = 0.5
THUMBNAIL_SIDE = 480

# Set by ``manage.py run_worker`` when the worker is asked to stop (SIGTERM/SIGINT): the
# running job stops at the next frame and is re-queued for the next worker.
WORKER_SHUTDOWN = threading.Event()


class _Stop(Exception):
    """The run lost its claim on the composite (deleted, recovered elsewhere)."""


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
    workdir = work_dir("video")  # named: found and removed if this worker is killed
    stored: list[str] = []
    storage = composite.source.storage
    try:
        monitor.start()
        result = _render_video(composite, workdir, monitor)
        monitor.close()
        if monitor.reason in ("cancelled", "lost"):
            raise _Stop()  # a shutdown now would waste a finished result: keep it
        output = workdir / f"result.{composite.output_format}"
        thumbnail = _thumbnail(output, result.rotation)
        with open(output, "rb") as handle:
            composite.result.save(output.name, File(handle), save=False)
        stored.append(composite.result.name)
        composite.thumbnail.save("thumb.jpg", ContentFile(thumbnail), save=False)
        stored.append(composite.thumbnail.name)
        status = _finish_done(composite, result)
        if status != Composite.Status.DONE:
            stored_files_delete(storage, stored)
        return status
    except (VideoCancelled, _Stop):
        stored_files_delete(storage, stored)
        return _finish_stopped(composite, monitor)
    except AppError as error:
        stored_files_delete(storage, stored)
        return _finish_failed(composite, error.message)
    except Exception as exc:
        stored_files_delete(storage, stored)
        logger.exception("video composite %s failed", composite.pk)
        _finish_failed(
            composite,
            f"Processing failed because of an internal error ({type(exc).__name__}). "
            "Please try again.",
        )
        raise
    except BaseException:
        # SystemExit/KeyboardInterrupt: the worker is being stopped hard. Put the job back.
        stored_files_delete(storage, stored)
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
        if composite.attempts >= settings.VBG_VIDEO_MAX_ATTEMPTS:
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
    segmenter = get_frame_segmenter()

    def stop() -> bool:
        return monitor.should_stop()

    return composite_video(
        source,
        workdir / f"result.{composite.output_format}",
        segmenter=segmenter,
        mode=composite.mode,
        background=background,
        color=color,
        max_side=settings.VBG_MAX_VIDEO_SIDE,
        progress=monitor.update,
        should_cancel=stop,
        preset=settings.VBG_VIDEO_PRESET,
        crf=settings.VBG_VIDEO_CRF,
        output_format=composite.output_format,
    )


def _background_pixels(composite: Composite) -> np.ndarray:
    """The composite's background image (one-off or library), uint8 HxWx3 RGB.

    Raises NotFound (the job fails with its message) when it has gone from storage."""
    file = composite.background_image or (
        composite.background.image if composite.background is not None else None
    )
    if not file:
        raise NotFound(MISSING_IMAGE)
    return np.asarray(stored_image_decode(stored_file_read(file, missing=MISSING_IMAGE)))


def _thumbnail(path: Path, rotation: int) -> bytes:
    """A JPEG of the result's frame at about a third of the clip, upright; a transparent
    result is shown over a light checkerboard."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        target = (stream.frames or 3) // 3
        frame_image = None
        # FFmpeg's own VP9 decoder drops the alpha channel; libvpx's keeps it.
        decoder = av.CodecContext.create("libvpx-vp9", "r") if path.suffix == ".webm" else None
        frames = (
            (f for packet in container.demux(stream) for f in decoder.decode(packet))
            if decoder is not None
            else container.decode(stream)
        )
        for index, frame in enumerate(frames):
            frame_image = _opaque_image(frame)
            if index >= target:
                break
    if frame_image is None:
        raise InvalidVideo("The result has no frames.")
    if rotation:
        frame_image = frame_image.rotate(rotation, expand=True)
    return make_thumbnail(frame_image, THUMBNAIL_SIDE, fmt="jpg")


def _opaque_image(frame: av.VideoFrame) -> Image.Image:
    if not frame.format.name.startswith(("yuva", "rgba", "gbrap")):  # no alpha plane
        return frame.to_image()
    image = Image.fromarray(frame.to_ndarray(format="rgba"), "RGBA")
    ys, xs = np.mgrid[0 : image.height, 0 : image.width]
    checks = np.where(((ys // 16 + xs // 16) % 2)[..., None] == 0, 236, 255).astype(np.uint8)
    board = Image.fromarray(np.repeat(checks, 3, axis=2), "RGB")
    board.paste(image, (0, 0), image)
    return board


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
            video_task_enqueue(composite.pk)
        return Composite.Status.QUEUED
    if monitor.reason == "lost":
        return "lost"
    claim.update(status=Composite.Status.CANCELLED, eta_seconds=None, finished_at=now, updated=now)
    return Composite.Status.CANCELLED
