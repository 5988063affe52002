"""``did-method``: what the identity itself rests on: a directory (did:plc) or a domain
(did:web)."""

from __future__ import annotations

from typing import ClassVar

from auditor import identity, syntax
from auditor.attribution import attribute_host, registrable_domain
from auditor.check import CheckMeta, Outcome, expect, failed, finding, partial, passed
from auditor.models.evidence import DidDocumentFetch, Evidence
from auditor.models.report import Category

PLC_SCORE = 0.5
"""did:plc: portable between hosts and recoverable with rotation keys, but resolved through one
directory whose operator can withhold (not forge) the identity."""


class DidMethodCheck:
    """did:plc depends on the PLC directory; did:web on whoever controls the domain."""

    meta: ClassVar[CheckMeta] = CheckMeta(
        id="did-method",
        title="Your identity does not depend on a third party's directory",
        category=Category.IDENTITY,
        weight=2.0,
        requires=("did_document",),
        uses=("handle_resolutions", "input_handle", "did", "sandbox"),
        rationale=(
            "Your DID is your permanent identity; everything else points at it. A did:plc is "
            "looked up in the PLC directory, today run by one organisation: if it stops "
            "answering, nobody can find your keys or your server (it cannot forge changes: they "
            "are signed). A did:web lives on a web domain: no directory, but whoever controls the "
            "domain controls the identity, and it cannot move to another domain."
        ),
        remediation=(
            "With did:plc, keep a rotation key you hold (see rotation-key-custody) so the "
            "identity stays yours whatever the directory's fate. A did:web is only as independent "
            "as its domain: host it on a domain you own and keep the registration current."
        ),
        data_keys={
            "method": "plc or web",
            "directory_url": "PLC directory the document came from (did:plc)",
            "directory_operator": "who operates that directory",
            "web_domain": "the did:web host (did:web)",
            "web_domain_operator": "who the did:web domain is attributed to",
        },
        method=(
            "did:plc: the directory that served the document is attributed. did:web: the domain "
            "is attributed, and compared with the verified handle's domain."
        ),
        scoring=(
            "pass 1.0: did:web on a domain no provider is known to control; partial 0.5: did:plc "
            "(resolved through one directory that can withhold, not forge); fail 0: did:web on a "
            "known operator's domain."
        ),
        references=("https://atproto.com/specs/did", "https://web.plc.directory/spec/v0.1/did-plc"),
    )

    def evaluate(self, evidence: Evidence) -> Outcome:
        doc = expect(evidence.did_document, DidDocumentFetch)
        where = "/did_document/exchange"
        if doc.method == "plc":
            operator = attribute_host(doc.exchange.url, sandbox=evidence.sandbox)
            return partial(
                f"did:plc, resolved through the PLC directory at {operator.host}, operated by "
                f"{operator.label}: it can withhold your identity, not forge it",
                finding(
                    f"The DID document was served by {doc.exchange.url} (operator: "
                    f"{operator.label}; {operator.source}).",
                    where,
                ),
                score=PLC_SCORE,
                remediation=(
                    "Keep a rotation key you hold, ranked first (see rotation-key-custody): the "
                    "identity then stays yours whatever happens to the directory, and independent "
                    "PLC mirrors can serve it."
                ),
                data={
                    "method": "plc",
                    "directory_url": doc.exchange.url.rsplit("/", 1)[0],
                    "directory_operator": operator.operator_name,
                    "web_domain": None,
                    "web_domain_operator": None,
                },
            )
        host = syntax.did_web_host(doc.did)
        owner = attribute_host(host, sandbox=evidence.sandbox)
        data = {
            "method": "web",
            "directory_url": None,
            "directory_operator": None,
            "web_domain": host,
            "web_domain_operator": owner.operator_name,
        }
        if owner.is_known_operator:
            return failed(
                f"did:web on {host}, a domain operated by {owner.label}: it controls your "
                "identity and you cannot take it elsewhere",
                finding(f"{host} is attributed to {owner.label} ({owner.source}).", where),
                data=data,
            )
        handle = identity.verify_handle(evidence)
        same = (
            handle.verified
            and handle.handle is not None
            and registrable_domain(handle.handle) == registrable_domain(host.split(":")[0])
        )
        note = " (the same domain as your handle)" if same else ""
        return passed(
            f"did:web on {host}{note}: no directory involved; whoever controls {host} controls "
            "the identity, and it cannot move to another domain",
            finding(f"The identity is bound to the domain {host}.", where),
            data=data,
        )
