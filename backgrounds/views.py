"""Background library pages and the owner-checking file view. Thin: services do the work.

Errors from ``vbgsite.errors`` become a page message with their status
(``vbgsite.responses``); a missing or someone else's background, and changing a
built-in, are a 404 for every view (never a 403), as in the API.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import F
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from backgrounds import services
from backgrounds.builtin import BUILTINS
from backgrounds.forms import BackgroundUploadForm
from backgrounds.models import Background
from vbgsite.errors import AppError
from vbgsite.responses import error_status, not_found_as_404, stored_file_response


def _library(request: HttpRequest, *, form: BackgroundUploadForm | None = None, status: int = 200):
    usable = Background.objects.for_user(request.user).order_by(
        F("owner_id").asc(nulls_first=True), "-created", "name"
    )
    # Built-ins in the order BUILTINS lists them (the most versatile first).
    position = {spec.slug: index for index, spec in enumerate(BUILTINS)}
    builtins = sorted(
        (bg for bg in usable if bg.is_builtin), key=lambda bg: (position.get(bg.slug, 99), bg.name)
    )
    own = [bg for bg in usable if not bg.is_builtin]
    context: dict[str, Any] = {
        "builtins": builtins,
        "own": own,
        "form": form or BackgroundUploadForm(),
        "quota": settings.VBG_BACKGROUND_QUOTA,
        "quota_reached": len(own) >= settings.VBG_BACKGROUND_QUOTA,
        "max_upload_mb": settings.VBG_MAX_UPLOAD_BYTES // (1024 * 1024),
    }
    return render(request, "backgrounds/library.html", context, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def library(request: HttpRequest) -> HttpResponse:
    """GET: built-in and own backgrounds; POST: upload one."""
    if request.method == "GET":
        return _library(request)
    form = BackgroundUploadForm(request.POST, request.FILES)
    if not form.is_valid():
        return _library(request, form=form, status=400)
    try:
        background = services.background_upload(
            user=request.user, file=form.cleaned_data["image"], name=form.cleaned_data["name"]
        )
    except AppError as error:
        messages.error(request, error.message)
        return _library(request, form=form, status=error_status(error))
    messages.success(request, f"“{background.name}” was added to your backgrounds.")
    return redirect("backgrounds:library")


@login_required
@require_POST
def rename(request: HttpRequest, background_id) -> HttpResponse:
    """Rename one of your backgrounds (the service checks the owner first, then the name)."""
    try:
        with not_found_as_404():
            background = services.background_rename(
                user=request.user, background_id=background_id, name=request.POST.get("name", "")
            )
    except AppError as error:
        messages.error(request, error.message)
        return _library(request, status=error_status(error))
    messages.success(request, f"Renamed to “{background.name}”.")
    return redirect("backgrounds:library")


@login_required
@require_http_methods(["GET", "POST"])
def delete(request: HttpRequest, background_id) -> HttpResponse:
    """GET: a confirmation page (for browsers without the inline confirm); POST: delete."""
    with not_found_as_404():
        background = services.background_get_owned(user=request.user, background_id=background_id)
        if request.method == "GET":
            return render(request, "backgrounds/delete.html", {"background": background})
        services.background_delete(user=request.user, background_id=background_id)
    messages.success(request, f"“{background.name}” was deleted.")
    return redirect("backgrounds:library")


@login_required
@require_GET
def file(request: HttpRequest, background_id: Any, which: str) -> HttpResponse:
    """Serve a background's "image" or "thumbnail" to someone allowed to see it.

    Built-ins: any signed-in person; uploads: their owner only; otherwise Http404. Local
    storage streams the file; S3 redirects to a short-lived presigned URL.
    """
    with not_found_as_404():
        stored = services.background_file(
            user=request.user, background_id=background_id, which=which
        )
    return stored_file_response(request, stored)
