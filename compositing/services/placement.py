"""Placement options of a photo composite: parse and check what the website or the API sent.

One parser for every front door (studio form, re-composite form, API multipart or JSON),
so the same value gets the same answer everywhere. Names and values (all optional):

- ``output_size``: ``original`` (default) or ``WxH`` in pixels (e.g. ``1920x1080``);
- ``background_focus``: ``x,y`` in percent (default ``50,50``: centred);
- ``background_zoom``: 1-4 (default 1); ``background_mirror``: a boolean;
- ``scale``: 10-100 percent of the size that fits the output (default 100);
- ``position``: ``center``, ``top``, ``bottom`` or ``x,y`` in percent;
- ``crop``: a boolean, cut the output to the subject; ``crop_margin``: ``Npx`` (0-1000) or
  ``N%`` (0-50, of the subject's size), a bare number is pixels;
- ``channels``: ``rgba`` (default) or ``alpha`` (the matte alone, greyscale PNG);
- ``blur_strength``: ``light`` (default), ``strong`` or 1-100 (mode blur).

A bad value raises ``InvalidOption`` (400, code ``invalid_option``) naming the option.
The geometry itself is pure: ``compositing.placement``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

from django.conf import settings

from compositing.placement import BLUR_LIGHT, BLUR_STRONG, Placement
from vbgsite.errors import InvalidOption

PLACEMENT_OPTIONS: tuple[str, ...] = (
    "output_size",
    "background_focus",
    "background_zoom",
    "background_mirror",
    "scale",
    "position",
    "crop",
    "crop_margin",
    "channels",
    "blur_strength",
)
# Output sizes the studio offers (any WxH within the limits is accepted).
OUTPUT_PRESETS: tuple[tuple[str, str], ...] = (
    ("original", "Original"),
    ("1920x1080", "1920\u00d71080 · video call"),
    ("1080x1080", "1080\u00d71080 · square"),
    ("1080x1350", "1080\u00d71350 · portrait post"),
)
MIN_SIDE, MAX_SIDE = 16, 8000
MAX_MARGIN_PX, MAX_MARGIN_PERCENT = 1000.0, 50.0
POSITIONS = {"center": (50.0, 50.0), "top": (50.0, 0.0), "bottom": (50.0, 100.0)}
BLUR_NAMES = {"light": BLUR_LIGHT, "strong": BLUR_STRONG}
_TRUE, _FALSE = {"1", "true", "on", "yes"}, {"0", "false", "off", "no", ""}
_SIZE = re.compile(r"\s*(\d{1,5})\s*[x\u00d7]\s*(\d{1,5})\s*", re.IGNORECASE)
_MARGIN = re.compile(r"\s*([0-9]+(?:\.[0-9]+)?)\s*(px|%)?\s*", re.IGNORECASE)


def placement_parse(raw: Mapping[str, Any] | None) -> Placement:
    """Checked ``Placement`` from raw option values (strings, numbers, booleans, or None).

    Missing, None and empty values take the defaults. Raises InvalidOption.
    """
    raw = {k: v for k, v in (raw or {}).items() if v is not None and v != ""}
    unknown = set(raw) - set(PLACEMENT_OPTIONS)
    if unknown:
        raise InvalidOption(f"Unknown placement option {sorted(unknown)[0]!r}.")
    return Placement(
        output_size=_output_size(raw.get("output_size", "original")),
        background_focus=_point("background_focus", raw.get("background_focus", "50,50")),
        background_zoom=_number("background_zoom", raw.get("background_zoom", 1), 1.0, 4.0),
        background_mirror=_boolean("background_mirror", raw.get("background_mirror", False)),
        scale=_number("scale", _strip_percent(raw.get("scale", 100)), 10.0, 100.0),
        position=_position(raw.get("position", "center")),
        crop=_boolean("crop", raw.get("crop", False)),
        crop_margin=_margin(raw.get("crop_margin", "0px")),
        channels=_channels(raw.get("channels", "rgba")),
        blur_strength=_blur(raw.get("blur_strength", "light")),
    )


def placement_as_dict(placement: Placement) -> dict[str, Any]:
    """The canonical form stored on ``Composite.placement`` and shown back to clients."""
    size = placement.output_size
    margin, unit = placement.crop_margin
    return {
        "output_size": f"{size[0]}x{size[1]}" if size else "original",
        "background_focus": _format_point(placement.background_focus),
        "background_zoom": _tidy(placement.background_zoom),
        "background_mirror": placement.background_mirror,
        "scale": _tidy(placement.scale),
        "position": _position_name(placement.position),
        "crop": placement.crop,
        "crop_margin": f"{_tidy(margin)}{unit}",
        "channels": placement.channels,
        "blur_strength": _tidy(placement.blur_strength),
    }


def placement_summary(stored: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(label, value) pairs for a history entry's non-default placement options."""
    defaults = placement_as_dict(Placement())
    labels = {
        "output_size": "Output size",
        "background_focus": "Background focus (%)",
        "background_zoom": "Background zoom",
        "background_mirror": "Background mirrored",
        "scale": "Subject scale (%)",
        "position": "Subject position",
        "crop": "Cropped to subject",
        "crop_margin": "Crop margin",
        "channels": "Channels",
        "blur_strength": "Blur strength",
    }
    shown = []
    for key, label in labels.items():
        if key in stored and stored[key] != defaults[key]:
            value = stored[key]
            shown.append((label, "yes" if value is True else str(value)))
    return shown


