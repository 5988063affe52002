"""``handle-domain``: is the name on a domain the user controls, or one a provider hands out?"""

from __future__ import annotations

from typing import ClassVar

from pydantic import JsonValue

from auditor import control, identity
from auditor.attribution import attribute_host
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
        uses=("handle_resolutions", "input_handle", "did", "sandbox", "pds"),
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
        method=(
            "The handle apps would show is attributed: a known provider's handle domain, the PDS "
            "operator's own domain or a domain the PDS says it gives out (describeServer "
            "availableUserDomains), or a domain no provider is known to control (then its "
            "registrable domain, Public Suffix List). A handle under the PDS's domain counts as "
            "the user's when the PDS is self-hosted."
        ),
        scoring=(
            "pass 1.0: a domain the user controls (or an operator's own apex, for its own "
            "account); partial 0.5: under the PDS operator's domain; fail 0: a provider's "
            "subdomain, or no verified handle."
        ),
        references=("https://atproto.com/specs/handle", GUIDE),
    )

    def evaluate(self, evidence: Evidence) -> Outcome:
        expect(evidence.did_document, DidDocumentFetch)
        view = control.name_control(evidence)
        where = "/handle_resolutions"
        if view.handle is None or not view.verified or view.controller is None:
            reason = identity.verify_handle(evidence).reason
            return failed(
                "No verified handle: the account has no name it controls",
                finding(reason.capitalize() + ".", where),
                data={
                    "handle": view.handle,
                    "registrable_domain": view.domain,
                    "domain_type": "none",
                    "operator": None,
                    "operator_source": None,
                },
            )
        owner = attribute_host(view.handle, sandbox=evidence.sandbox)
        data: dict[str, JsonValue] = {
            "handle": view.handle,
            "registrable_domain": view.domain,
            "domain_type": view.domain_type,
            "operator": view.controller.label,
            "operator_source": owner.source,
        }
        controller = view.controller
        if view.domain_type == "provider_subdomain":
            return failed(
                f"{view.handle} is a name {controller.label} gives out: it can take it back, and "
                "it stays behind if you leave",
                finding(f"{view.handle} is under a domain operated by {controller.label}.", where),
                remediation=(
                    "Use a domain you own as your handle: publish the DNS TXT record "
                    f"`_atproto.<your domain>` with the value `did={evidence.did}`, then change "
                    "your handle to that domain in your app (Settings → Account → Handle → "
                    "'I have my own domain')."
                ),
                data=data,
            )
        if view.domain_type == "pds_domain":
            return partial(
                f"{view.handle} is under {view.domain}, the domain of your PDS operator "
                f"({controller.label}): whoever runs that domain controls your name",
                finding(controller.reason + ".", where),
                score=0.5,
                data=data,
            )
        if not controller.is_user:
            return passed(
                f"{view.handle} is on {view.domain}, a domain of {controller.label} itself (not "
                f"one it hands out to users): whoever controls {view.domain} controls this name",
                finding(f"{view.domain} belongs to {controller.label} ({owner.source}).", where),
                data=data,
            )
        return passed(
            f"{view.handle} is on {view.domain}, a domain not attributed to any provider: whoever "
            f"controls {view.domain} controls this name",
            finding(controller.reason + ".", where),
            data=data,
        )
