"""Default settings as plain constants: the CLI shows them in --help without importing pydantic."""

from __future__ import annotations

PLC_URL = "https://plc.directory"
TIMEOUT = 10.0
"""Seconds: connect timeout, and the whole-response budget of each JSON or text request."""
DEADLINE = 60.0
"""Seconds: the budget of a whole audit."""
