"""One page of the PLC directory's sequenced ``/export``, checked and reduced to census rows.

No I/O: bytes in, rows out. The census (:mod:`auditor.ecosystem.census`) fetches pages and
:mod:`auditor.ecosystem.store` commits the rows; this module decides what a page means.

The format (did-method-plc ``packages/server/src/routes.ts``; facts §1.5): with an integer
``after``, ``GET /export?after=N&count=1000`` answers JSON lines
``{"type": "sequenced_op", "seq", "did", "operation", "cid", "createdAt"}`` with ``seq`` strictly
increasing from ``N + 1``. Nothing in a page is trusted that is not checked:

* **every line** is decoded against a strict schema (msgspec, in C: it is most of the ingestion
  budget): exactly the envelope fields above, a ``did:plc:`` + 24 base32 identifier, an integer
  ``seq``, and an operation of exactly the shape :func:`auditor.plc.operation_state` accepts
  (``plc_operation``, ``plc_tombstone`` or a legacy ``create``, no missing or extra fields, the
  same types). A page is decoded as JSON lines in one call; if that fails, or the number of
  values differs from the number of lines (a blank line, two objects on one line), the page is
  decoded again line by line to name the first bad line;
* **sequence**: the first ``seq`` must be above the cursor the page was asked for, and each
  following one above its predecessor: a repeated, decreasing or out-of-order page is refused.

Three checks are not left to msgspec field by field, because per value they were a third of the
decoding time, while the values recur or can be checked a page at a time (same verdicts, tested):

* a DID's characters: msgspec checks each DID's length (32, in C); the ``did:plc:`` + base32 shape
  is checked with one regular expression over the DIDs of a chunk of the page joined (see
  :func:`parse_page`), instead of one call from C back into ``re`` per line (0.6 us per line);
* ``services`` and ``rotationKeys`` are kept as raw JSON and checked (and reduced) once per
  distinct byte string, in the bounded caches of a :class:`Vocabulary`: a few thousand PDS
  services documents and rotation-key lists serve every account.

Any violation raises :class:`CensusInputError` naming the page, its ``after`` cursor and the line,
before anything of the page is stored (the caller commits nothing of a bad page). Signatures and
genesis hashes are not verified: the census counts what the directory publishes; verifying one
account's whole history is the per-account audit's job (:func:`auditor.plc.verify_audit_log`).

**Nullification and forks.** The sequenced export lists every operation the directory accepted,
in acceptance order, including ones a later recovery operation nullified; it carries no
``nullified`` flag. The census keeps, per DID, the operation with the highest ``seq``. That is the
current state: the directory only accepts an operation that builds on the valid chain or forks
it as a recovery (did:plc spec, "Audit Logs"), so nothing accepted after a recovery can build on a
nullified operation, and the latest accepted operation is always the head of the valid chain.
Keeping "the op whose ``prev`` is the stored head" instead would wrongly reject exactly those
recoveries (their ``prev`` is an older operation).

Row fields (:data:`Row`): ``seq``, ``did``, the PDS host (``atproto_pds`` service of type
``AtprotoPersonalDataServer``, lowercased host without port, or None) as an id of the
:class:`Vocabulary`, the handle (the first syntactically valid ``at://`` alias, lowercased, or
None), the length of the handle's registrable domain (Public Suffix List; it is always a suffix of
the handle, 0 when it is the whole handle), and the rotation keys (a JSON array in priority order)
as an id of the vocabulary, None for a tombstone. Ids instead of text make the rows half as long,
which is a quarter of SQLite's time; the store keeps the text in two lookup tables and a view puts
it back. A page's rows come as one flat list of values (:attr:`ParsedPage.values`), the parameters
of the store's multi-row ``INSERT`` as they are: no tuple per row to build and flatten again.
"""

from __future__ import annotations

import gc
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Annotated, Any, Final, Literal, NoReturn, TypeVar

import msgspec

from auditor import plc
from auditor.attribution import host_of, registrable_domain

__all__ = [
    "PLC_DID_PATTERN",
    "ROW_FIELDS",
    "CensusInputError",
    "ParsedPage",
    "Row",
    "Vocabulary",
    "parse_page",
]

