"""The census database: one SQLite file, written page by page, resumable, read by the metrics.

Why SQLite (stdlib ``sqlite3``) and not DuckDB: no extra dependency; a single file the user can
open with any SQLite tool; small transactions per page (DuckDB is built for bulk analytical
loads, not thousands of small commits); and WAL mode gives crash-safe incremental commits. The
metrics are a handful of GROUP BYs, which SQLite sorts on disk in bounded memory.

**Layout: an operation log keyed by ``seq``, not a table updated per DID.** Each page appends one
row per operation to ``ops`` (``seq INTEGER PRIMARY KEY``) and moves the cursor in ``meta``, both
in one transaction. A DID's current state is its row with the highest ``seq`` (view
``did_state``). Upserting a table keyed by DID was measured first and rejected: DIDs are random
hashes, so every upsert lands on a different B-tree page and rewrites it (10-15 us per line at
one million DIDs on the benchmark machine, growing with the database), while appending in
``seq`` order touches only the last page (about 1.5 us per line, flat). The log keeps superseded
operations (``compact`` drops them when disk space matters).

**Rows of ids (schema version 2).** A row holds the PDS host and the rotation-key list as ids of
two lookup tables (``pds_hosts``, ``rotation_key_lists``: the store's
:class:`~auditor.ecosystem.export.Vocabulary` gives the ids, and new ones are written with the
page that first uses them), the handle's registrable domain as a length (it is a suffix of the
handle), and a tombstone as a NULL key list. Rows are about 70 bytes instead of 230: SQLite
spends a quarter less time per row and the file is a third of the size. The ``did_state`` view
joins the text back, with the columns of version 1, so the metrics read the same thing. A
version 1 file is refused with a message, not misread.

**Resume, nothing lost or doubled.** The rows of a page and the new cursor commit together, so an
interrupted run (even ``kill -9``) leaves the database at the end of its last whole page, and the
next run asks the directory for ``after=<cursor>``. ``seq`` is the primary key: a page applied
twice cannot be stored, by construction. A writer holds the file exclusively for its whole run
(``locking_mode=EXCLUSIVE``: no lock traffic per page), so a second run on the same file is
refused, not interleaved; each transaction also re-checks the cursor it expects.

WAL with ``synchronous=NORMAL``: a crash of the program loses nothing committed; a power cut may
lose the last transactions, always whole pages together with their cursor, so a rerun fetches
them again. A writer checkpoints every 160 MiB of WAL (fewer fsyncs). Memory is bounded (page
cache 32 MiB; sorts spill to temporary files), whatever the number of DIDs.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from auditor.ecosystem.export import ROW_FIELDS, ParsedPage, Vocabulary

__all__ = [
    "APPLICATION_ID",
    "SCHEMA_VERSION",
    "CensusStore",
    "CensusStoreError",
    "RelayHost",
]

APPLICATION_ID: Final = 0x64436E73
"""``PRAGMA application_id`` of a census database (ASCII ``dCns``): other SQLite files are
refused, never written to."""
SCHEMA_VERSION: Final = 2
"""1: text in every row (decaudit before the interned vocabulary); 2: ids of ``pds_hosts`` and
``rotation_key_lists`` in ``ops``, the same ``did_state`` view."""
_PAGE_SIZE: Final = 16_384
_CACHE_KIB: Final = 32_768
_BUSY_MS: Final = 5_000
_WRITER_CHECKPOINT_PAGES: Final = 10_000
"""A writer checkpoints the WAL every 160 MiB instead of every 16 MiB: fewer fsyncs."""

_SCHEMA: Final = (
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID",
    """CREATE TABLE pds_hosts (
    id INTEGER PRIMARY KEY,
    host TEXT NOT NULL             -- lowercased, without port
)""",
    """CREATE TABLE rotation_key_lists (
    id INTEGER PRIMARY KEY,
    keys TEXT NOT NULL             -- JSON array, highest priority first
)""",
    """CREATE TABLE ops (
    seq INTEGER PRIMARY KEY,       -- the directory's sequence number
    did TEXT NOT NULL,
    pds_host_id INTEGER REFERENCES pds_hosts,  -- host of the atproto_pds service, NULL if none
    handle TEXT,                   -- first valid at:// alias, NULL if none
    handle_domain_length INTEGER,  -- its registrable domain (Public Suffix List) is the handle's
                                   -- last N characters; 0: the whole handle
    rotation_keys_id INTEGER REFERENCES rotation_key_lists  -- NULL: a tombstone
)""",
    """CREATE VIEW did_state AS
    -- the text back from the ids; SQLite takes bare columns from the row holding max(seq):
    -- each DID's latest operation
    SELECT o.did, o.seq, h.host AS pds_host, o.handle,
           CASE o.handle_domain_length WHEN 0 THEN o.handle
                ELSE substr(o.handle, -o.handle_domain_length) END AS handle_domain,
           coalesce(k.keys, '[]') AS rotation_keys, o.rotation_keys_id IS NULL AS tombstoned,
           substr(o.did, 1, 4 + instr(substr(o.did, 5), ':') - 1) AS method
    FROM (SELECT did, max(seq) AS seq, pds_host_id, handle, handle_domain_length,
                 rotation_keys_id
          FROM ops GROUP BY did) o
    LEFT JOIN pds_hosts h ON h.id = o.pds_host_id
    LEFT JOIN rotation_key_lists k ON k.id = o.rotation_keys_id""",
    """CREATE TABLE relay_hosts (
    relay TEXT NOT NULL,
    hostname TEXT NOT NULL,
    account_count INTEGER,
    status TEXT,
    seq INTEGER,
    PRIMARY KEY (relay, hostname)
) WITHOUT ROWID""",
    """CREATE TABLE relays (
    relay TEXT PRIMARY KEY,
    fetched_at TEXT NOT NULL,
    hosts INTEGER NOT NULL,
    pages INTEGER NOT NULL
) WITHOUT ROWID""",
)

_INSERT_CACHE: dict[int, str] = {}


class CensusStoreError(Exception):
    """The database cannot be used: not a census database, another directory's, or in use."""


