"""What a background's name may hold: no text-direction overrides or control characters.

A right-to-left override (U+202E) in a name shown in the library makes "gpj.exe" read as
"exe.jpg"; other bidi controls and control characters hide or reorder text the same way.
"""

from __future__ import annotations

import unicodedata

from vbgsite.errors import InvalidOption

# Unicode's bidirectional formatting characters (UAX #9): marks, embeddings, overrides
# and isolates.
BIDI_CONTROLS = frozenset(
    "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
)


def _is_unsafe(character: str) -> bool:
    return character in BIDI_CONTROLS or unicodedata.category(character) == "Cc"


def name_without_controls(name: str) -> str:
    """``name`` without bidi controls or control characters (for names taken from a file)."""
    return "".join(character for character in name if not _is_unsafe(character))


def name_check(name: str) -> None:
    """Raise InvalidOption when ``name`` holds a bidi control or a control character."""
    unsafe = sorted({f"U+{ord(character):04X}" for character in name if _is_unsafe(character)})
    if unsafe:
        raise InvalidOption(
            "Background names cannot contain text-direction or control characters "
            f"({', '.join(unsafe)})."
        )
