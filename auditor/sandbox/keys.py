"""Seeded keys: the same label always gives the same key, so sandbox data is reproducible.

These keys are public by construction (anyone can derive them from this file): they sign sandbox
data only. The operator keys among them are listed in ``auditor/data/operators.json`` as sandbox
rows, so a sandbox audit attributes them exactly as an audit of the live network attributes real
operator keys.
"""

from __future__ import annotations

import hashlib
from functools import cache

from auditor.crypto import Curve, KeyFormatError, PrivateKey

_DOMAIN = "decaudit-sandbox-key"


@cache
def seeded_key(label: str, curve: Curve = "k256") -> PrivateKey:
    """The private key for ``label`` on ``curve`` (rehashing in the rare out-of-range case)."""
    counter = 0
    while True:
        secret = hashlib.sha256(f"{_DOMAIN}/{curve}/{label}/{counter}".encode()).digest()
        try:
            return PrivateKey.from_bytes(curve, secret)
        except KeyFormatError:  # scalar 0 or >= the curve order: astronomically rare
            counter += 1
