"""``decaudit census``: the whole network from its public sources, stored, then measured.

Two public sources, both read over the run's one :class:`~auditor.session.Session` (its policy:
address guard, size caps, retries with ``Retry-After`` on 429/5xx):

* the PLC directory's ``/export`` in the sequenced format, 1,000 operations a page, ``after`` the
  last ``seq`` committed (:mod:`auditor.ecosystem.export` checks each page,
  :mod:`auditor.ecosystem.store` commits it with the cursor, so reruns resume);
* each given relay's ``com.atproto.sync.listHosts`` (``limit=1000``, paginated): per PDS host the
  relay's ``accountCount`` and ``status``.

What is counted, said plainly in every summary (:data:`COUNTED`): DIDs registered in the PLC
directory, i.e. account identities, tombstoned ones left out; not active users. did:web
identities are not in the directory, so the DID-method layer of a census only ever sees did:plc.

Layers measured (:func:`census_summary`), each a :class:`~auditor.ecosystem.metrics.Concentration`:

* ``pds_operator``: DIDs by the operator of their PDS host (``attribute_host``: every
  ``*.host.bsky.network`` is Bluesky), and ``pds_operator_without_bridges`` with bridge
  operators (e.g. Bridgy Fed's ``atproto.brid.gy``: bridged fediverse accounts) left out; the
  bridges themselves are listed so readers can exclude them;
* ``did_method``; ``handle_domain_type`` (:func:`handle_type`); ``rotation_key_custody``
  (:data:`CUSTODY_CLASSES`, the shared-key heuristic);
* ``relay:<host>``: each relay's own view, its hosts' ``accountCount`` merged by operator.

The custody classes are a **heuristic** after Rob Ricci's rotation-key census (AWDY
``data-processing/at-rotation-keys/keycounter.py``, facts §1.6): nothing public says who holds a
key, but a key that a multi-account PDS put on its accounts appears on many of them, while a key
a user added appears on one. As there, keys are counted per PDS host (DIDs of that host listing
the key), a single-account host is ``solo_pds`` and a multi-account host whose every key is unique
is ``unknown_unique_pds`` (a bridge or PDS that makes a key per account would otherwise look like
thousands of self-custodians). Two differences: a DID whose *highest-priority* key is a known
operator key is ``operator`` first, whatever else it lists (that key can undo the others' changes
for 72 hours), where Ricci counts any unique key as custom; and tombstoned DIDs are left out.
"""

from __future__ import annotations

import sqlite3
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any, Final, Literal

from auditor.attribution import attribute_host, host_of, load_data, registrable_domain
from auditor.ecosystem.export import CensusInputError, parse_page
from auditor.ecosystem.metrics import Concentration, Nakamoto, concentration, nakamoto
from auditor.ecosystem.store import CensusStore, CensusStoreError, RelayHost
from auditor.models.common import ProbeFailure
from auditor.net.deadline import Deadline
from auditor.net.fetch import Fetcher
from auditor.session import Session

