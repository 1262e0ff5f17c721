"""URL configuration: the website (accounts, backgrounds, studio/history) and the API."""

from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("accounts/", include("accounts.urls")),
    path("backgrounds/", include("backgrounds.urls")),
    path("api/", include("vbgsite.api_urls")),
    path("", include("compositing.urls")),
]
