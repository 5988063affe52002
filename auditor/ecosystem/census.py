"""``decaudit census``: the whole network from its public sources, stored, then measured.

Two public sources, both read over the run's one :class:`~auditor.session.Session` (its policy:
address guard, size caps, retries with ``Retry-After`` on 429/5xx):

* the PLC directory's ``/export`` in the sequenced format, 1,000 operations a page, ``after`` the
  last ``seq`` committed (:mod:`auditor.ecosystem.export` checks each page,
  :mod:`auditor.ecosystem.store` commits it with the cursor, so reruns resume);
* each given relay's ``com.atproto.sync.listHosts`` (``limit=1000``, paginated): per PDS host the
  relay's ``accountCount`` and ``status``.

Measuring the database is :mod:`auditor.ecosystem.summary` (re-exported here:
:func:`census_metrics`, :func:`census_summary`, :func:`custody_of`).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final, Literal

from auditor.ecosystem.export import CensusInputError, parse_page
from auditor.ecosystem.store import CensusStore, CensusStoreError, RelayHost
from auditor.ecosystem.summary import (
    COUNTED,
    CUSTODY_CLASSES,
    CensusSummary,
    census_metrics,
    census_summary,
    custody_of,
)
from auditor.models.common import ProbeFailure
from auditor.net.deadline import Deadline
from auditor.net.fetch import Fetcher
from auditor.session import Session

__all__ = [
    "COUNTED",
    "CUSTODY_CLASSES",
    "CensusError",
    "CensusInputError",
    "CensusResult",
    "CensusStoreError",
    "CensusSummary",
    "RelayFetch",
    "census_metrics",
    "census_summary",
    "custody_of",
    "run_census",
]

EXPORT_COUNT: Final = 1000
"""Operations asked for per page (the reference server's maximum)."""
EXPORT_MAX_BYTES: Final = 16 * 1024 * 1024
"""Size cap of one export page: 1,000 operations of at most 4,000 bytes each, with room."""
EXPORT_ACCEPT: Final = "application/jsonlines, application/x-ndjson;q=0.9, */*;q=0.5"
RELAY_LIMIT: Final = 1000
RELAY_MAX_PAGES: Final = 10_000
"""A relay listing more pages than this (ten million hosts) is treated as looping."""


@dataclass(frozen=True, slots=True)
class CensusError:
    """Why part of a run stopped (the rest of the run and everything committed stand)."""

    kind: Literal["bad_input", "fetch_failed", "store"]
    source: str
    """The URL (export page or relay listing) or database concerned."""
    message: str
    page: int | None = None
    line: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "source": self.source,
            "message": self.message,
            "page": self.page,
            "line": self.line,
        }


@dataclass(frozen=True, slots=True)
class RelayFetch:
    """One relay's ``listHosts`` as read in this run."""

    relay: str
    hosts: int
    pages: int

    def to_dict(self) -> dict[str, Any]:
        return {"relay": self.relay, "hosts": self.hosts, "pages": self.pages}