PLC_DID_PATTERN: Final = r"^did:plc:[a-z2-7]{24}$"
_DID_LENGTH: Final = 32
_DIDS_RE: Final = re.compile(r"(?:did:plc:[a-z2-7]{24})*")
"""Every DID of a chunk, joined: each has exactly 32 characters (msgspec checked), so the joined
text matches if and only if each DID matches :data:`PLC_DID_PATTERN`."""
_PARENT_RE: Final = re.compile(
    r"([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z]([a-z0-9-]{0,61}[a-z0-9])?"
)
"""What may follow a handle's first label: labels, the last (the TLD) starting with a letter.
The hot loop checks the first label with string methods and the parent once (cached): the same
verdicts as :func:`auditor.syntax.is_valid_handle` on lowercased input (a test keeps them in step),
several times faster than the whole-handle expression."""
_MAX_HANDLE: Final = 253
_MAX_LABEL: Final = 63
_PDS_TYPE: Final = plc.PDS_SERVICE_TYPE
_CACHE_LIMIT: Final = 65_536
_CACHED_BYTES: Final = 512
"""Longer values are not cached (a real services document or key list is 100-300 bytes): with
:data:`_CACHE_LIMIT`, each of the five caches holds at most 32 MiB of keys, whatever a hostile
directory sends."""
_CHUNK_BYTES: Final = 64 * 1024
"""Decode and reduce a page this much at a time (about 90 lines): see :func:`parse_page`."""
_MISSING: Final = -1
"""Cache sentinel (ids start at 1 and suffix lengths at 0)."""
_T = TypeVar("_T")

Row = tuple[int, str, int | None, str | None, int | None, int | None]
"""``(seq, did, pds_host_id, handle, handle_domain_length, rotation_keys_id)``: ``pds_host_id``
and ``rotation_keys_id`` are :class:`Vocabulary` ids (``rotation_keys_id`` None: a tombstone); the
handle's registrable domain is its last ``handle_domain_length`` characters (0: the whole handle;
None: no handle)."""
ROW_FIELDS: Final = 6
Value = int | str | None


class CensusInputError(ValueError):
    """A PLC export page that is malformed, out of order or repeats sequence numbers."""

    def __init__(self, problem: str, *, page: int, after: int, line: int | None = None) -> None:
        where = f"PLC export page {page} (after={after})"
        if line is not None:
            where += f", line {line}"
        super().__init__(f"{where}: {problem}")
        self.problem = problem
        self.page = page
        self.after = after
        self.line = line


class _Service(msgspec.Struct, gc=False):
    type: str
    endpoint: str


class _Operation(
    msgspec.Struct, tag_field="type", tag="plc_operation", forbid_unknown_fields=True, gc=False
):
    rotationKeys: msgspec.Raw  # checked as list[str] once per distinct value (Vocabulary)
    verificationMethods: dict[str, str]  # the wire names
    alsoKnownAs: list[str]
    services: msgspec.Raw  # checked as dict[str, _Service] once per distinct value (Vocabulary)
    prev: str | None
    sig: str


class _Tombstone(
    msgspec.Struct, tag_field="type", tag="plc_tombstone", forbid_unknown_fields=True, gc=False
):
    prev: str
    sig: str


class _Create(msgspec.Struct, tag_field="type", tag="create", forbid_unknown_fields=True, gc=False):
    signingKey: str
    recoveryKey: str
    handle: str
    service: str
    prev: None
    sig: str


class _SequencedOp(msgspec.Struct, forbid_unknown_fields=True, gc=False):
    type: Literal["sequenced_op"]
    seq: int
    did: Annotated[str, msgspec.Meta(min_length=_DID_LENGTH, max_length=_DID_LENGTH)]
    """The shape (:data:`PLC_DID_PATTERN`) is checked a chunk at a time: :func:`_check_dids`."""
    operation: _Operation | _Tombstone | _Create
    cid: str
    createdAt: str


_PAGE_DECODER: Final = msgspec.json.Decoder(_SequencedOp)
"""Decodes a page with ``decode_lines`` (JSON lines, no copy) or one line with ``decode``."""
_SERVICES_DECODER: Final = msgspec.json.Decoder(dict[str, _Service])
_KEYS_DECODER: Final = msgspec.json.Decoder(list[str])
_KEYS_ENCODER: Final = msgspec.json.Encoder()


class _BadValue(ValueError):
    """A raw sub-value that is not of its field's type (the caller names the page and line)."""


