"""Studio and history pages. Every view looks composites up through the owner check."""

from django.urls import path

from compositing import views

app_name = "compositing"

urlpatterns = [
    path("", views.studio, name="studio"),
    path("history/", views.history, name="history"),
    path("history/<uuid:composite_id>/", views.detail, name="detail"),
    path("history/<uuid:composite_id>/recomposite/", views.recomposite, name="recomposite"),
    path("history/<uuid:composite_id>/delete/", views.delete, name="delete"),
    path("history/<uuid:composite_id>/download/", views.download, name="download"),
    path("history/<uuid:composite_id>/files/<str:which>/", views.file, name="file"),
]
