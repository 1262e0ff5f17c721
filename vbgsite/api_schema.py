"""OpenAPI description pieces shared by every endpoint (drf-spectacular).

- ``ErrorSerializer``: the shape of every error body (``vbgsite.api_errors``).
- ``ApiTokenScheme``: documents ``Authorization: Token <key>`` (``accounts.ApiToken``).
- ``SwaggerDocsView``, ``RedocDocsView``: the interactive docs, with a Content-Security-
  Policy that lets the page load nothing from other hosts (Redoc's bundle would fetch its
  vendor's logo from a CDN; the policy stops that, and the page hides the broken image).
- ``add_error_responses``: a post-processing hook that adds the error responses every
  operation can give (401 with ``WWW-Authenticate``, 429 with ``Retry-After``, 404 for
  operations on an id, 400/413/415 for operations with a body), so the schema lists every
  status the API can answer without repeating them on each view, and the ``X-RateLimit-*``
  headers every answer carries.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.utils.csp import CSP
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.views import SpectacularRedocView, SpectacularSwaggerView
from rest_framework import serializers

ERROR_COMPONENT = "Error"
ERROR_REF = {"$ref": f"#/components/schemas/{ERROR_COMPONENT}"}


class ErrorSerializer(serializers.Serializer):
    """Every error answer: a stable machine-readable ``code`` and a human ``detail``."""

    code = serializers.CharField(
        help_text="Stable machine-readable code, e.g. `invalid_image`, `not_found`, `throttled`."
    )
    detail = serializers.CharField(help_text="What went wrong, for people.")
    errors = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        required=False,
        help_text="Field errors (code `invalid`): field name -> messages.",
    )
    retry_after = serializers.IntegerField(
        required=False, help_text="With code `throttled`: seconds until a retry is allowed."
    )

    class Meta:
        ref_name = ERROR_COMPONENT


class ApiTokenScheme(OpenApiAuthenticationExtension):
    target_class = "accounts.authentication.ApiTokenAuthentication"
    name = "tokenAuth"

    def get_security_definition(self, auto_schema) -> dict[str, Any]:
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": (
                "Send `Authorization: Token <key>`; get a key from `POST /api/v1/auth/token/`"
                " or the website's API tokens page. In Swagger UI's Authorize box, enter"
                " `Token <key>`."
            ),
        }


_ERROR_DESCRIPTIONS = {
    "400": "Bad input: a field is missing or invalid, or a file is not a usable image.",
    "401": "No token, or an invalid one (`not_authenticated`, `authentication_failed`).",
    "403": "Not allowed (`permission_denied`, `quota_exceeded`).",
    "404": "Not found, or not yours, or past the last page (`not_found`).",
    "406": "The Accept header names no type this operation can answer (`not_acceptable`).",
    "413": "Too large: the request, a file, an image's dimensions (`image_too_large`), a"
    " video's length (`video_too_long`) or its frames (`video_too_large`).",
    "415": "Unsupported file type or request content type (`unsupported_media_type`).",
    "422": "No person found in the photo (`no_person`).",
    "429": "Rate limit reached (`throttled`); retry after `Retry-After` seconds (also"
    " `retry_after` in the body, and `X-RateLimit-Reset`).",
    "503": "A part of the server is unavailable: the segmentation model is not installed"
    " (`model_unavailable`) or file storage cannot be reached (`storage_unavailable`).",
}

_HEADERS = {
    "401": {
        "WWW-Authenticate": {
            "schema": {"type": "string"},
            "description": "The authentication scheme: `Token`.",
        }
    },
    "429": {
        "Retry-After": {
            "schema": {"type": "integer", "minimum": 1},
            "description": "Seconds to wait before retrying.",
            "required": True,
        }
    },
}


# On every answer (absent only if the rate limiter's cache is down): the tightest window the
# request used (vbgsite.rate_limits).
RATE_LIMIT_HEADERS = {
    "X-RateLimit-Limit": {
        "schema": {"type": "integer", "minimum": 1},
        "description": "Requests allowed in the window (the tightest one this request used).",
    },
    "X-RateLimit-Remaining": {
        "schema": {"type": "integer", "minimum": 0},
        "description": "Requests left in that window.",
    },
    "X-RateLimit-Reset": {
        "schema": {"type": "integer"},
        "description": "Unix time when `X-RateLimit-Remaining` next goes up.",
    },
}


def error_response(status: str) -> dict[str, Any]:
    """An OpenAPI response object for one error status, with the ``Error`` body."""
    response: dict[str, Any] = {
        "description": _ERROR_DESCRIPTIONS.get(status, "Error."),
        "content": {"application/json": {"schema": ERROR_REF}},
    }
    if status in _HEADERS:
        response["headers"] = dict(_HEADERS[status])
    return response


def add_error_responses(result: dict[str, Any], generator, request, public) -> dict[str, Any]:
    """drf-spectacular post-processing hook: add the errors every operation can answer."""
    components = result.setdefault("components", {}).setdefault("schemas", {})
    if ERROR_COMPONENT not in components:
        components[ERROR_COMPONENT] = {
            "type": "object",
            "properties": {"code": {"type": "string"}, "detail": {"type": "string"}},
            "required": ["code", "detail"],
        }
    for path_item in result.get("paths", {}).values():
        for method, operation in path_item.items():
            if method not in {"get", "put", "patch", "post", "delete", "head", "options"}:
                continue
            responses = operation.setdefault("responses", {})
            # Any request can be throttled, and can name in Accept a type we cannot send.
            statuses = ["406", "429"]
            # drf-spectacular lists the schemes on every operation that needs a token and
            # omits "security" (no global default is set) where none is needed.
            needs_auth = any(requirement for requirement in operation.get("security", []))
            if needs_auth:
                statuses.append("401")
            parameters = operation.get("parameters", [])
            if any(p.get("in") == "path" for p in parameters):
                statuses.append("404")
            for parameter in parameters:
                if parameter.get("in") == "query" and parameter.get("name") == "page":
                    parameter["schema"]["minimum"] = 1
                    parameter["description"] = (
                        "Page number, from 1 (not a whole number: 400; past the last: 404)."
                    )
                    statuses += ["400", "404"]
            if "requestBody" in operation:
                statuses += ["400", "413", "415"]
            for status in statuses:
                if status in responses:
                    # Keep explicit descriptions, but make sure the headers are documented.
                    if status in _HEADERS:
                        headers = responses[status].setdefault("headers", {})
                        for name, header in _HEADERS[status].items():
                            headers.setdefault(name, header)
                    continue
                responses[status] = error_response(status)
            for response in responses.values():
                headers = response.setdefault("headers", {})
                for name, header in RATE_LIMIT_HEADERS.items():
                    headers.setdefault(name, header)
            operation["responses"] = dict(sorted(responses.items()))
    return result


# The docs pages run only our static files and nonce-carrying scripts, as every page does;
# Swagger UI and Redoc style their markup with inline styles and Redoc searches in a blob:
# worker, so only styles are looser here.
DOCS_CONTENT_SECURITY_POLICY = {
    **settings.SECURE_CSP,
    "style-src": [CSP.SELF, CSP.UNSAFE_INLINE],
    "img-src": [CSP.SELF, "data:"],
}


class _OwnFilesOnly:
    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        response._csp_config = DOCS_CONTENT_SECURITY_POLICY  # read by the CSP middleware
        # drf-spectacular sends "unsafe-none"; nothing on these pages needs other windows.
        response["Cross-Origin-Opener-Policy"] = "same-origin"
        return response


class SwaggerDocsView(_OwnFilesOnly, SpectacularSwaggerView):
    """Swagger UI from drf-spectacular-sidecar's static files; the inline initializer
    carries the CSP nonce."""

    template_name = "api/swagger_ui.html"


class RedocDocsView(_OwnFilesOnly, SpectacularRedocView):
    """Redoc from drf-spectacular-sidecar's static files, without web fonts."""

    template_name = "api/redoc.html"
