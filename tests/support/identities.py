"""Real did:plc identities for tests: real keys, real signed operations, a real audit log."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from auditor import plc
from auditor.crypto import PrivateKey

EPOCH = datetime(2025, 1, 1, tzinfo=UTC)


def stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass
class PlcIdentity:
    """A did:plc identity whose every operation is signed with keys this object holds."""

    handle: str
    pds: str
    rotation: list[PrivateKey]
    signing: PrivateKey = field(default_factory=lambda: PrivateKey.generate("k256"))
    created: datetime = EPOCH
    entries: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        genesis = plc.sign_operation(self._body(self.handle, self.pds, None), self.rotation[0])
        self.did = plc.did_from_genesis(genesis)
        self._append(genesis, self.created)

    def _body(
        self, handle: str, pds: str, prev: str | None, rotation: list[str] | None = None
    ) -> dict[str, Any]:
        return {
            "type": "plc_operation",
            "rotationKeys": rotation or [k.public_key.did_key for k in self.rotation],
            "verificationMethods": {"atproto": self.signing.public_key.did_key},
            "alsoKnownAs": [f"at://{handle}"],
            "services": {"atproto_pds": {"type": "AtprotoPersonalDataServer", "endpoint": pds}},
            "prev": prev,
        }

    def _append(self, op: dict[str, Any], at: datetime) -> None:
        self.entries.append(
            {
                "did": getattr(self, "did", None) or plc.did_from_genesis(op),
                "operation": op,
                "cid": plc.operation_cid(op),
                "nullified": False,
                "createdAt": stamp(at),
            }
        )

    def update(
        self,
        *,
        handle: str | None = None,
        pds: str | None = None,
        rotation: list[PrivateKey] | None = None,
        signer: PrivateKey | None = None,
        after: timedelta = timedelta(days=30),
    ) -> PlcIdentity:
        """Append an operation (signed by ``signer``, default the top rotation key)."""
        last = self.entries[-1]
        state = plc.operation_state(last["operation"])
        new_handle = handle or state.also_known_as[0].removeprefix("at://")
        new_pds = pds or state.services["atproto_pds"].endpoint
        if rotation is not None:
            self.rotation = rotation
        body = self._body(new_handle, new_pds, last["cid"])
        op = plc.sign_operation(body, signer or self.rotation[0])
        at = datetime.fromisoformat(last["createdAt"].replace("Z", "+00:00")) + after
        self._append(op, at)
        self.handle, self.pds = new_handle, new_pds
        return self

    def document(self) -> dict[str, Any]:
        """The DID document a PLC directory serves for the current state."""
        verification = plc.verify_audit_log(self.did, self.entries)
        assert verification.valid and verification.state is not None, verification.detail
        return plc.document_from_state(self.did, verification.state)
