"""The output formats, as a light enum the CLI can import without pulling in the renderers."""

from __future__ import annotations

from enum import StrEnum


class OutputFormat(StrEnum):
    """What ``--format`` accepts."""

    TEXT = "text"
    JSON = "json"
    HTML = "html"
