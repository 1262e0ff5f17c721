"""The API's one mapping from exceptions to JSON error bodies: ``{"code": ..., "detail": ...}``.

Every error the API answers has a stable machine-readable ``code`` (clients switch on it)
and a human ``detail``. Field errors add ``errors``: ``{"field": ["message", ...]}``.
Sources, in order:

- our own errors (``vbgsite.errors.AppError`` and subclasses): their ``code``,
  ``message`` and ``http_status``;
- DRF's ``APIException`` family (``not_authenticated`` 401, ``permission_denied`` 403,
  ``not_found`` 404, ``method_not_allowed`` 405, ``not_acceptable`` 406,
  ``unsupported_media_type`` 415, ``throttled`` 429 with ``Retry-After``, ``invalid`` 400 for
  field errors, ``parse_error`` 400 for a body that cannot be parsed);
- Django's request errors (a body over the limits: ``request_too_large`` 413; too many
  fields: ``too_many_fields`` 400; other suspicious requests: ``bad_request`` 400);
- anything else is a bug: it is logged with its traceback and answered with a JSON 500
  (``server_error``) rather than Django's HTML page.

``exception_handler`` is installed as ``REST_FRAMEWORK["EXCEPTION_HANDLER"]``.
``ApiErrorMixin`` (for every API view) refuses over-large bodies before they are read and
keeps error responses JSON even when the client asked for image bytes.
"""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.core.exceptions import (
    PermissionDenied,
    RequestDataTooBig,
    SuspiciousOperation,
    TooManyFieldsSent,
    TooManyFilesSent,
)
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, JsonResponse, UnreadablePostError
from django.urls import Resolver404, resolve
from django.views.decorators.csrf import csrf_exempt
from rest_framework import exceptions, status
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import set_rollback

from vbgsite.dependencies import dependency_failure
from vbgsite.errors import AppError, ServiceUnavailable

logger = logging.getLogger(__name__)


class RequestTooLarge(exceptions.APIException):
    """The request body is larger than this endpoint accepts (checked from Content-Length)."""

    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The request is too large."
    default_code = "request_too_large"


class InvalidCredentials(exceptions.APIException):
    """Wrong username or password at the token endpoint."""

    status_code = status.HTTP_400_BAD_REQUEST
    default_detail = "Unable to sign in with the username and password given."
    default_code = "invalid_credentials"


def error_body(code: str, detail: str, **extra: Any) -> dict[str, Any]:
    """The JSON body of every API error."""
    return {"code": code, "detail": detail, **extra}


def _first_message(errors: Any) -> str:
    """The first human message in a DRF error structure (str, list or dict, nested)."""
    if isinstance(errors, dict):
        for field, value in errors.items():
            message = _first_message(value)
            if message:
                return message if field in ("non_field_errors", "detail") else f"{field}: {message}"
        return ""
    if isinstance(errors, list):
        for value in errors:
            message = _first_message(value)
            if message:
                return message
        return ""
    return str(errors)


def _api_exception_body(exc: exceptions.APIException) -> dict[str, Any]:
    if isinstance(exc, exceptions.ValidationError):
        detail = exc.detail
        errors = detail if isinstance(detail, dict) else {"non_field_errors": detail}
        # Field errors are "invalid" whatever DRF's per-field code ("required", ...): our
        # own stable codes come from the services' AppErrors, never from serializers.
        return error_body("invalid", _first_message(errors) or "Invalid input.", errors=errors)
    detail = exc.detail
    if isinstance(detail, dict | list):
        message = _first_message(detail) or exc.default_detail
    else:
        message = str(detail)
    code = getattr(detail, "code", None) or exc.default_code
    body = error_body(str(code), str(message))
    if isinstance(exc, exceptions.Throttled) and exc.wait is not None:
        body["retry_after"] = int(exc.wait)
    return body


