"""API shapes of composites: what clients send (multipart forms) and what they get back.

No logic here: ``compositing.services`` validates and does the work. These serializers only
check that fields have the right type, and describe them for the OpenAPI schema.
"""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.reverse import reverse

from compositing.models import Composite, WebhookDelivery
from compositing.services.background_choice import composite_notices
from compositing.services.photos import PHOTO_FORMATS
from compositing.services.video_requests import VIDEO_FORMATS

COMPOSITE_MODES = Composite.Mode.choices


class BackgroundChoiceSerializer(serializers.Serializer):
    """The background options shared by create and re-composite (at most one source)."""

    background = serializers.UUIDField(
        required=False,
        help_text="Id of a built-in background or one of yours (`GET /api/v1/backgrounds/`).",
    )
    background_image = serializers.FileField(
        required=False,
        allow_empty_file=True,  # the service gives empty files their own clear error
        help_text="A background image (JPEG, PNG or WebP) used for this composite only.",
    )
    save_background = serializers.BooleanField(
        default=False,
        help_text="With `background_image`: also add it to your background library.",
    )
    color = serializers.CharField(
        required=False,
        max_length=7,
        help_text="A solid colour as `#RRGGBB`, e.g. `#1E90FF`.",
    )
    mode = serializers.ChoiceField(
        choices=COMPOSITE_MODES,
        required=False,
        help_text=(
            "`blur` (the photo's own background, blurred) or `transparent` (PNG/WebP with"
            " alpha). Inferred when omitted: `image` with `background`/`background_image`,"
            " `color` with `color`."
        ),
    )
    format = serializers.ChoiceField(
        choices=[*PHOTO_FORMATS, *VIDEO_FORMATS],
        required=False,
        help_text=(
            "Photos: `jpg` (default), `png` or `webp`; `transparent` in `jpg` is written as PNG."
            " Videos: `mp4` (H.264, the default with a background), `webm` (VP9 with alpha,"
            " the default for `mode=transparent`; plays in browsers) or `mov` (ProRes 4444"
            " with alpha, for editors); `webm` and `mov` are for `mode=transparent` only."
        ),
    )


def _text(help_text: str, example: str) -> serializers.CharField:
    # Parsed and checked by compositing.services.placement (the website uses the same
    # parser): a bad value is a 400 with code ``invalid_option``.
    return serializers.CharField(
        required=False, max_length=32, help_text=f"{help_text} Example: `{example}`."
    )


@extend_schema_field(OpenApiTypes.BOOL)
class _Flag(serializers.Field):
    """A boolean placement option passed through raw: ``compositing.services.placement``
    parses it, so ``crop=perhaps`` is ``invalid_option`` like every other placement error."""

    def to_internal_value(self, data: object) -> object:
        return data

    def to_representation(self, value: object) -> object:
        return value


class PlacementSerializer(serializers.Serializer):
    """Placement options of a photo composite (create and re-composite; not videos)."""

    output_size = _text(
        "`original` (default: the photo's size, or the crop's) or `WxH` in pixels, 16 to"
        " 8000 a side, e.g. `1920x1080` (video calls), `1080x1080`, `1080x1350`.",
        "1920x1080",
    )
    background_focus = _text(
        "The point of the background image kept in view, `x,y` in percent (default"
        " `50,50`, centred; `0,0` keeps the top-left corner).",
        "30,50",
    )
    background_zoom = _text("Zoom into the background image, 1 to 4 (default 1).", "1.5")
    background_mirror = _Flag(
        required=False, help_text="Mirror the background left-right (`true`/`false`)."
    )
    scale = _text(
        "The subject's size, 10 to 100 percent of the size that fits the output (default 100).",
        "80",
    )
    position = _text(
        "Where the subject goes: `center` (default), `top`, `bottom` or `x,y` in percent"
        " (as CSS background-position: `0,100` is bottom-left).",
        "bottom",
    )
    crop = _Flag(
        required=False,
        help_text="Cut the output to the subject (plus `crop_margin`), as remove.bg does"
        " (`true`/`false`).",
    )
    crop_margin = _text(
        "With `crop`: margin around the subject, `Npx` (0-1000) or `N%` of the subject's"
        " size (0-50); a bare number is pixels.",
        "10%",
    )
    channels = _text("`rgba` (default) or `alpha`: the matte alone, as a greyscale PNG.", "alpha")
    blur_strength = _text("With `mode=blur`: `light` (default), `strong` or 1 to 100.", "strong")


PLACEMENT_FIELDS = tuple(PlacementSerializer().fields)


