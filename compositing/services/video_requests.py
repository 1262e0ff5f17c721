"""Video composites from the request side: upload and queue, cancel, progress.

The website and the API call these; the work itself runs on the task worker
(:mod:`compositing.services.video_jobs`), and the numeric pipeline is
:func:`compositing.video.composite_video` (no Django there). The background choice is the
photos' (:mod:`compositing.services.background_choice`): same checks, same messages.
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from django.conf import settings
from django.utils import timezone

from compositing.models import Composite
from compositing.services.background_choice import (
    BackgroundChoice,
    background_attach,
    background_choice_check,
    background_resolve,
)
from compositing.services.composites import composite_get
from compositing.services.rate_limits import composite_rate_take
from compositing.services.stored_files import Undo, files_store_then_insert
from compositing.services.uploads import upload_display_name
from compositing.services.video_queue import video_task_enqueue
from compositing.services.video_recovery import composites_recover_stale, heartbeat_is_stale
from compositing.services.webhooks import callback_url_check, webhook_schedule
from compositing.video import VideoInfo, output_size, probe_video
from compositing.video.encode import check_output
from vbgsite.errors import FileTooLarge, InvalidOption, InvalidVideo, VideoTooLong
from vbgsite.work_files import work_dir

VIDEO_FORMATS: tuple[str, ...] = ("mp4", "webm", "mov")
# Container name (from the probe) -> the extension the stored source gets.
_SOURCE_EXTENSIONS = {"MP4/MOV": "mp4", "WebM/MKV": "mkv"}


def composite_create_video(
    *,
    user: Any,
    video: IO[bytes],
    mode: str,
    background_id: uuid.UUID | str | None = None,
    background_file: IO[bytes] | None = None,
    save_background: bool = False,
    color: str | None = None,
    output_format: str | None = None,
    callback_url: str | None = None,
    callback_secret: str = "",
) -> Composite:
    """Accept a video and queue it; returns at once with a QUEUED composite.

    video: the uploaded file (a Django ``UploadedFile`` or any binary file object):
        MP4, MOV, WebM or MKV with a video stream (H.264, HEVC, VP8, VP9, AV1...), at most
        ``VBG_MAX_VIDEO_BYTES`` bytes and ``VBG_MAX_VIDEO_SECONDS`` seconds, frames of at
        most ``VBG_MAX_VIDEO_PIXELS`` pixels (refused from the header, before decoding).
        Frames larger than ``VBG_MAX_VIDEO_SIDE`` pixels on the long side are scaled down.
    mode: ``"image"`` (exactly one of ``background_id`` or ``background_file``),
        ``"color"`` (``color`` as ``"#RRGGBB"``), ``"blur"`` or ``"transparent"`` (the
        person alone, with an alpha channel).
    output_format: ``"mp4"`` (H.264, yuv420p, faststart; the default with a background),
        ``"webm"`` (VP9 with alpha, plays in browsers; the default for transparent) or
        ``"mov"`` (ProRes 4444 with alpha, for video editors). The audio is kept.
    callback_url: called when the job ends, signed with ``callback_secret`` (see
        :mod:`compositing.services.webhooks`); InvalidOption when not an http(s) URL.

    The check is quick (a probe that decodes one frame); the work runs on the task worker
    (``compositing.tasks.composite_video_task``), enqueued when the transaction commits.
    Raises InvalidVideo, VideoTooLong, VideoTooLarge, FileTooLarge, InvalidOption, InvalidColor,
    InvalidImage (background upload), NotFound (background), QuotaExceeded, RateLimited
    (over the ``composite`` rate, counted first). Nothing is stored on failure.
    """
    composite_rate_take(user=user)
    callback_url = callback_url_check(callback_url)
    choice, fmt = _check_video_options(
        mode=mode,
        background_id=background_id,
        background_file=background_file,
        color=color,
        output_format=output_format,
    )
    background = background_resolve(user=user, choice=choice, background_file=background_file)
    with _local_copy(video, max_bytes=settings.VBG_MAX_VIDEO_BYTES) as path:
        info = probe_video(path, max_pixels=settings.VBG_MAX_VIDEO_PIXELS)
        if info.duration > settings.VBG_MAX_VIDEO_SECONDS:
            raise VideoTooLong(
                f"This video is {_minutes(info.duration)} long; videos can be at most "
                f"{_minutes(settings.VBG_MAX_VIDEO_SECONDS)}."
            )
        width, height = _display_output_size(info)
        composite = Composite(
            id=uuid.uuid4(),
            owner=user,
            kind=Composite.Kind.VIDEO,
            source_name=upload_display_name(video),
            mode=choice.mode,
            color=choice.color_hex,
            output_format=fmt,
            callback_url=callback_url,
            callback_secret=callback_secret if callback_url else "",
            status=Composite.Status.QUEUED,
            frames_total=info.frames,
            duration=info.duration,
            width=width,
            height=height,
            model_name="",
        )
        undo = Undo(storage=composite.source.storage)
        files = background_attach(
            composite,
            user=user,
            background=background,
            save_upload=background_file if save_background else None,
            one_off=background.image,
            undo=undo,
        )
        with open(path, "rb") as handle:
            files["source"] = (handle, _SOURCE_EXTENSIONS[info.container])
            files_store_then_insert(
                composite,
                files=files,
                undo=undo,
                on_commit=lambda: video_task_enqueue(composite.pk),
            )
    return composite


def _check_video_options(
    *,
    mode: str,
    background_id: uuid.UUID | str | None,
    background_file: IO[bytes] | None,
    color: str | None,
    output_format: str | None,
) -> tuple[BackgroundChoice, str]:
    transparent = mode == Composite.Mode.TRANSPARENT
    fmt = (output_format or ("webm" if transparent else "mp4")).lower().lstrip(".")
    if fmt not in VIDEO_FORMATS:
        raise InvalidOption(f"Videos are written as MP4, WebM or MOV, not {output_format!r}.")
    check_output(mode=mode, output_format=fmt)  # transparency: WebM or MOV only
    choice = background_choice_check(
        mode=mode,
        background_id=background_id,
        background_file=background_file,
        color=color,
    )
    return choice, fmt


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
    folder = work_dir("video-upload")  # named: found and removed if this process is killed
    try:
        path = folder / "upload"
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
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _minutes(seconds: float) -> str:
    """``75.2`` -> ``"1 min 15 s"``; under a minute ``"42 s"`` (one decimal below 10 s)."""
    if seconds < 10:
        return f"{seconds:.1f} s"
    whole = round(seconds)
    return f"{whole // 60} min {whole % 60:02d} s" if whole >= 60 else f"{whole} s"


def _too_large_message(max_bytes: int) -> str:
    return f"Videos can be at most {max_bytes / (1024 * 1024):.0f} MB."


def _display_output_size(info: VideoInfo) -> tuple[int, int]:
    width, height = output_size(info.width, info.height, settings.VBG_MAX_VIDEO_SIDE)
    return (height, width) if info.rotation % 180 else (width, height)


def composite_cancel(*, user: Any, composite_id: uuid.UUID | str) -> Composite:
    """Cancel one of the user's video jobs.

    A queued job is cancelled at once; a running one is asked to stop (``cancel_requested``)
    and the worker marks it CANCELLED within a second, discarding its partial output. A
    finished composite is returned unchanged. Raises NotFound for another user's id.
    """
    composite = composite_get(user=user, composite_id=composite_id)
    now = timezone.now()
    cancelled = Composite.objects.filter(pk=composite.pk, status=Composite.Status.QUEUED).update(
        status=Composite.Status.CANCELLED,
        cancel_requested=True,
        eta_seconds=None,
        finished_at=now,
        updated=now,
    )
    if cancelled:
        webhook_schedule(composite.pk)
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
    composite = composite_get(user=user, composite_id=composite_id)
    if composite.status == Composite.Status.RUNNING and heartbeat_is_stale(composite):
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
