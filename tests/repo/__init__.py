"""Tests for auditor.repo: repositories the sandbox serves, checked against interop vectors and
against independent implementations (the ``atproto`` SDK, ``atmst``, ``cbrrr``) where installed.

Shared helpers for the test modules live here: where the copied interop vectors are, and a few
deterministic keys and records.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from auditor.crypto import PrivateKey

INTEROP = Path(__file__).parent.parent / "conformance" / "atproto-interop-tests"

DID = "did:plc:ewvi7nxzyoun6zhxrhs64oiz"

ACCOUNT_KEY = PrivateKey.from_hex(
    "k256", "9085d2bef69286a6cbb51623c8fa258629945cd55ca705cc4e66700396894e0c"
)
OTHER_KEY = PrivateKey.from_hex(
    "k256", "1e7e6b2d4f1a2c3b5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4"
)


def load_json(relative: str) -> Any:
    """One JSON vector file, by path relative to the interop-tests copy."""
    return json.loads((INTEROP / relative).read_text(encoding="utf-8"))


def vector_lines(relative: str) -> list[str]:
    """Lines of one text vector file, minus blank and ``#`` comment lines."""
    text = (INTEROP / relative).read_text(encoding="utf-8")
    return [line for line in text.split("\n") if line.strip() and not line.startswith("#")]


def post(i: int, text: str | None = None) -> dict[str, Any]:
    """A small, valid-looking app.bsky.feed.post record."""
    return {
        "$type": "app.bsky.feed.post",
        "text": f"post number {i}" if text is None else text,
        "createdAt": "2024-05-01T12:00:00.000Z",
        "langs": ["en"],
    }
