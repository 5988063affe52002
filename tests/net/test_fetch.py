"""Fetcher: every FailureKind (respx + StaticResolver, and real servers on 127.0.0.1 where it
matters), the exchange record, redirects, size caps, retries with Retry-After, deadline."""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import socket
import ssl
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
import respx

from auditor.models.common import FailureKind, ProbeFailure
from auditor.net.client import build_client
from auditor.net.deadline import Deadline
from auditor.net.dns import ADDR, StaticResolver
from auditor.net.fetch import (
    BytesResult,
    Fetcher,
    JsonResult,
    TextResult,
    json_content_type_problem,
    parse_json,
    parse_retry_after,
    xrpc_error,
)
from auditor.net.transport import GuardedHTTPTransport, PolicyTransport
from auditor.settings import AuditSettings

pytestmark = pytest.mark.anyio

K = FailureKind
PUBLIC_IP = "93.184.216.34"
PDS = "https://pds.example.com"
NAMES = {"pds.example.com": [PUBLIC_IP], "other.example.com": ["2606:2800:220:1::1"]}


class Sleeps:
    """A fake ``sleep`` that records what it was asked to wait."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


class RaisingTransport(httpx.AsyncBaseTransport):
    """An inner transport that raises the given exception (respx would rewrite its cause)."""

    def __init__(self, exc: Exception) -> None:
        self.exc = exc

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        raise self.exc


@contextlib.asynccontextmanager
async def fetching(
    router_or_transport: respx.Router | httpx.AsyncBaseTransport | None = None,
    *,
    settings: AuditSettings | None = None,
    resolver: StaticResolver | None = None,
    deadline: Deadline | None = None,
    sleep: Sleeps | None = None,
) -> AsyncIterator[Fetcher]:
    settings = settings or AuditSettings()
    if isinstance(router_or_transport, respx.Router):
        inner: httpx.AsyncBaseTransport | None = httpx.MockTransport(
            router_or_transport.async_handler
        )
    else:
        inner = router_or_transport
    async with build_client(
        settings, resolver or StaticResolver(addresses=NAMES), transport=inner
    ) as client:
        yield Fetcher(client, settings, deadline or Deadline(30), sleep=sleep or Sleeps())


def failed(result: object, kind: FailureKind) -> ProbeFailure:
    assert isinstance(result, ProbeFailure), result
    assert result.kind is kind, result.message
    assert result.outcome == "failed"
    assert result.message.startswith(f"GET {result.source}: ")
    assert "\n" not in result.message
    assert result.elapsed_ms is not None and result.elapsed_ms >= 0
    return result


# --- success and the exchange record -------------------------------------------------------------


async def test_get_json_records_the_exchange() -> None:
    router = respx.Router(assert_all_mocked=True)
    route = router.get(f"{PDS}/xrpc/com.atproto.repo.describeRepo?repo=did%3Aplc%3Ax").respond(
        200, json={"handle": "alice.test"}
    )
    async with fetching(router) as fetcher:
        result = await fetcher.get_json(
            f"{PDS}/xrpc/com.atproto.repo.describeRepo", params={"repo": "did:plc:x"}
        )
    assert isinstance(result, JsonResult)
    assert result.body == {"handle": "alice.test"}
    exchange = result.exchange
    assert exchange.url == f"{PDS}/xrpc/com.atproto.repo.describeRepo?repo=did%3Aplc%3Ax"
    assert exchange.final_url == exchange.url
    assert exchange.status == 200
    assert exchange.content_type == "application/json"
    assert exchange.redirects == []
    assert exchange.elapsed_ms >= 0
    sent = route.calls.last.request
    assert sent.headers["user-agent"] == AuditSettings().user_agent
    assert sent.headers["user-agent"].startswith("decaudit/")
    assert sent.headers["accept"] == "application/json"
    assert sent.headers["accept-encoding"] == "identity"


async def test_cookies_are_neither_kept_nor_sent() -> None:
    """A server's ``Set-Cookie`` must not change what later probes send (or reveal who asks)."""
    router = respx.Router(assert_all_mocked=True)
    route = router.get(f"{PDS}/xrpc/a").respond(
        200, json={}, headers={"set-cookie": "track=1; Path=/; Domain=pds.example.com"}
    )
    async with fetching(router) as fetcher:
        for _ in range(2):
            assert isinstance(await fetcher.get_json(f"{PDS}/xrpc/a"), JsonResult)
        assert len(fetcher.client.cookies.jar) == 0
        with pytest.raises(AttributeError):
            fetcher.client.cookies = {"a": "b"}
        fetcher.client.cookies.set("track", "1", domain="pds.example.com")
        fetcher.client.cookies["other"] = "2"
        fetcher.client.cookies.update({"third": "3"})
        assert len(fetcher.client.cookies.jar) == 0  # nothing can be put in by hand either
        request = fetcher.client.build_request("GET", f"{PDS}/xrpc/a")
        assert "cookie" not in request.headers
    assert [call.request.headers.get("cookie") for call in route.calls] == [None, None]


