"""AppViews (who shows the account's posts in apps) and a labeler (who labels it)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import httpx

from auditor.sandbox.http import Router, json_response, param, xrpc_error


@dataclass
class AppView:
    """An AppView at ``https://<hostname>``: answers ``app.bsky.actor.getProfile`` for what it
    indexes."""

    hostname: str
    profiles: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"https://{self.hostname}"

    def index(self, profile: dict[str, Any]) -> None:
        self.profiles[profile["did"]] = profile

    async def get_profile(self, request: httpx.Request) -> httpx.Response:
        actor = param(request, "actor") or ""
        profile = self.profiles.get(actor) or next(
            (p for p in self.profiles.values() if p.get("handle") == actor), None
        )
        if profile is None:
            return xrpc_error(400, "InvalidRequest", "Profile not found")
        return json_response(profile)

    def app(self) -> Router:
        router = Router()
        router.get("/xrpc/app.bsky.actor.getProfile", self.get_profile)
        return router


@dataclass
class Labeler:
    """A labeler at ``https://<hostname>``: ``com.atproto.label.queryLabels``."""

    hostname: str
    did: str
    labels: list[dict[str, Any]] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"https://{self.hostname}"

    def label(self, uri: str, value: str, cts: str) -> None:
        self.labels.append({"ver": 1, "src": self.did, "uri": uri, "val": value, "cts": cts})

    async def query_labels(self, request: httpx.Request) -> httpx.Response:
        patterns = request.url.params.get_list("uriPatterns")
        if not patterns:
            return xrpc_error(
                400, "InvalidRequest", 'Error: Params must have the property "uriPatterns"'
            )

        def matches(uri: str) -> bool:
            return any(uri.startswith(p[:-1]) if p.endswith("*") else uri == p for p in patterns)

        return json_response({"labels": [lab for lab in self.labels if matches(lab["uri"])]})

    def app(self) -> Router:
        router = Router()
        router.get("/xrpc/com.atproto.label.queryLabels", self.query_labels)
        return router