@dataclass(slots=True)
class Vocabulary:
    """The interned PDS hosts and rotation-key lists of one census database, and the caches that
    reduce raw sub-values to their ids.

    Rows carry small integer ids instead of a host name and a ~115-byte JSON array: shorter rows
    are cheaper for SQLite to encode and write. Ids are given here, in order, without asking the
    database; the store writes the ``new_*`` entries in the same transaction as the first rows
    that use them (:meth:`take_new`), and throws the whole vocabulary away if that transaction
    fails (:meth:`CensusStore.append_page`), so a row never refers to an id that is not stored.
    Ids given for a page that turns out bad are written with the next page that is stored.

    Every cache is bounded (:data:`_CACHE_LIMIT` entries, then cleared), whatever the number of
    DIDs: a value seen again after a clear gets a new id, so a text may appear under two ids in a
    lookup table, which is harmless (the view joins by id) and rare (a few thousand PDS services
    documents and key lists serve nearly every account). Values longer than
    :data:`_CACHED_BYTES` are checked each time and never cached.
    """

    next_host: int = 1
    next_keys: int = 1
    services: dict[bytes, int | None] = field(default_factory=dict)
    """Raw ``services`` JSON -> id of its PDS host (None: no PDS service)."""
    keysets: dict[bytes, int] = field(default_factory=dict)
    """Raw ``rotationKeys`` JSON -> id of the compact JSON array."""
    host_ids: dict[str, int] = field(default_factory=dict)
    keys_ids: dict[str, int] = field(default_factory=dict)
    new_hosts: list[tuple[int, str]] = field(default_factory=list)
    new_keys: list[tuple[int, str]] = field(default_factory=list)

    def host_id(self, host: str | None) -> int | None:
        """The id of a PDS host name (None for no host), given on first sight."""
        if host is None:
            return None
        found = self.host_ids.get(host)
        if found is None:
            found = self.next_host
            self.next_host += 1
            self.new_hosts.append((found, host))
            _remember(self.host_ids, host, found)
        return found

    def keys_id(self, keys: str) -> int:
        """The id of a rotation-key list in compact JSON, given on first sight."""
        found = self.keys_ids.get(keys)
        if found is None:
            found = self.next_keys
            self.next_keys += 1
            self.new_keys.append((found, keys))
            _remember(self.keys_ids, keys, found)
        return found

    def take_new(self) -> tuple[list[tuple[int, str]], list[tuple[int, str]]]:
        """The hosts and key lists given ids since the last call (for the store to write)."""
        hosts, keys = self.new_hosts, self.new_keys
        self.new_hosts, self.new_keys = [], []
        return hosts, keys

    def _services_host(self, raw: bytes) -> int | None:
        """Check a raw ``services`` value and cache the id of its PDS host (raises _BadValue)."""
        try:
            services = _SERVICES_DECODER.decode(raw)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            raise _BadValue(f"services: {exc}") from None
        service = services.get("atproto_pds")
        host = None
        if service is not None and service.type == _PDS_TYPE:
            host = host_of(service.endpoint) or None
        found = self.host_id(host)
        _remember(self.services, raw, found)
        return found

    def _keyset(self, raw: bytes) -> int:
        """Check a raw ``rotationKeys`` value and cache the id of its compact JSON."""
        try:
            keys = _KEYS_DECODER.decode(raw)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            raise _BadValue(f"rotationKeys: {exc}") from None
        found = self.keys_id(_KEYS_ENCODER.encode(keys).decode())
        _remember(self.keysets, raw, found)
        return found


@dataclass(frozen=True, slots=True)
class ParsedPage:
    """A checked page: its rows in sequence order."""

    values: list[Value]
    """The fields of every row, one row after another (:data:`ROW_FIELDS` values a row)."""
    last_seq: int
    """The cursor after this page (``after`` itself for an empty page)."""
    geneses: int
    """Operations with ``prev`` null: each is a DID's first operation, so this counts new DIDs."""
    vocabulary: Vocabulary
    """Whose ids the rows hold (the store refuses a page parsed with another's)."""

    @property
    def count(self) -> int:
        """The number of rows (operations) of the page."""
        return len(self.values) // ROW_FIELDS

    @property
    def rows(self) -> list[Row]:
        """The rows as tuples (for reading; the store takes :attr:`values`)."""
        values = self.values
        return [
            tuple(values[start : start + ROW_FIELDS])  # type: ignore[misc]
            for start in range(0, len(values), ROW_FIELDS)
        ]