@pytest.mark.parametrize(
    "content_type",
    [
        "application/json",
        "application/json; charset=utf-8",
        "Application/JSON",
        "application/did+ld+json",
        "application/ld+json; profile=x",
    ],
)
async def test_json_content_types_accepted(content_type: str) -> None:
    router = respx.Router()
    router.get(f"{PDS}/doc").respond(200, content=b'{"id":"did:plc:x"}', content_type=content_type)
    async with fetching(router) as fetcher:
        result = await fetcher.get_json(f"{PDS}/doc", accept="application/did+ld+json")
    assert isinstance(result, JsonResult)
    assert result.body == {"id": "did:plc:x"}


async def test_get_text_and_bytes() -> None:
    router = respx.Router()
    router.get(f"{PDS}/.well-known/atproto-did").respond(
        200, content=b"did:plc:abc\n", content_type="text/plain"
    )
    router.get(f"{PDS}/repo.car").respond(
        200, content=b"\x00\x01car", content_type="application/vnd.ipld.car"
    )
    async with fetching(router) as fetcher:
        text = await fetcher.get_text(f"{PDS}/.well-known/atproto-did")
        car = await fetcher.get_bytes(
            f"{PDS}/repo.car", max_bytes=100, accept="application/vnd.ipld.car"
        )
    assert isinstance(text, TextResult) and text.text == "did:plc:abc\n"
    assert isinstance(car, BytesResult) and car.body == b"\x00\x01car"
    assert router.calls[1].request.headers["accept"] == "application/vnd.ipld.car"


# --- INVALID_RESPONSE ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "content_type", "fragment"),
    [
        (b"<html>", "text/html", "Content-Type 'text/html' is not JSON"),
        (b"{}", None, "no Content-Type"),
        (b"{}", "application/jsonx", "is not JSON"),
        (b'{"a": ', "application/json", "malformed JSON"),
        (b"", "application/json", "malformed JSON"),
        (b'{"a": NaN}', "application/json", "NaN is not valid JSON"),
        (b"[" * 200_000 + b"]" * 200_000, "application/json", "nested too deeply"),
        (b'{"a": "\xff"}', "application/json", "malformed JSON"),
    ],
)
async def test_invalid_json(content: bytes, content_type: str | None, fragment: str) -> None:
    router = respx.Router()
    headers = {"content-type": content_type} if content_type else {}
    router.get(f"{PDS}/x").respond(200, content=content, headers=headers)
    async with fetching(router, settings=AuditSettings(max_json_bytes=1_000_000)) as fetcher:
        result = failed(await fetcher.get_json(f"{PDS}/x"), K.INVALID_RESPONSE)
    assert fragment in result.message
    assert result.source == f"{PDS}/x"


async def test_invalid_utf8_text() -> None:
    router = respx.Router()
    router.get(f"{PDS}/.well-known/atproto-did").respond(200, content=b"did:plc:\xff")
    async with fetching(router) as fetcher:
        result = failed(
            await fetcher.get_text(f"{PDS}/.well-known/atproto-did"), K.INVALID_RESPONSE
        )
    assert "not UTF-8" in result.message


async def test_undecodable_content_encoding() -> None:
    async def not_gzip() -> AsyncIterator[bytes]:
        yield b"not gzip"

    headers = {"content-encoding": "gzip", "content-type": "application/json"}
    router = respx.Router()
    router.get(f"{PDS}/x").mock(
        side_effect=lambda request: httpx.Response(200, headers=headers, content=not_gzip())
    )
    async with fetching(router) as fetcher:
        result = failed(await fetcher.get_json(f"{PDS}/x"), K.INVALID_RESPONSE)
    assert "undecodable" in result.message


@pytest.mark.parametrize(
    "url", ["not a url", "ftp://pds.example.com/x", "https:///path", "/relative"]
)
async def test_unfetchable_urls(url: str) -> None:
    router = respx.Router(assert_all_mocked=True)
    async with fetching(router) as fetcher:
        result = failed(await fetcher.get_json(url), K.INVALID_RESPONSE)
    assert not router.calls
    assert result.source


