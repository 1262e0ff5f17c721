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
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from compositing import services
from compositing.forms import DEFAULT_COLOR, DraftForm, PhotoOptionsForm, StudioForm
from compositing.models import Composite
from compositing.picker import picker_context
from compositing.services.background_choice import composite_notices
from compositing.services.placement import OUTPUT_PRESETS, placement_summary
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
# The subject positions the studio offers (any x,y in percent is accepted by the API).
POSITION_CHOICES = [
    ("center", "Centre"),
    ("top", "Top"),
    ("bottom", "Bottom"),
    ("0,100", "Bottom left"),
    ("100,100", "Bottom right"),
]

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
        _warn_notices(request, composite)
        return redirect(f"{reverse('compositing:studio')}?result={composite.pk}#result")

    result = None
    if request.GET.get("result"):
        result = _get_or_404(request, request.GET["result"])
        if result.status == Composite.Status.DRAFT:
            raise Http404("Not saved yet.")
    form = StudioForm(initial={"color": DEFAULT_COLOR, "output_format": "jpg"})
    return _render_studio(request, {"form": form, "result": result})


@login_required
@require_POST
def studio_draft(request: HttpRequest) -> HttpResponse:
    """The studio's script uploads the photo here first: one model run, stored source +
    mask, no history entry. Answers JSON (the files to preview from, and where to save)."""
    form = DraftForm(request.POST, request.FILES)
    if not form.is_valid():
        return JsonResponse(form_error(form).as_dict(), status=400)
    try:
        draft = services.composite_draft_create(user=request.user, photo=form.cleaned_data["photo"])
    except AppError as error:
        return JsonResponse(error.as_dict(), status=error_status(error))
    body = _composite_json(draft)
    body["save_url"] = reverse("compositing:recomposite", args=[draft.pk])
    return JsonResponse(body, status=201)


@login_required
@require_GET
def history(request: HttpRequest, *, status: int = 200) -> HttpResponse:
    """The person's composites, newest first, as a paginated grid of thumbnails."""
    composites = Composite.objects.for_user(request.user).history().select_related("background")
    page = Paginator(composites, HISTORY_PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "compositing/history.html", {"page": page}, status=status)


@login_required
@require_GET
def download_zip(request: HttpRequest) -> HttpResponse:
    """The results of ``?id=<uuid>&id=...`` (the person's own) as one ZIP download."""
    try:
        with not_found_as_404():  # anyone else's id, or a malformed one
            ids = request.GET.getlist("id")
            archive = services.composites_zip(user=request.user, composite_ids=ids)
    except AppError as error:
        if wants_json(request):
            return JsonResponse(error.as_dict(), status=error_status(error))
        messages.error(request, error.message)
        return history(request, status=error_status(error))
    name = f"composites-{timezone.localtime():%Y%m%d-%H%M}.zip"
    return FileResponse(archive, as_attachment=True, filename=name, content_type="application/zip")


@login_required
@require_GET
def detail(request: HttpRequest, composite_id: str) -> HttpResponse:
    """One composite: original, mask, result, background, model and timings; actions."""
    composite = _get_or_404(request, composite_id)
    if composite.status == Composite.Status.DRAFT:
        raise Http404("Not saved yet.")
    if composite.kind == Composite.Kind.VIDEO:
        context = {"composite": composite, "job": video_job_json(composite)}
        return render(request, "compositing/video_detail.html", context)
    form = PhotoOptionsForm(
        initial={
            "color": composite.color or DEFAULT_COLOR,
            "output_format": composite.output_format,
            **_placement_initial(composite.placement or {}),
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
    form = PhotoOptionsForm(request.POST, request.FILES)
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
    _warn_notices(request, created)
    if composite.status == Composite.Status.DRAFT:
        return redirect(f"{reverse('compositing:studio')}?result={created.pk}#result")
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


def _warn_notices(request: HttpRequest, composite: Composite) -> None:
    """What the service changed on its own (a full library, PNG for transparency) as page
    warnings after the redirect."""
    for notice in composite_notices(composite):
        messages.warning(request, notice)


def _placement_initial(stored: dict[str, Any]) -> dict[str, Any]:
    """A stored placement (canonical, API names) as the re-composite form's fields."""
    initial = {k: v for k, v in stored.items() if k not in ("output_size", "background_focus")}
    size = stored.get("output_size", "original")
    presets = {value for value, _ in OUTPUT_PRESETS}
    initial["output_size"] = size if size in presets else "custom"
    initial["output_size_custom"] = "" if size in presets else size
    x, _, y = str(stored.get("background_focus", "50,50")).partition(",")
    initial["background_focus_x"], initial["background_focus_y"] = x or "50", y or "50"
    for key in ("crop", "background_mirror"):
        initial[key] = "on" if stored.get(key) else ""
    return initial


def _placement_context(form: Any) -> dict[str, Any]:
    """What the placement controls show: the presets and the current values."""
    value = form.data.get if form.is_bound else lambda k, d=None: form.initial.get(k, d)
    return {
        "presets": OUTPUT_PRESETS,
        "position_choices": POSITION_CHOICES,
        "output_size": value("output_size") or "original",
        "output_size_custom": value("output_size_custom") or "",
        "focus_x": value("background_focus_x") or "50",
        "focus_y": value("background_focus_y") or "50",
        "zoom": value("background_zoom") or "1",
        "mirror": bool(value("background_mirror")),
        "scale": value("scale") or "100",
        "position": value("position") or "center",
        "crop": bool(value("crop")),
        "crop_margin": value("crop_margin") or "",
        "channels": value("channels") or "rgba",
        "blur_strength": value("blur_strength") or "25",
    }


def _render_studio(
    request: HttpRequest, context: dict[str, Any], *, status: int = 200
) -> HttpResponse:
    form = context["form"]
    context = {
        **context,
        "placement": _placement_context(form),
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
        "placement": _placement_context(form),
        "placement_summary": placement_summary(composite.placement or {}),
        "formats": [("jpg", "JPEG"), ("png", "PNG"), ("webp", "WebP")],
        "timings": [(label, timings[key]) for key, label in TIMING_LABELS if key in timings],
        "mask_reused": bool(timings.get("mask_reused")),
        "recomposites": Composite.objects.for_user(request.user)
        .history()
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
        "placement": composite.placement,
        "recomposite_url": reverse("compositing:recomposite", args=[composite.pk]),
        "notices": composite_notices(composite),
    }


def _max_upload_mb() -> int:
    return round(settings.VBG_MAX_UPLOAD_BYTES / (1024 * 1024))