def _to_api_exception(exc: Exception) -> exceptions.APIException | AppError | None:
    """Django's own exceptions, as the API exception they mean; None if not ours to map."""
    if isinstance(exc, AppError | exceptions.APIException):
        return exc
    unavailable = dependency_failure(exc)  # storage or database timed out: 503
    if unavailable is not None:
        return unavailable
    if isinstance(exc, Http404):
        return exceptions.NotFound()
    if isinstance(exc, PermissionDenied):
        return exceptions.PermissionDenied()
    if isinstance(exc, RequestDataTooBig):
        return RequestTooLarge()
    if isinstance(exc, TooManyFieldsSent | TooManyFilesSent):
        return exceptions.ParseError(
            "The request has too many fields or files.", code="too_many_fields"
        )
    if isinstance(exc, SuspiciousOperation | UnreadablePostError):
        return exceptions.ParseError("The request could not be read.", code="bad_request")
    if isinstance(exc, DjangoValidationError):
        return exceptions.ValidationError(
            exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        )
    return None


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response:
    """DRF exception handler: every exception becomes a JSON ``{"code", "detail"}`` response."""
    mapped = _to_api_exception(exc)
    headers: dict[str, str] = {}
    if isinstance(mapped, AppError):
        body = mapped.as_dict()
        status_code = mapped.http_status
        if status_code >= 500:
            logger.error("API answered %s %s: %s", status_code, mapped.code, mapped.message)
        if isinstance(mapped, ServiceUnavailable):
            headers["Retry-After"] = str(mapped.retry_after)
    elif isinstance(mapped, exceptions.APIException):
        body = _api_exception_body(mapped)
        status_code = mapped.status_code
        if getattr(mapped, "auth_header", None):
            headers["WWW-Authenticate"] = mapped.auth_header
        if isinstance(mapped, exceptions.Throttled):
            headers["Retry-After"] = str(max(1, int(mapped.wait or 1)))
    else:
        view = context.get("view")
        logger.exception("Unhandled error in API view %s", type(view).__name__, exc_info=exc)
        body = error_body("server_error", "Something went wrong on our side. Please try again.")
        status_code = status.HTTP_500_INTERNAL_SERVER_ERROR
    set_rollback()
    return Response(body, status=status_code, headers=headers)


@csrf_exempt  # an unknown path is a 404 for every method, never a CSRF page
def json_not_found(request, *args: Any, **kwargs: Any) -> JsonResponse:
    """Plain Django view for any /api/ path that matches no endpoint."""
    detail = f"There is no API endpoint at {request.path}."
    if not request.path.endswith("/"):
        try:
            match = resolve(request.path + "/")
        except Resolver404:
            match = None
        if match is not None and match.func is not json_not_found:
            detail += f" API paths end with a slash: {request.path}/"
    return JsonResponse(error_body("not_found", detail), status=404)


class ApiErrorMixin:
    """For every API view: refuse over-large bodies early; errors are always JSON.

    ``max_request_bytes`` is the largest body (Content-Length) the view accepts; the
    default allows small JSON and form bodies only. Views taking file uploads raise it.
    DRF reads JSON bodies into memory without Django's limit, so the check matters for them
    too. It runs before authentication, so nothing is parsed or stored for a body that is
    going to be refused.
    """

    def get_max_request_bytes(self) -> int:
        return settings.DATA_UPLOAD_MAX_MEMORY_SIZE

    def initial(self, request, *args: Any, **kwargs: Any) -> None:
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        limit = self.get_max_request_bytes()
        if length > limit:
            raise RequestTooLarge(
                f"The request is {length / 1_048_576:.1f} MB; this endpoint accepts at most"
                f" {limit / 1_048_576:.1f} MB."
            )
        super().initial(request, *args, **kwargs)

    def finalize_response(self, request, response, *args: Any, **kwargs: Any):
        response = super().finalize_response(request, response, *args, **kwargs)
        # A client asking for image bytes (Accept: image/*) still gets errors as JSON.
        if (
            isinstance(response, Response)
            and response.status_code >= 400
            and not isinstance(response.accepted_renderer, JSONRenderer)
        ):
            response.accepted_renderer = JSONRenderer()
            response.accepted_media_type = "application/json"
        return response
