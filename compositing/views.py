"""Website views for the studio and the history: thin, every operation is a service call.

Errors from ``vbgsite.errors`` are turned into a page message and their 4xx status in
one place, ``_error_response``; ``NotFound`` (a missing id or anyone else's) is a plain 404.
The studio and re-composite forms work as ordinary form posts, and answer JSON when the
page's script sends them with ``Accept: application/json``.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import (
    FileResponse,
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseRedirect,
    JsonResponse,
)
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import content_disposition_header
from django.views.decorators.http import require_GET, require_http_methods

from backgrounds.models import Background
from compositing import services
from vbgsite.errors import AppError, NotFound
from compositing.forms import (
    CHOICE_BLUR,
    CHOICE_UPLOAD,
    DEFAULT_COLOR,
    BackgroundChoiceForm,
    StudioForm,
)
from compositing.models import Composite

HISTORY_PAGE_SIZE = 24
# Browsers may keep a private file for a while: its storage name never changes.
FILE_CACHE_CONTROL = "private, max-age=3600"
# A redirect to a presigned URL must not outlive the URL (5 minutes by default).
REDIRECT_CACHE_CONTROL = "private, max-age=60"

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
            return _form_error_response(request, form, "compositing/studio.html", context)
        try:
            composite = services.composite_create(user=request.user, **form.service_kwargs())
        except AppError as error:
            return _error_response(request, error, "compositing/studio.html", context)
        if _wants_json(request):
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
        from compositing.video_views import video_detail

        return video_detail(request, composite)
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
        return _form_error_response(request, form, "compositing/detail.html", context)
    try:
        created = services.composite_recomposite(
            user=request.user,
            composite_id=composite.pk,
            output_format=form.chosen_format(),
            **form.service_kwargs(),
        )
    except AppError as error:
        return _error_response(request, error, "compositing/detail.html", context)
    if _wants_json(request):
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
    try:
        services.composite_delete(user=request.user, composite_id=composite.pk)
    except NotFound:
        raise Http404("This composite does not exist.") from None
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
    """The one mapping of a service error to a response: message on the page + its 4xx."""
    status = error.http_status if 400 <= error.http_status < 600 else 400
    if _wants_json(request):
        return JsonResponse(error.as_dict(), status=status)
    context = {**context, "error": error}
    if template == "compositing/detail.html":
        return _render_detail(request, context["composite"], context, status=status)
    return _render_studio(request, context, status=status)


def _form_error_response(
    request: HttpRequest, form: BackgroundChoiceForm, template: str, context: dict[str, Any]
) -> HttpResponse:
    """A form that is missing a field: the field's message, as a 400 ``invalid_option``."""
    detail = " ".join(str(message) for errors in form.errors.values() for message in errors)
    error = AppError(detail or "Please check the form.")
    error.code, error.http_status = "invalid_option", 400
    return _error_response(request, error, template, context)


def _render_studio(
    request: HttpRequest, context: dict[str, Any], *, status: int = 200
) -> HttpResponse:
    form = context["form"]
    context = {
        **context,
        "picker": _picker_context(request, form),
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
        "picker": _picker_context(request, form, prefix="re"),
        "formats": [("jpg", "JPEG"), ("png", "PNG"), ("webp", "WebP")],
        "timings": [(label, timings[key]) for key, label in TIMING_LABELS if key in timings],
        "mask_reused": bool(timings.get("mask_reused")),
        "recomposites": Composite.objects.for_user(request.user)
        .filter(parent=composite)
        .only("id", "created", "thumbnail", "mode"),
        "max_upload_mb": _max_upload_mb(),
    }
    return render(request, "compositing/detail.html", context, status=status)


def _picker_context(
    request: HttpRequest, form: BackgroundChoiceForm, *, prefix: str = ""
) -> dict[str, Any]:
    """The background tiles: built-ins, the person's own library, and the special modes."""
    usable = list(Background.objects.for_user(request.user).order_by("owner_id", "name"))
    selected = (form.data.get("background") if form.is_bound else None) or ""
    if not selected:
        selected = str(usable[0].pk) if usable else CHOICE_BLUR
    return {
        "prefix": prefix,
        "builtin": [bg for bg in usable if bg.is_builtin],
        "own": [bg for bg in usable if not bg.is_builtin],
        "selected": selected,
        "color": (form.data.get("color") if form.is_bound else None) or DEFAULT_COLOR,
        "upload_choice": CHOICE_UPLOAD,
    }


def _get_or_404(request: HttpRequest, composite_id: Any) -> Composite:
    try:
        return services.composite_get(user=request.user, composite_id=composite_id)
    except NotFound:
        raise Http404("This composite does not exist.") from None


def serve_composite_file(
    request: HttpRequest, composite_id: Any, which: str, *, attachment: bool
) -> HttpResponse:
    """Serve one of the user's composite files (the API's file endpoints use this too).

    Local storage: streamed with its content type, ``Content-Disposition`` (inline or
    attachment, with a friendly file name) and a private cache header. S3: a redirect to
    a short-lived presigned URL that makes S3 answer with the same headers. Another
    user's composite, an unknown ``which`` or a missing file: Http404.
    """
    try:
        stored = services.composite_file(user=request.user, composite_id=composite_id, which=which)
    except NotFound:
        raise Http404("No such file.") from None
    if _is_local(stored):
        try:
            handle = stored.open()
        except FileNotFoundError:
            raise Http404("This file is missing.") from None
        response: HttpResponse = FileResponse(
            handle,
            content_type=stored.content_type,
            as_attachment=attachment,
            filename=stored.filename,
        )
        response["Cache-Control"] = FILE_CACHE_CONTROL
        return response
    # S3: a short-lived presigned URL that makes S3 send the same headers.
    url = stored.storage.url(
        stored.name,
        parameters={
            "ResponseContentType": stored.content_type,
            "ResponseContentDisposition": content_disposition_header(attachment, stored.filename),
        },
    )
    response = HttpResponseRedirect(url)
    response["Cache-Control"] = REDIRECT_CACHE_CONTROL
    return response


_serve = serve_composite_file  # the name compositing/api.py imports


def _is_local(stored: services.StoredFile) -> bool:
    """True for a file system storage (served by us), False for S3 (presigned redirect)."""
    try:
        stored.storage.path(stored.name)
    except NotImplementedError:
        return False
    return True


def _wants_json(request: HttpRequest) -> bool:
    return "application/json" in request.headers.get("Accept", "")


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
    from django.conf import settings

    return round(settings.VBG_MAX_UPLOAD_BYTES / (1024 * 1024))
