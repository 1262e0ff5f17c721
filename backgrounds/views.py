"""Background library pages and the owner-checking file view. Thin: services do the work.

Errors from ``vbgsite.errors`` become a page message with their 4xx status; a missing
or someone else's background is a 404 for every view (never a 403).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import F
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from backgrounds import services
from backgrounds.builtin import BUILTINS
from backgrounds.forms import BackgroundRenameForm, BackgroundUploadForm
from backgrounds.models import Background
from vbgsite.errors import AppError, NotFound

# Stored names are random and never reused, so a browser may keep a file for a while.
FILE_CACHE_CONTROL = "private, max-age=3600"
# A redirect to a presigned URL must not outlive the URL (5 minutes by default).
REDIRECT_CACHE_CONTROL = "private, max-age=60"


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
        return _library(request, form=form, status=error.http_status)
    messages.success(request, f"“{background.name}” was added to your backgrounds.")
    return redirect("backgrounds:library")


@login_required
@require_POST
def rename(request: HttpRequest, background_id) -> HttpResponse:
    form = BackgroundRenameForm(request.POST)
    if not form.is_valid():
        # Check ownership first, so a foreign id is a 404 whatever the form says.
        _owned_or_404(request, background_id)
        messages.error(request, "Give the background a name (up to 100 characters).")
        return _library(request, status=400)
    try:
        background = services.background_rename(
            user=request.user, background_id=background_id, name=form.cleaned_data["name"]
        )
    except NotFound:
        raise Http404("This background does not exist.") from None
    except AppError as error:
        messages.error(request, error.message)
        return _library(request, status=error.http_status)
    messages.success(request, f"Renamed to “{background.name}”.")
    return redirect("backgrounds:library")


@login_required
@require_http_methods(["GET", "POST"])
def delete(request: HttpRequest, background_id) -> HttpResponse:
    """GET: a confirmation page (for browsers without the inline confirm); POST: delete."""
    background = _owned_or_404(request, background_id)
    if request.method == "GET":
        return render(request, "backgrounds/delete.html", {"background": background})
    try:
        services.background_delete(user=request.user, background_id=background_id)
    except NotFound:
        raise Http404("This background does not exist.") from None
    messages.success(request, f"“{background.name}” was deleted.")
    return redirect("backgrounds:library")


def _owned_or_404(request: HttpRequest, background_id) -> Background:
    try:
        return Background.objects.owned_by(request.user).get(pk=background_id)
    except Background.DoesNotExist:
        raise Http404("This background does not exist.") from None


@login_required
@require_GET
def file(request: HttpRequest, background_id, which: str) -> HttpResponse:
    return serve_background_file(request, background_id, which)


def serve_background_file(request: HttpRequest, background_id: Any, which: str) -> HttpResponse:
    """Serve a background's "image" or "thumbnail" to someone allowed to see it.

    Built-ins: any signed-in person; uploads: their owner only; otherwise Http404. Local
    storage streams the file (``FileResponse``); S3 redirects to a short-lived presigned
    URL. The API's file endpoints call this too.
    """
    try:
        background, stored = services.background_file(
            user=request.user, background_id=background_id, which=which
        )
    except NotFound:
        raise Http404("No such file.") from None
    filename = f"{background.name or 'background'}.jpg"
    if _is_local(stored):
        try:
            handle = stored.storage.open(stored.name, "rb")
        except FileNotFoundError:
            raise Http404("This file is missing.") from None
        response: HttpResponse = FileResponse(
            handle, content_type="image/jpeg", filename=filename, as_attachment=False
        )
        response["Cache-Control"] = FILE_CACHE_CONTROL
        return response
    url = stored.storage.url(stored.name, parameters={"ResponseContentType": "image/jpeg"})
    response = HttpResponseRedirect(url)
    response["Cache-Control"] = REDIRECT_CACHE_CONTROL
    return response


def _is_local(stored) -> bool:
    """True for a file system storage (we stream it), False for S3 (presigned redirect)."""
    try:
        stored.storage.path(stored.name)
    except NotImplementedError:
        return False
    return True
