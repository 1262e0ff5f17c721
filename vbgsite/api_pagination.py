"""Page-number pagination for the API's lists, strict about the ``page`` parameter.

DRF's own class treats ``?page=`` as page 1 and answers 404 for ``?page=abc``; here a
``page`` that is not a positive whole number is a 400 (``invalid``), and a page past the
last is a 404 (``not_found``), as the OpenAPI schema says.
"""

from __future__ import annotations

from rest_framework import exceptions
from rest_framework.pagination import PageNumberPagination
from rest_framework.settings import api_settings


class ApiPagination(PageNumberPagination):
    """``?page=N`` (from 1); the page size is ``REST_FRAMEWORK["PAGE_SIZE"]`` (20)."""

    last_page_strings = ()

    def get_page_size(self, request) -> int:
        # DRF binds PAGE_SIZE at import time; read the live setting instead.
        return api_settings.PAGE_SIZE

    def get_page_number(self, request, paginator) -> int:
        raw = request.query_params.get(self.page_query_param)
        if raw is None:
            return 1
        if not raw.isascii() or not raw.isdigit() or int(raw) < 1:
            raise exceptions.ValidationError(
                {self.page_query_param: ["A page is a whole number from 1."]}
            )
        return int(raw)
