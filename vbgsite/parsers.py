"""Request body parsers for the API (REST_FRAMEWORK's DEFAULT_PARSER_CLASSES).

DRF's own JSON parser lets a body nested thousands of levels deep reach Python's
recursion limit, which escapes as a 500. ``JSONParser`` here answers such a body, and any
body nested deeper than ``MAX_JSON_DEPTH``, with the usual JSON 400 (``ParseError``).
"""

from __future__ import annotations

from typing import Any

from rest_framework import parsers
from rest_framework.exceptions import ParseError

# No request of ours needs more than a few levels (an object holding a list of objects).
MAX_JSON_DEPTH = 32


def json_depth(value: Any) -> int:
    """How deeply ``value`` nests lists and objects (a scalar: 0, ``[]``: 1, ``[{}]``: 2).

    Iterative, so a deep value cannot exhaust the stack here either.
    """
    deepest = 0
    pending = [(value, 1)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, dict):
            children = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        deepest = max(deepest, depth)
        pending.extend((child, depth + 1) for child in children)
    return deepest


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser, refusing over-deep bodies with a 400 instead of failing."""

    def parse(self, stream, media_type=None, parser_context=None) -> Any:
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError(self._too_deep_message()) from None
        if json_depth(data) > MAX_JSON_DEPTH:
            raise ParseError(self._too_deep_message())
        return data

    @staticmethod
    def _too_deep_message() -> str:
        return f"JSON parse error - the body nests more than {MAX_JSON_DEPTH} levels deep."
