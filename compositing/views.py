"""Website views for the studio and the history: thin, every operation is a service call.

Errors from ``vbgsite.errors`` are turned into a page message and their 4xx status in
one place, ``_error_response`` (the status is the error's own, ``vbgsite.responses``);
``NotFound`` (a missing id or anyone else's) is a plain 404. Videos' own pages are in
``compositing.video_views``; the detail page of a video is rendered here.
The studio and re-composite forms work as ordinary form posts, and answer JSON when the
page's script sends them with ``Accept: application/json``.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods

from compositing import services
from compositing.forms import DEFAULT_COLOR, BackgroundChoiceForm, StudioForm
from compositing.models import Composite
from compositing.picker import picker_context
from compositing.video_status import video_job_json
from vbgsite.errors import AppError
from vbgsite.responses import (
    error_status,
    form_error,
    not_found_as_404,
    stored_file_response,
    wants_json,
)

HISTORY_PAGE_SIZE = 24

# Timings shown on the detail page, in this order.
TIMING_LABELS = [
    ("decode_ms", "Decode"),
    ("segment_ms", "Segment (model)"),
    ("compose_ms", "Compose"),
    ("encode_ms", "Encode"),
    ("store_ms", "Store"),
    ("total_ms", "Total"),
]


# --------------------------------------------------------------------------------------
# Pages
# --------------------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
def studio(request: HttpRequest) -> HttpResponse:
    """The studio: upload a portrait, choose a background, see the result."""
    if not request.user.is_authenticated:
        if request.method == "POST":
            return redirect(f"{reverse('accounts:login')}?next={reverse('compositing:studio')}")
        return render(request, "compositing/landing.html")

    if request.method == "POST":
        form = StudioForm(request.POST, request.FILES)
        context = {"form": form}
        if not form.is_valid():
            return _error_response(request, form_error(form), "compositing/studio.html", context)
        try:
            composite = services.composite_create(user=request.user, **form.service_kwargs())
        except AppError as error:
            return _error_response(request, error, "compositing/studio.html", context)
        if wants_json(request):
            return JsonResponse(_composite_json(composite), status=201)
        return redirect(f"{reverse('compositing:studio')}?result={composite.pk}#result")

    result = None
    if request.GET.get("result"):
        result = _get_or_404(request, request.GET["result"])
    form = StudioForm(initial={"color": DEFAULT_COLOR, "output_format": "jpg"})
    return _render_studio(request, {"form": form, "result": result})


@login_required
@require_GET
def history(request: HttpRequest) -> HttpResponse:
    """The person's composites, newest first, as a paginated grid of thumbnails."""
    composites = Composite.objects.for_user(request.user).select_related("background")
    page = Paginator(composites, HISTORY_PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "compositing/history.html", {"page": page})


@login_required
@require_GET
def detail(request: HttpRequest, composite_id: str) -> HttpResponse:
    """One composite: original, mask, result, background, model and timings; actions."""
    composite = _get_or_404(request, composite_id)
    if composite.kind == Composite.Kind.VIDEO:
        context = {"composite": composite, "job": video_job_json(composite)}
        return render(request, "compositing/video_detail.html", context)
    form = BackgroundChoiceForm(
        initial={
            "color": composite.color or DEFAULT_COLOR,
            "output_format": composite.output_format,
        }
    )
    return _render_detail(request, composite, {"form": form})


@login_required
@require_http_methods(["GET", "POST"])
def recomposite(request: HttpRequest, composite_id: str) -> HttpResponse:
    """Another background for an earlier composite (a new history entry, no model call)."""
    composite = _get_or_404(request, composite_id)
    if request.method == "GET":
        return redirect("compositing:detail", composite_id=composite.pk)
    form = BackgroundChoiceForm(request.POST, request.FILES)
    context: dict[str, Any] = {"form": form, "composite": composite}
    if not form.is_valid():
        return _error_response(request, form_error(form), "compositing/detail.html", context)
    try:
        created = services.composite_recomposite(
            user=request.user,
            composite_id=composite.pk,
            output_format=form.chosen_format(),
            **form.service_kwargs(),
        )
    except AppError as error:
        return _error_response(request, error, "compositing/detail.html", context)
    if wants_json(request):
        return JsonResponse(_composite_json(created), status=201)
    messages.success(request, "Re-composited with the stored mask — no new cut-out was needed.")
    return redirect("compositing:detail", composite_id=created.pk)


