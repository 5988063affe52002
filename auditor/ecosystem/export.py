"""One page of the PLC directory's sequenced ``/export``, checked and reduced to census rows.

Pure: bytes in, rows out, no I/O. The census (:mod:`auditor.ecosystem.census`) fetches pages and
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

Row fields: ``seq``, ``did``, the PDS host (``atproto_pds`` service of type
``AtprotoPersonalDataServer``, lowercased host without port, or None), the handle (the first
syntactically valid ``at://`` alias, lowercased, or None), the handle's registrable domain (Public
Suffix List), the rotation keys as a JSON array in priority order, and whether the operation is a
tombstone.
"""

from __future__ import annotations

import gc
import re
from dataclasses import dataclass
from typing import Annotated, Any, Final, Literal, NoReturn

import msgspec

from auditor import plc
from auditor.attribution import host_of, registrable_domain

__all__ = [
    "PLC_DID_PATTERN",
    "CensusInputError",
    "ParsedPage",
    "Row",
    "parse_page",
]

PLC_DID_PATTERN: Final = r"^did:plc:[a-z2-7]{24}$"
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

Row = tuple[int, str, str | None, str | None, str | None, str, int]
"""``(seq, did, pds_host, handle, handle_domain, rotation_keys_json, tombstoned)``."""


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
    rotationKeys: msgspec.Raw  # checked as a list of strings by _rotation_keys (cached)
    verificationMethods: dict[str, str]  # the wire names
    alsoKnownAs: list[str]
    services: dict[str, _Service]
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
    did: Annotated[str, msgspec.Meta(pattern=PLC_DID_PATTERN)]
    operation: _Operation | _Tombstone | _Create
    cid: str
    createdAt: str


_PAGE_DECODER: Final = msgspec.json.Decoder(_SequencedOp)
"""Decodes a page with ``decode_lines`` (JSON lines, no copy) or one line with ``decode``."""
_KEYS_ENCODER: Final = msgspec.json.Encoder()


@dataclass(frozen=True, slots=True)
class ParsedPage:
    """A checked page: its rows in sequence order."""

    rows: list[Row]
    last_seq: int
    """The cursor after this page (``after`` itself for an empty page)."""
    geneses: int
    """Operations with ``prev`` null: each is a DID's first operation, so this counts new DIDs."""


def parse_page(body: bytes, *, after: int, page: int) -> ParsedPage:
    """Check a page fetched with ``after`` and reduce it to rows; raises CensusInputError.

    The cyclic garbage collector is paused while a page is decoded and reduced: the page makes
    thousands of lists and dicts (of strings only, so no cycles), and collecting them over and
    over was a tenth of the ingestion time. Nothing here awaits, so no other task runs meanwhile.
    """
    text = body[:-1] if body.endswith(b"\n") else body
    if not text or text.isspace():
        return ParsedPage([], after, 0)
    lines = text.count(b"\n") + 1
    collecting = gc.isenabled()
    gc.disable()
    try:
        try:
            items = _PAGE_DECODER.decode_lines(text)
        except (msgspec.DecodeError, msgspec.ValidationError):
            items = []
        if len(items) != lines:
            _locate_bad_line(text, after=after, page=page)
        return _rows(items, after=after, page=page)
    finally:
        if collecting:
            gc.enable()


def _locate_bad_line(text: bytes, *, after: int, page: int) -> None:
    """Raise CensusInputError for the first line that is not one valid sequenced operation."""
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