# --- HTTP_STATUS ---------------------------------------------------------------------------------


async def test_xrpc_error_name_and_status() -> None:
    router = respx.Router()
    router.get(f"{PDS}/xrpc/com.atproto.repo.describeRepo").respond(
        400, json={"error": "RepoNotFound", "message": "Could not find repo:\n did:plc:x"}
    )
    async with fetching(router) as fetcher:
        result = failed(
            await fetcher.get_json(f"{PDS}/xrpc/com.atproto.repo.describeRepo"), K.HTTP_STATUS
        )
    assert result.http_status == 400
    assert result.error_name == "RepoNotFound"
    assert result.message == (
        f"GET {PDS}/xrpc/com.atproto.repo.describeRepo: "
        "HTTP 400 (RepoNotFound: Could not find repo: did:plc:x)"
    )


@pytest.mark.parametrize(
    ("status", "content"), [(404, b"<h1>Not found</h1>"), (500, b""), (410, b'{"error": 3}')]
)
async def test_non_2xx_without_xrpc_error(status: int, content: bytes) -> None:
    router = respx.Router()
    router.get(f"{PDS}/.well-known/atproto-did").respond(status, content=content)
    async with fetching(router) as fetcher:
        result = failed(await fetcher.get_text(f"{PDS}/.well-known/atproto-did"), K.HTTP_STATUS)
    assert result.http_status == status
    assert result.error_name is None
    assert result.message == f"GET {PDS}/.well-known/atproto-did: HTTP {status}"


async def test_redirect_without_location_is_a_status_failure() -> None:
    router = respx.Router()
    router.get(f"{PDS}/x").respond(302)
    async with fetching(router) as fetcher:
        assert failed(await fetcher.get_json(f"{PDS}/x"), K.HTTP_STATUS).http_status == 302


# --- TOO_LARGE -----------------------------------------------------------------------------------


async def test_content_length_over_cap_is_refused_before_reading() -> None:
    router = respx.Router()
    router.get(f"{PDS}/big").respond(200, json={"x": "y" * 200})
    async with fetching(router) as fetcher:
        result = failed(await fetcher.get_json(f"{PDS}/big", max_bytes=100), K.TOO_LARGE)
    assert "Content-Length" in result.message and "100-byte cap" in result.message


async def test_streamed_body_over_cap_stops_reading() -> None:
    produced: list[int] = []

    async def chunks() -> AsyncIterator[bytes]:
        for index in range(1000):
            produced.append(index)
            yield b"x" * 1024

    router = respx.Router()
    router.get(f"{PDS}/big").mock(
        return_value=httpx.Response(
            200, headers={"content-type": "application/json"}, content=chunks()
        )
    )
    async with fetching(router) as fetcher:
        result = failed(
            await fetcher.get_bytes(f"{PDS}/big", max_bytes=10_000, accept="*/*"), K.TOO_LARGE
        )
    assert "body exceeds the 10000-byte cap" in result.message
    assert len(produced) < 20


async def test_default_cap_is_max_json_bytes() -> None:
    router = respx.Router()
    router.get(f"{PDS}/x").respond(200, json=list(range(100)))
    async with fetching(router, settings=AuditSettings(max_json_bytes=50)) as fetcher:
        failed(await fetcher.get_json(f"{PDS}/x"), K.TOO_LARGE)


# --- redirects -----------------------------------------------------------------------------------


async def test_redirects_are_followed_and_recorded() -> None:
    router = respx.Router()
    router.get(f"{PDS}/a").respond(301, headers={"location": "/b?x=1"})
    router.get(f"{PDS}/b?x=1").respond(
        302, headers={"location": "https://other.example.com/c#frag"}
    )
    router.get("https://other.example.com/c").respond(200, json={"done": True})
    async with fetching(router) as fetcher:
        result = await fetcher.get_json(f"{PDS}/a")
    assert isinstance(result, JsonResult)
    assert result.exchange.url == f"{PDS}/a"
    assert result.exchange.redirects == [f"{PDS}/b?x=1", "https://other.example.com/c"]
    assert result.exchange.final_url == "https://other.example.com/c"


@pytest.mark.parametrize(("hops", "ok"), [(5, True), (6, False)])
async def test_redirect_limit(hops: int, ok: bool) -> None:
    router = respx.Router()
    for n in range(hops, 0, -1):
        router.get(f"{PDS}/r/{n}").respond(307, headers={"location": f"/r/{n - 1}"})
    router.get(f"{PDS}/r/0").respond(200, json={})
    async with fetching(router, settings=AuditSettings(max_redirects=5)) as fetcher:
        result = await fetcher.get_json(f"{PDS}/r/{hops}")
    if ok:
        assert isinstance(result, JsonResult) and len(result.exchange.redirects) == 5
    else:
        assert "more than 5 redirects" in failed(result, K.TOO_MANY_REDIRECTS).message
        assert len(router.calls) == 6


