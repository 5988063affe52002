"""The contract every check follows: metadata as data, and a pure ``evaluate(evidence)``.

A check is an object with a class-level :class:`CheckMeta` and an ``evaluate`` method that reads the
:class:`~auditor.models.evidence.Evidence` and returns an :class:`Outcome`. It does no I/O and reads
no clock: the same evidence always gives the same verdict, which is what lets ``decaudit render``
re-score a saved evidence file and lets the goldens stay byte-identical.

``requires`` names the evidence fields that must have been collected successfully for the check to
run at all (the runner turns a failed probe into status ``error``, a skipped one into
``not_applicable``); ``uses`` names fields the check reads as they are, failures included (the
handle-resolution check *judges* a failed DNS lookup, it does not need one to succeed). A test runs
every built-in check on recorded evidence through a recording proxy and fails if a check reads a
field it did not declare.

Third-party checks are classes exposing the same attributes, published under the entry-point group
``decaudit.checks`` (see README, "Writing a check").
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import ClassVar, Final, Protocol, TypeVar

from pydantic import JsonValue

from auditor.models.common import FailureKind, ProbeFailure
from auditor.models.evidence import Evidence, NotCollected
from auditor.models.report import Category, Finding, Status
from auditor.syntax import Network


@dataclass(frozen=True, slots=True)
class CheckMeta:
    """What a check is, independent of any account."""

    id: str
    """Stable kebab-case id; never renamed once released."""
    title: str
    """What a pass means, phrased for a non-expert ("Your handle is on a domain you control")."""
    category: Category
    weight: float
    """Relative weight inside the category; 0 means informative only."""
    rationale: str
    """Why this matters for decentralization, in plain words."""
    remediation: str
    """What the user can do when the check does not pass (a check may give a sharper one)."""
    requires: tuple[str, ...] = ()
    """Evidence fields that must be collected successfully."""
    uses: tuple[str, ...] = ()
    """Evidence fields read as they are (failures included)."""
    judges_refusals: tuple[str, ...] = ()
    """Required fields whose *definite refusal* (an XRPC error with a 4xx status, such as
    ``RepoTakendown``) the check judges itself: a server saying no is an answer, not missing
    evidence. Any other failure of these fields still makes the check ``error``."""
    data_keys: Mapping[str, str] = field(default_factory=dict)
    """The keys of ``CheckResult.data`` and what each means (public API)."""
    references: tuple[str, ...] = ()
    method: str = ""
    """How the check reaches its verdict, from which evidence (``decaudit explain`` prints it)."""
    scoring: str = ""
    """Which outcome scores what."""
    protocol: Network = "atproto"
    """The network whose accounts the check judges; an audit runs (and scores against) only the
    checks of its account's network."""


@dataclass(frozen=True, slots=True)
class Outcome:
    """What ``evaluate`` returns; the runner adds the metadata to make a ``CheckResult``."""

    status: Status
    summary: str
    score: float | None = None
    findings: tuple[Finding, ...] = ()
    data: Mapping[str, JsonValue] = field(default_factory=dict)
    remediation: str | None = None
    """None: the meta's remediation when the check does not pass, empty when it passes."""


class Check(Protocol):
    """A pluggable check."""

    meta: ClassVar[CheckMeta]

    def evaluate(self, evidence: Evidence) -> Outcome:
        """Judge the evidence. Pure: no I/O, no clock, no randomness."""
        ...


class EvidenceUnavailable(Exception):
    """Raised by :func:`expect` when a slot the check relies on holds no usable evidence."""


T = TypeVar("T")


REFUSAL_STATUSES: Final = frozenset({400, 404, 410})
"""Statuses with which an XRPC server answers "no" about the thing asked (``RepoTakendown``,
``RepoNotFound``...). Not 401/403 (an auth proxy or firewall), 408 or 429 (try again later)."""


def is_refusal(failure: ProbeFailure) -> bool:
    """A definite "no" from the server about the thing asked: a 400, 404 or 410 naming an XRPC
    error. Not a timeout, a 5xx, a rate limit, an auth wall or a malformed answer, which may be
    blips or say nothing about the account."""
    return (
        failure.kind is FailureKind.HTTP_STATUS
        and failure.http_status in REFUSAL_STATUSES
        and failure.error_name is not None
    )


def expect(value: T | ProbeFailure | NotCollected | None, kind: type[T]) -> T:
    """Narrow an evidence slot to its success model (the runner already guaranteed it for
    ``requires`` fields; this also satisfies the type checker)."""
    if isinstance(value, kind):
        return value
    if isinstance(value, ProbeFailure):
        raise EvidenceUnavailable(value.message)
    if isinstance(value, NotCollected):
        raise EvidenceUnavailable(value.reason)
    raise EvidenceUnavailable(f"expected {kind.__name__}, found {type(value).__name__}")


def finding(message: str, evidence: str) -> Finding:
    """Shorthand for a :class:`Finding`."""
    return Finding(message=message, evidence=evidence)


Data = Mapping[str, JsonValue]


def timestamp(moment: datetime) -> str:
    """ISO 8601 in UTC with milliseconds and a ``Z``, as PLC logs write them."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def passed(
    summary: str, *findings: Finding, score: float = 1.0, data: Data | None = None
) -> Outcome:
    """A passing outcome."""
    return Outcome(Status.PASS, summary, score, findings, data or {})


def partial(
    summary: str,
    *findings: Finding,
    score: float,
    remediation: str | None = None,
    data: Data | None = None,
) -> Outcome:
    """A partly passing outcome; ``score`` strictly between 0 and 1."""
    if not 0.0 < score < 1.0:
        raise ValueError(f"partial score must be strictly between 0 and 1, not {score}")
    return Outcome(Status.PARTIAL, summary, score, findings, data or {}, remediation)


def failed(
    summary: str, *findings: Finding, remediation: str | None = None, data: Data | None = None
) -> Outcome:
    """A failing outcome (score 0)."""
    return Outcome(Status.FAIL, summary, 0.0, findings, data or {}, remediation)


def not_applicable(summary: str, *findings: Finding, data: Data | None = None) -> Outcome:
    """The question does not arise for this account."""
    return Outcome(Status.NOT_APPLICABLE, summary, None, findings, data or {}, "")


def info(summary: str, *findings: Finding, data: Data | None = None) -> Outcome:
    """Context worth showing, not scored."""
    return Outcome(Status.INFO, summary, None, findings, data or {}, "")