@dataclass(frozen=True, slots=True)
class RelayHost:
    """One row of a relay's ``listHosts``."""

    hostname: str
    account_count: int | None
    status: str | None
    seq: int | None


def _insert_sql(rows: int) -> str:
    """One multi-row INSERT per page size (faster than executemany: one statement step)."""
    sql = _INSERT_CACHE.get(rows)
    if sql is None:
        sql = "INSERT INTO ops VALUES " + ",".join(["(?,?,?,?,?,?)"] * rows)
        _INSERT_CACHE[rows] = sql
    return sql


_MAX_ROWS_PER_STATEMENT: Final = 1000
"""6 x 1000 parameters stays under SQLite's default limit of 32,766."""


class CensusStore:
    """An open census database (use :meth:`open`; close it, or use it as a context manager)."""

    def __init__(self, connection: sqlite3.Connection, path: Path, plc_url: str) -> None:
        self.connection = connection
        self.path = path
        self.plc_url = plc_url
        self.cursor = int(self.meta("cursor") or 0)
        """The last committed ``seq``: the next page is asked for with ``after=cursor``."""
        self.vocabulary = self._stored_vocabulary()
        """Pass it to :func:`~auditor.ecosystem.export.parse_page`: the rows' ids are its ids."""

    # --- opening ---------------------------------------------------------------------------------

    @classmethod
    def open(cls, path: Path, *, plc_url: str | None = None) -> CensusStore:
        """Open (or create) the census database at ``path``.

        ``plc_url`` names the directory the census reads: a new database records it, an existing
        one must have been built from the same directory. None opens an existing database for
        reading whatever its directory. Raises CensusStoreError, never overwrites a foreign file.
        """
        try:
            if plc_url is None:  # reading: never create a file
                target, uri = Path(path).resolve().as_uri() + "?mode=rw", True
            else:
                target, uri = str(path), False
            connection = sqlite3.connect(
                target, isolation_level=None, timeout=_BUSY_MS / 1000, uri=uri
            )
        except sqlite3.Error as exc:
            raise CensusStoreError(f"cannot open census database {path}: {exc}") from exc
        try:
            stored = _prepare(connection, path, plc_url)
        except sqlite3.OperationalError as exc:
            connection.close()
            if "locked" in str(exc):
                raise CensusStoreError(f"{path} is in use by another census run") from exc
            raise CensusStoreError(f"{path} is not a usable census database: {exc}") from exc
        except sqlite3.DatabaseError as exc:
            connection.close()
            raise CensusStoreError(f"{path} is not a usable census database: {exc}") from exc
        except CensusStoreError:
            connection.close()
            raise
        return cls(connection, path, stored)

    def close(self) -> None:
        self.connection.close()

    def __enter__(self) -> CensusStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- meta ------------------------------------------------------------------------------------

    def meta(self, key: str) -> str | None:
        found = self.connection.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return str(found[0]) if found else None

    def _set_meta(self, key: str, value: str | int) -> None:
        self.connection.execute(
            "INSERT INTO meta VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            (key, str(value)),
        )

    def _add_meta(self, key: str, amount: int) -> None:
        self.connection.execute(
            "INSERT INTO meta VALUES (?, ?) "
            "ON CONFLICT(key) DO UPDATE SET value = CAST(value AS INTEGER) + excluded.value",
            (key, amount),
        )

    @property
    def dids_known(self) -> int:
        """DIDs whose genesis operation was ingested (every DID's first operation has no prev)."""
        return int(self.meta("geneses") or 0)

    @property
    def sandbox(self) -> bool:
        """Whether the data came from decaudit's sandbox network (attribution uses its rows)."""
        return self.meta("sandbox") == "1"

    def _stored_vocabulary(self) -> Vocabulary:
        """An empty vocabulary that gives ids after the stored ones."""
        hosts, keys = self.connection.execute(
            "SELECT (SELECT coalesce(max(id), 0) FROM pds_hosts), "
            "(SELECT coalesce(max(id), 0) FROM rotation_key_lists)"
        ).fetchone()
        return Vocabulary(next_host=int(hosts) + 1, next_keys=int(keys) + 1)

    # --- writing ---------------------------------------------------------------------------------

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        connection = self.connection
        connection.execute("BEGIN IMMEDIATE")
        try:
            yield connection
        except BaseException:
            connection.execute("ROLLBACK")
            raise
        connection.execute("COMMIT")

    def append_page(self, parsed: ParsedPage, *, sandbox: bool = False) -> None:
        """Store one checked page and move the cursor to its ``last_seq``, in one transaction.

        The page must have been parsed with this store's :attr:`vocabulary`: the hosts and key
        lists it gave new ids are written in the same transaction as the rows. If the
        transaction fails, the vocabulary is replaced by one reloaded from the database, so no
        later row can refer to an id that was rolled back.
        """
        if parsed.vocabulary is not self.vocabulary:
            raise ValueError("the page was parsed with another vocabulary than this store's")
        hosts, keys = self.vocabulary.take_new()
        try:
            with self._transaction() as connection:
                stored = int(self.meta("cursor") or 0)
                if stored != self.cursor:
                    raise CensusStoreError(
                        f"{self.path} was changed by another process (cursor {stored}, this run "
                        f"expected {self.cursor}); run one census at a time per database"
                    )
                if hosts:
                    connection.executemany("INSERT INTO pds_hosts VALUES (?, ?)", hosts)
                if keys:
                    connection.executemany("INSERT INTO rotation_key_lists VALUES (?, ?)", keys)
                values, step = parsed.values, _MAX_ROWS_PER_STATEMENT * ROW_FIELDS
                for start in range(0, len(values), step):
                    # a page of up to 1,000 rows: its values are the parameters, not copied
                    chunk = values if len(values) <= step else values[start : start + step]
                    connection.execute(_insert_sql(len(chunk) // ROW_FIELDS), chunk)
                self._set_meta("cursor", parsed.last_seq)
                self._add_meta("geneses", parsed.geneses)
                self._add_meta("pages", 1)
                if sandbox:
                    self._set_meta("sandbox", "1")
        except BaseException:
            self.vocabulary = self._stored_vocabulary()
            raise
        self.cursor = parsed.last_seq

    def replace_relay(
        self, relay: str, hosts: Iterable[RelayHost], *, fetched_at: str, pages: int
    ) -> int:
        """Replace everything known about ``relay`` with a complete ``listHosts`` listing."""
        rows = [(relay, h.hostname, h.account_count, h.status, h.seq) for h in hosts]
        with self._transaction() as connection:
            connection.execute("DELETE FROM relay_hosts WHERE relay = ?", (relay,))
            connection.executemany(
                "INSERT OR REPLACE INTO relay_hosts VALUES (?, ?, ?, ?, ?)", rows
            )
            connection.execute(
                "INSERT OR REPLACE INTO relays VALUES (?, ?, ?, ?)",
                (relay, fetched_at, len(rows), pages),
            )
        return len(rows)

    def compact(self) -> int:
        """Delete superseded operations (keeps each DID's latest); returns rows deleted.

        The lookup tables are left whole: the open vocabulary may map values to any stored id.
        """
        with self._transaction() as connection:
            deleted = connection.execute(
                "DELETE FROM ops WHERE seq NOT IN (SELECT max(seq) FROM ops GROUP BY did)"
            ).rowcount
        self.connection.execute("VACUUM")
        return int(deleted)


def _prepare(connection: sqlite3.Connection, path: Path, plc_url: str | None) -> str:
    """Check (or create) the schema; returns the directory URL the database was built from."""
    application_id = connection.execute("PRAGMA application_id").fetchone()[0]
    if application_id == 0:
        if connection.execute("SELECT count(*) FROM sqlite_schema").fetchone()[0]:
            raise CensusStoreError(
                f"{path} is an SQLite database of another program; refusing to write to it"
            )
        if plc_url is None:
            raise CensusStoreError(f"{path} is not a census database (it is empty)")
        _create(connection, plc_url)
    elif application_id != APPLICATION_ID:
        raise CensusStoreError(
            f"{path} is an SQLite database of another program (application id "
            f"{application_id:#x}); refusing to write to it"
        )
    version = connection.execute("PRAGMA user_version").fetchone()[0]
    if version < SCHEMA_VERSION:
        raise CensusStoreError(
            f"{path} was made by an older decaudit (census schema version {version}, text in "
            f"every row); this decaudit reads version {SCHEMA_VERSION}: run the census into a "
            "new file (the old one stays readable by the older version)"
        )
    if version != SCHEMA_VERSION:
        raise CensusStoreError(
            f"{path} has census schema version {version}; this decaudit "
            f"reads version {SCHEMA_VERSION}"
        )
    _tune(connection, writer=plc_url is not None)
    found = connection.execute("SELECT value FROM meta WHERE key = 'plc_url'").fetchone()
    stored = str(found[0]) if found else ""
    if plc_url is not None and stored != plc_url:
        raise CensusStoreError(
            f"{path} holds a census of {stored or 'an unknown directory'}, "
            f"not of {plc_url}; use another file"
        )
    return stored


def _create(connection: sqlite3.Connection, plc_url: str) -> None:
    connection.execute(f"PRAGMA page_size = {_PAGE_SIZE}")
    connection.execute("PRAGMA journal_mode = WAL")
    connection.execute("BEGIN IMMEDIATE")
    for statement in _SCHEMA:
        connection.execute(statement)
    connection.execute("INSERT INTO meta VALUES ('plc_url', ?), ('cursor', '0')", (plc_url,))
    connection.execute(f"PRAGMA application_id = {APPLICATION_ID}")
    connection.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
    connection.execute("COMMIT")


def _tune(connection: sqlite3.Connection, *, writer: bool) -> None:
    if writer:
        # One writer holds the file for the whole run: no lock or shared-memory traffic per
        # page, and a second run on the same file is refused instead of interleaved.
        connection.execute("PRAGMA locking_mode = EXCLUSIVE")
        connection.execute(f"PRAGMA wal_autocheckpoint = {_WRITER_CHECKPOINT_PAGES}")
    connection.execute("PRAGMA journal_mode = WAL")
    connection.execute("PRAGMA synchronous = NORMAL")
    connection.execute(f"PRAGMA cache_size = -{_CACHE_KIB}")
    connection.execute("PRAGMA temp_store = FILE")
