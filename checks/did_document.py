"""``did-document``: does the DID document carry what AT Protocol needs, without defects?"""

from __future__ import annotations

from typing import ClassVar

from pydantic import JsonValue

from auditor.check import CheckMeta, Outcome, expect, failed, finding, partial, passed
from auditor.models.evidence import DidDocumentFetch, Evidence
from auditor.models.report import Category

SPEC = "https://atproto.com/specs/did"


class DidDocumentCheck:
    """A signing key and a PDS endpoint, correctly declared."""

    meta: ClassVar[CheckMeta] = CheckMeta(
        id="did-document",
        title="Your DID document declares a valid signing key and PDS",
        category=Category.IDENTITY,
        weight=1.0,
        requires=("did_document",),
        rationale=(
            "Everything about an account hangs off its DID document: the signing key that proves "
            "your posts are yours, and the address of the server that holds them. Without a valid "
            "key nobody can verify your data; without a PDS nobody can find it."
        ),
        remediation=(
            "Ask your PDS operator to publish a correct document (an #atproto Multikey "
            "verification method and an #atproto_pds AtprotoPersonalDataServer service); with "
            "did:web, fix /.well-known/did.json on your domain."
        ),
        data_keys={
            "signing_key": "the #atproto key as a did:key, or null",
            "key_type": "Multikey or the legacy type the document used",
            "pds_endpoint": "the #atproto_pds endpoint, or null",
            "problems": "every defect found in the document",
        },
        method=(
            "The document is parsed as AT Protocol does: the first #atproto verification method "
            "(Multikey or legacy type, relative or absolute id) and the first #atproto_pds "
            "service; every deviation is recorded."
        ),
        scoring=(
            "pass 1.0: a valid key and PDS, no defect; partial 0.5: both present, with defects "
            "(controller, endpoint path...); fail 0: no usable key or PDS."
        ),
        references=(SPEC,),
    )

    def evaluate(self, evidence: Evidence) -> Outcome:
        parsed = expect(evidence.did_document, DidDocumentFetch).parsed
        key = parsed.signing_key
        problems = list(parsed.problems)
        data: dict[str, JsonValue] = {
            "signing_key": key.did_key if key else None,
            "key_type": key.type if key else None,
            "pds_endpoint": parsed.pds_endpoint,
            "problems": list[JsonValue](problems),
        }
        findings = [finding(p[0].upper() + p[1:] + ".", "/did_document/document") for p in problems]
        if key is None or parsed.pds_endpoint is None:
            missing = " and ".join(
                what
                for what, absent in (("signing key", key is None), ("PDS", not parsed.pds_endpoint))
                if absent
            )
            return failed(f"The DID document has no usable {missing}", *findings, data=data)
        if problems:
            return partial(
                f"Signing key and PDS found, with {len(problems)} defect(s): {problems[0]}",
                *findings,
                score=0.5,
                data=data,
            )
        legacy = "" if key.type == "Multikey" else f" (legacy key type {key.type})"
        return passed(
            f"#atproto {key.curve} signing key{legacy} and PDS {parsed.pds_endpoint}",
            finding(
                f"Signing key {key.did_key}; PDS {parsed.pds_endpoint}.", "/did_document/document"
            ),
            data=data,
        )
