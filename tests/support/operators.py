"""Attribute test keys to a known operator, as decaudit's data does for Bluesky's real keys."""

from __future__ import annotations

import dataclasses

import pytest

from auditor import attribution
from auditor.crypto import PrivateKey


def attribute_keys_to(
    monkeypatch: pytest.MonkeyPatch, keys: list[PrivateKey], operator: str = "bluesky"
) -> None:
    """Make ``keys`` known operator keys for the rest of the test."""
    data = attribution.load_data()
    extra = {
        key.public_key.did_key: attribution.KeyAttribution(
            key=key.public_key.did_key,
            operator_id=operator,
            operator_name=data.operators[operator],
            role="plc_rotation",
            source="test fixture",
            derived=True,
        )
        for key in keys
    }
    patched = dataclasses.replace(data, keys={**data.keys, **extra})
    monkeypatch.setattr(attribution, "load_data", lambda: patched)