async def test_redirect_loop_is_detected() -> None:
    router = respx.Router()
    router.get(f"{PDS}/a").respond(302, headers={"location": "/b"})
    router.get(f"{PDS}/b").respond(302, headers={"location": "/a"})
    async with fetching(router) as fetcher:
        result = failed(await fetcher.get_json(f"{PDS}/a"), K.TOO_MANY_REDIRECTS)
    assert "redirect loop back to" in result.message
    assert len(router.calls) == 2


async def test_zero_redirects_allowed() -> None:
    router = respx.Router()
    router.get(f"{PDS}/a").respond(302, headers={"location": "/b"})
    async with fetching(router, settings=AuditSettings(max_redirects=0)) as fetcher:
        failed(await fetcher.get_json(f"{PDS}/a"), K.TOO_MANY_REDIRECTS)


@pytest.mark.parametrize(
    ("location", "kind", "fragment"),
    [
        ("http://169.254.169.254/latest/meta-data/", K.BLOCKED_ADDRESS, "link-local"),
        ("https://10.0.0.1/", K.BLOCKED_ADDRESS, "10.0.0.1 is private"),
        ("http://pds.example.com/x", K.INSECURE_TRANSPORT, f"redirect from {PDS}/a downgrades"),
        ("ftp://pds.example.com/x", K.INVALID_RESPONSE, "non-http(s)"),
        ("https://[bad/", K.INVALID_RESPONSE, "invalid host name '%5bbad'"),
        ("https://a..b/", K.INVALID_RESPONSE, "invalid host name"),
        ("https://[::1/", K.INVALID_RESPONSE, "invalid redirect: Invalid URL in location header"),
    ],
)
async def test_redirect_hops_go_through_the_policy(
    location: str, kind: FailureKind, fragment: str
) -> None:
    router = respx.Router(assert_all_mocked=True)
    router.get(f"{PDS}/a").respond(302, headers={"location": location})
    async with fetching(router) as fetcher:
        result = failed(await fetcher.get_json(f"{PDS}/a"), kind)
    assert fragment in result.message
    assert result.source == f"{PDS}/a"
    assert len(router.calls) == 1


# --- BLOCKED_ADDRESS / INSECURE_TRANSPORT / DNS ---------------------------------------------------


@pytest.mark.parametrize(
    ("url", "kind", "fragment"),
    [
        (
            "https://169.254.169.254/",
            K.BLOCKED_ADDRESS,
            "169.254.169.254 is link-local (cloud metadata range); refused always",
        ),
        ("https://metadata.test/", K.BLOCKED_ADDRESS, "metadata.test: 169.254.169.254"),
        ("https://127.0.0.1:2583/", K.BLOCKED_ADDRESS, "needs --allow-private"),
        ("http://pds.example.com/", K.INSECURE_TRANSPORT, "only https is allowed"),
        ("https://missing.test/", K.DNS_NXDOMAIN, "missing.test"),
        ("https://noaddr.test/", K.DNS_NO_ANSWER, "noaddr.test"),
        ("https://servfail.test/", K.DNS_ERROR, "servfail.test"),
        ("https://slowdns.test/", K.TIMEOUT, "slowdns.test"),
    ],
)
async def test_destination_failures(url: str, kind: FailureKind, fragment: str) -> None:
    resolver = StaticResolver(
        txt={"noaddr.test": ["x"]},
        addresses={**NAMES, "metadata.test": ["169.254.169.254"]},
        failures={("servfail.test", ADDR): K.DNS_ERROR, ("slowdns.test", ADDR): K.TIMEOUT},
    )
    router = respx.Router(assert_all_mocked=True)
    async with fetching(router, resolver=resolver) as fetcher:
        result = failed(await fetcher.get_json(url), kind)
    assert fragment in result.message
    assert not router.calls


# --- TIMEOUT / DEADLINE / TLS / NETWORK / INTERNAL -----------------------------------------------


@pytest.mark.parametrize(
    ("exc", "fragment"),
    [
        (httpx.ConnectTimeout("x"), "connect timed out after 10 s"),
        (httpx.ReadTimeout("x"), "read timed out after 10 s"),
        (httpx.PoolTimeout("x"), "waiting for a connection timed out"),
    ],
)
async def test_timeouts(exc: Exception, fragment: str) -> None:
    async with fetching(RaisingTransport(exc)) as fetcher:
        result = failed(await fetcher.get_json(f"{PDS}/x"), K.TIMEOUT)
    assert fragment in result.message


