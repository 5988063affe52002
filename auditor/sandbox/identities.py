"""Identities with real keys: did:plc histories with signed operations, and did:web documents."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from auditor import plc
from auditor.crypto import PrivateKey
from auditor.sandbox.clock import days_ago, stamp


def _operation(
    rotation: list[PrivateKey], signing: PrivateKey, handle: str, pds: str, prev: str | None
) -> dict[str, Any]:
    return {
        "type": "plc_operation",
        "rotationKeys": [key.public_key.did_key for key in rotation],
        "verificationMethods": {"atproto": signing.public_key.did_key},
        "alsoKnownAs": [f"at://{handle}"],
        "services": {"atproto_pds": {"type": plc.PDS_SERVICE_TYPE, "endpoint": pds}},
        "prev": prev,
    }


@dataclass
class PlcIdentity:
    """A did:plc identity whose every operation is really signed, kept as its audit log.

    ``entries`` has exactly the shape of ``GET /{did}/log/audit``; nullified operations stay in
    it, flagged, as on the live directory.
    """

    handle: str
    pds: str
    rotation: list[PrivateKey]
    signing: PrivateKey = field(default_factory=lambda: PrivateKey.generate("k256"))
    created: datetime = field(default_factory=lambda: days_ago(400))
    genesis_signer: PrivateKey | None = None
    """Who signs the genesis (default the top key; a PDS signs with its own, lower-ranked key)."""
    entries: list[dict[str, Any]] = field(default_factory=list)
    did: str = ""

    def __post_init__(self) -> None:
        genesis = plc.sign_operation(
            _operation(self.rotation, self.signing, self.handle, self.pds, None),
            self.genesis_signer or self.rotation[0],
        )
        self.did = plc.did_from_genesis(genesis)
        self._append(genesis, self.created)

    def _append(self, op: dict[str, Any], at: datetime) -> None:
        self.entries.append(
            {
                "did": self.did,
                "operation": op,
                "cid": plc.operation_cid(op),
                "nullified": False,
                "createdAt": stamp(at),
            }
        )

    @property
    def head(self) -> dict[str, Any]:
        """The latest operation that is not nullified."""
        return next(e for e in reversed(self.entries) if not e["nullified"])

    @property
    def last_time(self) -> datetime:
        return datetime.fromisoformat(self.entries[-1]["createdAt"].replace("Z", "+00:00"))

    def update(
        self,
        *,
        handle: str | None = None,
        pds: str | None = None,
        rotation: list[PrivateKey] | None = None,
        signing: PrivateKey | None = None,
        signer: PrivateKey | None = None,
        after: timedelta = timedelta(days=30),
    ) -> PlcIdentity:
        """Append an operation on top of the head, signed by ``signer`` (default: top key)."""
        signer = signer or self.rotation[0]
        self.handle = handle or self.handle
        self.pds = pds or self.pds
        self.rotation = rotation or self.rotation
        self.signing = signing or self.signing
        body = _operation(self.rotation, self.signing, self.handle, self.pds, self.head["cid"])
        self._append(plc.sign_operation(body, signer), self.last_time + after)
        return self

    def recover(
        self, *, back_to: int, signer: PrivateKey, after: timedelta = timedelta(hours=20)
    ) -> PlcIdentity:
        """Fork from entry ``back_to`` with a higher-priority key, nullifying what came after.

        This is the 72-hour recovery the PLC spec gives a rotation key that outranks the one that
        signed the unwanted change.
        """
        base = self.entries[back_to]
        state = plc.operation_state(base["operation"])
        handle = state.also_known_as[0].removeprefix("at://")
        pds = state.services["atproto_pds"].endpoint
        body = _operation(self.rotation, self.signing, handle, pds, base["cid"])
        for entry in self.entries[back_to + 1 :]:
            entry["nullified"] = True
        self.handle, self.pds = handle, pds
        self._append(plc.sign_operation(body, signer), self.last_time + after)
        return self

    def verification(self) -> plc.LogVerification:
        """The project's own verifier over this log (the sandbox never serves an invalid one
        unless a scenario asks for it)."""
        return plc.verify_audit_log(self.did, self.entries)

    def state(self) -> plc.PlcState:
        result = self.verification()
        if not result.valid or result.state is None:
            raise ValueError(f"sandbox identity {self.did} has an invalid log: {result.detail}")
        return result.state

    def document(self) -> dict[str, Any]:
        """The DID document the directory serves for the current state."""
        return plc.document_from_state(self.did, self.state())


def did_web_document(host: str, handle: str, pds: str, signing: PrivateKey) -> dict[str, Any]:
    """A did:web document for ``host`` (relative ``#atproto`` ids, as many self-hosters write)."""
    did = "did:web:" + host.replace(":", "%3A")
    method: dict[str, Any] = {
        "id": "#atproto",
        "type": "Multikey",
        "controller": did,
        "publicKeyMultibase": signing.public_key.multibase,
    }
    return {
        "@context": [
            "https://www.w3.org/ns/did/v1",
            "https://w3id.org/security/multikey/v1",
        ],
        "id": did,
        "alsoKnownAs": [f"at://{handle}"],
        "verificationMethod": [method],
        "service": [{"id": "#atproto_pds", "type": plc.PDS_SERVICE_TYPE, "serviceEndpoint": pds}],
    }