__all__ = [
    "COUNTED",
    "CUSTODY_CLASSES",
    "EXCLUDED_HOST_STATUSES",
    "BridgeCount",
    "CensusError",
    "CensusInputError",
    "CensusResult",
    "CensusStoreError",
    "CensusSummary",
    "RelayFetch",
    "RelayView",
    "census_metrics",
    "census_summary",
    "custody_of",
    "handle_type",
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

EXCLUDED_HOST_STATUSES: Final = frozenset({"offline", "banned"})
"""Relay hosts left out of a relay's view: the relay does not carry their accounts (AWDY drops
``offline`` hosts "as suggested by @bnewbold.net"; ``banned`` ones are refused outright)."""

COUNTED: Final = (
    "DIDs registered in the PLC directory (its public /export): account identities, not active "
    "users; tombstoned DIDs are left out. did:web identities are not in the PLC directory and are "
    "not counted. Relay views count what each relay reports per host (listHosts accountCount): "
    "the relay's view, not registrations."
)

CUSTODY_CLASSES: Final[dict[str, str]] = {
    "operator": "the highest-priority rotation key is a known operator key (decaudit's data)",
    "solo_pds": "the only account on its PDS: whoever runs that server holds the keys",
    "likely_user_held": (
        "a rotation key no other account on its multi-account PDS has (heuristic: likely added "
        "by the user)"
    ),
    "pds_managed": "every rotation key is shared with other accounts on its PDS",
    "unknown_unique_pds": (
        "its PDS gives every account different keys, so sharing says nothing (e.g. a bridge "
        "that generates a key per account)"
    ),
    "no_pds": "no atproto_pds service and no known operator key",
    "no_rotation_keys": "the operation lists no rotation key",
}
"""Rotation-key custody classes, in the order they are decided."""

HandleType = Literal["provider_subdomain", "custom_domain", "no_handle"]


# --------------------------------------------------------------------------------------------
# Running a census
# --------------------------------------------------------------------------------------------


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
        parsed = parse_page(result.body, after=after, page=page)
        if parsed.rows:
            store.append_page(
                parsed.rows,
                last_seq=parsed.last_seq,
                geneses=parsed.geneses,
                sandbox=fetcher.saw_sandbox,
            )
    except CensusInputError as exc:
        source = result.exchange.url
        return CensusError("bad_input", source, str(exc), page=exc.page, line=exc.line)
    except (CensusStoreError, sqlite3.Error) as exc:
        return CensusError("store", str(store.path), str(exc))
    return len(parsed.rows)


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


# --------------------------------------------------------------------------------------------
# Measuring a census
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BridgeCount:
    """Accounts on a bridge operator's PDS hosts (bridged from another network)."""

    operator: str
    label: str
    hosts: tuple[str, ...]
    accounts: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "operator": self.operator,
            "label": self.label,
            "hosts": list(self.hosts),
            "accounts": self.accounts,
        }


@dataclass(frozen=True, slots=True)
class RelayView:
    """What one relay's stored ``listHosts`` says."""

    relay: str
    layer: str
    """The key of this relay's layer in :attr:`CensusSummary.layers`."""
    fetched_at: str
    hosts: int
    hosts_counted: int
    """Hosts whose status is not in :data:`EXCLUDED_HOST_STATUSES`."""
    accounts: int
    """Summed ``accountCount`` of the counted hosts."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "relay": self.relay,
            "layer": self.layer,
            "fetched_at": self.fetched_at,
            "hosts": self.hosts,
            "hosts_counted": self.hosts_counted,
            "accounts": self.accounts,
            "excluded_statuses": sorted(EXCLUDED_HOST_STATUSES),
        }


@dataclass(frozen=True)
class CensusSummary:
    """The metrics of a census database, with what was counted."""

    counted: str
    plc_url: str
    cursor: int
    operations: int
    """Operations stored (superseded ones included unless compacted)."""
    dids: int
    """Distinct DIDs, tombstoned ones included."""
    tombstoned: int
    without_pds: int
    """Live DIDs with no atproto_pds service (left out of the PDS-operator layers)."""
    sandbox: bool
    """The data came from decaudit's sandbox network."""
    layers: dict[str, Concentration]
    nakamoto: Nakamoto
    bridges: tuple[BridgeCount, ...]
    relays: tuple[RelayView, ...]
    custody_operators: dict[str, int] = field(default_factory=dict)
    """Operator id -> DIDs in the ``operator`` custody class whose top key it holds."""
    custody_classes: dict[str, str] = field(default_factory=lambda: dict(CUSTODY_CLASSES))

    def to_dict(self) -> dict[str, Any]:
        return {
            "counted": self.counted,
            "plc_url": self.plc_url,
            "cursor": self.cursor,
            "operations": self.operations,
            "dids": self.dids,
            "tombstoned": self.tombstoned,
            "without_pds": self.without_pds,
            "sandbox": self.sandbox,
            "layers": {name: layer.to_dict() for name, layer in self.layers.items()},
            "nakamoto": self.nakamoto.to_dict(),
            "bridges": [bridge.to_dict() for bridge in self.bridges],
            "relays": [relay.to_dict() for relay in self.relays],
            "custody_operators": dict(self.custody_operators),
            "custody_classes": dict(self.custody_classes),
        }


