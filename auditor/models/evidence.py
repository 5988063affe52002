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
from auditor.models.fediverse import FediverseSlot
from auditor.models.matrix import MatrixSlot

# Re-exported: the slots are evidence's vocabulary, wherever they are defined.
from auditor.models.slots import JsonAnswer as JsonAnswer
from auditor.models.slots import JsonSlot as JsonSlot
from auditor.models.slots import Network as Network
from auditor.models.slots import NotCollected as NotCollected
from auditor.models.slots import SrvSlot as SrvSlot
from auditor.repo.verify import ExportVerification
from auditor.settings import AuditSettings
from auditor.syntax import TargetKind

EVIDENCE_VERSION = "1.1"


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


DidDocumentSlot = Annotated[
    DidDocumentFetch | ProbeFailure | NotCollected, Field(discriminator="outcome")
]
PlcLogSlot = Annotated[
    PlcAuditLogFetch | ProbeFailure | NotCollected, Field(discriminator="outcome")
]


class PdsProbes(Model):
    """What the PDS the DID document names says about itself and the account."""

    outcome: Literal["ok"] = "ok"
    endpoint: str
    """The ``#atproto_pds`` endpoint of the DID document."""
    health: JsonSlot
    """``/xrpc/_health``: ``{"version": ...}``."""
    describe_server: JsonSlot
    """``com.atproto.server.describeServer``."""
    describe_repo: JsonSlot
    """``com.atproto.repo.describeRepo`` for the DID (``handleIsCorrect``, ``collections``)."""
    repo_status: JsonSlot
    """``com.atproto.sync.getRepoStatus`` for the DID."""
    latest_commit: JsonSlot
    """``com.atproto.sync.getLatestCommit`` for the DID."""
    list_repos: JsonSlot
    """``com.atproto.sync.listRepos`` (first page): how many accounts the server hosts."""


class RelayProbes(Model):
    """One relay's view of the account and of its PDS host."""

    url: str
    repo_status: JsonSlot
    latest_commit: JsonSlot
    host_status: JsonSlot
    """``com.atproto.sync.getHostStatus`` for the PDS's hostname."""


class MirrorProbe(Model):
    """An independent PLC read mirror's copy of the audit log."""

    url: str
    audit_log: JsonSlot


class AppViewProbe(Model):
    """Whether an AppView indexes the account (``app.bsky.actor.getProfile``)."""

    url: str
    profile: JsonSlot


class LabelerProbe(Model):
    """Labels a labeler applies to the account (``com.atproto.label.queryLabels``)."""

    url: str
    labels: JsonSlot


class TxtLookup(Model):
    """One DNS TXT lookup: the records, or why there are none."""

    name: str
    records: list[str] = []
    failure: ProbeFailure | None = None


class NetworkOrigins(Model):
    """Who announces the PDS's addresses: DNS origin (ASN) lookups, Team Cymru format."""

    outcome: Literal["ok"] = "ok"
    host: str
    addresses: list[str]
    lookups: list[TxtLookup]
    """For each IPv4 address its ``origin`` lookup, then each AS number's name lookup."""


class RepoExport(Model):
    """The account's repository as exported by its PDS, and everything verified about it."""

    outcome: Literal["ok"] = "ok"
    exchange: HttpExchange
    bytes: int
    seconds: float
    """Download and verification wall time."""
    verification: ExportVerification
    saved_to: str | None = None
    """Where the CAR was kept (``--save-export``)."""


class BlobCheck(Model):
    """One sampled blob: fetched and its CID recomputed."""

    cid: str
    bytes: int = 0
    valid: bool
    failure: ProbeFailure | None = None


class BlobInventory(Model):
    """``listBlobs`` with full pagination, and a verified sample of the blobs."""

    outcome: Literal["ok"] = "ok"
    listed: int
    pages: int
    complete: bool
    """False when listing stopped early (a page failed, or the page limit)."""
    listing_failure: ProbeFailure | None = None
    checked: list[BlobCheck] = []
    saved_to: str | None = None


class PeerAccount(Model):
    """Another account on the same PDS, and the rotation keys its PLC state lists."""

    did: str
    rotation_keys: list[str]


class PdsPeers(Model):
    """Rotation keys of other accounts on the audited account's PDS (the first ``listRepos``
    page, a few did:plc accounts): a key on every account of a shared PDS is its operator's (a
    ``PDS_RECOVERY_DID_KEY``), whatever one account's log alone suggests."""

    outcome: Literal["ok"] = "ok"
    accounts: list[PeerAccount]
    failures: list[ProbeFailure] = []
    """Peers whose PLC state could not be had."""


PdsSlot = Annotated[PdsProbes | NotCollected, Field(discriminator="outcome")]
PeersSlot = Annotated[PdsPeers | NotCollected, Field(discriminator="outcome")]
OriginsSlot = Annotated[
    NetworkOrigins | ProbeFailure | NotCollected, Field(discriminator="outcome")
]
ExportSlot = Annotated[RepoExport | ProbeFailure | NotCollected, Field(discriminator="outcome")]
BlobsSlot = Annotated[BlobInventory | ProbeFailure | NotCollected, Field(discriminator="outcome")]
_SKIPPED = NotCollected(reason="not collected")


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
    target_kind: TargetKind
    protocol: Network = "atproto"
    """The network the account lives on; it decides which probes ran and which checks apply."""
    account: str | None = None
    """The fediverse address (``user@domain``) or Matrix user ID audited; None for AT Protocol."""
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
    pds: PdsSlot = _SKIPPED
    """The PDS's own answers."""
    pds_peers: PeersSlot = _SKIPPED
    """Rotation keys of other accounts on the same PDS (did:plc)."""
    relays: list[RelayProbes] = []
    """Each relay consulted, in the order configured."""
    plc_mirrors: list[MirrorProbe] = []
    """Each independent PLC read mirror consulted (did:plc only)."""
    appviews: list[AppViewProbe] = []
    labelers: list[LabelerProbe] = []
    hosting_network: OriginsSlot = _SKIPPED
    repo_export: ExportSlot = _SKIPPED
    blobs: BlobsSlot = _SKIPPED
    fediverse: FediverseSlot = _SKIPPED
    """A fediverse account's WebFinger, actor and instance answers."""
    matrix: MatrixSlot = _SKIPPED
    """A Matrix account's discovery, federation and client answers."""
    unresolved_reason: str | None = None
    """Why the account could not be found (no DID document; no actor; no homeserver): then no
    check runs."""
    sandbox: bool = False
    """The answers came from decaudit's sandbox network (simulated data, not real accounts)."""

    def resolution_for(self, handle: str) -> HandleResolution | None:
        """The recorded resolution of ``handle``, if one was made."""
        return next((r for r in self.handle_resolutions if r.handle == handle), None)
