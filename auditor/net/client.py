"""The one ``httpx.AsyncClient`` of a run, configured for auditing.

Built by :func:`build_client` when a run starts (never at import time) and shared by every
gatherer through :class:`~auditor.net.fetch.Fetcher`. Deviations from httpx's defaults, and why:

* every request goes through :class:`~auditor.net.transport.PolicyTransport` (connect-to, the
  address guard, the https rule, pinned connections, environment proxies);
* ``follow_redirects=False``: the Fetcher follows redirects itself so that each hop is vetted,
  counted and recorded;
* ``trust_env=False``: no ``.netrc`` credentials are ever sent and no environment TLS or proxy
  settings are picked up behind the policy's back (the transport reads the proxy variables and
  ``SSL_CERT_FILE`` itself);
* ``Accept-Encoding: identity``: bodies arrive as sent, so the size cap counts what is on the wire
  and a small compressed body cannot expand to gigabytes in one read;
* cookies are neither kept nor sent: evidence must not depend on what an earlier probe was told
  to remember. The client's jar is a :class:`_NoCookies` that ignores ``Set-Cookie`` outright:
  httpx's own jar, even with a refusing policy, wraps every response in ``urllib`` and ``email``
  objects to read its cookies, which was a third of httpx's CPU per request in a batch;
* ``User-Agent`` names decaudit and its version, so operators can tell who is asking.
"""

from __future__ import annotations

from typing import Any

import httpx

from auditor.net.dns import Resolver
from auditor.net.transport import PolicyTransport
from auditor.settings import AuditSettings


def build_client(
    settings: AuditSettings,
    resolver: Resolver,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
) -> httpx.AsyncClient:
    """The client of one run: ``PolicyTransport`` around ``transport`` (the real one if None).

    Use it as ``async with build_client(settings, resolver) as client:``. Raises ``OSError`` or
    ``ssl.SSLError`` when the CA bundle cannot be read, ``ValueError`` for a bad ``connect_to``.
    """
    return _AuditClient(
        transport=PolicyTransport(settings, resolver, inner=transport),
        follow_redirects=False,
        headers={"User-Agent": settings.user_agent, "Accept-Encoding": "identity"},
        timeout=httpx.Timeout(settings.timeout),
        trust_env=False,
    )


class _NoCookies(httpx.Cookies):
    """A cookie jar that stays empty: ``Set-Cookie`` is ignored, no ``Cookie`` is ever sent, and
    nothing can be put in it by hand either."""

    def extract_cookies(self, response: httpx.Response) -> None:
        return None

    def set_cookie_header(self, request: httpx.Request) -> None:
        return None

    def set(self, name: str, value: str, domain: str = "", path: str = "/") -> None:
        return None

    def __setitem__(self, name: str, value: str) -> None:
        return None

    def update(self, cookies: object = None) -> None:  # type: ignore[override]
        return None


class _AuditClient(httpx.AsyncClient):
    """httpx's client with a :class:`_NoCookies` jar of its own (httpx reads ``self.cookies`` for
    both directions; it has no switch to turn cookies off)."""

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self._no_cookies = _NoCookies()

    @property
    def cookies(self) -> httpx.Cookies:
        return self._no_cookies

    @cookies.setter
    def cookies(self, cookies: object) -> None:
        raise AttributeError("decaudit's client keeps no cookies")
