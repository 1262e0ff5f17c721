"""Studio and history pages. Every view looks composites up through the owner check."""

from django.urls import path

from compositing import video_views, views

app_name = "compositing"

urlpatterns = [
    path("", views.studio, name="studio"),
    path("studio/draft/", views.studio_draft, name="studio_draft"),
    path("history/", views.history, name="history"),
    path("history/download.zip", views.download_zip, name="download_zip"),
    path("history/<uuid:composite_id>/", views.detail, name="detail"),
    path("history/<uuid:composite_id>/recomposite/", views.recomposite, name="recomposite"),
    path("history/<uuid:composite_id>/delete/", views.delete, name="delete"),
    path("history/<uuid:composite_id>/download/", views.download, name="download"),
    path("history/<uuid:composite_id>/files/<str:which>/", views.file, name="file"),
    # Videos (compositing/video_views.py): upload, job status JSON, cancel, ranged player file.
    path("video/", video_views.video_studio, name="video_studio"),
    path("history/<uuid:composite_id>/status/", video_views.status, name="status"),
    path("history/<uuid:composite_id>/cancel/", video_views.cancel, name="cancel"),
    path("history/<uuid:composite_id>/video/", video_views.video_file, name="video_file"),
]
