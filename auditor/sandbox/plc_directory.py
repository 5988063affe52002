"""A PLC directory (and read mirrors of it) serving real signed operation logs.

Routes follow the reference server (did-method-plc ``packages/server/src/routes.ts``): ``/{did}``,
``/{did}/data``, ``/{did}/log``, ``/{did}/log/audit``, ``/{did}/log/last``, ``/export`` (the
sequenced JSON-lines format with ``after`` and ``count``) and ``/_health``. An unknown DID is 404
``DID not registered``; a tombstoned one 404 ``DID not available``, as the reference code answers
(its OpenAPI says 410).

Documents are served as plc.directory serves them today (``Multikey``, absolute key ids); with
``legacy_documents`` they are served as the npm release of the reference server
(``@did-plc/server`` 0.0.1, which ``tests/reference`` runs) still does: relative ``#atproto`` key
ids typed ``EcdsaSecp256k1VerificationKey2019`` (or ``...r1...`` for P-256) carrying the
*uncompressed* point with no multicodec, and the curve suite's context instead of Multikey's.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import httpx
import libipld
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from auditor import plc
from auditor.crypto import parse_multikey
from auditor.sandbox.http import Router, json_response, param, text_response

EXPORT_MAX = 1000
_LEGACY_SUITES: dict[str, tuple[str, str, ec.EllipticCurve]] = {
    "k256": (
        "EcdsaSecp256k1VerificationKey2019",
        "https://w3id.org/security/suites/secp256k1-2019/v1",
        ec.SECP256K1(),
    ),
    "p256": (
        "EcdsaSecp256r1VerificationKey2019",
        "https://w3id.org/security/suites/ecdsa-2019/v1",
        ec.SECP256R1(),
    ),
}


def legacy_document(document: dict[str, Any]) -> dict[str, Any]:
    """``document`` (as :func:`auditor.plc.document_from_state` makes it) in the legacy form the
    npm ``@did-plc/server`` serves (see the module docstring)."""
    context = ["https://www.w3.org/ns/did/v1"]
    methods = []
    for method in document["verificationMethod"]:
        key = parse_multikey(method["publicKeyMultibase"])
        key_type, suite, curve = _LEGACY_SUITES[key.curve]
        if suite not in context:
            context.append(suite)
        point = ec.EllipticCurvePublicKey.from_encoded_point(curve, key.compressed).public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        methods.append(
            {
                "id": "#" + str(method["id"]).partition("#")[2],
                "type": key_type,
                "controller": method["controller"],
                "publicKeyMultibase": libipld.encode_multibase("z", point),
            }
        )
    return {**document, "@context": context, "verificationMethod": methods}


@dataclass
class PlcDirectory:
    """The directory: audit logs by DID, and the global sequence ``/export`` pages through."""

    logs: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    strip_context: bool = False
    """Serve ``application/did+json`` without ``@context`` (go-didplc's replica does)."""
    lag_operations: int = 0
    """Serve each log without its last N operations (a mirror that has not caught up)."""
    legacy_documents: bool = False
    """Serve documents as the npm ``@did-plc/server`` does (:func:`legacy_document`)."""

    def register(self, did: str, entries: list[dict[str, Any]]) -> None:
        """Serve ``entries`` (the audit log, nullified operations included) for ``did``."""
        self.logs[did] = entries

    def log(self, did: str) -> list[dict[str, Any]]:
        """The audit log of ``did`` as this server knows it (lag applied)."""
        entries = self.logs[did]
        if self.lag_operations and len(entries) > 1:
            return entries[: max(1, len(entries) - self.lag_operations)]
        return entries

    def sequence(self) -> list[dict[str, Any]]:
        """Every operation of every DID in ``createdAt`` order, numbered from 1."""
        ordered = sorted(
            (entry for did in self.logs for entry in self.log(did)),
            key=lambda e: (e["createdAt"], e["cid"]),
        )
        return [
            {
                "type": "sequenced_op",
                "seq": seq,
                "did": entry["did"],
                "operation": entry["operation"],
                "cid": entry["cid"],
                "createdAt": entry["createdAt"],
            }
            for seq, entry in enumerate(ordered, start=1)
        ]

    def _valid_chain(self, did: str) -> list[dict[str, Any]]:
        return [e for e in self.log(did) if not e["nullified"]]

    def _state(self, did: str) -> plc.PlcState | None:
        result = plc.verify_audit_log(did, self.log(did))
        return result.state if result.valid else None

    async def _did_routes(self, request: httpx.Request) -> httpx.Response:
        parts = request.url.path.strip("/").split("/")
        did, rest = parts[0], "/".join(parts[1:])
        if did not in self.logs:
            return json_response({"message": f"DID not registered: {did}"}, 404)
        if rest == "log/audit":
            return json_response(self.log(did))
        if rest == "log":
            return json_response([e["operation"] for e in self._valid_chain(did)])
        if rest == "log/last":
            return json_response(self._valid_chain(did)[-1]["operation"])
        state = self._state(did)
        if state is None or state.tombstoned:
            return json_response({"message": f"DID not available: {did}"}, 404)
        if rest == "data":
            return json_response(
                {
                    "did": did,
                    "rotationKeys": list(state.rotation_keys),
                    "verificationMethods": dict(state.verification_methods),
                    "alsoKnownAs": list(state.also_known_as),
                    "services": {
                        name: {"type": s.type, "endpoint": s.endpoint}
                        for name, s in state.services.items()
                    },
                }
            )
        if rest == "":
            document = plc.document_from_state(did, state)
            if self.legacy_documents:
                document = legacy_document(document)
            if self.strip_context:
                document.pop("@context", None)
                return json_response(document, content_type="application/did+json")
            return json_response(document, content_type="application/did+ld+json")
        return json_response({"message": "not found"}, 404)

    async def _export(self, request: httpx.Request) -> httpx.Response:
        try:
            after = int(param(request, "after") or 0)
            count = min(int(param(request, "count") or EXPORT_MAX), EXPORT_MAX)
        except ValueError:
            return json_response({"message": "after and count must be integers"}, 400)
        page = [op for op in self.sequence() if op["seq"] > after][: max(count, 0)]
        body = "".join(json.dumps(op, separators=(",", ":")) + "\n" for op in page)
        return text_response(body, content_type="application/jsonlines")

    def app(self) -> Router:
        """The directory as a sandbox host app."""
        router = Router()

        async def health(request: httpx.Request) -> httpx.Response:
            return json_response({"version": "0.3.0-sandbox"})

        router.get("/_health", health)
        router.get("/export", self._export)
        router.get_prefix("/did:", self._did_routes)
        return router


def mirror_of(directory: PlcDirectory, *, lag_operations: int = 0) -> PlcDirectory:
    """A read mirror sharing the directory's logs, current or ``lag_operations`` behind per DID.

    A lagging mirror has not yet seen the most recent operations (it serves an older state);
    decaudit's identity-availability check must tell "behind" from "diverging".
    """
    return PlcDirectory(directory.logs, strip_context=True, lag_operations=lag_operations)
