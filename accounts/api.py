"""API tokens over the API: exchange a username and password for a named token; revoke it.

``POST /api/v1/auth/token/`` creates a new named ``ApiToken`` each time (one per device or
script, listed and revocable on the website's tokens page) through
``accounts.services.token_create``. Password guessing is slowed twice: per client address
by the ``auth`` rate (``vbgsite.throttles.TokenObtainRateThrottle``) and, as on the
website's sign-in page, per username and address by ``accounts.throttle``.
``DELETE /api/v1/auth/token/`` revokes the token that authenticated the request.
``GET /api/v1/account/`` is the person's usage against their limits (``accounts.usage``).
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth import authenticate
from django.utils import timezone
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import exceptions, serializers, status
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import throttle as signin_throttle
from accounts.authentication import ApiTokenAuthentication
from accounts.models import ApiToken
from accounts.services import token_create, token_revoke, token_webhook_set
from accounts.usage import account_usage
from vbgsite.api_errors import ApiErrorMixin, InvalidCredentials
from vbgsite.api_schema import ErrorSerializer
from vbgsite.throttles import TokenObtainRateThrottle, UserRateThrottle


class TokenRequestSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=150, trim_whitespace=False)
    password = serializers.CharField(
        max_length=4096, trim_whitespace=False, style={"input_type": "password"}
    )
    name = serializers.CharField(
        max_length=100,
        required=False,
        help_text='A name for the token, shown on the tokens page (e.g. "laptop script").'
        " Default: API token and the date.",
    )


class TokenSerializer(serializers.Serializer):
    token = serializers.CharField(
        help_text="The key. Send it as `Authorization: Token <key>`. Shown only this once."
    )
    id = serializers.IntegerField(help_text="The token's id on the tokens page.")
    name = serializers.CharField()
    created = serializers.DateTimeField()
    webhook_secret = serializers.CharField(
        help_text="Signs the webhooks of video jobs made with this token (`X-VBG-Signature`:"
        " HMAC-SHA256 over `<X-VBG-Timestamp>.<body>`). Shown only this once."
    )


class TokenView(ApiErrorMixin, APIView):
    """Create (sign in) and revoke API tokens."""

    renderer_classes = [JSONRenderer]

    def get_permissions(self):
        return [IsAuthenticated()] if self.request.method == "DELETE" else [AllowAny()]

    def get_authenticators(self):
        # Signing in ignores any Authorization header; revoking needs the token itself.
        if self.request is not None and self.request.method != "DELETE":
            return []
        return [ApiTokenAuthentication()]

    def get_throttles(self):
        if self.request.method == "DELETE":
            return [UserRateThrottle()]
        return [TokenObtainRateThrottle()]

    @extend_schema(
        operation_id="auth_token_create",
        summary="Get an API token",
        description=(
            "Exchange a username and password for a new named API token. Each call creates"
            " another token (list and revoke them on the website's API tokens page). Send it"
            " on every other request as `Authorization: Token <key>`. Failed attempts are"
            " throttled per username and client address."
        ),
        request=TokenRequestSerializer,
        responses={
            201: TokenSerializer,
            400: OpenApiResponse(
                ErrorSerializer,
                description="Missing fields (`invalid`) or wrong username or"
                " password (`invalid_credentials`).",
            ),
        },
        auth=[],
        tags=["auth"],
    )
    def post(self, request, *args, **kwargs) -> Response:
        form = TokenRequestSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        username = form.validated_data["username"]
        ip = signin_throttle.client_ip(request)
        if signin_throttle.login_is_throttled(username=username, ip=ip):
            raise exceptions.Throttled(
                wait=settings.VBG_LOGIN_LOCKOUT_SECONDS,
                detail="Too many failed sign-in attempts for this account; try again later.",
            )
        user = authenticate(
            request._request, username=username, password=form.validated_data["password"]
        )
        if user is None:
            signin_throttle.login_failed(username=username, ip=ip)
            raise InvalidCredentials()
        signin_throttle.login_succeeded(username=username, ip=ip)
        name = form.validated_data.get("name") or (f"API token {timezone.now():%Y-%m-%d %H:%M} UTC")
        token, key = token_create(user=user, name=name)
        body = {
            "token": key,
            "id": token.pk,
            "name": token.name,
            "created": token.created,
            "webhook_secret": token.webhook_secret,
        }
        return Response(TokenSerializer(body).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        operation_id="auth_token_destroy",
        summary="Revoke this token",
        description="Revokes the token that authenticates this request (sign out a script).",
        request=None,
        responses={204: None},
        tags=["auth"],
    )
    def delete(self, request, *args, **kwargs) -> Response:
        if not isinstance(request.auth, ApiToken):
            raise exceptions.NotAuthenticated()
        token_revoke(user=request.user, token_id=request.auth.pk)
        return Response(status=status.HTTP_204_NO_CONTENT)


class TokenWebhookRequestSerializer(serializers.Serializer):
    callback_url = serializers.RegexField(
        r"^https?://\S+$",  # or "" (allow_blank)
        required=False,
        allow_blank=True,
        max_length=2000,
        help_text="Called when a video job made with this token ends and has no"
        " `callback_url` of its own (http or https, with a host). Empty: none.",
    )
    rotate_secret = serializers.BooleanField(
        required=False, default=False, help_text="Make a new webhook secret (shown once)."
    )


class TokenWebhookSerializer(serializers.Serializer):
    callback_url = serializers.CharField(allow_blank=True)
    webhook_secret = serializers.CharField(
        allow_null=True, help_text="The new secret when it was rotated (shown once), else null."
    )


class TokenWebhookView(ApiErrorMixin, APIView):
    """This token's webhook settings: default callback URL and signing secret."""

    renderer_classes = [JSONRenderer]
    authentication_classes = [ApiTokenAuthentication]

    @extend_schema(
        operation_id="auth_token_webhook_update",
        summary="Set this token's webhook",
        description=(
            "The default `callback_url` of video jobs made with this token, and (with"
            " `rotate_secret`) a new secret for their signatures, shown only in this answer."
        ),
        request=TokenWebhookRequestSerializer,
        responses={200: TokenWebhookSerializer},
        tags=["auth"],
    )
    def put(self, request, *args, **kwargs) -> Response:
        if not isinstance(request.auth, ApiToken):
            raise exceptions.NotAuthenticated()
        if not isinstance(request.data, dict):  # JSON null, a list...: not settings
            raise exceptions.ValidationError({"non_field_errors": ["Send a JSON object."]})
        form = TokenWebhookRequestSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        token, secret = token_webhook_set(
            user=request.user,
            token_id=request.auth.pk,
            callback_url=form.validated_data.get("callback_url"),
            rotate_secret=form.validated_data["rotate_secret"],
        )
        return Response({"callback_url": token.callback_url, "webhook_secret": secret})