async def test_expired_deadline_sends_nothing() -> None:
    router = respx.Router(assert_all_mocked=True)
    async with fetching(router, deadline=Deadline(0)) as fetcher:
        result = failed(await fetcher.get_json(f"{PDS}/x"), K.DEADLINE)
    assert "audit deadline of 0 s reached" in result.message
    assert not router.calls


async def test_deadline_cuts_a_slow_request() -> None:
    async def slow(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(5)
        return httpx.Response(200, json={})

    router = respx.Router()
    router.get(f"{PDS}/slow").mock(side_effect=slow)
    started = time.monotonic()
    async with fetching(router, deadline=Deadline(0.2)) as fetcher:
        failed(await fetcher.get_json(f"{PDS}/slow"), K.DEADLINE)
    assert time.monotonic() - started < 1.5


async def test_tls_failure() -> None:
    cause = ssl.SSLCertVerificationError(1, "[SSL: CERTIFICATE_VERIFY_FAILED] self-signed")
    error = httpx.ConnectError("handshake")
    error.__cause__ = cause
    async with fetching(RaisingTransport(error)) as fetcher:
        result = failed(await fetcher.get_json(f"{PDS}/x"), K.TLS)
    assert "CERTIFICATE_VERIFY_FAILED" in result.message


@pytest.mark.parametrize(
    "exc",
    [
        httpx.ConnectError("connection refused"),
        httpx.ReadError("reset"),
        httpx.RemoteProtocolError("server disconnected"),
        httpx.ProxyError("bad proxy"),
    ],
)
async def test_network_failures(exc: Exception) -> None:
    async with fetching(RaisingTransport(exc)) as fetcher:
        result = failed(await fetcher.get_json(f"{PDS}/x"), K.NETWORK)
    assert type(exc).__name__ in result.message


@pytest.mark.parametrize("exc", [RuntimeError("boom"), KeyError("k"), AssertionError()])
async def test_unexpected_exceptions_are_internal(exc: Exception) -> None:
    async with fetching(RaisingTransport(exc)) as fetcher:
        result = failed(await fetcher.get_json(f"{PDS}/x"), K.INTERNAL)
    assert f"internal error: {type(exc).__name__}" in result.message


async def test_cancellation_propagates() -> None:
    async def forever(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(30)
        raise AssertionError("unreachable")

    router = respx.Router()
    router.get(f"{PDS}/x").mock(side_effect=forever)
    async with fetching(router) as fetcher:
        task = asyncio.ensure_future(fetcher.get_json(f"{PDS}/x"))
        await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


# --- retries -------------------------------------------------------------------------------------


async def test_retry_after_seconds_is_honoured() -> None:
    router = respx.Router()
    router.get(f"{PDS}/x").mock(
        side_effect=[
            httpx.Response(503, headers={"retry-after": "2"}),
            httpx.Response(429, headers={"retry-after": "0"}),
            httpx.Response(200, json={"ok": 1}),
        ]
    )
    sleeps = Sleeps()
    async with fetching(router, sleep=sleeps) as fetcher:
        result = await fetcher.get_json(f"{PDS}/x")
    assert isinstance(result, JsonResult)
    assert sleeps.waits == [2.0, 0.0]
    assert len(router.calls) == 3


async def test_retry_after_http_date_is_honoured() -> None:
    when = email.utils.format_datetime(datetime.now(UTC) + timedelta(seconds=4), usegmt=True)
    router = respx.Router()
    router.get(f"{PDS}/x").mock(
        side_effect=[
            httpx.Response(429, headers={"retry-after": when}),
            httpx.Response(200, json={}),
        ]
    )
    sleeps = Sleeps()
    async with fetching(router, sleep=sleeps) as fetcher:
        assert isinstance(await fetcher.get_json(f"{PDS}/x"), JsonResult)
    assert len(sleeps.waits) == 1 and 2 < sleeps.waits[0] <= 4


async def test_backoff_without_retry_after() -> None:
    router = respx.Router()
    router.get(f"{PDS}/x").mock(
        side_effect=[httpx.Response(502), httpx.Response(504), httpx.Response(200, json={})]
    )
    sleeps = Sleeps()
    async with fetching(router, sleep=sleeps) as fetcher:
        assert isinstance(await fetcher.get_json(f"{PDS}/x"), JsonResult)
    assert sleeps.waits == [0.5, 1.0]


async def test_retries_are_bounded() -> None:
    router = respx.Router()
    router.get(f"{PDS}/x").respond(
        503, json={"error": "Overloaded", "message": "busy"}, headers={"retry-after": "1"}
    )
    sleeps = Sleeps()
    async with fetching(router, settings=AuditSettings(max_retries=2), sleep=sleeps) as fetcher:
        result = failed(await fetcher.get_json(f"{PDS}/x"), K.HTTP_STATUS)
    assert sleeps.waits == [1.0, 1.0]
    assert len(router.calls) == 3
    assert result.http_status == 503 and result.error_name == "Overloaded"


async def test_no_retries_when_disabled() -> None:
    router = respx.Router()
    router.get(f"{PDS}/x").respond(503)
    sleeps = Sleeps()
    async with fetching(router, settings=AuditSettings(max_retries=0), sleep=sleeps) as fetcher:
        failed(await fetcher.get_json(f"{PDS}/x"), K.HTTP_STATUS)
    assert sleeps.waits == [] and len(router.calls) == 1


async def test_retry_after_beyond_the_limit_gives_up() -> None:
    router = respx.Router()
    router.get(f"{PDS}/x").respond(
        429, json={"error": "RateLimitExceeded"}, headers={"retry-after": "120"}
    )
    sleeps = Sleeps()
    async with fetching(
        router, settings=AuditSettings(max_retry_after=10), sleep=sleeps
    ) as fetcher:
        result = failed(await fetcher.get_json(f"{PDS}/x"), K.HTTP_STATUS)
    assert result.message == (
        f"GET {PDS}/x: HTTP 429 (RateLimitExceeded); "
        "Retry-After 120 s exceeds the 10 s limit; gave up"
    )
    assert result.error_name == "RateLimitExceeded"
    assert sleeps.waits == [] and len(router.calls) == 1


async def test_retry_after_beyond_the_deadline_gives_up() -> None:
    router = respx.Router()
    router.get(f"{PDS}/x").respond(503, headers={"retry-after": "30"})
    sleeps = Sleeps()
    settings = AuditSettings(max_retry_after=60)
    async with fetching(router, settings=settings, deadline=Deadline(5), sleep=sleeps) as fetcher:
        result = failed(await fetcher.get_json(f"{PDS}/x"), K.HTTP_STATUS)
    assert "would pass the audit deadline" in result.message
    assert sleeps.waits == []


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        ("5", 5.0),
        (" 7 ", 7.0),
        ("0", 0.0),
        ("-1", None),
        ("1.5", None),
        ("soon", None),
        ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0),  # in the past
        ("Wed, 21 Oct 2015 07:28:30 GMT", 30.0),
    ],
)
def test_parse_retry_after(value: str | None, expected: float | None) -> None:
    now = datetime(2015, 10, 21, 7, 28, 0, tzinfo=UTC)
    assert parse_retry_after(value, now=now) == expected


