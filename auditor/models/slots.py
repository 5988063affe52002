"""Evidence slots shared by every protocol: a JSON answer, a DNS SRV answer, and "not collected".

Each probe slot holds its success model (``outcome: "ok"``), a
:class:`~auditor.models.common.ProbeFailure` (``"failed"``) or :class:`NotCollected`
(``"skipped"``); the ``outcome`` field is the pydantic discriminator.
"""

from __future__ import annotations

from typing import Annotated, Literal, cast

from pydantic import Field, JsonValue

from auditor.models.common import HttpExchange, Model, ProbeFailure
from auditor.syntax import Network

__all__ = [
    "JsonAnswer",
    "JsonSlot",
    "Network",
    "NotCollected",
    "SrvAnswer",
    "SrvRecord",
    "SrvSlot",
]


class NotCollected(Model):
    """A probe that was deliberately not run."""

    outcome: Literal["skipped"] = "skipped"
    """Discriminator: always ``skipped``."""
    reason: str
    """Why: e.g. "did:web identities have no PLC log"."""
    requested: bool = True
    """False when the user opted out (``--skip-export``): the checks that need it do not run,
    and coverage says so; True when the probe simply does not apply to this account."""


class JsonAnswer(Model):
    """A JSON answer as received, with the exchange that produced it (interpreted by checks)."""

    outcome: Literal["ok"] = "ok"
    exchange: HttpExchange
    body: JsonValue

    @classmethod
    def of(cls, exchange: HttpExchange, body: object) -> JsonAnswer:
        """The answer to a body the fetcher parsed as strict JSON (``parse_json``): it is JSON by
        construction, so pydantic's ``JsonValue`` walk (a Python discriminator call per value,
        the largest share of a batch's validation CPU) is not run again. Evidence read back
        from a file is validated as usual."""
        return cls.model_construct(exchange=exchange, body=cast(JsonValue, body))


JsonSlot = Annotated[JsonAnswer | ProbeFailure | NotCollected, Field(discriminator="outcome")]


def failure_text(slot: object) -> str:
    """Why a probe slot has no usable answer, in one line: the failure's message, the reason it
    was not collected, or (an answer of the wrong shape) that it is not usable."""
    if isinstance(slot, ProbeFailure):
        return slot.message
    if isinstance(slot, NotCollected):
        return slot.reason
    return "the answer is not a JSON object"


class SrvRecord(Model):
    """One DNS SRV record (RFC 2782)."""

    priority: int
    weight: int
    port: int
    target: str
    """The target host, without the trailing dot."""


class SrvAnswer(Model):
    """The SRV records found at a name."""

    outcome: Literal["ok"] = "ok"
    name: str
    records: list[SrvRecord]
    elapsed_ms: float


SrvSlot = Annotated[SrvAnswer | ProbeFailure | NotCollected, Field(discriminator="outcome")]
