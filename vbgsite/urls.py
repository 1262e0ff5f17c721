"""URL configuration: the website (accounts, backgrounds, studio/history) and the API."""

from django.contrib import admin
from django.urls import include, path

from accounts.views import admin_login

urlpatterns = [
    # Before the admin's own URLs: its sign-in page, throttled (429) like the site's.
    path("admin/login/", admin_login, name="admin_login"),
    path("admin/", admin.site.urls),
    path("accounts/", include("accounts.urls")),
    path("backgrounds/", include("backgrounds.urls")),
    path("api/", include("vbgsite.api_urls")),
    path("", include("compositing.urls")),
]