@dataclass(frozen=True, slots=True)
class CensusResult:
    """What one run of :func:`run_census` did."""

    db_path: str
    plc_url: str
    started_cursor: int
    """The ``seq`` the run resumed after (0 for a new database)."""
    cursor: int
    """The last committed ``seq``: where the next run resumes."""
    pages: int
    """Export pages read and committed by this run."""
    lines: int
    """Export lines (operations) ingested by this run."""
    complete: bool
    """True when the run reached the end of the export (an empty page)."""
    dids_known: int
    """DIDs in the database (each DID's genesis operation ingested)."""
    relays: tuple[RelayFetch, ...] = ()
    errors: tuple[CensusError, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.errors

    def to_dict(self) -> dict[str, Any]:
        return {
            "db_path": self.db_path,
            "plc_url": self.plc_url,
            "started_cursor": self.started_cursor,
            "cursor": self.cursor,
            "pages": self.pages,
            "lines": self.lines,
            "complete": self.complete,
            "dids_known": self.dids_known,
            "relays": [relay.to_dict() for relay in self.relays],
            "errors": [error.to_dict() for error in self.errors],
        }


def _fetcher(session: Session) -> Fetcher:
    """A Fetcher whose deadline is one request's budget (a census runs for hours, not seconds)."""
    return Fetcher(session.client, session.settings, Deadline(session.settings.deadline))


async def run_census(
    session: Session,
    db_path: Path,
    *,
    plc_url: str,
    relays: list[str],
    max_pages: int | None = None,
    progress: Callable[[int], None] | None = None,
) -> CensusResult:
    """Bring the census database at ``db_path`` up to date and return what this run did.

    Reads every relay's ``listHosts`` (replacing what the database held for it), then export
    pages from the last committed cursor until an empty page (``complete``) or ``max_pages``.
    ``progress`` is called after each committed page with the lines ingested so far in this run.
    A bad page, a failed request or a database conflict stops that part of the run and is
    reported in ``errors``; everything committed stays. Raises CensusStoreError only when the
    database cannot be opened (not a census database, or one of another directory).
    """
    plc_url = plc_url.rstrip("/")
    with CensusStore.open(db_path, plc_url=plc_url) as store:
        started = store.cursor
        fetched: list[RelayFetch] = []
        errors: list[CensusError] = []
        for relay in relays:
            outcome = await _census_relay(session, store, relay.rstrip("/"))
            if isinstance(outcome, RelayFetch):
                fetched.append(outcome)
            else:
                errors.append(outcome)
        pages, lines, complete, error = await _census_export(
            session, store, plc_url, max_pages, progress
        )
        if error is not None:
            errors.append(error)
        return CensusResult(
            db_path=str(db_path),
            plc_url=plc_url,
            started_cursor=started,
            cursor=store.cursor,
            pages=pages,
            lines=lines,
            complete=complete,
            dids_known=store.dids_known,
            relays=tuple(fetched),
            errors=tuple(errors),
        )


async def _census_export(
    session: Session,
    store: CensusStore,
    plc_url: str,
    max_pages: int | None,
    progress: Callable[[int], None] | None,
) -> tuple[int, int, bool, CensusError | None]:
    """Read and commit pages; returns (pages, lines, complete, the error that stopped it)."""
    pages = lines = 0
    while max_pages is None or pages < max_pages:
        outcome = await _next_page(session, store, f"{plc_url}/export", page=pages + 1)
        if isinstance(outcome, CensusError):
            return pages, lines, False, outcome
        if outcome == 0:
            return pages, lines, True, None
        pages += 1
        lines += outcome
        if progress is not None:
            progress(lines)
    return pages, lines, False, None


async def _next_page(
    session: Session, store: CensusStore, url: str, *, page: int
) -> int | CensusError:
    """Fetch, check and commit the page after the cursor; returns its lines (0: the end)."""
    after = store.cursor
    fetcher = _fetcher(session)
    result = await fetcher.get_bytes(
        url,
        params={"after": after, "count": EXPORT_COUNT},
        max_bytes=EXPORT_MAX_BYTES,
        accept=EXPORT_ACCEPT,
    )
    if isinstance(result, ProbeFailure):
        return _fetch_error(result, page=page)
    try:
        parsed = parse_page(result.body, after=after, page=page, vocabulary=store.vocabulary)
        if parsed.count:
            store.append_page(parsed, sandbox=fetcher.saw_sandbox)
    except CensusInputError as exc:
        source = result.exchange.url
        return CensusError("bad_input", source, str(exc), page=exc.page, line=exc.line)
    except (CensusStoreError, sqlite3.Error) as exc:
        return CensusError("store", str(store.path), str(exc))
    return parsed.count


def _fetch_error(failure: ProbeFailure, *, page: int | None = None) -> CensusError:
    return CensusError("fetch_failed", failure.source, failure.message, page=page)


async def _census_relay(
    session: Session, store: CensusStore, relay: str
) -> RelayFetch | CensusError:
    """Read a relay's whole ``listHosts`` and store it; nothing is stored unless it is whole."""
    url = f"{relay}/xrpc/com.atproto.sync.listHosts"
    hosts: dict[str, RelayHost] = {}
    cursor: str | None = None
    seen: set[str] = set()
    for page in range(1, RELAY_MAX_PAGES + 1):
        params: dict[str, str | int] = {"limit": RELAY_LIMIT}
        if cursor is not None:
            params["cursor"] = cursor
        result = await _fetcher(session).get_json(url, params=params)
        if isinstance(result, ProbeFailure):
            return _fetch_error(result, page=page)
        listed = _relay_page(result.body)
        if isinstance(listed, str):
            return CensusError("bad_input", result.exchange.url, listed, page=page)
        page_hosts, cursor = listed
        for host in page_hosts:
            hosts[host.hostname] = host
        if cursor is None or not page_hosts:
            stamp = datetime.now(UTC).isoformat(timespec="seconds")
            try:
                count = store.replace_relay(relay, hosts.values(), fetched_at=stamp, pages=page)
            except (CensusStoreError, sqlite3.Error) as exc:
                return CensusError("store", str(store.path), str(exc))
            return RelayFetch(relay, count, page)
        if cursor in seen:
            return CensusError("bad_input", url, f"listHosts cursor {cursor!r} repeats (a loop)")
        seen.add(cursor)
    return CensusError("bad_input", url, f"listHosts did not end within {RELAY_MAX_PAGES} pages")


def _optional_int(value: object) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{value!r} is not a non-negative integer")
    return value


def _relay_page(body: object) -> tuple[list[RelayHost], str | None] | str:
    """The hosts and next cursor of a ``listHosts`` answer, or what is wrong with it."""
    if not isinstance(body, dict) or not isinstance(body.get("hosts"), list):
        return "listHosts answer is not an object with a hosts list"
    cursor = body.get("cursor")
    if cursor is not None and not isinstance(cursor, str):
        return "listHosts cursor is not a string"
    hosts: list[RelayHost] = []
    for index, entry in enumerate(body["hosts"]):
        if not isinstance(entry, dict) or not isinstance(entry.get("hostname"), str):
            return f"listHosts host {index} is not an object with a string hostname"
        status = entry.get("status")
        try:
            count, seq = _optional_int(entry.get("accountCount")), _optional_int(entry.get("seq"))
        except ValueError as exc:
            return f"listHosts host {entry['hostname']!r}: {exc}"
        if status is not None and not isinstance(status, str):
            return f"listHosts host {entry['hostname']!r}: status is not a string"
        hosts.append(RelayHost(entry["hostname"].lower(), count, status, seq))
    return hosts, cursor or None
