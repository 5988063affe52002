"""Interpret a DID document the way AT Protocol does, tolerating what real servers send.

Pure functions over the raw JSON (kept verbatim in the evidence): the claimed handle is the *first*
syntactically valid ``at://`` entry of ``alsoKnownAs``; the signing key is the first verification
method whose id ends in ``#atproto`` (absolute ``did:...#atproto`` or relative ``#atproto``), as a
``Multikey`` or one of the legacy ``EcdsaSecp256{k,r}1VerificationKey2019`` types; the PDS is the
first
service whose id ends in ``#atproto_pds`` with type ``AtprotoPersonalDataServer``. Every deviation
is
recorded as a problem, never raised: a broken document is a finding about the account.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import urlsplit

from auditor import crypto, syntax
from auditor.crypto import LEGACY_KEY_TYPES
from auditor.plc import PDS_SERVICE_TYPE


@dataclass(frozen=True, slots=True)
class SigningKey:
    """The account's current ``#atproto`` signing key."""

    id: str
    type: str
    """``Multikey`` or a legacy type name."""
    did_key: str
    """The same key as a ``did:key`` (what PLC operations and commit checks use)."""
    curve: str


@dataclass(frozen=True, slots=True)
class ServiceEntry:
    """One entry of the document's ``service`` list."""

    id: str
    type: str
    endpoint: str


@dataclass(frozen=True, slots=True)
class DidDocument:
    """What AT Protocol reads from a DID document, plus what was wrong with it."""

    id: str | None
    also_known_as: tuple[str, ...]
    handle: str | None
    """First syntactically valid handle in ``alsoKnownAs`` (normalised), or None."""
    signing_key: SigningKey | None
    pds_endpoint: str | None
    services: tuple[ServiceEntry, ...]
    problems: tuple[str, ...] = field(default=())


def _fragment_matches(entry_id: object, did: str | None, fragment: str) -> bool:
    if not isinstance(entry_id, str):
        return False
    return entry_id == f"#{fragment}" or (did is not None and entry_id == f"{did}#{fragment}")


def claimed_handle(aliases: tuple[str, ...]) -> str | None:
    for alias in aliases:
        if alias.startswith("at://"):
            candidate = alias[len("at://") :]
            if syntax.is_valid_handle(candidate):
                return syntax.normalize_handle(candidate)
    return None


def _signing_key(methods: object, did: str | None, problems: list[str]) -> SigningKey | None:
    if not isinstance(methods, list):
        if methods is not None:
            problems.append("verificationMethod is not a list")
        return None
    for method in methods:
        if not isinstance(method, dict) or not _fragment_matches(method.get("id"), did, "atproto"):
            continue
        key_type = method.get("type")
        multibase = method.get("publicKeyMultibase")
        controller = method.get("controller")
        if did is not None and controller != did:
            problems.append(f"#atproto key controller is {controller!r}, not the DID")
        if not isinstance(key_type, str) or not isinstance(multibase, str):
            problems.append("#atproto key has no type or publicKeyMultibase string")
            return None
        try:
            if key_type == "Multikey":
                key = crypto.parse_multikey(multibase)
            elif key_type in LEGACY_KEY_TYPES:
                key = crypto.parse_legacy_key(key_type, multibase)
            else:
                problems.append(f"#atproto key has unsupported type {key_type!r}")
                return None
        except crypto.KeyFormatError as exc:
            problems.append(f"#atproto key is malformed: {exc}")
            return None
        return SigningKey(str(method["id"]), key_type, key.did_key, key.curve)
    problems.append("no #atproto verification method (no signing key)")
    return None


def _services(raw: object, problems: list[str]) -> tuple[ServiceEntry, ...]:
    if not isinstance(raw, list):
        if raw is not None:
            problems.append("service is not a list")
        return ()
    entries = []
    for item in raw:
        if not isinstance(item, dict):
            continue
        sid, stype, endpoint = item.get("id"), item.get("type"), item.get("serviceEndpoint")
        if isinstance(sid, str) and isinstance(stype, str) and isinstance(endpoint, str):
            entries.append(ServiceEntry(sid, stype, endpoint))
    return tuple(entries)


def _pds_endpoint(
    services: tuple[ServiceEntry, ...], did: str | None, problems: list[str]
) -> str | None:
    for service in services:
        if not _fragment_matches(service.id, did, "atproto_pds"):
            continue
        if service.type != PDS_SERVICE_TYPE:
            problems.append(f"#atproto_pds service has type {service.type!r}")
            return None
        parts = urlsplit(service.endpoint)
        if parts.scheme not in ("https", "http") or not parts.hostname:
            problems.append(f"#atproto_pds endpoint {service.endpoint!r} is not an http(s) URL")
            return None
        if parts.path not in ("", "/") or parts.query or parts.fragment:
            problems.append(f"#atproto_pds endpoint {service.endpoint!r} has a path or query")
        return service.endpoint.rstrip("/")
    problems.append("no #atproto_pds service (no PDS)")
    return None


def parse_did_document(raw: object, expected_did: str | None = None) -> DidDocument:
    """Read the AT Protocol view of a DID document; never raises."""
    problems: list[str] = []
    if not isinstance(raw, dict):
        return DidDocument(None, (), None, None, None, (), ("document is not a JSON object",))
    doc_id = raw.get("id") if isinstance(raw.get("id"), str) else None
    if doc_id is None:
        problems.append("document has no id")
    elif expected_did is not None and doc_id != expected_did:
        problems.append(f"document id {doc_id} differs from the DID asked for ({expected_did})")
    aliases_raw = raw.get("alsoKnownAs", [])
    aliases = (
        tuple(a for a in aliases_raw if isinstance(a, str)) if isinstance(aliases_raw, list) else ()
    )
    did = expected_did or doc_id
    services = _services(raw.get("service"), problems)
    return DidDocument(
        id=doc_id,
        also_known_as=aliases,
        handle=claimed_handle(aliases),
        signing_key=_signing_key(raw.get("verificationMethod"), did, problems),
        pds_endpoint=_pds_endpoint(services, did, problems),
        services=services,
        problems=tuple(problems),
    )
