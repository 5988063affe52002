"""Measuring a census database: the concentration of every layer the census observes.

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

The per-DID work is SQL over temporary tables (on disk), so memory stays bounded whatever the
number of DIDs; Python sees only per-host and per-domain aggregates.
"""

from __future__ import annotations

import sqlite3
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Final, Literal

from auditor.attribution import attribute_host, host_of, load_data, registrable_domain
from auditor.ecosystem.metrics import Concentration, Nakamoto, concentration, nakamoto
from auditor.ecosystem.store import CensusStore

__all__ = [
    "COUNTED",
    "CUSTODY_CLASSES",
    "EXCLUDED_HOST_STATUSES",
    "BridgeCount",
    "CensusSummary",
    "RelayView",
    "census_metrics",
    "census_summary",
    "custody_of",
    "handle_type",
]

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