def census_metrics(db: Path | CensusStore) -> dict[str, Concentration]:
    """The concentration of every layer the census observes (see :func:`census_summary`)."""
    return census_summary(db).layers


@contextmanager
def _opened(db: Path | CensusStore) -> Iterator[CensusStore]:
    if isinstance(db, CensusStore):
        yield db
    else:
        with CensusStore.open(Path(db)) as store:
            yield store


_TEMP_TABLES: Final = ("cur", "pds", "pds_keys", "pds_class", "operator_keys")


def census_summary(db: Path | CensusStore) -> CensusSummary:
    """Measure a census database (a path, or an open store). Memory stays bounded: the
    per-DID work is SQL over temporary tables on disk."""
    with _opened(db) as store:
        connection = store.connection
        sandbox = store.sandbox
        _materialize(connection, sandbox)
        try:
            return _summarize(store, connection, sandbox)
        finally:
            _drop_temp(connection)


def _drop_temp(connection: sqlite3.Connection) -> None:
    for table in _TEMP_TABLES:
        connection.execute(f"DROP TABLE IF EXISTS temp.{table}")


def custody_of(db: Path | CensusStore, dids: Iterable[str]) -> dict[str, str]:
    """The custody class of each of ``dids`` (absent: unknown to the census or tombstoned)."""
    wanted = list(dict.fromkeys(dids))
    with _opened(db) as store:
        connection = store.connection
        _materialize(connection, store.sandbox)
        try:
            connection.execute("CREATE TEMP TABLE wanted (did TEXT PRIMARY KEY)")
            connection.executemany("INSERT INTO temp.wanted VALUES (?)", [(d,) for d in wanted])
            rows = connection.execute(
                f"SELECT c.did, {_CUSTODY_CASE} FROM temp.cur c "
                "JOIN temp.wanted w ON w.did = c.did "
                "LEFT JOIN temp.pds_class pc ON pc.pds_host = c.pds_host WHERE NOT c.tombstoned"
            ).fetchall()
        finally:
            connection.execute("DROP TABLE IF EXISTS temp.wanted")
            _drop_temp(connection)
    return {str(did): str(custody) for did, custody in rows}


def _materialize(connection: sqlite3.Connection, sandbox: bool) -> None:
    """Temporary tables: each DID's state, DIDs per PDS, DIDs per (PDS, key), PDS classes."""
    _drop_temp(connection)
    connection.execute("CREATE TEMP TABLE cur AS SELECT * FROM did_state")
    connection.execute(
        "CREATE TEMP TABLE pds (pds_host TEXT PRIMARY KEY, dids INTEGER NOT NULL) WITHOUT ROWID"
    )
    connection.execute(
        "INSERT INTO temp.pds SELECT pds_host, count(*) FROM temp.cur "
        "WHERE NOT tombstoned AND pds_host IS NOT NULL GROUP BY pds_host"
    )
    connection.execute(
        "CREATE TEMP TABLE pds_keys (pds_host TEXT, key TEXT, dids INTEGER NOT NULL, "
        "PRIMARY KEY (pds_host, key)) WITHOUT ROWID"
    )
    connection.execute(
        "INSERT INTO temp.pds_keys SELECT c.pds_host, j.value, count(DISTINCT c.rowid) "
        "FROM temp.cur c, json_each(c.rotation_keys) j "
        "WHERE NOT c.tombstoned AND c.pds_host IS NOT NULL GROUP BY c.pds_host, j.value"
    )
    connection.execute(
        "CREATE TEMP TABLE pds_class AS SELECT p.pds_host AS pds_host, CASE "
        "WHEN p.dids = 1 THEN 'solo' "
        "WHEN coalesce((SELECT max(k.dids) FROM temp.pds_keys k "
        "WHERE k.pds_host = p.pds_host), 0) <= 1 THEN 'unique' "
        "ELSE 'shared' END AS class FROM temp.pds p"
    )
    connection.execute("CREATE TEMP TABLE operator_keys (key TEXT PRIMARY KEY, operator TEXT)")
    connection.executemany(
        "INSERT INTO temp.operator_keys VALUES (?, ?)",
        [
            (key, found.operator_id)
            for key, found in load_data().keys.items()
            if sandbox or not found.sandbox
        ],
    )


