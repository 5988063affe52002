"""HTTP GETs under the audit's policy, returning evidence or a :class:`ProbeFailure`; never raising.

Gatherers call :class:`Fetcher` and receive either a result (the parsed body plus the citable
:class:`~auditor.models.common.HttpExchange`) or a ``ProbeFailure`` whose
:class:`~auditor.models.common.FailureKind` keeps "timed out", "HTTP 404", "refused address" and
"not JSON" apart. No ``httpx`` or ``dns`` exception escapes; an unexpected one becomes
``INTERNAL`` with the exception named.

Policy, and where it deviates from httpx's defaults:

* **Redirects** are followed here, one request per hop, not by httpx (the client has
  ``follow_redirects=False``): every hop passes through
  :class:`~auditor.net.transport.PolicyTransport` (address guard, https rule) and is recorded
  in ``HttpExchange.redirects``; at most ``settings.max_redirects`` hops, loops detected →
  ``TOO_MANY_REDIRECTS``.
* **Size caps**: ``Content-Length`` is checked before reading and the streamed body is counted,
  reading stops at the cap → ``TOO_LARGE`` (default ``settings.max_json_bytes``).
* **Time**: each request has ``settings.timeout`` connect/read/write/pool timeouts (→
  ``TIMEOUT``) and every attempt is also capped by what is left of the audit's
  :class:`~auditor.net.deadline.Deadline` (→ ``DEADLINE``).
* **Retries** (httpx does none): on 429/502/503/504, at most ``settings.max_retries`` times,
  waiting what ``Retry-After`` says (seconds or HTTP-date; without it 0.5 s, 1 s, 2 s...). A wait
  longer than ``settings.max_retry_after`` or the remaining deadline gives up with the
  ``HTTP_STATUS`` failure saying so.
* **Content**: JSON must be ``application/json`` or a ``+json`` type, strict (no NaN), and
  parse without blowing the recursion limit; text must be UTF-8.
* **Sending**: a request goes straight to the client's transport (the policy transport of
  :mod:`auditor.net.transport`), skipping ``AsyncClient.send``'s layers, which do nothing for
  decaudit's client (see :meth:`Fetcher._send`); URLs are parsed and requests built without
  httpx's general paths where the result is provably the same. A batch spends its CPU per
  request, so this is most of what one request costs here (bench/README.md).
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import logging
import re
import ssl
import time
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Final, NoReturn
from urllib.parse import urlencode

import httpx
from httpx._client import ClientState
from httpx._urlparse import MAX_URL_LENGTH

from auditor.models.common import FailureKind, HttpExchange, ProbeFailure
from auditor.net.client import _NoCookies
from auditor.net.deadline import Deadline
from auditor.net.dns import DnsError
from auditor.net.transport import REDIRECTED_FROM, PolicyError
from auditor.settings import AuditSettings
from auditor.text import one_line

QueryParams = Mapping[str, str | int | float | bool | None]
Sleep = Callable[[float], Awaitable[None]]

REDIRECT_STATUSES: Final = frozenset({301, 302, 303, 307, 308})
RETRY_STATUSES: Final = frozenset({429, 502, 503, 504})
ERROR_BODY_CAP: Final = 64 * 1024
"""Bytes of a non-2xx body read to find an XRPC error name."""
BACKOFF_BASE: Final = 0.5
"""Seconds before the first retry when the server sends no ``Retry-After``; doubles each time."""
TEXT_ACCEPT: Final = "text/plain, */*;q=0.8"


@dataclass(frozen=True)
class JsonResult:
    """A successful JSON GET: the exchange and the parsed body."""

    exchange: HttpExchange
    body: object


@dataclass(frozen=True)
class TextResult:
    """A successful text GET: the exchange and the body decoded as UTF-8."""

    exchange: HttpExchange
    text: str


@dataclass(frozen=True)
class BytesResult:
    """A successful binary GET: the exchange and the raw body."""

    exchange: HttpExchange
    body: bytes


@dataclass
class _Probe:
    """The state of one fetch across redirect hops and retries."""

    source: str
    current: httpx.URL
    started: float = field(default_factory=time.monotonic)
    redirects: list[str] = field(default_factory=list)
    previous: str | None = None
    """The URL whose redirect led to ``current``."""
    retries: int = 0
    server_name: str | None = None
    """The name to present (``Host``, TLS SNI and certificate) when it is not the URL's host:
    Matrix's rule for a server found by SRV. Dropped at a redirect."""

    @property
    def elapsed_ms(self) -> float:
        return round((time.monotonic() - self.started) * 1000, 1)


