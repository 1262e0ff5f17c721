"""Website views for videos: upload, the JSON status the job page polls, cancel, and the
result for the player (served with byte ranges, so every browser can seek in it).

Thin: every operation is a service call (``compositing.services``); errors are mapped by
``vbgsite.responses``. The detail page of a video is ``compositing.views.detail``.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from compositing import services
from compositing.forms import DEFAULT_COLOR, VideoForm
from compositing.models import Composite
from compositing.picker import picker_context
from compositing.video_status import video_job_json, video_urls
from vbgsite.errors import AppError, NotFound
from vbgsite.responses import (
    error_status,
    form_error,
    not_found_as_404,
    stored_file_response,
    wants_json,
)


@require_http_methods(["GET", "POST"])
@login_required
def video_studio(request: HttpRequest) -> HttpResponse:
    """Upload a video and pick a background; the job then runs on the worker."""
    if request.method == "GET":
        return _studio(request, VideoForm(initial={"color": DEFAULT_COLOR}))
    form = VideoForm(request.POST, request.FILES)
    if not form.is_valid():
        return _studio(request, form, error=form_error(form))
    try:
        composite = services.composite_create_video(user=request.user, **form.service_kwargs())
    except AppError as error:
        return _studio(request, form, error=error)
    if wants_json(request):
        return JsonResponse(video_job_json(composite), status=202)
    return redirect("compositing:detail", composite_id=composite.pk)


@login_required
@require_GET
def status(request: HttpRequest, composite_id: str) -> JsonResponse:
    """The job's progress as JSON; the page polls it about once a second."""
    try:
        progress = services.composite_video_status(user=request.user, composite_id=composite_id)
        composite = services.composite_get(user=request.user, composite_id=composite_id)
    except NotFound as error:
        return JsonResponse(error.as_dict(), status=error_status(error))
    label = {"status_label": Composite.Status(progress["status"]).label}  # as its status
    response = JsonResponse({**progress, **label, **video_urls(composite)})
    response["Cache-Control"] = "no-store"
    return response


@login_required
@require_POST
def cancel(request: HttpRequest, composite_id: str) -> HttpResponse:
    """Cancel a queued or running video job."""
    with not_found_as_404():
        composite = services.composite_cancel(user=request.user, composite_id=composite_id)
    if wants_json(request):
        return JsonResponse(video_job_json(composite))
    return redirect("compositing:detail", composite_id=composite.pk)


@login_required
@require_GET
def video_file(request: HttpRequest, composite_id: str) -> HttpResponse:
    """The finished video for the player, honouring ``Range`` requests (206 Partial Content).

    Browsers seek by asking for byte ranges, and Safari plays nothing without them. Files
    in S3 are a redirect to a presigned URL (S3 serves ranges itself).
    """
    with not_found_as_404():
        stored = services.composite_file(
            user=request.user, composite_id=composite_id, which="result"
        )
    return stored_file_response(request, stored)


def _studio(
    request: HttpRequest, form: VideoForm, *, error: AppError | None = None
) -> HttpResponse:
    context = {
        "form": form,
        "error": error,
        "picker": picker_context(request, form),
        "max_upload_mb": round(settings.VBG_MAX_UPLOAD_BYTES / 2**20),
        "max_video_mb": round(settings.VBG_MAX_VIDEO_BYTES / 2**20),
        "max_video_minutes": round(settings.VBG_MAX_VIDEO_SECONDS / 60),
    }
    return render(
        request,
        "compositing/video_studio.html",
        context,
        status=error_status(error) if error is not None else 200,
    )
