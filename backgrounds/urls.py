"""Background library pages and files. Every view checks the owner (404 otherwise)."""

from django.urls import path

from backgrounds import views

app_name = "backgrounds"

urlpatterns = [
    path("", views.library, name="library"),
    path("<uuid:background_id>/rename/", views.rename, name="rename"),
    path("<uuid:background_id>/delete/", views.delete, name="delete"),
    path("<uuid:background_id>/files/<str:which>/", views.file, name="file"),
]