@login_required
@require_http_methods(["GET", "POST"])
def delete(request: HttpRequest, composite_id: str) -> HttpResponse:
    """GET: ask to confirm. POST: delete the files, then the history entry."""
    composite = _get_or_404(request, composite_id)
    if request.method == "GET":
        return render(request, "compositing/delete.html", {"composite": composite})
    with not_found_as_404():
        services.composite_delete(user=request.user, composite_id=composite.pk)
    messages.success(request, "The composite and its files were deleted.")
    return redirect("compositing:history")


@login_required
@require_GET
def file(request: HttpRequest, composite_id: str, which: str) -> HttpResponse:
    """One of the composite's files, shown in the page (owner checked by the service)."""
    return serve_composite_file(request, composite_id, which, attachment=False)


@login_required
@require_GET
def download(request: HttpRequest, composite_id: str) -> HttpResponse:
    """The result as a download (``Content-Disposition: attachment``)."""
    return serve_composite_file(request, composite_id, "result", attachment=True)


# --------------------------------------------------------------------------------------
# Helpers: one place for error mapping, rendering and serving
# --------------------------------------------------------------------------------------


def _error_response(
    request: HttpRequest, error: AppError, template: str, context: dict[str, Any]
) -> HttpResponse:
    """The one mapping of a service error to a page: its message on the page + its status."""
    status = error_status(error)
    if wants_json(request):
        return JsonResponse(error.as_dict(), status=status)
    context = {**context, "error": error}
    if template == "compositing/detail.html":
        return _render_detail(request, context["composite"], context, status=status)
    return _render_studio(request, context, status=status)


def _render_studio(
    request: HttpRequest, context: dict[str, Any], *, status: int = 200
) -> HttpResponse:
    form = context["form"]
    context = {
        **context,
        "picker": picker_context(request, form),
        "formats": [("jpg", "JPEG"), ("png", "PNG"), ("webp", "WebP")],
        "max_upload_mb": _max_upload_mb(),
    }
    return render(request, "compositing/studio.html", context, status=status)


def _render_detail(
    request: HttpRequest, composite: Composite, context: dict[str, Any], *, status: int = 200
) -> HttpResponse:
    form = context["form"]
    timings = composite.timings or {}
    context = {
        **context,
        "composite": composite,
        "picker": picker_context(request, form, prefix="re"),
        "formats": [("jpg", "JPEG"), ("png", "PNG"), ("webp", "WebP")],
        "timings": [(label, timings[key]) for key, label in TIMING_LABELS if key in timings],
        "mask_reused": bool(timings.get("mask_reused")),
        "recomposites": Composite.objects.for_user(request.user)
        .filter(parent=composite)
        .only("id", "created", "thumbnail", "mode"),
        "max_upload_mb": _max_upload_mb(),
    }
    return render(request, "compositing/detail.html", context, status=status)


def _get_or_404(request: HttpRequest, composite_id: Any) -> Composite:
    with not_found_as_404():
        return services.composite_get(user=request.user, composite_id=composite_id)


def serve_composite_file(
    request: HttpRequest, composite_id: Any, which: str, *, attachment: bool
) -> HttpResponse:
    """Serve one of the user's composite files (owner checked by the service); Http404 for
    another user's composite, an unknown ``which`` or a missing file."""
    with not_found_as_404():
        stored = services.composite_file(user=request.user, composite_id=composite_id, which=which)
    return stored_file_response(request, stored, attachment=attachment)


def _composite_json(composite: Composite) -> dict[str, Any]:
    """What the studio's script needs to show a new result without reloading the page."""

    def file_url(which: str) -> str:
        return reverse("compositing:file", args=[composite.pk, which])

    return {
        "id": str(composite.pk),
        "detail_url": reverse("compositing:detail", args=[composite.pk]),
        "download_url": reverse("compositing:download", args=[composite.pk]),
        "source_url": file_url("source"),
        "result_url": file_url("result"),
        "mask_url": file_url("mask"),
        "width": composite.width,
        "height": composite.height,
        "mode": composite.mode,
        "output_format": composite.output_format,
        "model_name": composite.model_name,
        "timings": composite.timings,
    }


def _max_upload_mb() -> int:
    return round(settings.VBG_MAX_UPLOAD_BYTES / (1024 * 1024))