# --- helpers -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content_type", "ok"),
    [
        ("application/json", True),
        ("application/did+ld+json", True),
        ("application/vnd.foo+json; v=1", True),
        ("text/json", False),
        ("text/plain", False),
        (None, False),
        ("", False),
    ],
)
def test_json_content_type_problem(content_type: str | None, ok: bool) -> None:
    assert (json_content_type_problem(content_type) is None) is ok


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b'{"error":"InvalidRequest","message":"bad"}', ("InvalidRequest", "bad")),
        (b'{"error":"AuthRequired"}', ("AuthRequired", None)),
        (b'{"message":"no name"}', (None, None)),
        (b"[1]", (None, None)),
        (b"<html>", (None, None)),
    ],
)
def test_xrpc_error(body: bytes, expected: tuple[str | None, str | None]) -> None:
    assert xrpc_error(body) == expected


def test_parse_json_is_strict() -> None:
    assert parse_json(b'{"a": [1, 2.5, null]}') == {"a": [1, 2.5, None]}
    for bad in (b"Infinity", b"-Infinity", b"NaN"):
        with pytest.raises(ValueError):
            parse_json(bad)


# --- real servers on 127.0.0.1 -------------------------------------------------------------------


def real(http_server, **overrides: object) -> AuditSettings:
    return AuditSettings(allow_private=True, **overrides)  # type: ignore[arg-type]


