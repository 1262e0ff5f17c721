"""REST API routes, mounted at /api/ (namespace ``api``).

- ``v1/``: the API itself (token auth), one router for every app's viewsets.
- ``v1/schema/``: the OpenAPI 3 schema (YAML, or JSON with ``?format=json`` / Accept).
- ``docs/`` (Swagger UI) and ``docs/redoc/``: interactive docs, served from our own static
  files (drf-spectacular-sidecar), no CDN.
- anything else under /api/ answers a JSON 404 instead of the website's HTML page.
"""

from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView
from rest_framework.routers import SimpleRouter

from accounts.api import AccountView, TokenView, TokenWebhookView
from backgrounds.api import BackgroundViewSet
from compositing.api import CompositeViewSet
from vbgsite.api_errors import json_not_found
from vbgsite.api_schema import RedocDocsView, SwaggerDocsView  # also registers token auth

app_name = "api"

router = SimpleRouter()
router.register("backgrounds", BackgroundViewSet, basename="background")
router.register("composites", CompositeViewSet, basename="composite")

urlpatterns = [
    path("v1/auth/token/", TokenView.as_view(), name="token"),
    path("v1/auth/token/webhook/", TokenWebhookView.as_view(), name="token-webhook"),
    path("v1/account/", AccountView.as_view(), name="account"),
    path("v1/", include(router.urls)),
    path("v1/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SwaggerDocsView.as_view(url_name="api:schema"), name="docs"),
    path("docs/redoc/", RedocDocsView.as_view(url_name="api:schema"), name="redoc"),
    # A path may hold an encoded newline, which "." would not match.
    re_path(r"^[\s\S]*$", json_not_found),
]
