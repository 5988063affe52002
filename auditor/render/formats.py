"""The output formats, as a light enum the CLI can import without pulling in the renderers."""

from __future__ import annotations

from enum import StrEnum


class OutputFormat(StrEnum):
    """What ``--format`` accepts."""

    TEXT = "text"
    JSON = "json"
    HTML = "html"
    MD = "md"
    """GitHub-flavoured Markdown (step summaries, issues, articles)."""
