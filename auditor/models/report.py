"""The report: the one object every renderer sees, and the versioned JSON contract.

``schema_version`` is "MAJOR.MINOR": MINOR grows when fields are added, MAJOR only when a field is
removed or changes meaning. The committed ``sample_reports/report.schema.json`` is generated from
these classes and a test fails when they drift apart.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import JsonValue

from auditor.models.common import Model
from auditor.models.evidence import Evidence, Network

SCHEMA_VERSION = "1.1"


class Status(StrEnum):
    """Outcome of one check."""

    PASS = "pass"
    PARTIAL = "partial"
    FAIL = "fail"
    NOT_APPLICABLE = "not_applicable"
    """The question does not arise for this account (no weight)."""
    INFO = "info"
    """Reported for context, not scored (no weight)."""
    ERROR = "error"
    """The check could not be judged: evidence missing, or a bug (no weight; lowers coverage)."""


SCORED_STATUSES = frozenset({Status.PASS, Status.PARTIAL, Status.FAIL})


class ErrorReason(StrEnum):
    """Why a check could not be judged."""

    EVIDENCE_UNAVAILABLE = "evidence_unavailable"
    """Evidence it requires failed to gather."""
    BUG = "bug"
    """The check itself raised (a bug in decaudit or in a plugin)."""


class Category(StrEnum):
    """The layers of an account that decaudit scores."""

    IDENTITY = "identity"
    """Who resolves and controls the name and the DID."""
    HOSTING = "hosting"
    """Who serves the account's data."""
    DISTRIBUTION = "distribution"
    """Who carries the account to the rest of the network."""
    EXPORTABILITY = "exportability"
    """Can the user take a complete, verified copy of their data."""
    PORTABILITY = "portability"
    """Can the user move, and who can rewrite the identity."""


class Band(StrEnum):
    """Place on the centralization spectrum."""

    CENTRALIZED = "centralized"
    HYBRID = "hybrid"
    DECENTRALIZED = "decentralized"


class Capability(StrEnum):
    """What a party could break, alone, for this account."""

    RESOLVE_IDENTITY = "resolve_identity"
    """Apps find the account's keys and server."""
    SERVE_DATA = "serve_data"
    """Its posts and media are served."""
    PUBLISH = "publish"
    """Its changes reach the network (a PDS to write, relays to carry)."""
    SHOW_IN_APPS = "show_in_apps"
    """Apps show it (an AppView indexes it)."""
    MOVE = "move"
    """It can move to another host."""
    REWRITE_IDENTITY = "rewrite_identity"
    """Nobody else can change its handle, keys or host."""
    KEEP_NAME = "keep_name"
    """It keeps its handle."""


class Dependency(Model):
    """One party the account depends on (the dependency graph's node)."""

    party: str
    """Operator id, or ``user`` for the account holder."""
    label: str
    third_party: bool
    """False for the account holder, who is never counted as a third party."""
    roles: list[str]
    """What it is to this account: PLC directory, PDS, relay, AppView, labeler, rotation key #n,
    handle domain..."""
    can_break_alone: list[Capability]
    """Capabilities it alone can break (going offline, or acting)."""
    single_point_of_failure: bool
    if_offline: str
    """The outage what-if: "If X went offline tomorrow, this account could no longer ..."."""
    evidence: list[str]
    """JSON Pointers into ``evidence`` behind it."""


class LayerControl(Model):
    """Who controls one layer the band was decided on (the structured form of ``band_basis``)."""

    layer: str
    """``identity``, ``name``, ``hosting`` or ``distribution``."""
    label: str
    """Who: "you", an operator's name, or (distribution) who carries the account."""
    yours: bool | None
    """The account holder controls it (None: could not be said)."""
    reason: str = ""


class Finding(Model):
    """One observation behind a check's verdict."""

    message: str
    """A sentence a non-expert can read."""
    evidence: str
    """JSON Pointer (RFC 6901) into the report's ``evidence`` object, e.g.
    ``/handle_resolutions/0/dns``."""


class CheckResult(Model):
    """The verdict of one check."""

    id: str
    """Stable kebab-case id (public API: ``--select``/``--skip`` use it)."""
    title: str
    category: Category
    weight: float
    """Relative weight inside its category (0 = informative)."""
    status: Status
    score: float | None
    """0-1 for pass/partial/fail; null otherwise."""
    summary: str
    """One line."""
    findings: list[Finding] = []
    remediation: str = ""
    """What the user can do; empty when nothing is to be done."""
    data: dict[str, JsonValue] = {}
    """The check's key figures; keys documented per check (``decaudit checks --verbose``)."""
    references: list[str] = []
    """Specs and articles backing the check."""
    error: str | None = None
    """For status ``error``: what was missing or what broke."""
    error_reason: ErrorReason | None = None
    """For status ``error``: ``evidence_unavailable`` (a probe failed) or ``bug`` (the check
    raised)."""


class CategoryScore(Model):
    """Score of one category: the weighted mean of its scored checks."""

    category: Category
    weight: float
    score: float | None
    """0-1, null when no check of the category could be scored."""
    checks_scored: int


class Report(Model):
    """One account's audit."""

    schema_version: str = SCHEMA_VERSION
    tool_version: str
    scoring_version: str
    """Version of the scoring rules (weights, bands); compare scores only within one version."""
    target: str
    """The target as given."""
    protocol: Network = "atproto"
    """The account's network: ``atproto`` (Bluesky), ``activitypub`` (the fediverse) or
    ``matrix``."""
    account: str | None = None
    """The fediverse address (``user@domain``) or Matrix user ID; null for AT Protocol."""
    handle: str | None
    """The handle given, or else the one the DID document claims."""
    handle_verified: bool
    """True when the handle resolves to the DID and the DID document claims the handle back."""
    did: str | None
    generated_at: datetime
    """When the evidence was collected (never the rendering time, so re-renders are identical)."""
    score: float | None
    """0-100 (higher = more decentralized); null if the target could not be resolved."""
    band: Band | None
    """centralized / hybrid / decentralized (decided by gates, see ``band_basis``); null if the
    target could not be resolved."""
    band_basis: list[str] = []
    """Why this band: the gate that decided it, then who controls each layer judged."""
    control: list[LayerControl] = []
    """Who controls each layer judged, as data (what ``band_basis`` says in words)."""
    dependencies: list[Dependency] = []
    """Every party the account depends on, single points of failure first."""
    coverage: float
    """0-1: share of the scoring model's weight that was scored (errors and deselected checks
    lower it; not-applicable and informative checks do not count)."""
    unresolved_reason: str | None = None
    """Why there is no verdict, when there is none."""
    selected_checks: list[str] | None = None
    """The check ids that ran, when ``--select``/``--skip`` narrowed them; null for all."""
    categories: list[CategoryScore] = []
    checks: list[CheckResult] = []
    sandbox: bool = False
    """The evidence came from decaudit's sandbox network: simulated accounts, not real ones."""
    warnings: list[str] = []
    """Problems of the run itself (a broken plugin, a deselected id that does not exist)."""
    evidence: Evidence
    """The raw evidence; enough to re-score offline."""
