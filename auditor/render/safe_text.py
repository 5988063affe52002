"""Untrusted text made safe and short to show, for the HTML report and everything it draws.

Every string in a report can come from a hostile server. :func:`inert` makes control and
invisible bidirectional characters visible (so a server cannot make ``gnp.exe`` read as
``exe.png``), :func:`clip` bounds a value's length and :func:`pretty_json` shows an answer exactly
as received. They live apart from :mod:`auditor.render.html` because the evidence appendix and the
SVG geometry, which that module imports, need them too.
"""

from __future__ import annotations

import json
import re

_INVISIBLE = [0x061C, 0xFEFF, *range(0x200B, 0x2010), *range(0x202A, 0x202F)]
_INVISIBLE += [*range(0x2060, 0x2065), *range(0x2066, 0x206A)]
_INERT: dict[int, str] = {code: chr(0x2400 + code) for code in range(0x20) if code not in (9, 10)}
_INERT[0x7F] = "\u2421"
_INERT.update(dict.fromkeys(range(0x80, 0xA0), "\ufffd"))
_INERT.update({code: f"\u2039U+{code:04X}\u203a" for code in _INVISIBLE})


def inert(value: str) -> str:
    """``value`` with control characters shown as symbols and invisible bidi/format characters
    shown as ``‹U+XXXX›`` (newlines and tabs are kept)."""
    return value.translate(_INERT)


def clip(value: str, limit: int = 120) -> str:
    """``value`` cut to at most ``limit`` characters, ending in an ellipsis when it was cut."""
    if len(value) <= limit:
        return value
    return value[: max(limit - 1, 0)].rstrip() + "\u2026"


_JSON_INVISIBLE = re.compile(
    "[\u007f-\u009f\u061c\u200b-\u200f\u2028\u2029\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]"
)


def pretty_json(value: object) -> str:
    """``value`` as indented JSON: non-ASCII text kept readable, but every control, bidi or
    invisible character escaped as ``\\uXXXX`` so the text shown is exactly the JSON received."""
    text = json.dumps(value, indent=2, ensure_ascii=False)
    return _JSON_INVISIBLE.sub(lambda match: f"\\u{ord(match.group()):04x}", text)
