"""Evidence: what the network said, verbatim enough to cite and to re-score offline.

Gatherers (``auditor.gather``) produce these models and nothing else does I/O. Each probe slot holds
either its success model (``outcome: "ok"``), a :class:`ProbeFailure` (``outcome: "failed"``) or
:class:`NotCollected` (``outcome: "skipped"``, with the reason: not applicable to this account, or
not asked for). Raw documents are kept raw (the DID document, the PLC audit log); their
interpretation is done by pure functions (:mod:`auditor.diddoc`, :mod:`auditor.plc`) exposed here as
cached properties, so re-rendering an old evidence file applies today's interpretation.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from functools import cached_property
from typing import Annotated, Literal, cast

from pydantic import Field, JsonValue

from auditor import diddoc, plc
from auditor.models.common import HttpExchange, Model, ProbeFailure
from auditor.settings import AuditSettings

EVIDENCE_VERSION = "1.0"


class NotCollected(Model):
    """A probe that was deliberately not run."""

    outcome: Literal["skipped"] = "skipped"
    """Discriminator: always ``skipped``."""
    reason: str
    """Why: e.g. "did:web identities have no PLC log"."""


class DnsTxtAnswer(Model):
    """The TXT records found at ``_atproto.<handle>``."""

    outcome: Literal["ok"] = "ok"
    name: str
    """The name queried."""
    records: list[str]
    """Every TXT record, character-strings joined, in the order received."""
    elapsed_ms: float


class WellKnownAnswer(Model):
    """The body of ``https://<handle>/.well-known/atproto-did``."""

    outcome: Literal["ok"] = "ok"
    exchange: HttpExchange
    body: str
    """The response body as text (capped)."""


DnsSlot = Annotated[DnsTxtAnswer | ProbeFailure | NotCollected, Field(discriminator="outcome")]
WellKnownSlot = Annotated[
    WellKnownAnswer | ProbeFailure | NotCollected, Field(discriminator="outcome")
]


class HandleResolution(Model):
    """Both resolution methods for one handle, each recorded separately."""

    handle: str
    """The handle resolved (normalised)."""
    dns: DnsSlot
    """DNS TXT ``_atproto.<handle>``."""
    https: WellKnownSlot
    """HTTPS ``/.well-known/atproto-did``."""


class DidDocumentFetch(Model):
    """The DID document as served (PLC directory ``/{did}`` or did:web
    ``/.well-known/did.json``)."""

    outcome: Literal["ok"] = "ok"
    did: str
    method: Literal["plc", "web"]
    exchange: HttpExchange
    document: JsonValue
    """The document exactly as received (parsed JSON)."""

    @cached_property
    def parsed(self) -> diddoc.DidDocument:
        """The AT Protocol reading of :attr:`document`."""
        return diddoc.parse_did_document(self.document, self.did)


class PlcAuditLogFetch(Model):
    """The PLC directory's full operation history, ``/{did}/log/audit``, nullified entries
    included."""

    outcome: Literal["ok"] = "ok"
    did: str
    exchange: HttpExchange
    entries: JsonValue
    """The log exactly as received (a JSON array of ``{did, operation, cid, nullified,
    createdAt}``)."""

    @cached_property
    def verification(self) -> plc.LogVerification:
        """Full verification of the log (signatures, chain, nullification rules)."""
        # Passed as received: a body that is not a JSON array is reported as ``malformed_log``.
        return plc.verify_audit_log(self.did, cast(Sequence[object], self.entries))


class PdsHealth(Model):
    """The PDS's ``/xrpc/_health`` answer: is the named server up, and which version it runs."""

    outcome: Literal["ok"] = "ok"
    endpoint: str
    """The PDS endpoint from the DID document."""
    exchange: HttpExchange
    body: JsonValue
    """The answer as received (the reference PDS sends ``{"version": ...}``)."""


DidDocumentSlot = Annotated[
    DidDocumentFetch | ProbeFailure | NotCollected, Field(discriminator="outcome")
]
PlcLogSlot = Annotated[
    PlcAuditLogFetch | ProbeFailure | NotCollected, Field(discriminator="outcome")
]
PdsHealthSlot = Annotated[PdsHealth | ProbeFailure | NotCollected, Field(discriminator="outcome")]


class Evidence(Model):
    """Everything one audit gathered. Enough to re-score offline (``decaudit render``)."""

    evidence_version: str = EVIDENCE_VERSION
    """Version of this evidence format ("MAJOR.MINOR")."""
    tool_version: str
    """decaudit version that gathered it."""
    collected_at: datetime
    """When gathering started (UTC); reports take their date from here, never from the clock."""
    duration_ms: float
    """Wall time of the whole gathering."""
    target: str
    """The target exactly as given."""
    target_kind: Literal["handle", "did", "at_uri", "profile_url"]
    input_handle: str | None
    """The handle the target named, if it named one."""
    input_did: str | None
    """The DID the target named, if it named one."""
    settings: AuditSettings
    """Directory, nameservers, overrides and limits in force."""
    handle_resolutions: list[HandleResolution] = []
    """Handle resolutions in the order made: the handle given, then (if different) the handle the
    DID document claims."""
    did: str | None
    """The DID audited; None when the target could not be resolved to one."""
    did_document: DidDocumentSlot
    plc_audit_log: PlcLogSlot
    pds_health: PdsHealthSlot
    unresolved_reason: str | None = None
    """Why no DID document could be had (then no check runs)."""
    sandbox: bool = False
    """The answers came from decaudit's sandbox network (simulated data, not real accounts)."""

    def resolution_for(self, handle: str) -> HandleResolution | None:
        """The recorded resolution of ``handle``, if one was made."""
        return next((r for r in self.handle_resolutions if r.handle == handle), None)