def parse_page(
    body: bytes, *, after: int, page: int, vocabulary: Vocabulary | None = None
) -> ParsedPage:
    """Check a page fetched with ``after`` and reduce it to rows; raises CensusInputError.

    ``vocabulary`` is the store's (:attr:`CensusStore.vocabulary`): the rows' ids are its ids.
    None uses a fresh one, for callers that only check a page.

    The page is decoded and reduced a chunk of about :data:`_CHUNK_BYTES` at a time (slices of
    the body, not copies): the objects msgspec makes for a chunk are reduced while they are still
    in the CPU's cache, and the next chunk reuses their memory. Decoding all 1,000 lines first
    and reducing them after was 0.5 us a line slower (a page's objects are about 1 MB).

    The cyclic garbage collector is paused while a page is decoded and reduced: the page makes
    thousands of lists and dicts (of strings only, so no cycles), and collecting them over and
    over was a tenth of the ingestion time. Nothing here awaits, so no other task runs meanwhile.
    """
    if vocabulary is None:
        vocabulary = Vocabulary()
    if not body or body.isspace():
        return ParsedPage([], after, 0, vocabulary)
    values: list[Value] = []
    last, geneses, lines = after, 0, 0
    view, size = memoryview(body), len(body)
    collecting = gc.isenabled()
    gc.disable()
    try:
        start = 0
        while start < size:
            cut = body.find(b"\n", start + _CHUNK_BYTES)
            end = size if cut < 0 else cut + 1
            try:
                items = _PAGE_DECODER.decode_lines(view[start:end])
            except (msgspec.DecodeError, msgspec.ValidationError):
                items = []
            # decode_lines skips blank lines: counting the lines is how one is caught
            if len(items) != body.count(b"\n", start, end) + (body[end - 1] != 0x0A):
                _locate_bad_line(body, after=after, page=page)
            chunk = _Chunk(items, lines, after, page)
            last, geneses = _reduce(chunk, vocabulary, values, last, geneses)
            _check_dids(values[lines * ROW_FIELDS + 1 :: ROW_FIELDS], chunk)
            lines += len(items)
            start = end
        return ParsedPage(values, last, geneses, vocabulary)
    finally:
        if collecting:
            gc.enable()


def _locate_bad_line(body: bytes, *, after: int, page: int) -> NoReturn:
    """Raise CensusInputError for the first line that is not one valid sequenced operation."""
    text = body[:-1] if body.endswith(b"\n") else body
    for number, raw in enumerate(text.split(b"\n"), start=1):
        if not raw.strip():
            raise CensusInputError("empty line", page=page, after=after, line=number)
        try:
            _PAGE_DECODER.decode(raw)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            raise CensusInputError(
                f"not a valid sequenced operation: {exc}", page=page, after=after, line=number
            ) from None
    raise CensusInputError("the page is not valid JSON lines", page=page, after=after)


def _check_dids(dids: list[Any], chunk: _Chunk) -> None:
    """Check every DID of a chunk against :data:`PLC_DID_PATTERN` with one regex call."""
    if _DIDS_RE.fullmatch("".join(dids)):
        return
    pattern = re.compile(PLC_DID_PATTERN)
    item = next(item for item in chunk.items if not pattern.match(item.did))
    problem = f"not a valid sequenced operation: Expected `str` matching regex {PLC_DID_PATTERN!r}"
    raise chunk.error(f"{problem} - at `$.did` (got {item.did!r})", item)


@dataclass(frozen=True, slots=True)
class _Chunk:
    """Decoded items of a page and where they are, to name a bad line."""

    items: list[_SequencedOp]
    lines_before: int
    """Lines of the page before this chunk."""
    after: int
    page: int

    def error(self, problem: str, item: _SequencedOp) -> CensusInputError:
        line = self.lines_before + next(n for n, found in enumerate(self.items, 1) if found is item)
        return CensusInputError(problem, page=self.page, after=self.after, line=line)


def _reduce(
    chunk: _Chunk, vocabulary: Vocabulary, values: list[Value], last: int, geneses: int
) -> tuple[int, int]:
    """Append the rows of a chunk's items to ``values``; returns the last ``seq`` and the
    geneses so far. The hot loop of ingestion, so the caches are inlined (a miss calls the
    method that checks the raw value and fills the cache)."""
    extend = values.extend
    services, keysets, parents = vocabulary.services, vocabulary.keysets, _PARENTS
    for item in chunk.items:
        seq = item.seq
        if seq <= last:
            raise chunk.error(_order_problem(seq, last, chunk, item), item)
        last = seq
        op = item.operation
        if op.prev is None:
            geneses += 1
        if isinstance(op, _Operation):  # inlines the caches and _handle_of
            raw = b"" + op.services  # a copy as bytes: half the time of bytes(op.services)
            host = services.get(raw, _MISSING)
            if host == _MISSING:
                host = _checked(vocabulary._services_host, raw, chunk, item)
            handle = domain = None
            for alias in op.alsoKnownAs:
                if not alias.startswith("at://"):
                    continue
                name = alias[5:].lower()
                first, _, parent = name.partition(".")
                found = parents.get(parent, _MISSING)
                if found == _MISSING:
                    found = _parent_domain(parent)
                if (
                    found is not None
                    and len(name) <= _MAX_HANDLE
                    # most labels have no hyphen: two calls, no copy; else the whole rule
                    and (
                        (first.isalnum() and first.isascii() and len(first) <= _MAX_LABEL)
                        or _label_ok(first)
                    )
                ):
                    handle, domain = name, found
                    break
            raw = b"" + op.rotationKeys
            keys = keysets.get(raw) or _checked(vocabulary._keyset, raw, chunk, item)
            extend((seq, item.did, host, handle, domain, keys))
        elif isinstance(op, _Tombstone):
            extend((seq, item.did, None, None, None, None))
        else:
            extend(_legacy_row(seq, item.did, op, vocabulary))
    return last, geneses