_CUSTODY_CASE: Final = """CASE
    WHEN json_extract(c.rotation_keys, '$[0]') IN (SELECT key FROM temp.operator_keys)
        THEN 'operator'
    WHEN json_array_length(c.rotation_keys) = 0 THEN 'no_rotation_keys'
    WHEN c.pds_host IS NULL THEN 'no_pds'
    WHEN pc.class = 'solo' THEN 'solo_pds'
    WHEN pc.class = 'unique' THEN 'unknown_unique_pds'
    WHEN EXISTS (
        SELECT 1 FROM json_each(c.rotation_keys) j
        JOIN temp.pds_keys k ON k.pds_host = c.pds_host AND k.key = j.value
        WHERE k.dids = 1
    ) THEN 'likely_user_held'
    ELSE 'pds_managed'
END"""
"""The custody class of a row ``c`` of ``temp.cur`` joined to ``temp.pds_class pc``, decided in
the order of :data:`CUSTODY_CLASSES`."""

_CUSTODY_SQL: Final = f"""
SELECT {_CUSTODY_CASE} AS custody, count(*)
FROM temp.cur c LEFT JOIN temp.pds_class pc ON pc.pds_host = c.pds_host
WHERE NOT c.tombstoned
GROUP BY custody
"""

_CUSTODY_OPERATORS_SQL: Final = """
SELECT k.operator, count(*) FROM temp.cur c
JOIN temp.operator_keys k ON k.key = json_extract(c.rotation_keys, '$[0]')
WHERE NOT c.tombstoned GROUP BY k.operator
"""


def _summarize(store: CensusStore, connection: sqlite3.Connection, sandbox: bool) -> CensusSummary:
    dids, tombstoned, without_pds = connection.execute(
        "SELECT count(*), coalesce(sum(tombstoned), 0), "
        "coalesce(sum(NOT tombstoned AND pds_host IS NULL), 0) FROM temp.cur"
    ).fetchone()
    pds_counts = {str(h): int(n) for h, n in connection.execute("SELECT * FROM temp.pds")}
    layers, bridges = _operator_layers(pds_counts, sandbox)
    layers["did_method"] = concentration(
        _counts(
            connection, "SELECT method, count(*) FROM temp.cur WHERE NOT tombstoned GROUP BY method"
        )
    )
    layers["handle_domain_type"] = concentration(_handle_types(connection, pds_counts, sandbox))
    layers["rotation_key_custody"] = concentration(_counts(connection, _CUSTODY_SQL))
    relays = _relay_views(connection, sandbox, layers)
    return CensusSummary(
        counted=COUNTED,
        plc_url=store.plc_url,
        cursor=store.cursor,
        operations=int(connection.execute("SELECT count(*) FROM ops").fetchone()[0]),
        dids=int(dids),
        tombstoned=int(tombstoned),
        without_pds=int(without_pds),
        sandbox=sandbox,
        layers=layers,
        nakamoto=nakamoto(layers, ["pds_operator"]),
        bridges=bridges,
        relays=relays,
        custody_operators=_counts(connection, _CUSTODY_OPERATORS_SQL),
    )


def _counts(connection: sqlite3.Connection, sql: str, *params: object) -> dict[str, int]:
    return {str(name): int(count) for name, count in connection.execute(sql, params)}


