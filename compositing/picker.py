"""The background picker shared by the photo studio, the video studio and re-composite."""

from __future__ import annotations

from typing import Any

from django import forms
from django.http import HttpRequest

from backgrounds.models import Background
from compositing.forms import CHOICE_BLUR, CHOICE_UPLOAD, DEFAULT_COLOR


def picker_context(request: HttpRequest, form: forms.Form, *, prefix: str = "") -> dict[str, Any]:
    """The background tiles: built-ins, the person's own library, and the special modes.

    The selected tile is the form's (when bound), else the first background, else blur.
    """
    usable = list(Background.objects.for_user(request.user).order_by("owner_id", "name"))
    selected = (form.data.get("background") if form.is_bound else None) or ""
    if not selected:
        selected = str(usable[0].pk) if usable else CHOICE_BLUR
    return {
        "prefix": prefix,
        "builtin": [bg for bg in usable if bg.is_builtin],
        "own": [bg for bg in usable if not bg.is_builtin],
        "selected": selected,
        "color": (form.data.get("color") if form.is_bound else None) or DEFAULT_COLOR,
        "upload_choice": CHOICE_UPLOAD,
    }