class _RateWindowSerializer(serializers.Serializer):
    limit = serializers.IntegerField(help_text="Requests allowed per window.")
    window_seconds = serializers.IntegerField(help_text="The sliding window, in seconds.")
    used = serializers.IntegerField(help_text="Requests counted in the current window.")
    remaining = serializers.IntegerField()
    reset = serializers.IntegerField(
        allow_null=True, help_text="Unix time when `remaining` next goes up."
    )


class _RateLimitsSerializer(serializers.Serializer):
    composite = _RateWindowSerializer(
        allow_null=True,
        help_text="Composites (photos, studio drafts, re-composites, videos) from the API and"
        " the website together; null when unlimited.",
    )
    user = _RateWindowSerializer(allow_null=True, help_text="Every API request.")


class _CompositeCountsSerializer(serializers.Serializer):
    last_hour = serializers.IntegerField()
    last_day = serializers.IntegerField()
    total = serializers.IntegerField()


class _VideoUsageSerializer(serializers.Serializer):
    minutes_last_day = serializers.FloatField(help_text="Finished videos, last 24 hours.")
    minutes_total = serializers.FloatField()
    max_minutes_per_video = serializers.FloatField()
    max_megabytes_per_video = serializers.IntegerField()


class _StorageSerializer(serializers.Serializer):
    bytes = serializers.IntegerField(help_text="Every file of yours: photos, results, backgrounds.")


class _LibrarySerializer(serializers.Serializer):
    count = serializers.IntegerField(help_text="Backgrounds in your library.")
    quota = serializers.IntegerField()
    remaining = serializers.IntegerField()


class _TokensSerializer(serializers.Serializer):
    count = serializers.IntegerField()
    limit = serializers.IntegerField()


class AccountUsageSerializer(serializers.Serializer):
    username = serializers.CharField()
    composites = _CompositeCountsSerializer()
    rate_limits = _RateLimitsSerializer()
    videos = _VideoUsageSerializer()
    storage = _StorageSerializer()
    library = _LibrarySerializer()
    tokens = _TokensSerializer()


class AccountView(ApiErrorMixin, APIView):
    """The signed-in person's usage against their limits and quota."""

    renderer_classes = [JSONRenderer]

    @extend_schema(
        operation_id="account_retrieve",
        summary="Your usage and limits",
        description=(
            "Composites made this hour and day, the composite rate window shared by the API"
            " and the website, video minutes, storage bytes, background library count and"
            " API tokens, each against its limit or quota."
        ),
        responses={
            200: AccountUsageSerializer,
            503: OpenApiResponse(
                ErrorSerializer,
                description="`storage_unavailable`: file storage cannot be reached.",
            ),
        },
        tags=["account"],
    )
    def get(self, request, *args, **kwargs) -> Response:
        return Response(AccountUsageSerializer(account_usage(user=request.user)).data)