def _operator_layers(
    host_counts: Mapping[str, int], sandbox: bool
) -> tuple[dict[str, Concentration], tuple[BridgeCount, ...]]:
    """``pds_operator`` and ``pds_operator_without_bridges``, and the bridges left out."""
    by_operator: Counter[str] = Counter()
    labels: dict[str, str] = {}
    bridge_hosts: dict[str, list[str]] = {}
    for host, count in host_counts.items():
        found = attribute_host(host, sandbox=sandbox)
        by_operator[found.operator_id] += count
        labels[found.operator_id] = found.label
        if "bridge" in found.roles:
            bridge_hosts.setdefault(found.operator_id, []).append(host)
    native = {op: n for op, n in by_operator.items() if op not in bridge_hosts}
    bridges = tuple(
        BridgeCount(op, labels[op], tuple(sorted(hosts)), by_operator[op])
        for op, hosts in sorted(bridge_hosts.items())
    )
    layers = {
        "pds_operator": concentration(by_operator, labels=labels),
        "pds_operator_without_bridges": concentration(native, labels=labels),
    }
    return layers, bridges


def handle_type(
    handle_domain: str | None, pds_host: str | None, *, apex: bool, pds_dids: int, sandbox: bool
) -> HandleType:
    """Whether a handle is a name a provider handed out or a domain of the account's own.

    ``provider_subdomain``: the handle is below (not equal to) its registrable domain, and that
    domain either is a known handle domain in decaudit's data (``*.bsky.social``,
    ``*.blacksky.app``) or is the registrable domain of the account's own PDS host when that PDS
    serves more than one account (a provider naming its users, e.g. ``*.brid.gy``). Anything else
    with a valid handle is ``custom_domain``: its own domain (``alice.com``), or a self-hosted
    server's (``me.alice.com`` on the single-account ``pds.alice.com``).
    """
    if handle_domain is None:
        return "no_handle"
    if apex:
        return "custom_domain"
    if _known_handle_domain(handle_domain, sandbox):
        return "provider_subdomain"
    if pds_host and pds_dids > 1 and _registrable(pds_host) == handle_domain:
        return "provider_subdomain"
    return "custom_domain"


@lru_cache(maxsize=65_536)
def _known_handle_domain(domain: str, sandbox: bool) -> bool:
    found = attribute_host(domain, sandbox=sandbox)
    return found.is_known_operator and "handle_domain" in found.roles


@lru_cache(maxsize=65_536)
def _registrable(host: str) -> str | None:
    return registrable_domain(host)


def _handle_types(
    connection: sqlite3.Connection, pds_counts: Mapping[str, int], sandbox: bool
) -> dict[str, int]:
    counts: Counter[str] = Counter()
    rows = connection.execute(
        "SELECT handle_domain, pds_host, handle = handle_domain, count(*) FROM temp.cur "
        "WHERE NOT tombstoned GROUP BY 1, 2, 3"
    )
    for domain, host, apex, count in rows:
        kind = handle_type(
            domain, host, apex=bool(apex), pds_dids=pds_counts.get(host or "", 0), sandbox=sandbox
        )
        counts[kind] += int(count)
    return dict(counts)


def _relay_views(
    connection: sqlite3.Connection, sandbox: bool, layers: dict[str, Concentration]
) -> tuple[RelayView, ...]:
    """One layer per relay: its counted hosts' accounts, merged by operator."""
    views = []
    relays = connection.execute("SELECT relay, fetched_at, hosts FROM relays ORDER BY relay")
    for relay, fetched_at, hosts in relays.fetchall():
        by_operator: Counter[str] = Counter()
        labels: dict[str, str] = {}
        counted = 0
        for hostname, accounts, status in connection.execute(
            "SELECT hostname, account_count, status FROM relay_hosts WHERE relay = ?", (relay,)
        ):
            if status in EXCLUDED_HOST_STATUSES:
                continue
            counted += 1
            found = attribute_host(hostname, sandbox=sandbox)
            by_operator[found.operator_id] += int(accounts or 0)
            labels[found.operator_id] = found.label
        name = f"relay:{host_of(relay) or relay}"
        layers[name] = concentration(by_operator, labels=labels)
        views.append(
            RelayView(relay, name, fetched_at, int(hosts), counted, sum(by_operator.values()))
        )
    return tuple(views)
