"""Default settings as plain constants: the CLI shows them in --help without importing pydantic."""

from __future__ import annotations

PLC_URL = "https://plc.directory"
TIMEOUT = 10.0
"""Seconds: connect timeout, and the whole-response budget of each JSON or text request."""
DEADLINE = 60.0
"""Seconds: the budget of a whole audit."""

RELAYS = (
    "https://bsky.network",
    "https://relay1.us-east.bsky.network",
    "https://relay1.us-west.bsky.network",
    "https://atproto.africa",
    "https://relay2.fire.hose.cam",
    "https://northamerica.firehose.network",
)
"""Bluesky PBC's relays, then independent full-network relays named in public material (Blacksky's
atproto.africa, microcosm's relay2.fire.hose.cam, firehose.network's North American relay)."""
PLC_MIRRORS = ("https://plc.wtf", "https://us-west.plc.wtf")
"""Public PLC read mirrors (microcosm's, linked from Bluesky's Hubble announcement, 2026-03)."""
APPVIEWS = ("https://api.bsky.app", "https://bsky.zeppelin.social")
"""Bluesky PBC's AppView and Zeppelin's independent one (service did:web:bsky.zeppelin.social)."""
LABELERS = ("https://mod.bsky.app",)
"""Bluesky PBC's moderation labeler, the one every Bluesky client subscribes to by default."""
MAX_EXPORT_BYTES = 512 * 1024 * 1024
BLOB_SAMPLE = 3
