"""Plain web hosts: a handle's ``/.well-known/atproto-did``, a did:web's ``did.json``."""

from __future__ import annotations

from dataclasses import dataclass, field

import httpx

from auditor.sandbox.http import not_found


@dataclass
class StaticSite:
    """Fixed responses by path; anything else is 404."""

    pages: dict[str, httpx.Response] = field(default_factory=dict)

    def put(self, path: str, response: httpx.Response) -> None:
        self.pages[path] = response

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        page = self.pages.get(request.url.path)
        if page is None:
            return not_found(request)
        # a fresh Response each time: a body stream can be consumed only once
        return httpx.Response(page.status_code, headers=page.headers, content=page.content)
