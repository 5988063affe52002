"""Small text helpers for messages built from untrusted values: one line, bounded length."""

from __future__ import annotations

ONE_LINE_LIMIT = 300
SHOWN_LIMIT = 40


def one_line(value: object, limit: int = ONE_LINE_LIMIT) -> str:
    """``str(value)`` with whitespace runs (newlines included) collapsed, cut at ``limit``.

    An empty text becomes the value's type name, so a message never ends in nothing.
    """
    text = " ".join(str(value).split()) or type(value).__name__
    return text if len(text) <= limit else text[: limit - 1] + "…"


def shown(value: object, limit: int = SHOWN_LIMIT) -> str:
    """A value quoted for a message (its ``repr``), shortened so the message stays short."""
    if isinstance(value, str) and len(value) > limit:
        return repr(value[:limit] + "…")
    text = repr(value)
    return text if len(text) <= limit + 2 else text[:limit] + "…"