def _rows(items: list[_SequencedOp], *, after: int, page: int) -> ParsedPage:
    """The rows of decoded items: the hot loop of ingestion, so caches are inlined."""
    rows: list[Row] = []
    append = rows.append
    hosts, parents, keysets = _HOSTS, _PARENTS, _KEYSETS
    last = after
    geneses = 0
    for item in items:
        seq = item.seq
        if seq <= last:
            _order_error(items, item, last, after=after, page=page)
        last = seq
        op = item.operation
        if op.prev is None:
            geneses += 1
        if isinstance(op, _Operation):  # inlines _pds_host's cache and _handle_of
            service = op.services.get("atproto_pds")
            host = None
            if service is not None and service.type == _PDS_TYPE:
                host = hosts.get(service.endpoint, _MISSING)
                if host is _MISSING:
                    host = _pds_host(service.endpoint)
            handle = domain = None
            for alias in op.alsoKnownAs:
                if not alias.startswith("at://"):
                    continue
                name = alias[5:].lower()
                first, _, parent = name.partition(".")
                found = parents.get(parent, _MISSING)
                if found is _MISSING:
                    found = _parent_domain(parent)
                if (
                    found is not None
                    and len(name) <= _MAX_HANDLE
                    and len(first) <= _MAX_LABEL
                    and first.isascii()
                    and first.replace("-", "").isalnum()
                    and first[0] != "-"
                    and first[-1] != "-"
                ):
                    handle, domain = name, found or name
                    break
            raw = bytes(op.rotationKeys)
            keys = keysets.get(raw) or _rotation_keys(raw, items, item, after=after, page=page)
            append((seq, item.did, host, handle, domain, keys, 0))
        elif isinstance(op, _Tombstone):
            append((seq, item.did, None, None, None, "[]", 1))
        else:
            append(_legacy_row(seq, item.did, op))
    return ParsedPage(rows, last, geneses)


def _order_error(
    items: list[_SequencedOp], item: _SequencedOp, last: int, *, after: int, page: int
) -> NoReturn:
    line = _line_of(items, item)
    raise CensusInputError(
        _order_problem(item.seq, last, line, after), page=page, after=after, line=line
    )


def _line_of(items: list[_SequencedOp], item: _SequencedOp) -> int:
    return next(number for number, found in enumerate(items, 1) if found is item)


def _order_problem(seq: int, last: int, line: int, after: int) -> str:
    if line == 1:
        return (
            f"seq {seq} is not greater than the cursor {after} the page was asked for "
            "(the page repeats earlier operations or is out of order)"
        )
    return f"seq {seq} is not greater than the previous line's seq {last} (repeated or decreasing)"


def _legacy_row(seq: int, did: str, op: _Create) -> Row:
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
    return (seq, did, host, handle, domain, keys, 0)


def _handle_of(aliases: list[str] | tuple[str, ...]) -> tuple[str | None, str | None]:
    """The first syntactically valid ``at://`` handle (lowercased) and its registrable domain.

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
        if found is _MISSING:
            found = _parent_domain(parent)
        if found is not None and len(name) <= _MAX_HANDLE and _label_ok(first):
            return name, found or name
    return None, None


def _label_ok(label: str) -> bool:
    return (
        len(label) <= _MAX_LABEL
        and label.isascii()
        and label.replace("-", "").isalnum()
        and label[0] != "-"
        and label[-1] != "-"
    )


_MISSING: Final = "\x00"
"""Cache sentinel (never a host or domain)."""
_HOSTS: dict[str, str | None] = {}
_PARENTS: dict[str, str | None] = {}
"""Parent domain of a handle -> its registrable domain, "" when the parent is a public suffix
(``com``: the handle is then its own registrable domain), None when it is not domain syntax."""
_KEYSETS: dict[bytes, str] = {}
_KEYSET_DECODER: Final = msgspec.json.Decoder(list[str])


def _bounded(cache: dict[Any, Any]) -> None:
    if len(cache) >= _CACHE_LIMIT:
        cache.clear()


def _pds_host(endpoint: str) -> str | None:
    """The endpoint's host (cached: a few thousand PDS endpoints serve every account)."""
    _bounded(_HOSTS)
    host = host_of(endpoint) or None
    _HOSTS[endpoint] = host
    return host


def _parent_domain(parent: str) -> str | None:
    """Fill the parent cache: a handle is valid when its first label is and its parent is."""
    _bounded(_PARENTS)
    found = (registrable_domain(parent) or "") if _PARENT_RE.fullmatch(parent) else None
    _PARENTS[parent] = found
    return found


def _rotation_keys(
    raw: bytes, items: list[_SequencedOp], item: _SequencedOp, *, after: int, page: int
) -> str:
    """Check a ``rotationKeys`` value (a list of strings) and return it as compact JSON."""
    try:
        keys = _KEYSET_DECODER.decode(raw)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        line = _line_of(items, item)
        problem = f"not a valid sequenced operation: rotationKeys: {exc}"
        raise CensusInputError(problem, page=page, after=after, line=line) from None
    _bounded(_KEYSETS)
    text = _KEYS_ENCODER.encode(keys).decode()
    _KEYSETS[raw] = text
    return text
