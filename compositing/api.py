"""Composites over the API: create, history, detail, delete, re-composite, files.

Thin views over ``compositing.services`` (the website calls the same functions). Every
lookup goes through the services' ``Composite.objects.for_user``, so another user's id is a
404. File URLs (``result_url``, ``mask_url``...) are these views' own, owner-checked URLs:
they stream the file from the local file system, or redirect to a short-lived presigned URL
when the files are in S3.

``POST /api/v1/composites/`` answers JSON by default; with ``Accept: image/*`` (or
``image/png`` etc.) it answers the composite's bytes directly, like remove.bg's API, with
the composite's id in ``X-Composite-Id`` and its API URL in ``Location``.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from django.conf import settings
from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
)
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.response import Response
from rest_framework.reverse import reverse

from accounts.models import ApiToken
from compositing.models import Composite
from compositing.serializers import (
    PLACEMENT_FIELDS,
    CompositeCreateSerializer,
    CompositeSerializer,
    RecompositeSerializer,
)
from compositing.services import (
    composite_cancel,
    composite_create,
    composite_create_video,
    composite_delete,
    composite_file,
    composite_get,
    composite_recomposite,
)
from vbgsite.api_errors import ApiErrorMixin
from vbgsite.api_pagination import ApiPagination
from vbgsite.api_schema import ErrorSerializer
from vbgsite.errors import InvalidOption
from vbgsite.parsers import JSONParser  # refuses over-deep JSON (400)
from vbgsite.responses import stored_file_response
from vbgsite.throttles import AnonRateThrottle, UserRateThrottle

IMAGE_TYPES = {"jpg": "image/jpeg", "png": "image/png", "webp": "image/webp"}
_FORMAT_FOR_TYPE = {media_type: fmt for fmt, media_type in IMAGE_TYPES.items()}
FILE_ACTIONS = {"result", "mask", "source", "thumbnail"}


class ImageRenderer(BaseRenderer):
    """Lets clients ask for image bytes (``Accept: image/*``); views return the bytes."""

    media_type = "image/*"
    format = "image"
    charset = None
    render_style = "binary"

    def render(self, data: Any, accepted_media_type=None, renderer_context=None) -> bytes:
        if isinstance(data, bytes | bytearray):
            return bytes(data)
        return b""  # errors are switched to JSON by ApiErrorMixin before rendering


class AcceptHeaderNegotiation(DefaultContentNegotiation):
    """Content negotiation by the Accept header only: ``?format=`` is not an override here
    (``format`` is the composite's output format field)."""

    settings = SimpleNamespace(URL_FORMAT_OVERRIDE=None)


# drf-spectacular documents DRF's ``?format=`` override when a view has two renderers.
_NO_FORMAT_QUERY = OpenApiParameter("format", location=OpenApiParameter.QUERY, exclude=True)

_COMPOSITE_ERRORS = {
    403: OpenApiResponse(
        ErrorSerializer,
        description="`quota_exceeded`: `save_background` with a full background library.",
    ),
    404: OpenApiResponse(ErrorSerializer, description="A background id that is not yours."),
    422: OpenApiResponse(ErrorSerializer, description="`no_person`: no person in the photo."),
    503: OpenApiResponse(
        ErrorSerializer, description="`model_unavailable`: the model is not installed."
    ),
}


def _composite_responses(created_status: int) -> dict[Any, Any]:
    responses: dict[Any, Any] = {
        (created_status, "application/json"): OpenApiResponse(
            CompositeSerializer, description="The composite, as JSON (default)."
        ),
    }
    for media_type in IMAGE_TYPES.values():
        responses[(created_status, media_type)] = OpenApiResponse(
            OpenApiTypes.BINARY,
            description="With `Accept: image/*`: the composite image itself.",
        )
    for code, response in _COMPOSITE_ERRORS.items():
        responses[(code, "application/json")] = response
    return responses


_FILE_RESPONSES = {
    (200, "image/jpeg"): OpenApiResponse(OpenApiTypes.BINARY, description="The file."),
    (200, "image/png"): OpenApiResponse(OpenApiTypes.BINARY, description="The file."),
    (200, "image/webp"): OpenApiResponse(OpenApiTypes.BINARY, description="The file."),
    (200, "video/mp4"): OpenApiResponse(OpenApiTypes.BINARY, description="A video's result."),
    (200, "video/webm"): OpenApiResponse(
        OpenApiTypes.BINARY, description="A transparent video's result (VP9 with alpha)."
    ),
    (200, "video/quicktime"): OpenApiResponse(
        OpenApiTypes.BINARY, description="A transparent video's result as ProRes 4444 MOV."
    ),
    302: OpenApiResponse(
        description="Files in S3: a redirect (`Location`) to a presigned URL valid for minutes."
    ),
}


def _file_schema(which: str, description: str):
    return extend_schema(
        summary=f"Download the {which}",
        description=description,
        responses=_FILE_RESPONSES,
        tags=["composites"],
    )


def _action(view) -> str | None:
    """The viewset action of the current request, also before DRF sets ``view.action``."""
    action_name = getattr(view, "action", None)
    if action_name is None and getattr(view, "request", None) is not None:
        action_name = getattr(view, "action_map", {}).get(view.request.method.lower())
    return action_name


@extend_schema_view(
    list=extend_schema(
        summary="History",
        description="Your composites, newest first, 20 per page (`?page=2`...).",
        tags=["composites"],
    ),
    retrieve=extend_schema(summary="One composite", tags=["composites"]),
    destroy=extend_schema(
        summary="Delete a composite",
        description="Deletes the history entry and every file it owns.",
        tags=["composites"],
    ),
)
class CompositeViewSet(
    ApiErrorMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    serializer_class = CompositeSerializer
    renderer_classes = [JSONRenderer]
    pagination_class = ApiPagination
    # The ``composite`` rate is taken by the services (shared with the studio).
    throttle_classes = [UserRateThrottle, AnonRateThrottle]
    lookup_value_regex = "[0-9a-fA-F-]{32,36}"
    content_negotiation_class = AcceptHeaderNegotiation

    def get_queryset(self):
        return (
            Composite.objects.for_user(self.request.user)
            .history()
            .select_related("background")
            .prefetch_related("webhook_deliveries")
            .order_by("-created", "-pk")
        )

    def get_object(self) -> Composite:
        return composite_get(user=self.request.user, composite_id=self.kwargs["pk"])

    def get_renderers(self):
        if getattr(self, "action", None) in {"create", "recomposite"}:
            return [JSONRenderer(), ImageRenderer()]
        return super().get_renderers()

    def get_parsers(self):
        # Called before ``self.action`` is set for the request: look the action up.
        # Form-encoded bodies too (``curl -d``, ``requests.post(data=...)``): on create it
        # carries no file, so the answer is a 400 naming the missing photo, not a 415.
        action_name = _action(self)
        if action_name == "create":
            return [MultiPartParser(), FormParser()]
        if action_name == "recomposite":
            return [MultiPartParser(), FormParser(), JSONParser()]
        return super().get_parsers()

    def get_max_request_bytes(self) -> int:
        # A photo (or a video) and a background image, plus the form's other fields.
        if self.request.method == "POST":
            media = max(settings.VBG_MAX_UPLOAD_BYTES, settings.VBG_MAX_VIDEO_BYTES)
            return media + settings.VBG_MAX_UPLOAD_BYTES + 1_048_576
        return super().get_max_request_bytes()

    def perform_content_negotiation(self, request, force: bool = False):
        # File downloads answer whatever the client accepts (errors stay JSON).
        return super().perform_content_negotiation(
            request, force=force or getattr(self, "action", None) in FILE_ACTIONS
        )

    # -- create and re-composite ---------------------------------------------------------

    def _background_options(self, data: dict[str, Any]) -> dict[str, Any]:
        """The service's keyword arguments for the background choice and the format."""
        mode = data.get("mode")
        if not mode:
            if data.get("background") or data.get("background_image"):
                mode = Composite.Mode.IMAGE
            elif data.get("color"):
                mode = Composite.Mode.COLOR
            else:
                raise InvalidOption(
                    "Choose a background: background (an id), background_image (a file),"
                    " color (#RRGGBB), mode=blur or mode=transparent."
                )
        fmt = data.get("format") or self._format_from_accept()
        options: dict[str, Any] = {
            "mode": mode,
            "background_id": data.get("background"),
            "background_file": data.get("background_image"),
            "save_background": data.get("save_background", False),
            "color": data.get("color"),
        }
        if fmt:
            options["output_format"] = fmt
        return options

    @staticmethod
    def _placement(data: dict[str, Any]) -> dict[str, Any]:
        """The placement options sent (raw; ``compositing.services.placement`` checks them)."""
        return {name: data[name] for name in PLACEMENT_FIELDS if name in data}

    def _wants_image(self) -> bool:
        return isinstance(getattr(self.request, "accepted_renderer", None), ImageRenderer)

    def _format_from_accept(self) -> str | None:
        """``Accept: image/png`` (or jpeg, webp) picks the format when none is given."""
        if not self._wants_image():
            return None
        return _FORMAT_FOR_TYPE.get(getattr(self.request, "accepted_media_type", ""))

    def _answer(self, composite: Composite, status_code: int) -> HttpResponse | Response:
        location = reverse(
            "api:composite-detail", kwargs={"pk": composite.pk}, request=self.request
        )
        if self._wants_image():
            stored = composite_file(
                user=self.request.user, composite_id=composite.pk, which="result"
            )
            with stored.open() as handle:
                data = handle.read()
            response = HttpResponse(data, status=status_code, content_type=stored.content_type)
            response["Content-Disposition"] = f'inline; filename="{stored.filename}"'
            response["X-Composite-Id"] = str(composite.pk)
            response["X-Width"] = str(composite.width or "")
            response["X-Height"] = str(composite.height or "")
            response["Location"] = location
            return response
        data = CompositeSerializer(composite, context=self.get_serializer_context()).data
        return Response(data, status=status_code, headers={"Location": location})

    @extend_schema(
        summary="Make a composite",
        description=(
            "Upload a portrait (`photo`) and choose one background: `background` (a library"
            " id), `background_image` (a file, used once unless `save_background=true`),"
            " `color` (`#RRGGBB`), `mode=blur` or `mode=transparent`; optionally place it:"
            " `output_size`, `background_focus`, `background_zoom`, `background_mirror`,"
            " `scale`, `position`, `crop`, `crop_margin`, `channels`, `blur_strength`."
            " Answers the composite"
            " as JSON, or with `Accept: image/*` (or `image/png`...) the image bytes"
            " themselves; then a `format` that is not given follows the Accept header."
        ),
        request={"multipart/form-data": CompositeCreateSerializer},
        parameters=[_NO_FORMAT_QUERY],
        responses={
            **_composite_responses(201),
            (202, "application/json"): OpenApiResponse(
                CompositeSerializer,
                description="A `video`: queued; poll its `url` for `status` and `progress`.",
            ),
        },
        tags=["composites"],
    )
    def create(self, request, *args, **kwargs) -> HttpResponse | Response:
        form = CompositeCreateSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        if "video" in form.validated_data:
            return self._create_video(form.validated_data)
        composite = composite_create(
            user=request.user,
            photo=form.validated_data["photo"],
            placement=self._placement(form.validated_data),
            **self._background_options(form.validated_data),
        )
        return self._answer(composite, status.HTTP_201_CREATED)

    def _create_video(self, data: dict[str, Any]) -> Response:
        """A video: queued at once (202); the composite's JSON carries the progress."""
        if self._wants_image():
            raise InvalidOption(
                "A video is processed in the background: ask for JSON (the default) and"
                " download result_url when the composite is done."
            )
        sent = {name for name in PLACEMENT_FIELDS if name in self.request.data}
        if sent:
            raise InvalidOption(
                f"{sorted(sent)[0]} is a photo option; videos keep their own size and framing."
            )
        options = self._background_options(data)
        options["output_format"] = data.get("format")  # None: mp4, or webm if transparent
        token = self.request.auth if isinstance(self.request.auth, ApiToken) else None
        options["callback_url"] = data.get("callback_url") or (token.callback_url if token else "")
        options["callback_secret"] = token.webhook_secret if token else ""
        if options["callback_url"] and not options["callback_secret"]:
            raise InvalidOption(
                "Webhooks are signed with your API token's secret: call this with a token"
                " (PUT /api/v1/auth/token/webhook/ shows a new secret)."
            )
        composite = composite_create_video(user=self.request.user, video=data["video"], **options)
        return self._answer(composite, status.HTTP_202_ACCEPTED)

    @extend_schema(
        summary="Cancel a video job",
        description=(
            "Stops a queued or running video composite: a queued one is cancelled at once, a"
            " running one within about a second (`cancel_requested` until then). A finished"
            " composite is returned unchanged."
        ),
        request=None,
        responses={200: CompositeSerializer},
        tags=["composites"],
    )
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk: str | None = None) -> Response:
        composite = composite_cancel(user=request.user, composite_id=pk)
        return Response(CompositeSerializer(composite, context=self.get_serializer_context()).data)

    @extend_schema(
        summary="Re-composite onto another background",
        description=(
            "A new history entry from this composite's stored photo and mask, on another"
            " background: the segmentation model is not run again (`timings.mask_reused`)."
            " Same background and placement options as creating (placement options not"
            " sent keep the original's); `format` defaults to the original's."
        ),
        request={
            "multipart/form-data": RecompositeSerializer,
            "application/x-www-form-urlencoded": RecompositeSerializer,
            "application/json": RecompositeSerializer,
        },
        parameters=[_NO_FORMAT_QUERY],
        responses=_composite_responses(201),
        tags=["composites"],
    )
    @action(detail=True, methods=["post"])
    def recomposite(self, request, pk: str | None = None) -> HttpResponse | Response:
        form = RecompositeSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        composite = composite_recomposite(
            user=request.user,
            composite_id=pk,
            placement=self._placement(form.validated_data),
            **self._background_options(form.validated_data),
        )
        return self._answer(composite, status.HTTP_201_CREATED)

    def destroy(self, request, pk: str | None = None) -> Response:
        composite_delete(user=request.user, composite_id=pk)
        return Response(status=status.HTTP_204_NO_CONTENT)

    # -- files ---------------------------------------------------------------------------

    def _file(self, pk: str | None, which: str) -> HttpResponse:
        # Owner-checked by the service (NotFound -> JSON 404); streamed locally, or a
        # redirect to a presigned S3 URL.
        stored = composite_file(user=self.request.user, composite_id=pk, which=which)
        return stored_file_response(self.request, stored)

    @_file_schema("result", "The composite image (or a redirect to it when files are in S3).")
    @action(detail=True, methods=["get"])
    def result(self, request, pk: str | None = None) -> HttpResponse:
        return self._file(pk, "result")

    @_file_schema("mask", "The cached mask: 8-bit greyscale PNG, white where the person is.")
    @action(detail=True, methods=["get"])
    def mask(self, request, pk: str | None = None) -> HttpResponse:
        return self._file(pk, "mask")

    @_file_schema("source", "The uploaded photo as stored: upright, re-encoded, no metadata.")
    @action(detail=True, methods=["get"])
    def source(self, request, pk: str | None = None) -> HttpResponse:
        return self._file(pk, "source")

    @_file_schema("thumbnail", "A small preview of the result (longest side 480 px).")
    @action(detail=True, methods=["get"])
    def thumbnail(self, request, pk: str | None = None) -> HttpResponse:
        return self._file(pk, "thumbnail")
