"""Show text that came from users or imported files exactly as typed, never as markup or terminal codes.

Names, notes and titles may hold "[bold]", escape sequences, bidi overrides or
newlines; rendered raw they could restyle the screen or break its layout.
"""

from __future__ import annotations

import math
import re

from rich.text import Text

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_BIDI_OVERRIDES = re.compile(r"[\u202a-\u202e\u2066-\u2069]")
_LINE_BREAKS = re.compile(r"\r\n|\r|\n|\t")


def clean(value: object, multiline: bool = False) -> str:
    """``value`` as printable text: controls become U+FFFD, bidi overrides go, NaN/None read as ''."""
    if value is None:
        return ""
    if isinstance(value, float) and math.isnan(value):
        return ""
    text = _BIDI_OVERRIDES.sub("", str(value))
    if multiline:
        text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\t", "    ")
    else:
        text = _LINE_BREAKS.sub(" ", text)
    return _CONTROL.sub("\ufffd", text)


def user_text(value: object, style: str = "", multiline: bool = False) -> Text:
    """A Rich Text of user data: Text never parses markup, and :func:`clean` removes control codes."""
    return Text(clean(value, multiline), style=style)