@dataclass(frozen=True)
class _Body:
    response: httpx.Response
    content: bytes
    content_type: str | None


@dataclass(frozen=True)
class _Redirect:
    location: str


@dataclass(frozen=True)
class _Retry:
    wait: float


class _Stop(Exception):
    """Internal: ends a fetch with a failure (never leaves this module)."""

    def __init__(
        self,
        kind: FailureKind,
        detail: str,
        *,
        http_status: int | None = None,
        error_name: str | None = None,
    ) -> None:
        super().__init__(detail)
        self.kind = kind
        self.detail = detail
        self.http_status = http_status
        self.error_name = error_name


SANDBOX_HEADER = "x-decaudit-sandbox"
"""Sent by every host of decaudit's sandbox network (:mod:`auditor.sandbox`)."""


class Fetcher:
    """GETs through the run's client, under the policy in this module's docstring.

    ``client`` should come from :func:`auditor.net.client.build_client`; ``sleep`` is injectable
    so retry tests do not wait.
    """

    def __init__(
        self,
        client: httpx.AsyncClient,
        settings: AuditSettings,
        deadline: Deadline,
        *,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.client = client
        self.settings = settings
        self.deadline = deadline
        self._sleep = sleep
        self._timeouts = httpx.Timeout(settings.timeout).as_dict()
        self._headers_by_accept: dict[str, list[tuple[bytes, bytes]]] = {}
        # Cookies are the one thing of httpx's send path that the direct path leaves out, so it
        # is taken only for a client whose jar ignores them (build_client's).
        self._direct = isinstance(client.cookies, _NoCookies)
        self.saw_sandbox = False
        """Whether any answer carried decaudit's sandbox marker (reports then say so)."""

    async def get_json(
        self,
        url: str,
        *,
        params: QueryParams | None = None,
        max_bytes: int | None = None,
        accept: str = "application/json",
        server_name: str | None = None,
    ) -> JsonResult | ProbeFailure:
        """GET ``url`` and parse JSON (``application/json`` or any ``+json`` type).

        ``server_name``: connect to ``url``'s host but present this name as the ``Host``, the
        TLS SNI and the name the certificate must hold (Matrix servers found by SRV)."""
        probe, outcome = await self._fetch(
            url, params, max_bytes, accept, self.settings.timeout, server_name
        )
        if isinstance(outcome, ProbeFailure):
            return outcome
        exchange = self._exchange(probe, outcome)
        problem = json_content_type_problem(exchange.content_type)
        if problem is not None:
            return self._failure(probe, FailureKind.INVALID_RESPONSE, problem)
        try:
            body = parse_json(outcome.content)
        except ValueError as exc:
            return self._failure(probe, FailureKind.INVALID_RESPONSE, f"malformed JSON: {exc}")
        return JsonResult(exchange=exchange, body=body)

    async def get_text(
        self, url: str, *, params: QueryParams | None = None, max_bytes: int | None = None
    ) -> TextResult | ProbeFailure:
        """GET ``url`` as UTF-8 text (any content type)."""
        probe, outcome = await self._fetch(
            url, params, max_bytes, TEXT_ACCEPT, self.settings.timeout
        )
        if isinstance(outcome, ProbeFailure):
            return outcome
        try:
            text = outcome.content.decode("utf-8")
        except UnicodeDecodeError as exc:
            return self._failure(probe, FailureKind.INVALID_RESPONSE, f"body is not UTF-8: {exc}")
        return TextResult(exchange=self._exchange(probe, outcome), text=text)

    async def get_bytes(
        self,
        url: str,
        *,
        params: QueryParams | None = None,
        max_bytes: int,
        accept: str,
        budget: float | None = None,
    ) -> BytesResult | ProbeFailure:
        """GET ``url`` as bytes, streamed under ``max_bytes`` (CAR exports and the like).

        ``budget`` bounds each attempt's total time (None: only the audit deadline and the
        per-read timeout, for large downloads).
        """
        probe, outcome = await self._fetch(url, params, max_bytes, accept, budget)
        if isinstance(outcome, ProbeFailure):
            return outcome
        return BytesResult(exchange=self._exchange(probe, outcome), body=outcome.content)

    async def _fetch(
        self,
        url: str,
        params: QueryParams | None,
        max_bytes: int | None,
        accept: str,
        budget: float | None,
        server_name: str | None = None,
    ) -> tuple[_Probe, _Body | ProbeFailure]:
        cap = self.settings.max_json_bytes if max_bytes is None else max_bytes
        probe = _Probe(source=url, current=_NO_URL, server_name=server_name)
        try:
            probe.current = _absolute_url(url, params)
            probe.source = str(probe.current)
            return probe, await self._follow(probe, cap, accept, budget)
        except _Stop as stop:
            return probe, self._failure(
                probe,
                stop.kind,
                stop.detail,
                http_status=stop.http_status,
                error_name=stop.error_name,
            )
        except Exception as exc:  # every other failure becomes evidence, never an exception
            kind, detail = self._classify(exc)
            return probe, self._failure(probe, kind, detail)

    async def _follow(self, probe: _Probe, cap: int, accept: str, budget: float | None) -> _Body:
        while True:
            self._check_deadline()
            # A whole attempt (connect, headers, body) gets at most ``budget``: a server that
            # drips one byte per second never trips the per-read timeout, but must not hold
            # the audit until its deadline.
            limit = self.deadline.remaining() if budget is None else self.deadline.cap(budget)
            try:
                async with asyncio.timeout(limit):
                    outcome = await self._attempt(probe, cap, accept)
            except TimeoutError:
                if self.deadline.expired:
                    raise
                raise _Stop(
                    FailureKind.TIMEOUT, f"no complete response within {limit:g} s"
                ) from None
            if isinstance(outcome, _Body):
                return outcome
            if isinstance(outcome, _Redirect):
                self._redirect(probe, outcome.location)
            else:
                probe.retries += 1
                await self._sleep(outcome.wait)

    def _headers(self, accept: str) -> list[tuple[bytes, bytes]]:
        """The client's headers (User-Agent, Accept-Encoding...) with ``accept``, built once.

        Requests are built here rather than by ``client.build_request``, which merges base URL,
        query parameters, cookies and headers anew for every request: a fetcher GET has no
        parameters beyond its URL and no cookies, and skipping the merge was a tenth of the
        client's CPU per request in a batch.
        """
        headers = self._headers_by_accept.get(accept)
        if headers is None:
            merged = self.client.headers.copy()
            merged["Accept"] = accept
            headers = self._headers_by_accept[accept] = merged.raw
        return headers

    def _request(self, probe: _Probe, accept: str) -> httpx.Request:
        """The GET of ``probe.current``, as ``httpx.Request("GET", url, headers=...)`` builds it
        (``Host`` first, then the client's headers; an empty body already read), without
        encoding an empty body and merging the headers a second time for every request."""
        extensions: dict[str, object] = {"timeout": self._timeouts}
        if probe.previous:
            extensions[REDIRECTED_FROM] = probe.previous
        url = probe.current
        host = url.netloc
        if probe.server_name is not None:
            host = probe.server_name.encode("ascii")
            extensions["sni_hostname"] = probe.server_name
        request = httpx.Request(
            "GET",
            url,
            headers=[(b"Host", host), *self._headers(accept)],
            stream=_NO_BODY,
            extensions=extensions,
        )
        request.read()
        return request

    async def _send(self, request: httpx.Request) -> httpx.Response:
        """``client.send(request, stream=True)``, calling the client's transport directly.

        httpx's send runs an auth flow, a redirect loop, event hooks, the cookie jar and a
        wrapper around the body for every request: about 70 us of CPU per GET, a tenth of a
        batch's. For the client :func:`~auditor.net.client.build_client` makes (no auth, no
        hooks, redirects left to the fetcher, cookies ignored) none of them does anything, so
        the request goes to the same transport (:class:`PolicyTransport`, hence the same
        policy) directly, and the response is what ``send`` would have returned: exceptions
        carry the request, a redirect's ``next_request`` is built (an unparsable ``Location``
        raises the same ``RemoteProtocolError``), httpx's request log line is written. Any
        other client, or a URL with credentials (httpx turns them into Basic auth), goes
        through ``send``.
        """
        client = self.client
        hooks = client.event_hooks
        if (
            not self._direct
            or client._state is not ClientState.OPENED  # unopened or closed: send decides
            or client.auth is not None
            or client.follow_redirects
            or hooks["request"]
            or hooks["response"]
            or request.url.userinfo
        ):
            return await client.send(request, stream=True)
        transport = client._transport_for_url(request.url)
        try:
            response = await transport.handle_async_request(request)
        except httpx.RequestError as exc:
            exc.request = request
            raise
        if not isinstance(response.stream, httpx.AsyncByteStream):
            raise RuntimeError("the transport returned a response without an async stream")
        response.request = request
        if _HTTPX_LOG.isEnabledFor(logging.INFO):
            _HTTPX_LOG.info(
                'HTTP Request: %s %s "%s %d %s"',
                request.method,
                request.url,
                response.http_version,
                response.status_code,
                response.reason_phrase,
            )
        if response.has_redirect_location:
            try:
                response.next_request = client._build_redirect_request(request, response)
            except BaseException:
                await response.aclose()
                raise
        return response

    async def _attempt(self, probe: _Probe, cap: int, accept: str) -> _Body | _Redirect | _Retry:
        response = await self._send(self._request(probe, accept))
        try:
            headers = _headers_of(response)
            if SANDBOX_HEADER in headers:
                self.saw_sandbox = True
            return await self._outcome(probe, response, headers, cap)
        finally:
            await response.aclose()

    async def _outcome(
        self, probe: _Probe, response: httpx.Response, headers: Mapping[str, str], cap: int
    ) -> _Body | _Redirect | _Retry:
        status = response.status_code
        location = headers.get("location")
        if status in REDIRECT_STATUSES and location:
            return _Redirect(location)
        if status in RETRY_STATUSES and probe.retries < self.settings.max_retries:
            wait, refusal = self._retry_wait(headers.get("retry-after"), probe.retries)
            if refusal is None:
                return _Retry(wait)
            await self._raise_status(response, refusal)
        if not 200 <= status < 300:
            await self._raise_status(response, None)
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > cap:
            raise _Stop(
                FailureKind.TOO_LARGE, f"Content-Length {declared} exceeds the {cap}-byte cap"
            )
        content = await _read_capped(response, cap, headers.get("content-encoding"), False)
        return _Body(response=response, content=content, content_type=headers.get("content-type"))

    def _redirect(self, probe: _Probe, location: str) -> None:
        try:
            target = probe.current.join(location).copy_with(fragment=None)
        except httpx.InvalidURL as exc:
            raise _Stop(
                FailureKind.INVALID_RESPONSE, f"invalid redirect {location!r}: {exc}"
            ) from exc
        if target.scheme not in ("http", "https") or not target.host:
            raise _Stop(FailureKind.INVALID_RESPONSE, f"redirect to a non-http(s) URL {target}")
        visited = {probe.source, *probe.redirects}
        if str(target) in visited:
            raise _Stop(FailureKind.TOO_MANY_REDIRECTS, f"redirect loop back to {target}")
        if len(probe.redirects) >= self.settings.max_redirects:
            raise _Stop(
                FailureKind.TOO_MANY_REDIRECTS,
                f"more than {self.settings.max_redirects} redirects (next: {target})",
            )
        probe.redirects.append(str(target))
        probe.previous = str(probe.current)
        probe.current = target
        probe.server_name = None  # a redirect names its own host

    def _retry_wait(self, header: str | None, attempt: int) -> tuple[float, str | None]:
        """The wait before the next retry, and why not to retry (None: retry)."""
        announced = parse_retry_after(header)
        wait = BACKOFF_BASE * 2**attempt if announced is None else announced
        limit = self.settings.max_retry_after
        if wait > limit:
            return wait, f"Retry-After {wait:g} s exceeds the {limit:g} s limit; gave up"
        remaining = self.deadline.remaining()
        if wait >= remaining:
            return wait, (
                f"retry in {wait:g} s would pass the audit deadline "
                f"({remaining:.1f} s left); gave up"
            )
        return wait, None

    async def _raise_status(self, response: httpx.Response, note: str | None) -> NoReturn:
        body = await read_capped(response, ERROR_BODY_CAP, truncate=True)
        error_name, error_message = xrpc_error(body)
        detail = f"HTTP {response.status_code}"
        if error_name is not None:
            detail += f" ({error_name}: {error_message})" if error_message else f" ({error_name})"
        if note is not None:
            detail += f"; {note}"
        raise _Stop(
            FailureKind.HTTP_STATUS, detail, http_status=response.status_code, error_name=error_name
        )

    def _check_deadline(self) -> None:
        if self.deadline.expired:
            raise _Stop(FailureKind.DEADLINE, self._deadline_detail())

    def _deadline_detail(self) -> str:
        return f"audit deadline of {self.deadline.seconds:g} s reached"

    def _classify(self, exc: Exception) -> tuple[FailureKind, str]:
        """The failure kind and detail of an exception raised while fetching."""
        if isinstance(exc, PolicyError | DnsError):
            return exc.kind, str(exc)
        if isinstance(exc, TimeoutError):  # only the deadline's asyncio.timeout raises this
            return FailureKind.DEADLINE, self._deadline_detail()
        if isinstance(exc, httpx.TimeoutException):
            if self.deadline.expired:
                return FailureKind.DEADLINE, self._deadline_detail()
            return FailureKind.TIMEOUT, _timeout_detail(exc, self.settings.timeout)
        if isinstance(exc, httpx.InvalidURL | httpx.UnsupportedProtocol):
            return FailureKind.INVALID_RESPONSE, f"not a fetchable http(s) URL: {one_line(exc)}"
        if isinstance(exc, httpx.RemoteProtocolError) and "location header" in str(exc):
            # httpx parses Location even with follow_redirects=False (to set next_request).
            return FailureKind.INVALID_RESPONSE, f"invalid redirect: {one_line(exc)}"
        if isinstance(exc, httpx.DecodingError):
            return FailureKind.INVALID_RESPONSE, f"undecodable body: {one_line(exc)}"
        tls_error = _tls_cause(exc)
        if tls_error is not None:
            return FailureKind.TLS, f"TLS failed: {one_line(tls_error)}"
        if isinstance(exc, httpx.TransportError):
            return FailureKind.NETWORK, f"{type(exc).__name__}: {one_line(exc)}"
        return FailureKind.INTERNAL, f"internal error: {type(exc).__name__}: {one_line(exc)}"

    def _failure(
        self,
        probe: _Probe,
        kind: FailureKind,
        detail: str,
        *,
        http_status: int | None = None,
        error_name: str | None = None,
    ) -> ProbeFailure:
        where = f" (at {probe.current})" if probe.redirects else ""
        return ProbeFailure(
            kind=kind,
            source=probe.source,
            message=one_line(f"GET {probe.source}: {detail}{where}"),
            http_status=http_status,
            error_name=error_name,
            elapsed_ms=probe.elapsed_ms,
        )

    def _exchange(self, probe: _Probe, body: _Body) -> HttpExchange:
        return HttpExchange(
            url=probe.source,
            final_url=str(probe.current),
            status=body.response.status_code,
            content_type=body.content_type,
            elapsed_ms=probe.elapsed_ms,
            redirects=list(probe.redirects),
        )


def _query_value(value: str | int | float | bool | None) -> str:
    """A query value as httpx writes it (``true``/``false``, empty for None)."""
    if value is True or value is False:
        return "true" if value else "false"
    return "" if value is None else str(value)


def _absolute_url(url: str, params: QueryParams | None) -> httpx.URL:
    """``url`` with ``params``, parsed once (URL parsing is a large share of a request's CPU in a
    batch, and ``copy_merge_params`` would parse it a second time)."""
    if params and "?" not in url and "#" not in url:
        query = urlencode([(key, _query_value(value)) for key, value in params.items()])
        parsed = _with_query(url, query)
    elif params:
        parsed = httpx.URL(url).copy_merge_params(params)
    else:
        parsed = _parse_url(url)
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise _Stop(FailureKind.INVALID_RESPONSE, "not an absolute http(s) URL")
    return parsed


_BASE_URLS: dict[str, httpx.URL] = {}
"""Parsed URLs without a query, by their text: the few XRPC endpoints a batch asks every
account's DID of (``https://relay/xrpc/com.atproto.sync.getRepoStatus``...)."""
_BASE_URLS_MAX: Final = 4096
_PLAIN_QUERY: Final = re.compile(r"(?:[A-Za-z0-9_.~+=&-]|%[0-9A-F]{2})*")
"""What ``urlencode`` writes (it percent-encodes everything else): text that httpx's ``quote``
leaves as it is (every character is one it never quotes, every ``%`` starts an escape)."""


def _with_query(url: str, query: str) -> httpx.URL:
    """``httpx.URL(f"{url}?{query}")`` for a ``url`` without query or fragment and a ``query``
    from ``urlencode``, parsing ``url`` once per distinct text.

    httpx's parser (16 us for a typical XRPC URL) spends most of its time on the whole text (a
    scan for control characters, then each component's validation and quoting); the query of
    such a URL is only quoted, with httpx's own ``quote``, and set in the parsed base
    (``URL._uri_reference``: with :func:`_parse_url`, the only places that touch httpx's URL
    internals; httpx is pinned ``<0.29`` and tests/net/test_fetch_fast_paths.py compares the
    results with full parses). A query matching :data:`_PLAIN_QUERY` is its own quoted form.
    Anything unusual takes the full parse.
    """
    text = f"{url}?{query}"
    if len(text) > MAX_URL_LENGTH or not _PLAIN_QUERY.fullmatch(query):
        return httpx.URL(text)
    base = _BASE_URLS.get(url)
    if base is None:
        try:
            base = _parse_url(url)
        except httpx.InvalidURL:
            return httpx.URL(text)  # raises the full parse's error
        reference = base._uri_reference
        if reference.query is not None or reference.fragment is not None:
            return httpx.URL(text)
        if len(_BASE_URLS) >= _BASE_URLS_MAX:
            _BASE_URLS.clear()
        _BASE_URLS[url] = base
    parsed = httpx.URL.__new__(httpx.URL)
    parsed._uri_reference = base._uri_reference._replace(query=query)
    return parsed


_SIMPLE_URL: Final = re.compile(
    r"(https?)://([a-z0-9-]+(?:\.[a-z0-9-]+)*)(/[A-Za-z0-9._~!$&'()*+,;=:@/-]*)?"
)
"""An http(s) URL that httpx's parser leaves exactly as written: a lower-case host name of
letters, digits and hyphens, no user, port, query or fragment, and a path of characters httpx
never quotes (no ``%``)."""
_IPV4_LIKE: Final = re.compile(r"[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+")


def _parse_url(url: str) -> httpx.URL:
    """``httpx.URL(url)``, without httpx's general parser when :data:`_SIMPLE_URL` matches.

    For such a URL every step of httpx's parser is the identity (the host is lower-cased and
    quoted, the path quoted and cleared of ``.`` and ``..`` segments: nothing to do), so the
    parsed form is the text's pieces; a dotted-quad host (httpx checks it as an IPv4 address),
    a ``.`` or ``..`` path segment, or anything else takes the full parse. This sets
    ``URL._uri_reference``, like :func:`_with_query`; tests/net/test_fetch_fast_paths.py compares
    both with httpx's parse, on chosen and on random URLs.
    """
    match = _SIMPLE_URL.fullmatch(url) if len(url) <= MAX_URL_LENGTH else None
    if match is None:
        return httpx.URL(url)
    scheme, host, path = match.groups()
    path = path or ""
    if _IPV4_LIKE.fullmatch(host) or ("." in path and _has_dot_segment(path)):
        return httpx.URL(url)
    parsed = httpx.URL.__new__(httpx.URL)
    parsed._uri_reference = _EMPTY_URL._uri_reference._replace(scheme=scheme, host=host, path=path)
    return parsed


def _has_dot_segment(path: str) -> bool:
    segments = path.split("/")
    return "." in segments or ".." in segments


_EMPTY_URL: Final = httpx.URL()
_NO_URL: Final = _EMPTY_URL
"""A probe's URL until its own is parsed (``httpx.URL()`` parses the empty text every time)."""
_NO_BODY: Final = httpx.ByteStream(b"")
"""The body of every GET (what ``httpx.Request`` encodes for no content; it holds no state)."""
_HTTPX_LOG: Final = logging.getLogger("httpx")
_HEADERS_READ: Final = frozenset(
    {
        "location",
        "retry-after",
        "content-length",
        "content-encoding",
        "content-type",
        SANDBOX_HEADER,
    }
)


def _headers_of(response: httpx.Response) -> dict[str, str]:
    """The response headers the fetcher reads, by lower-case name, in one pass: each value as
    ``response.headers.get(name)`` gives it (repeated headers joined with ``", "``)."""
    found: dict[str, str] = {}
    for name, value in response.headers.multi_items():
        if name in _HEADERS_READ:
            found[name] = f"{found[name]}, {value}" if name in found else value
    return found


_ZLIB_WBITS: Final = {"gzip": 31, "x-gzip": 31, "deflate": 47}
"""zlib window settings: gzip wrapper, and zlib-or-gzip auto-detection for ``deflate``."""


def _decoder(content_encoding: str | None) -> zlib._Decompress | None:
    """A bounded decompressor for the body's Content-Encoding (None for identity).

    The client asks for ``identity``; a server that compresses anyway gets its gzip/deflate
    decoded here, chunk by chunk, under the same cap as plain bodies, so a small compressed bomb
    cannot expand in memory. Other encodings are refused.
    """
    encoding = (content_encoding or "identity").strip().lower()
    if encoding in ("", "identity"):
        return None
    if encoding in _ZLIB_WBITS:
        return zlib.decompressobj(_ZLIB_WBITS[encoding])
    raise _Stop(FailureKind.INVALID_RESPONSE, f"unsupported Content-Encoding {encoding!r}")


async def _raw_chunks(response: httpx.Response) -> AsyncIterator[bytes]:
    """The body as it arrives: ``response.aiter_raw()`` without its layers (a context manager
    and a chunker per body), which do nothing for a fresh streamed response."""
    stream = response.stream
    if (
        response.is_stream_consumed
        or response.is_closed
        or not isinstance(stream, httpx.AsyncByteStream)
    ):
        try:
            async for raw in response.aiter_raw():
                yield raw
        except httpx.StreamConsumed:
            # An in-memory response (a test double) has no wire bytes left: its content is all
            # there is.
            yield response.content
        return
    response.is_stream_consumed = True
    try:
        async for raw in stream:
            if raw:  # httpx's chunker drops empty chunks
                yield raw
    except httpx.RequestError as exc:
        if response._request is not None:
            exc.request = response._request
        raise


def _decompressed(decoder: zlib._Decompress, raw: bytes, cap: int) -> Iterator[bytes]:
    """What ``raw`` decompresses to, in pieces of at most ``cap + 1`` bytes, as the reader asks
    for them (it stops asking past the cap)."""
    try:
        data = decoder.decompress(raw, cap + 1)
        while data:
            yield data
            if not decoder.unconsumed_tail:
                break
            data = decoder.decompress(decoder.unconsumed_tail, cap + 1)
    except zlib.error as exc:
        raise _Stop(FailureKind.INVALID_RESPONSE, f"undecodable body: {exc}") from None


async def read_capped(response: httpx.Response, cap: int, *, truncate: bool = False) -> bytes:
    """The (decoded) body of a streamed ``response``, holding no more than ``cap`` bytes.

    Past the cap: the first ``cap`` bytes when ``truncate``, otherwise a ``TOO_LARGE`` stop.
    """
    return await _read_capped(response, cap, response.headers.get("content-encoding"), truncate)


async def _read_capped(
    response: httpx.Response, cap: int, content_encoding: str | None, truncate: bool
) -> bytes:
    decoder = _decoder(content_encoding)
    chunks: list[bytes] = []
    total = 0
    async for raw in _raw_chunks(response):
        for chunk in (raw,) if decoder is None else _decompressed(decoder, raw, cap):
            total += len(chunk)
            if total > cap:
                if truncate:
                    chunks.append(chunk[: len(chunk) - (total - cap)])
                    return b"".join(chunks)
                raise _Stop(FailureKind.TOO_LARGE, f"body exceeds the {cap}-byte cap")
            chunks.append(chunk)
    return b"".join(chunks)


def json_content_type_problem(content_type: str | None) -> str | None:
    """Why ``content_type`` is not JSON (None when it is ``application/json`` or ``+json``)."""
    if content_type is None:
        return "no Content-Type; expected application/json"
    media_type = content_type.split(";", 1)[0].strip().lower()
    if media_type == "application/json" or media_type.endswith("+json"):
        return None
    return f"Content-Type {media_type or content_type!r} is not JSON"


def _reject_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not valid JSON")


_JSON: Final = json.JSONDecoder(parse_constant=_reject_constant)

MAX_JSON_DEPTH: Final = 64
"""Deeper than any AT Protocol document; deeper bodies are bombs, not data."""


def _check_json_value(value: object, depth: int = 0) -> None:
    """Reject nesting past :data:`MAX_JSON_DEPTH` and strings that are not valid Unicode text
    (a lone surrogate such as ``"\\ud800"`` parses in Python but cannot be written back out)."""
    if depth > MAX_JSON_DEPTH:
        raise ValueError(f"nested deeper than {MAX_JSON_DEPTH} levels")
    if isinstance(value, str):
        _check_text(value)
    elif isinstance(value, dict):
        for key, item in value.items():
            _check_text(key)
            _check_json_value(item, depth + 1)
    elif isinstance(value, list):
        for item in value:
            _check_json_value(item, depth + 1)


def _check_text(value: str) -> None:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("a string holds a lone surrogate (not valid Unicode)") from None


def parse_json(content: bytes) -> object:
    """Strict JSON: no ``NaN``/``Infinity``, no nesting bombs, no lone surrogates.

    Raises ``ValueError`` naming the problem; whatever it returns can be stored in evidence and
    serialised again.
    """
    try:
        # What json.loads(content, parse_constant=...) does, with one decoder instead of a new
        # one per call.
        text = content.decode(json.detect_encoding(content), "surrogatepass")
        parsed: object = _JSON.decode(text)
    except RecursionError:
        raise ValueError("nested too deeply") from None
    if not _plainly_valid(content):
        _check_json_value(parsed)
    return parsed


def _plainly_valid(content: bytes) -> bool:
    """Whether the text of ``content`` alone shows that :func:`_check_json_value` would pass,
    without walking the parsed value (for a DID document: 1 us to tell instead of 3 us to walk,
    on top of 5 us to parse).

    * Nesting: every level needs an opening ``[`` or ``{``, and those bytes are in the text
      whatever its encoding (counting the ones inside strings too only over-counts). With at most
      :data:`MAX_JSON_DEPTH` of them, nothing can be nested deeper.
    * Lone surrogates: ``json.loads`` decodes bytes with ``surrogatepass``, so they can come from
      the raw bytes or from a ``\\u`` escape. Without a NUL byte ``json.loads`` reads the bytes as
      UTF-8 (UTF-16 and UTF-32 JSON always has one); if they are strict UTF-8 (no encoded
      surrogate) and hold no backslash-u, no string can hold a surrogate.
    """
    if content.count(b"[") + content.count(b"{") > MAX_JSON_DEPTH:
        return False
    if b"\\u" in content or b"\x00" in content:
        return False
    if content.isascii():
        return True
    try:
        content.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def xrpc_error(body: bytes) -> tuple[str | None, str | None]:
    """The error name and message of an error body, when it is one: XRPC's ``{"error",
    "message"}``, or Matrix's ``{"errcode", "error"}`` (``M_NOT_FOUND``...)."""
    try:
        parsed = parse_json(body)
    except ValueError:
        return None, None
    if isinstance(parsed, dict) and isinstance(parsed.get("errcode"), str):
        text = parsed.get("error")
        return parsed["errcode"][:80], one_line(text)[:200] if isinstance(text, str) else None
    if not isinstance(parsed, dict) or not isinstance(parsed.get("error"), str):
        return None, None
    message = parsed.get("message")
    return parsed["error"], one_line(message)[:200] if isinstance(message, str) else None


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds a ``Retry-After`` header asks to wait (seconds or HTTP-date); None if absent/bad."""
    if value is None:
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def _timeout_detail(exc: Exception, timeout: float) -> str:
    phases: dict[type[Exception], str] = {
        httpx.ConnectTimeout: "connect",
        httpx.ReadTimeout: "read",
        httpx.WriteTimeout: "write",
        httpx.PoolTimeout: "waiting for a connection",
    }
    phase = phases.get(type(exc))
    return f"{phase} timed out after {timeout:g} s" if phase else f"timed out after {timeout:g} s"


def _tls_cause(exc: BaseException) -> ssl.SSLError | None:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, ssl.SSLError):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None
