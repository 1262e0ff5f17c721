"""Website views for videos: upload, the job page (live progress, then the player), the JSON
status the page polls, cancel, and the result served with byte ranges (so every browser can
seek in it). Thin: every operation is a call into ``compositing.video_services``.
"""

from __future__ import annotations

import re
from typing import Any

from django import forms
from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import (
    FileResponse,
    Http404,
    HttpRequest,
    HttpResponse,
    JsonResponse,
    StreamingHttpResponse,
)
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from compositing import services
from vbgsite.errors import AppError, NotFound
from compositing.forms import DEFAULT_COLOR, BackgroundChoiceForm
from compositing.models import Composite
from compositing.video_services import (
    composite_cancel,
    composite_create_video,
    composite_video_status,
)

_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")
_CHUNK = 1 << 16


class VideoForm(BackgroundChoiceForm):
    """A video plus the background choice (the same picker as photos)."""

    video = forms.FileField(
        allow_empty_file=True, error_messages={"required": "Choose a video to upload."}
    )
    field_order = ["video", "background", "background_file", "save_background", "color"]

    def service_kwargs(self) -> dict[str, Any]:
        kwargs = super().service_kwargs()
        kwargs["video"] = self.cleaned_data["video"]
        return kwargs


@require_http_methods(["GET", "POST"])
@login_required
def video_studio(request: HttpRequest) -> HttpResponse:
    """Upload a video and pick a background; the job then runs on the worker."""
    if request.method == "POST":
        form = VideoForm(request.POST, request.FILES)
        if form.is_valid():
            try:
                composite = composite_create_video(user=request.user, **form.service_kwargs())
            except AppError as error:
                return _studio(request, form, error=error, status=_status(error))
            if "application/json" in request.headers.get("Accept", ""):
                return JsonResponse(_job_json(composite), status=202)
            return redirect("compositing:detail", composite_id=composite.pk)
        message = " ".join(str(m) for errors in form.errors.values() for m in errors)
        error = AppError(message or "Please check the form.")
        error.code, error.http_status = "invalid_option", 400
        return _studio(request, form, error=error, status=400)
    form = VideoForm(initial={"color": DEFAULT_COLOR})
    return _studio(request, form)


def video_detail(request: HttpRequest, composite: Composite) -> HttpResponse:
    """The page of one video composite (``compositing:detail`` renders it for videos)."""
    return render(
        request,
        "compositing/video_detail.html",
        {"composite": composite, "job": _job_json(composite)},
    )


@login_required
@require_GET
def status(request: HttpRequest, composite_id: str) -> JsonResponse:
    """The job's progress as JSON; the page polls it about once a second."""
    try:
        progress = composite_video_status(user=request.user, composite_id=composite_id)
    except NotFound:
        return JsonResponse({"code": "not_found", "detail": "Not found."}, status=404)
    composite = services.composite_get(user=request.user, composite_id=composite_id)
    response = JsonResponse({**progress, **_urls(composite)})
    response["Cache-Control"] = "no-store"
    return response


@login_required
@require_POST
def cancel(request: HttpRequest, composite_id: str) -> HttpResponse:
    """Cancel a queued or running video job."""
    try:
        composite = composite_cancel(user=request.user, composite_id=composite_id)
    except NotFound:
        raise Http404("This composite does not exist.") from None
    if "application/json" in request.headers.get("Accept", ""):
        return JsonResponse(_job_json(composite))
    return redirect("compositing:detail", composite_id=composite.pk)


@login_required
@require_GET
def video_file(request: HttpRequest, composite_id: str) -> HttpResponse:
    """The finished video for the player, honouring ``Range`` requests (206 Partial Content).

    Browsers seek by asking for byte ranges, and Safari plays nothing without them. Files
    in S3 are a redirect to a presigned URL (S3 serves ranges itself).
    """
    try:
        stored = services.composite_file(
            user=request.user, composite_id=composite_id, which="result"
        )
    except NotFound:
        raise Http404("No such file.") from None
    try:
        path = stored.storage.path(stored.name)
    except NotImplementedError:
        from compositing.views import serve_composite_file

        return serve_composite_file(request, composite_id, "result", attachment=False)
    try:
        handle = open(path, "rb")  # noqa: SIM115 - closed by the response
    except FileNotFoundError:
        raise Http404("This file is missing.") from None
    size = stored.storage.size(stored.name)
    match = _RANGE.match(request.headers.get("Range", "").strip())
    if not match or (not match.group(1) and not match.group(2)):
        response: HttpResponse = FileResponse(handle, content_type=stored.content_type)
    else:
        first, last = match.groups()
        if first:
            start, end = int(first), min(int(last) if last else size - 1, size - 1)
        else:  # "bytes=-N": the last N bytes
            start, end = max(0, size - int(last)), size - 1
        if start >= size or start > end:
            handle.close()
            response = HttpResponse(status=416)
            response["Content-Range"] = f"bytes */{size}"
            return response
        handle.seek(start)
        response = StreamingHttpResponse(
            _read(handle, end - start + 1), status=206, content_type=stored.content_type
        )
        response["Content-Length"] = str(end - start + 1)
        response["Content-Range"] = f"bytes {start}-{end}/{size}"
    response["Accept-Ranges"] = "bytes"
    response["Cache-Control"] = "private, max-age=3600"
    return response


def _read(handle: Any, length: int):
    try:
        while length > 0:
            chunk = handle.read(min(_CHUNK, length))
            if not chunk:
                break
            length -= len(chunk)
            yield chunk
    finally:
        handle.close()


def _studio(
    request: HttpRequest,
    form: VideoForm,
    *,
    error: AppError | None = None,
    status: int = 200,
) -> HttpResponse:
    from compositing.views import _picker_context

    context = {
        "form": form,
        "error": error,
        "picker": _picker_context(request, form),
        "max_upload_mb": round(settings.VBG_MAX_UPLOAD_BYTES / 2**20),
        "max_video_mb": round(settings.VBG_MAX_VIDEO_BYTES / 2**20),
        "max_video_minutes": round(settings.VBG_MAX_VIDEO_SECONDS / 60),
    }
    return render(request, "compositing/video_studio.html", context, status=status)


def _status(error: AppError) -> int:
    return error.http_status if 400 <= error.http_status < 600 else 400


def _urls(composite: Composite) -> dict[str, str | None]:
    done = composite.status == Composite.Status.DONE and bool(composite.result)
    return {
        "detail_url": reverse("compositing:detail", args=[composite.pk]),
        "status_url": reverse("compositing:status", args=[composite.pk]),
        "cancel_url": reverse("compositing:cancel", args=[composite.pk]),
        "video_url": reverse("compositing:video_file", args=[composite.pk]) if done else None,
        "download_url": reverse("compositing:download", args=[composite.pk]) if done else None,
    }


def _job_json(composite: Composite) -> dict[str, Any]:
    from compositing.video_services import video_progress

    return {**video_progress(composite), **_urls(composite)}