@pytest.mark.network
async def test_real_size_cap_stops_a_10_mib_body(http_server) -> None:
    async def huge(request, writer: asyncio.StreamWriter) -> None:
        writer.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n"
        )
        for _ in range(160):  # 10 MiB, close-delimited (no Content-Length)
            writer.write(b"x" * 65536)
            await writer.drain()

    http_server.routes["/huge"] = huge
    started = time.monotonic()
    async with fetching(settings=real(http_server)) as fetcher:
        result = failed(await fetcher.get_json(http_server.url("/huge")), K.TOO_LARGE)
    assert "body exceeds the 1048576-byte cap" in result.message
    assert time.monotonic() - started < 2


@pytest.mark.network
async def test_real_content_length_cap(http_server) -> None:
    async def declared(request, writer: asyncio.StreamWriter) -> None:
        writer.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
            b"Content-Length: 10485760\r\nConnection: close\r\n\r\n{"
        )
        await writer.drain()
        await asyncio.sleep(5)  # never sends the rest: the cap must not wait for it

    http_server.routes["/declared"] = declared
    started = time.monotonic()
    async with fetching(settings=real(http_server)) as fetcher:
        result = failed(await fetcher.get_json(http_server.url("/declared")), K.TOO_LARGE)
    assert "Content-Length 10485760" in result.message
    assert time.monotonic() - started < 1


async def _headers_then_stall(request, writer: asyncio.StreamWriter) -> None:
    writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n")
    await writer.drain()
    await asyncio.sleep(10)


@pytest.mark.network
async def test_real_slow_server_times_out(http_server) -> None:
    http_server.routes["/slow"] = _headers_then_stall
    started = time.monotonic()
    async with fetching(settings=real(http_server, timeout=0.3)) as fetcher:
        result = failed(await fetcher.get_json(http_server.url("/slow")), K.TIMEOUT)
    assert "0.3 s" in result.message  # the read timeout or the whole-attempt budget, same length
    assert time.monotonic() - started < 1.5


@pytest.mark.network
async def test_real_slow_server_hits_the_deadline(http_server) -> None:
    http_server.routes["/slow"] = _headers_then_stall
    started = time.monotonic()
    async with fetching(settings=real(http_server, timeout=5), deadline=Deadline(0.3)) as fetcher:
        result = failed(await fetcher.get_json(http_server.url("/slow")), K.DEADLINE)
    assert "audit deadline of 0.3 s reached" in result.message
    assert time.monotonic() - started < 1.5


def _redirect(location: str):
    async def handler(request, writer: asyncio.StreamWriter) -> None:
        writer.write(
            f"HTTP/1.1 302 Found\r\nLocation: {location}\r\nContent-Length: 0\r\n"
            "Connection: close\r\n\r\n".encode()
        )
        await writer.drain()

    return handler


def _ok(body: bytes = b"{}"):
    async def handler(request, writer: asyncio.StreamWriter) -> None:
        writer.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n"
            + f"Content-Length: {len(body)}\r\n\r\n".encode()
            + body
        )
        await writer.drain()

    return handler


@pytest.mark.network
@pytest.mark.parametrize(("hops", "ok"), [(5, True), (6, False)])
async def test_real_redirect_chain(http_server, hops: int, ok: bool) -> None:
    for n in range(1, 7):
        http_server.routes[f"/r/{n}"] = _redirect(f"/r/{n - 1}")
    http_server.routes["/r/0"] = _ok()
    async with fetching(settings=real(http_server)) as fetcher:
        result = await fetcher.get_json(http_server.url(f"/r/{hops}"))
    if ok:
        assert isinstance(result, JsonResult)
        assert result.exchange.final_url == http_server.url("/r/0")
    else:
        failed(result, K.TOO_MANY_REDIRECTS)
        assert [s.path for s in http_server.seen] == [f"/r/{n}" for n in range(6, 0, -1)]


@pytest.mark.network
async def test_real_redirect_to_metadata_opens_no_connection(http_server) -> None:
    http_server.routes["/start"] = _redirect("http://169.254.169.254/latest/meta-data/")
    connects: list[str] = []
    settings = real(http_server)
    async with build_client(settings, StaticResolver()) as client:
        transport = client._transport
        assert isinstance(transport, PolicyTransport)
        assert isinstance(transport.inner, GuardedHTTPTransport)
        backend = transport.inner.backend
        original = backend.inner

        class Spy(type(original)):  # type: ignore[misc]
            async def connect_tcp(self, host: str, port: int, **kwargs: object):  # type: ignore[override]
                connects.append(host)
                return await original.connect_tcp(host, port, **kwargs)  # type: ignore[arg-type]

        backend.inner = Spy()
        fetcher = Fetcher(client, settings, Deadline(10))
        result = failed(await fetcher.get_json(http_server.url("/start")), K.BLOCKED_ADDRESS)
    assert "169.254.169.254 is link-local (cloud metadata range); refused always" in result.message
    assert result.message.endswith("(at http://169.254.169.254/latest/meta-data/)")
    assert connects == ["127.0.0.1"]
    assert len(http_server.seen) == 1


