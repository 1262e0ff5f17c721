"""Backgrounds over the API: the library (built-in and own), upload, rename, delete, files.

Thin views over ``backgrounds.services`` (the website calls the same functions). Lookups
go through ``Background.objects.for_user`` (what a person may see and use), so another
user's background is a 404; built-in backgrounds are visible to everyone and read-only:
changing one is a 404 ``not_found`` too (``background_get_owned``), as on the website.
"""

from __future__ import annotations

from django.conf import settings
from django.core.validators import RegexValidator
from django.db.models import F
from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.reverse import reverse

from backgrounds.models import Background
from backgrounds.services import (
    background_delete,
    background_file,
    background_get,
    background_get_owned,
    background_rename,
    background_upload,
)
from vbgsite.api_errors import ApiErrorMixin
from vbgsite.api_pagination import ApiPagination
from vbgsite.api_schema import ErrorSerializer
from vbgsite.parsers import JSONParser  # refuses over-deep JSON (400)
from vbgsite.responses import stored_file_response


class BackgroundSerializer(serializers.ModelSerializer):
    """A library entry. File URLs are owner-checked API URLs, never public media."""

    builtin = serializers.BooleanField(source="is_builtin", help_text="Built-in (read-only).")
    url = serializers.SerializerMethodField()
    image_url = serializers.SerializerMethodField()
    thumbnail_url = serializers.SerializerMethodField()

    class Meta:
        model = Background
        fields = [
            "id",
            "url",
            "name",
            "builtin",
            "width",
            "height",
            "size_bytes",
            "created",
            "image_url",
            "thumbnail_url",
        ]
        read_only_fields = fields

    def _url(self, view_name: str, background: Background) -> str:
        return reverse(view_name, kwargs={"pk": background.pk}, request=self.context.get("request"))

    @extend_schema_field(OpenApiTypes.URI)
    def get_url(self, background: Background) -> str:
        return self._url("api:background-detail", background)

    @extend_schema_field(OpenApiTypes.URI)
    def get_image_url(self, background: Background) -> str:
        return self._url("api:background-image", background)

    @extend_schema_field(OpenApiTypes.URI)
    def get_thumbnail_url(self, background: Background) -> str:
        return self._url("api:background-thumbnail", background)


# A name must have a visible character (names are trimmed and their spaces collapsed).
_VISIBLE = RegexValidator(r"\S", "Give the background a name.")


class BackgroundUploadSerializer(serializers.Serializer):
    image = serializers.FileField(
        allow_empty_file=True,  # the service gives empty files their own clear error
        help_text="JPEG, PNG or WebP, validated by decoding, within the size limits.",
    )
    name = serializers.CharField(
        max_length=100,
        required=False,
        allow_blank=True,
        help_text="Shown in the library. Default: the uploaded file's name.",
    )


class BackgroundRenameSerializer(serializers.Serializer):
    name = serializers.CharField(
        max_length=100, validators=[_VISIBLE], help_text="The new name. Omitted: no change."
    )


_FILE_RESPONSES = {
    (200, "image/jpeg"): OpenApiResponse(
        OpenApiTypes.BINARY, description="The file (stored as JPEG)."
    ),
    302: OpenApiResponse(description="Files in S3: a redirect to a short-lived presigned URL."),
}
_NOT_YOURS = OpenApiResponse(
    ErrorSerializer,
    description="`not_found`: no such background, another person's, or a built-in"
    " (built-ins are read-only).",
)


def _action(view) -> str | None:
    """The viewset action of the current request, also before DRF sets ``view.action``."""
    action_name = getattr(view, "action", None)
    if action_name is None and getattr(view, "request", None) is not None:
        action_name = getattr(view, "action_map", {}).get(view.request.method.lower())
    return action_name


