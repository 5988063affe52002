"""``handle-domain``: is the name on a domain the user controls, or one a provider hands out?"""

from __future__ import annotations

from typing import ClassVar

from auditor import identity
from auditor.attribution import attribute_host, registrable_domain
from auditor.check import CheckMeta, Outcome, expect, failed, finding, partial, passed
from auditor.models.evidence import DidDocumentFetch, Evidence
from auditor.models.report import Category

GUIDE = "https://bsky.social/about/blog/4-28-2023-domain-handle-tutorial"


class HandleDomainCheck:
    """Whoever controls the handle's domain controls the name."""

    meta: ClassVar[CheckMeta] = CheckMeta(
        id="handle-domain",
        title="Your handle is on a domain you control",
        category=Category.IDENTITY,
        weight=3.0,
        requires=("did_document",),
        uses=("handle_resolutions", "input_handle", "did", "sandbox"),
        rationale=(
            "Your handle is your name on the network. Under a provider's domain (like "
            "alice.bsky.social) the provider decides whether you keep it, and it stays behind if "
            "you leave. On a domain you own, the name goes wherever you go and nobody else can "
            "take it."
        ),
        remediation=(
            "Use a domain you own as your handle: add the DNS TXT record `_atproto.<domain>` with "
            "`did=<your DID>`, then change your handle to the domain in your app (Settings → "
            "Account → Handle → 'I have my own domain')."
        ),
        data_keys={
            "handle": "the handle judged",
            "registrable_domain": "the domain that controls the handle (Public Suffix List)",
            "domain_type": "provider_subdomain, pds_domain, custom_domain or none",
            "operator": "the operator the handle's domain is attributed to",
            "operator_source": "where that attribution comes from",
        },
        references=("https://atproto.com/specs/handle", GUIDE),
    )

    def evaluate(self, evidence: Evidence) -> Outcome:
        verification = identity.verify_handle(evidence)
        handle = verification.handle
        if handle is None or not verification.verified:
            return failed(
                "No verified handle: the account has no name it controls",
                finding(verification.reason.capitalize() + ".", "/handle_resolutions"),
                data={
                    "handle": handle,
                    "registrable_domain": None,
                    "domain_type": "none",
                    "operator": None,
                    "operator_source": None,
                },
            )
        owner = attribute_host(handle, sandbox=evidence.sandbox)
        domain = registrable_domain(handle)
        pds = expect(evidence.did_document, DidDocumentFetch).parsed.pds_endpoint
        pds_domain = registrable_domain(attribute_host(pds).host) if pds else None
        data = {
            "handle": handle,
            "registrable_domain": domain,
            "operator": owner.operator_name,
            "operator_source": owner.source,
        }
        where = "/handle_resolutions"
        if owner.is_known_operator and "handle_domain" in owner.roles:
            return failed(
                f"{handle} is a name {owner.label} gives out: it can take it back, and it "
                "stays behind if you leave",
                finding(f"{handle} is under a domain operated by {owner.label}.", where),
                data={**data, "domain_type": "provider_subdomain"},
            )
        if pds_domain is not None and domain == pds_domain and handle != domain:
            return partial(
                f"{handle} is under {domain}, the same domain as your PDS: if you run that server "
                "you control both; if a provider does, it controls your name too",
                finding(f"{handle} and your PDS ({pds}) share the domain {domain}.", where),
                score=0.5,
                data={**data, "domain_type": "pds_domain"},
            )
        if owner.is_known_operator:
            return passed(
                f"{handle} is on {domain}, a domain of {owner.label} itself (not one it "
                f"hands out to users): whoever controls {domain} controls this name",
                finding(f"{domain} is attributed to {owner.label} ({owner.source}).", where),
                data={**data, "domain_type": "custom_domain"},
            )
        return passed(
            f"{handle} is on {domain}, a domain not attributed to any provider: whoever controls "
            f"{domain} controls this name",
            finding(f"{handle} is under {domain}.", where),
            data={**data, "domain_type": "custom_domain"},
        )