class CompositeCreateSerializer(PlacementSerializer, BackgroundChoiceSerializer):
    photo = serializers.FileField(
        required=False,
        allow_empty_file=True,
        help_text=(
            "The portrait: JPEG, PNG, WebP, GIF (first frame), BMP, TIFF or AVIF; validated by"
            " decoding, up to the server's size and megapixel limits."
        ),
    )
    callback_url = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=2000,
        help_text=(
            "Videos: an http(s) URL called with a signed JSON POST when the job is done,"
            " failed or cancelled (default: the token's, see `PUT /api/v1/auth/token/"
            "webhook/`). Signed with the token's webhook secret: `X-VBG-Signature:"
            " sha256=<HMAC-SHA256 of '<X-VBG-Timestamp>.<body>'>`; retried with backoff."
        ),
    )
    video = serializers.FileField(
        required=False,
        allow_empty_file=True,
        help_text=(
            "Instead of `photo`: a video (MP4, MOV, WebM or MKV, up to the server's size and"
            " length limits). Answers `202` with a queued composite at once; the work runs in"
            " the background: poll the composite's `url` for `status`, `progress` (percent),"
            " `frames_done`/`frames_total` and `eta_seconds`; `result_url` is the video"
            " (audio kept) once `status` is `done`: H.264 MP4, or with `mode=transparent`"
            " WebM (VP9 with alpha) or MOV (ProRes 4444, `format=mov`)."
        ),
    )

    def validate(self, attrs: dict) -> dict:
        has_photo, has_video = "photo" in attrs, "video" in attrs
        if has_photo == has_video:
            message = "Upload a photo or a video, not both." if has_photo else "Upload a photo."
            raise serializers.ValidationError({"photo": [message]})
        return attrs


class RecompositeSerializer(PlacementSerializer, BackgroundChoiceSerializer):
    """Re-composite: the same background options; ``format`` defaults to the original's."""


def _file_url(view_name: str, composite: Composite, field: str, context: dict) -> str | None:
    if not getattr(composite, field):
        return None
    return reverse(view_name, kwargs={"pk": composite.pk}, request=context.get("request"))


class WebhookDeliverySerializer(serializers.ModelSerializer):
    class Meta:
        model = WebhookDelivery
        fields = [
            "event",
            "attempt",
            "created",
            "url",
            "status_code",
            "delivered",
            "error",
            "duration_ms",
            "next_attempt_at",
        ]
        read_only_fields = fields


class CompositeSerializer(serializers.ModelSerializer):
    """A history entry. File URLs are API URLs that check the owner (never public media)."""

    format = serializers.CharField(
        source="output_format", help_text="jpg, png or webp; mp4, webm or mov for videos."
    )
    model = serializers.CharField(
        source="model_name", help_text="The segmentation model that made the mask."
    )
    background = serializers.PrimaryKeyRelatedField(
        read_only=True, allow_null=True, help_text="Library background used, if any."
    )
    color = serializers.SerializerMethodField()
    finished = serializers.DateTimeField(source="finished_at", allow_null=True)
    url = serializers.SerializerMethodField()
    callback_url = serializers.CharField(
        help_text="Video jobs: the webhook called when the job ends (empty: none)."
    )
    webhook_deliveries = WebhookDeliverySerializer(
        many=True, help_text="Every attempt at the webhook, oldest first."
    )
    result_url = serializers.SerializerMethodField()
    mask_url = serializers.SerializerMethodField()
    source_url = serializers.SerializerMethodField()
    thumbnail_url = serializers.SerializerMethodField()
    notices = serializers.SerializerMethodField()
    placement = serializers.DictField(
        child=serializers.JSONField(),
        help_text="The placement options it was made with (canonical; the names of create).",
    )
    timings = serializers.DictField(
        child=serializers.JSONField(),
        help_text="Milliseconds per stage: decode_ms, segment_ms, person_check_ms (a new"
        " photo), compose_ms, encode_ms, store_ms, total_ms (and mask_reused: true on a"
        " re-composite).",
    )

    class Meta:
        model = Composite
        fields = [
            "id",
            "url",
            "kind",
            "status",
            "progress",
            "frames_done",
            "frames_total",
            "eta_seconds",
            "error",
            "mode",
            "background",
            "color",
            "format",
            "width",
            "height",
            "duration",
            "person_found",
            "model",
            "placement",
            "timings",
            "source_name",
            "parent",
            "created",
            "finished",
            "result_url",
            "mask_url",
            "source_url",
            "thumbnail_url",
            "notices",
            "callback_url",
            "webhook_deliveries",
        ]
        read_only_fields = fields

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_color(self, composite: Composite) -> str | None:
        return composite.color or None

    @extend_schema_field(
        serializers.ListField(
            child=serializers.CharField(),
            help_text=(
                "What the server changed on its own while making this composite, in words for"
                " the person: e.g. transparency asked for in `jpg` was written as PNG, or"
                " `save_background` with a full library kept the background with this"
                " composite only. Only in the answer to create or re-composite; `[]` otherwise."
            ),
        )
    )
    def get_notices(self, composite: Composite) -> list[str]:
        return composite_notices(composite)

    @extend_schema_field(OpenApiTypes.URI)
    def get_url(self, composite: Composite) -> str:
        return reverse(
            "api:composite-detail", kwargs={"pk": composite.pk}, request=self.context.get("request")
        )

    @extend_schema_field(serializers.URLField(allow_null=True))
    def get_result_url(self, composite: Composite) -> str | None:
        return _file_url("api:composite-result", composite, "result", self.context)

    @extend_schema_field(serializers.URLField(allow_null=True))
    def get_mask_url(self, composite: Composite) -> str | None:
        return _file_url("api:composite-mask", composite, "mask", self.context)

    @extend_schema_field(serializers.URLField(allow_null=True))
    def get_source_url(self, composite: Composite) -> str | None:
        return _file_url("api:composite-source", composite, "source", self.context)

    @extend_schema_field(serializers.URLField(allow_null=True))
    def get_thumbnail_url(self, composite: Composite) -> str | None:
        return _file_url("api:composite-thumbnail", composite, "thumbnail", self.context)