@pytest.mark.network
async def test_real_tls_self_signed_certificate(tls_server) -> None:
    async with fetching(settings=AuditSettings(allow_private=True)) as fetcher:
        result = failed(await fetcher.get_json(tls_server.url("/ok")), K.TLS)
    assert "CERTIFICATE_VERIFY_FAILED" in result.message


@pytest.mark.network
async def test_real_connect_to_keeps_host_header(http_server) -> None:
    http_server.routes["/xrpc/com.atproto.server.describeServer"] = _ok(b'{"did":"did:web:pds"}')
    settings = AuditSettings(allow_private=True, connect_to={"pds.example.com": http_server.origin})
    resolver = StaticResolver()
    async with fetching(settings=settings, resolver=resolver) as fetcher:
        result = await fetcher.get_json(f"{PDS}/xrpc/com.atproto.server.describeServer")
    assert isinstance(result, JsonResult)
    assert result.exchange.url == f"{PDS}/xrpc/com.atproto.server.describeServer"
    seen = http_server.seen[0]
    assert seen.headers["host"] == "pds.example.com"
    assert seen.headers["user-agent"] == settings.user_agent
    assert seen.target == "/xrpc/com.atproto.server.describeServer"
    assert resolver.queries == []


@pytest.mark.network
async def test_real_refused_connection_is_network() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    async with fetching(settings=AuditSettings(allow_private=True)) as fetcher:
        result = failed(await fetcher.get_json(f"http://127.0.0.1:{port}/"), K.NETWORK)
    assert "ConnectError" in result.message


@pytest.mark.network
async def test_real_name_resolving_to_loopback_needs_allow_private(http_server) -> None:
    resolver = StaticResolver(addresses={"pds.test": ["127.0.0.1"]})
    async with fetching(resolver=resolver) as fetcher:
        result = failed(
            await fetcher.get_json(f"http://pds.test:{http_server.port}/"), K.BLOCKED_ADDRESS
        )
    assert "pds.test: 127.0.0.1 is loopback; needs --allow-private" in result.message
    assert http_server.seen == []


@pytest.mark.network
async def test_a_drip_feeding_server_is_cut_at_the_request_budget(http_server) -> None:
    # One byte every 0.1 s never trips a 0.3 s read timeout; the whole-attempt budget stops it.
    async def drip(request, writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n")
        for _ in range(100):
            writer.write(b" ")
            await writer.drain()
            await asyncio.sleep(0.1)

    http_server.routes["/drip"] = drip
    started = time.monotonic()
    async with fetching(settings=real(http_server, timeout=0.3)) as fetcher:
        result = failed(await fetcher.get_json(http_server.url("/drip")), K.TIMEOUT)
    assert time.monotonic() - started < 2.0
    assert "no complete response within 0.3 s" in result.message


async def test_lone_surrogates_and_deep_nesting_are_invalid_not_internal() -> None:
    router = respx.Router(assert_all_mocked=True)
    json_type = {"content-type": "application/json"}
    router.get(f"{PDS}/surrogate").respond(200, content=b'{"v":"\\ud800"}', headers=json_type)
    router.get(f"{PDS}/deep").respond(200, content=b"[" * 70 + b"]" * 70, headers=json_type)
    async with fetching(router) as fetcher:
        surrogate = failed(await fetcher.get_json(f"{PDS}/surrogate"), K.INVALID_RESPONSE)
        deep = failed(await fetcher.get_json(f"{PDS}/deep"), K.INVALID_RESPONSE)
    assert "lone surrogate" in surrogate.message
    assert "nested deeper than 64" in deep.message


@pytest.mark.network
async def test_a_gzip_bomb_is_stopped_at_the_cap_after_decoding(http_server) -> None:
    import gzip

    bomb = gzip.compress(b"0" * (50 * 1024 * 1024))  # ~50 KB on the wire, 50 MiB decoded

    async def send(request, writer: asyncio.StreamWriter) -> None:
        writer.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Encoding: gzip\r\n"
            + f"Content-Length: {len(bomb)}\r\n\r\n".encode()
            + bomb
        )
        await writer.drain()

    http_server.routes["/bomb"] = send
    async with fetching(settings=real(http_server)) as fetcher:
        result = failed(await fetcher.get_json(http_server.url("/bomb")), K.TOO_LARGE)
    assert "cap" in result.message