class BackgroundViewSet(
    ApiErrorMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    serializer_class = BackgroundSerializer
    renderer_classes = [JSONRenderer]
    pagination_class = ApiPagination
    lookup_value_regex = "[0-9a-fA-F-]{32,36}"
    # PUT is not offered: renaming is a PATCH of ``name``.
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def get_queryset(self):
        # Built-ins first (by name), then the person's own, newest first.
        return Background.objects.for_user(self.request.user).order_by(
            F("owner_id").asc(nulls_first=True), F("created").desc(), "name", "pk"
        )

    def get_object(self) -> Background:
        return background_get(user=self.request.user, background_id=self.kwargs["pk"])

    def get_parsers(self):
        # Called before ``self.action`` is set for the request: look the action up.
        if _action(self) == "create":
            return [MultiPartParser()]
        return [JSONParser(), FormParser(), MultiPartParser()]

    def get_max_request_bytes(self) -> int:
        if self.request.method == "POST":
            return settings.VBG_MAX_UPLOAD_BYTES + 1_048_576
        return super().get_max_request_bytes()

    def perform_content_negotiation(self, request, force: bool = False):
        # File downloads answer whatever the client accepts (errors stay JSON).
        return super().perform_content_negotiation(
            request, force=force or getattr(self, "action", None) in {"image", "thumbnail"}
        )

    def _answer(self, background: Background, status_code: int) -> Response:
        data = BackgroundSerializer(background, context=self.get_serializer_context()).data
        return Response(data, status=status_code)

    @extend_schema(
        summary="Backgrounds",
        description="Built-in backgrounds (read-only) and your own, 20 per page.",
        tags=["backgrounds"],
    )
    def list(self, request, *args, **kwargs) -> Response:
        return super().list(request, *args, **kwargs)

    @extend_schema(summary="One background", tags=["backgrounds"])
    def retrieve(self, request, *args, **kwargs) -> Response:
        return super().retrieve(request, *args, **kwargs)

    @extend_schema(
        summary="Upload a background",
        description="Adds an image to your library (a per-user quota applies).",
        request={"multipart/form-data": BackgroundUploadSerializer},
        responses={
            201: BackgroundSerializer,
            403: OpenApiResponse(
                ErrorSerializer, description="`quota_exceeded`: your library is full."
            ),
        },
        tags=["backgrounds"],
    )
    def create(self, request, *args, **kwargs) -> Response:
        form = BackgroundUploadSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        background = background_upload(
            user=request.user,
            file=form.validated_data["image"],
            name=form.validated_data.get("name", ""),
        )
        return self._answer(background, status.HTTP_201_CREATED)

    @extend_schema(
        summary="Rename a background",
        request=BackgroundRenameSerializer,
        responses={200: BackgroundSerializer, 404: _NOT_YOURS},
        tags=["backgrounds"],
    )
    def partial_update(self, request, *args, **kwargs) -> Response:
        background = background_get_owned(user=request.user, background_id=kwargs["pk"])
        form = BackgroundRenameSerializer(data=request.data, partial=True)
        form.is_valid(raise_exception=True)
        if "name" in form.validated_data:
            background = background_rename(
                user=request.user, background_id=background.pk, name=form.validated_data["name"]
            )
        return self._answer(background, status.HTTP_200_OK)

    @extend_schema(
        summary="Delete a background",
        description="Deletes one of your backgrounds and its files. Composites made with it"
        " keep their results.",
        responses={204: None, 404: _NOT_YOURS},
        tags=["backgrounds"],
    )
    def destroy(self, request, *args, **kwargs) -> Response:
        background_delete(user=request.user, background_id=kwargs["pk"])
        return Response(status=status.HTTP_204_NO_CONTENT)

    def _file(self, pk: str | None, which: str) -> HttpResponse:
        # Owner-checked by the service (NotFound -> JSON 404); streamed locally, or a
        # redirect to a presigned S3 URL.
        stored = background_file(user=self.request.user, background_id=pk, which=which)
        return stored_file_response(self.request, stored)

    @extend_schema(summary="Download the image", responses=_FILE_RESPONSES, tags=["backgrounds"])
    @action(detail=True, methods=["get"])
    def image(self, request, pk: str | None = None) -> HttpResponse:
        return self._file(pk, "image")

    @extend_schema(
        summary="Download the thumbnail", responses=_FILE_RESPONSES, tags=["backgrounds"]
    )
    @action(detail=True, methods=["get"])
    def thumbnail(self, request, pk: str | None = None) -> HttpResponse:
        return self._file(pk, "thumbnail")
