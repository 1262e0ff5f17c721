"""Website forms for the studio and re-composite: they only shape the request.

Every real check (decoding the files, the colour, the background's owner, the format) is
in ``compositing.services``, so the website and the API give the same answers. The forms
turn the single "background" choice of the page into the services' keyword arguments.
"""

from __future__ import annotations

from typing import Any

from django import forms

from compositing.models import Composite

# The background picker is one radio group: a library background's id, or one of these.
CHOICE_UPLOAD = "upload"
CHOICE_COLOR = "color"
CHOICE_BLUR = "blur"
CHOICE_TRANSPARENT = "transparent"
SPECIAL_CHOICES = {
    CHOICE_COLOR: Composite.Mode.COLOR,
    CHOICE_BLUR: Composite.Mode.BLUR,
    CHOICE_TRANSPARENT: Composite.Mode.TRANSPARENT,
}
DEFAULT_COLOR = "#4F46E5"


class BackgroundChoiceForm(forms.Form):
    """The background and output format (the re-composite form on the detail page)."""

    background = forms.CharField(
        max_length=64,
        error_messages={"required": "Choose a background."},
    )
    background_file = forms.FileField(required=False, allow_empty_file=True)
    save_background = forms.BooleanField(required=False)
    color = forms.CharField(max_length=16, required=False, initial=DEFAULT_COLOR)
    output_format = forms.ChoiceField(
        choices=[("jpg", "JPEG"), ("png", "PNG"), ("webp", "WebP")],
        initial="jpg",
        required=False,
    )

    def service_kwargs(self) -> dict[str, Any]:
        """The keyword arguments of ``composite_create`` / ``composite_recomposite``."""
        data = self.cleaned_data
        choice = data["background"].strip()
        kwargs: dict[str, Any] = {"mode": Composite.Mode.IMAGE}
        if choice in SPECIAL_CHOICES:
            kwargs["mode"] = SPECIAL_CHOICES[choice]
            if choice == CHOICE_COLOR:
                kwargs["color"] = data.get("color") or ""
        elif choice == CHOICE_UPLOAD:
            kwargs["background_file"] = data.get("background_file")
            kwargs["save_background"] = bool(data.get("save_background"))
        else:
            kwargs["background_id"] = choice
        return kwargs

    def chosen_format(self) -> str | None:
        return self.cleaned_data.get("output_format") or None


def _optional(max_length: int = 32) -> forms.CharField:
    # Raw text: compositing.services.placement parses and checks every value, so the
    # website and the API answer the same value with the same message.
    return forms.CharField(max_length=max_length, required=False, strip=True)


class PhotoOptionsForm(BackgroundChoiceForm):
    """The background, the format and the placement (the detail page's re-composite form).

    The page shows ``output_size`` as presets plus ``output_size_custom`` (``WxH``), and the
    background focus as two sliders; they are combined into the service's names here.
    """

    output_size = _optional()
    output_size_custom = _optional()
    background_focus_x = _optional(8)
    background_focus_y = _optional(8)
    background_zoom = _optional(8)
    background_mirror = _optional(8)
    scale = _optional(8)
    position = _optional()
    crop = _optional(8)
    crop_margin = _optional()
    channels = _optional(8)
    blur_strength = _optional(8)

    def placement_options(self) -> dict[str, Any]:
        """The raw placement options, by the API's names (empty ones left out)."""
        data = self.cleaned_data
        size = data.get("output_size") or ""
        if size == "custom":
            size = data.get("output_size_custom") or ""
        focus = ""
        if data.get("background_focus_x") or data.get("background_focus_y"):
            x = data.get("background_focus_x") or "50"
            focus = f"{x},{data.get('background_focus_y') or '50'}"
        raw = {
            "output_size": size,
            "background_focus": focus,
            **{key: data.get(key) for key in _PLAIN_OPTIONS},
        }
        if raw["blur_strength"] and self.service_kwargs_mode() != Composite.Mode.BLUR:
            raw["blur_strength"] = ""  # the slider is always sent; it only matters for blur
        return {key: value for key, value in raw.items() if value}

    def service_kwargs_mode(self) -> str:
        choice = self.cleaned_data["background"].strip()
        return SPECIAL_CHOICES.get(choice, Composite.Mode.IMAGE)

    def service_kwargs(self) -> dict[str, Any]:
        kwargs = super().service_kwargs()
        kwargs["placement"] = self.placement_options()
        return kwargs


_PLAIN_OPTIONS = (
    "background_zoom",
    "background_mirror",
    "scale",
    "position",
    "crop",
    "crop_margin",
    "channels",
    "blur_strength",
)


class DraftForm(forms.Form):
    """The studio's first step when scripts run: the photo alone, made into a draft."""

    photo = forms.FileField(
        allow_empty_file=True,
        error_messages={"required": "Choose a photo to upload."},
    )


class StudioForm(PhotoOptionsForm):
    """A new composite: the portrait plus the background choice."""

    # allow_empty_file: a zero-byte file reaches the service, which says what is wrong
    # with it in the same words as the API.
    photo = forms.FileField(
        allow_empty_file=True,
        error_messages={"required": "Choose a photo to upload."},
    )

    field_order = ["photo", "background", "background_file", "save_background", "color"]

    def service_kwargs(self) -> dict[str, Any]:
        kwargs = super().service_kwargs()
        kwargs["photo"] = self.cleaned_data["photo"]
        kwargs["output_format"] = self.chosen_format() or "jpg"
        return kwargs


class VideoForm(BackgroundChoiceForm):
    """A video plus the background choice (the same picker as photos)."""

    video = forms.FileField(
        allow_empty_file=True, error_messages={"required": "Choose a video to upload."}
    )
    field_order = ["video", "background", "background_file", "save_background", "color"]

    def service_kwargs(self) -> dict[str, Any]:
        kwargs = super().service_kwargs()
        kwargs["video"] = self.cleaned_data["video"]
        return kwargs