def _output_size(value: Any) -> tuple[int, int] | None:
    if isinstance(value, str) and value.strip().lower() == "original":
        return None
    match = _SIZE.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        raise InvalidOption(
            f"output_size {value!r}: use original or WIDTHxHEIGHT in pixels, e.g. 1920x1080."
        )
    width, height = int(match.group(1)), int(match.group(2))
    if not (MIN_SIDE <= width <= MAX_SIDE and MIN_SIDE <= height <= MAX_SIDE):
        raise InvalidOption(f"output_size: each side must be {MIN_SIDE} to {MAX_SIDE} pixels.")
    if width * height > settings.VBG_MAX_IMAGE_PIXELS:
        raise InvalidOption(
            f"output_size {width}x{height} is over the limit of"
            f" {settings.VBG_MAX_IMAGE_PIXELS:,} pixels."
        )
    return (width, height)


def _as_float(name: str, value: Any) -> float:
    if isinstance(value, bool):
        raise InvalidOption(f"{name}: expected a number, got {value!r}.")
    try:
        number = float(value.strip() if isinstance(value, str) else value)
    except (TypeError, ValueError):
        raise InvalidOption(f"{name}: expected a number, got {value!r}.") from None
    if not math.isfinite(number):
        raise InvalidOption(f"{name}: expected a finite number, got {value!r}.")
    return number


def _number(name: str, value: Any, low: float, high: float) -> float:
    number = _as_float(name, value)
    if not low <= number <= high:
        raise InvalidOption(f"{name} must be between {_tidy(low)} and {_tidy(high)}.")
    return number


def _strip_percent(value: Any) -> Any:
    return value.strip().removesuffix("%") if isinstance(value, str) else value


def _point(name: str, value: Any) -> tuple[float, float]:
    parts = value.split(",") if isinstance(value, str) else value
    if not isinstance(parts, list | tuple) or len(parts) != 2:
        raise InvalidOption(f"{name} {value!r}: use x,y in percent, e.g. 50,30.")
    x, y = (_number(name, _strip_percent(p), 0.0, 100.0) for p in parts)
    return (x, y)


def _position(value: Any) -> tuple[float, float]:
    if isinstance(value, str) and value.strip().lower() in POSITIONS:
        return POSITIONS[value.strip().lower()]
    if isinstance(value, str) and "," not in value:
        raise InvalidOption(f"position {value!r}: use center, top, bottom or x,y in percent.")
    return _point("position", value)


def _boolean(name: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise InvalidOption(f"{name}: expected true or false, got {value!r}.")


def _margin(value: Any) -> tuple[float, str]:
    if isinstance(value, int | float) and not isinstance(value, bool):
        value = str(value)
    match = _MARGIN.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        raise InvalidOption(f"crop_margin {value!r}: use pixels (30px) or percent (10%).")
    number, unit = float(match.group(1)), (match.group(2) or "px").lower()
    limit = MAX_MARGIN_PERCENT if unit == "%" else MAX_MARGIN_PX
    if number > limit:
        raise InvalidOption(f"crop_margin must be at most {_tidy(limit)}{unit}.")
    return (number, unit)


def _channels(value: Any) -> str:
    text = str(value).strip().lower()
    if text not in ("rgba", "alpha"):
        raise InvalidOption(f"channels {value!r}: use rgba or alpha.")
    return text


def _blur(value: Any) -> float:
    if isinstance(value, str) and value.strip().lower() in BLUR_NAMES:
        return float(BLUR_NAMES[value.strip().lower()])
    if isinstance(value, str) and not value.strip().replace(".", "", 1).isdigit():
        raise InvalidOption(f"blur_strength {value!r}: use light, strong or 1 to 100.")
    return _number("blur_strength", value, 1.0, 100.0)


def _tidy(number: float) -> int | float:
    """3.0 -> 3, 2.5 -> 2.5 (stored and shown without needless decimals)."""
    return int(number) if float(number).is_integer() else round(number, 2)


def _format_point(point: tuple[float, float]) -> str:
    return f"{_tidy(point[0])},{_tidy(point[1])}"


def _position_name(point: tuple[float, float]) -> str:
    for name, value in POSITIONS.items():
        if value == point:
            return name
    return _format_point(point)