def _checked(check: Callable[[bytes], _T], raw: bytes, chunk: _Chunk, item: _SequencedOp) -> _T:
    """A cache miss: ``check`` the raw value (and fill the cache), naming the line if it fails."""
    try:
        return check(raw)
    except _BadValue as exc:
        raise chunk.error(f"not a valid sequenced operation: {exc}", item) from None


def _order_problem(seq: int, last: int, chunk: _Chunk, item: _SequencedOp) -> str:
    if chunk.lines_before == 0 and item is chunk.items[0]:
        return (
            f"seq {seq} is not greater than the cursor {chunk.after} the page was asked for "
            "(the page repeats earlier operations or is out of order)"
        )
    return f"seq {seq} is not greater than the previous line's seq {last} (repeated or decreasing)"


def _legacy_row(seq: int, did: str, op: _Create, vocabulary: Vocabulary) -> Row:
    """A legacy genesis ``create``, normalised exactly as :func:`auditor.plc.operation_state`."""
    state = plc.operation_state(
        {
            "type": "create",
            "signingKey": op.signingKey,
            "recoveryKey": op.recoveryKey,
            "handle": op.handle,
            "service": op.service,
            "prev": None,
            "sig": op.sig,
        }
    )
    service = state.services.get("atproto_pds")
    host = host_of(service.endpoint) or None if service is not None else None
    handle, domain = _handle_of(state.also_known_as)
    keys = _KEYS_ENCODER.encode(list(state.rotation_keys)).decode()
    return (seq, did, vocabulary.host_id(host), handle, domain, vocabulary.keys_id(keys))


def _handle_of(aliases: list[str] | tuple[str, ...]) -> tuple[str | None, int | None]:
    """The first syntactically valid ``at://`` handle (lowercased) and its registrable domain's
    length (0: the handle itself).

    The rule :func:`_rows` inlines: the first label is 1-63 ASCII letters, digits and inner
    hyphens, and the rest is a valid parent domain (cached per parent, with its registrable
    domain: ``bsky.social`` for ``alice.bsky.social``; for ``alice.com``, whose parent ``com`` is a
    public suffix, the handle itself).
    """
    for alias in aliases:
        if not alias.startswith("at://"):
            continue
        name = alias[5:].lower()
        first, _, parent = name.partition(".")
        found = _PARENTS.get(parent, _MISSING)
        if found == _MISSING:
            found = _parent_domain(parent)
        if found is not None and len(name) <= _MAX_HANDLE and _label_ok(first):
            return name, found
    return None, None


def _label_ok(label: str) -> bool:
    return (
        len(label) <= _MAX_LABEL
        and label.isascii()
        and label.replace("-", "").isalnum()
        and label[0] != "-"
        and label[-1] != "-"
    )


_PARENTS: dict[str, int | None] = {}
"""Parent domain of a handle -> length of its registrable domain (a suffix of the parent), 0 when
the parent is a public suffix (``com``: the handle is then its own registrable domain), None when
it is not domain syntax. Ids are not involved, so one cache serves every database."""


def _remember(cache: dict[Any, Any], key: str | bytes, value: Any) -> None:
    """Cache ``key`` unless it is too long; clear a full cache first (bounded memory)."""
    if len(key) <= _CACHED_BYTES:
        if len(cache) >= _CACHE_LIMIT:
            cache.clear()
        cache[key] = value


def _parent_domain(parent: str) -> int | None:
    """Fill the parent cache: a handle is valid when its first label is and its parent is."""
    if not _PARENT_RE.fullmatch(parent):
        found = None
    else:
        domain = registrable_domain(parent) or ""
        if not parent.endswith(domain):  # the Public Suffix List only ever cuts labels off
            raise AssertionError(f"registrable domain {domain!r} is not a suffix of {parent!r}")
        found = len(domain)
    _remember(_PARENTS, parent, found)
    return found
