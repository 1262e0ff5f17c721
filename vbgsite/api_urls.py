"""REST API v1 routes (token auth). Each app contributes its viewsets here."""

urlpatterns: list = []
