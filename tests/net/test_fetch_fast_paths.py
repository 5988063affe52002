"""The fetcher's shortcuts around httpx and json give exactly what the long way gives.

Each shortcut (URL parsing, the direct send, the body reader, strict JSON without a walk) is
compared with the general path it replaces, on ordinary inputs and on the edges where the
shortcut must step aside.
"""

from __future__ import annotations

import itertools
import json
import logging
import random
from ipaddress import ip_address
from urllib.parse import urlencode

import httpx
import pytest
import respx

from auditor.models.common import FailureKind
from auditor.net.client import build_client
from auditor.net.deadline import Deadline
from auditor.net.dns import StaticResolver
from auditor.net.fetch import (
    MAX_JSON_DEPTH,
    Fetcher,
    JsonResult,
    _absolute_url,
    _check_json_value,
    _parse_url,
    _plainly_valid,
    _with_query,
    parse_json,
)
from auditor.net.shared import SharedAnswers
from auditor.settings import AuditSettings

PUBLIC_IP = "93.184.216.34"
PDS = "https://pds.example.com"

URLS = [
    "https://pds.example.com",
    "https://pds.example.com/",
    "http://pds.example.com/xrpc/com.atproto.sync.getRepoStatus",
    "https://plc.directory/did:plc:ewvi7nxzyoun6zhxrhs64oiz/log/audit",
    "https://alice.bsky.social/.well-known/atproto-did",
    "https://a-b.c-d.example/x/y_z~1/!$&'()*+,;=:@/",
    "https://PDS.example.com/x",  # upper case host: httpx lower-cases
    "HTTPS://pds.example.com/x",
    "https://pds.example.com:443/x",  # default port: dropped
    "https://pds.example.com:8443/x",
    "https://user:pw@pds.example.com/x",
    "https://pds.example.com/a/./b/../c",
    "https://pds.example.com/a/.well-known/b",
    "https://pds.example.com/..",
    "https://pds.example.com/a%2Fb",
    "https://pds.example.com/a b",
    'https://pds.example.com/a"b',
    "https://pds.example.com/ä",
    "https://bücher.example/x",
    "https://127.0.0.1/x",
    "https://999.1.1.1/x",
    "https://1.2.3/x",
    "https://[::1]/x",
    "https://a..b/",
    "https://-a-.example/",
    "https://pds.example.com/x?",
    "https://pds.example.com/x#frag",
    "https://pds.example.com/x?a=1",
    "ftp://pds.example.com/x",
    "https:///x",
    "https://pds.example.com/\x7f",
    "https://pds.example.com/x\ty",
]


def _reference(url: str) -> httpx.URL | str:
    try:
        return httpx.URL(url)
    except httpx.InvalidURL as exc:
        return f"InvalidURL: {exc}"


def _ours(parse: object, *args: str) -> httpx.URL | str:
    try:
        return parse(*args)  # type: ignore[operator, no-any-return]
    except httpx.InvalidURL as exc:
        return f"InvalidURL: {exc}"


def _same(ours: httpx.URL | str, reference: httpx.URL | str) -> None:
    if isinstance(reference, str):
        assert ours == reference
        return
    assert isinstance(ours, httpx.URL)
    assert ours._uri_reference == reference._uri_reference
    assert str(ours) == str(reference)
    assert (ours.host, ours.netloc, ours.raw_path, ours.port) == (
        reference.host,
        reference.netloc,
        reference.raw_path,
        reference.port,
    )


@pytest.mark.parametrize("url", URLS)
def test_parse_url_is_httpx_parse(url: str) -> None:
    _same(_ours(_parse_url, url), _reference(url))


def _random_urls(count: int) -> list[str]:
    rng = random.Random(6)
    alphabet = "abcXYZ019-._~!$&'()*+,;=:@/%?#[] \"ä"
    hosts = ["pds.example.com", "a-b.example", "1.2.3.4", "Host.Example", "x", "a.b.c.d"]
    urls = []
    for _ in range(count):
        path = "".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 12)))
        scheme = rng.choice(["https", "http", "HTTP"])
        urls.append(f"{scheme}://{rng.choice(hosts)}/{path}")
    return urls


def test_parse_url_is_httpx_parse_on_random_urls() -> None:
    for url in _random_urls(5000):
        _same(_ours(_parse_url, url), _reference(url))


QUERIES = [
    {"did": "did:plc:ewvi7nxzyoun6zhxrhs64oiz"},
    {"repo": "did:web:example.com", "limit": 10, "flag": True, "none": None, "f": 1.5},
    {"q": "a b&c=d/é#?%", "cursor": "3l5y|x"},
    {"x": "\x00\x7f\t"},
    {"": ""},
]


@pytest.mark.parametrize(
    ("url", "params"), list(itertools.product(URLS[:12] + URLS[14:20], QUERIES))
)
def test_url_with_params_is_httpx_parse(url: str, params: dict[str, object]) -> None:
    from auditor.net.fetch import _query_value

    query = urlencode([(k, _query_value(v)) for k, v in params.items()])  # type: ignore[arg-type]
    for _ in range(2):  # the base parsed, then from the cache
        _same(_ours(_with_query, url, query), _reference(f"{url}?{query}"))


def test_absolute_url_keeps_its_checks() -> None:
    assert str(_absolute_url(f"{PDS}/x", {"a": "1"})) == f"{PDS}/x?a=1"
    assert str(_absolute_url(f"{PDS}/x?b=2", {"a": "1"})) == f"{PDS}/x?b=2&a=1"
    assert str(_absolute_url(f"{PDS}/x", None)) == f"{PDS}/x"
    for bad in ("/relative", "ftp://pds.example.com/x", "https:///x"):
        with pytest.raises(Exception, match="not an absolute http"):
            _absolute_url(bad, None)


# --- strict JSON without the walk ------------------------------------------------------------


def _walked(content: bytes) -> object:
    try:
        value = json.loads(content, parse_constant=lambda name: (_ for _ in ()).throw(ValueError))
        _check_json_value(value)
    except (ValueError, RecursionError) as exc:
        return type(exc)
    return value


JSON_BODIES = [
    b'{"a": [1, 2.5, null, true, "x"]}',
    '{"name": "Zoë ☃ 𝄞"}'.encode(),
    b'{"a": "\\ud800"}',  # a lone surrogate by escape
    b'{"a": "\\ud834\\udd1e"}',  # a pair: fine
    b'{"a": "\xed\xa0\x80"}',  # a lone surrogate in raw bytes (json.loads uses surrogatepass)
    '{"a": "\ud800"}'.encode("utf-16", "surrogatepass"),
    '{"a": "x"}'.encode("utf-16-le"),
    '{"a": "x"}'.encode("utf-32"),
    b"\xef\xbb\xbf{}",
    b"[" * MAX_JSON_DEPTH + b"]" * MAX_JSON_DEPTH,
    b"[" * (MAX_JSON_DEPTH + 1) + b"]" * (MAX_JSON_DEPTH + 1),
    b"[" * (MAX_JSON_DEPTH + 2) + b"]" * (MAX_JSON_DEPTH + 2),
    b'{"a": ' * 70 + b"1" + b"}" * 70,
    b'["[[[[", ' + b"[" * 60 + b"]" * 60 + b"]",
    b'"\\\\u"',
]


@pytest.mark.parametrize("content", JSON_BODIES)
def test_parse_json_is_the_walk(content: bytes) -> None:
    expected = _walked(content)
    try:
        got: object = parse_json(content)
    except ValueError as exc:
        got = type(exc)
    if isinstance(expected, type):
        assert got is ValueError
    else:
        assert got == expected


def test_plainly_valid_steps_aside() -> None:
    assert _plainly_valid(b'{"a": [1]}')
    assert _plainly_valid('{"a": "é"}'.encode())
    assert not _plainly_valid(b'{"a": "\\u00e9"}')
    assert not _plainly_valid(b'{"a": "\xed\xa0\x80"}')
    assert not _plainly_valid('{"a": 1}'.encode("utf-16"))
    assert not _plainly_valid(b"[" * (MAX_JSON_DEPTH + 1))


# --- the direct send ---------------------------------------------------------------------------


async def _fetch_with(client_options: dict[str, object] | None = None) -> list[httpx.Request]:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"ok": True}, headers={"set-cookie": "a=b"})

    settings = AuditSettings()
    resolver = StaticResolver(addresses={"pds.example.com": [PUBLIC_IP]})
    async with build_client(settings, resolver, transport=httpx.MockTransport(handler)) as client:
        for key, value in (client_options or {}).items():
            setattr(client, key, value)
        fetcher = Fetcher(client, settings, Deadline(30))
        for _ in range(2):
            result = await fetcher.get_json(f"{PDS}/xrpc/x", params={"did": "did:plc:abc"})
            assert isinstance(result, JsonResult), result
            assert result.body == {"ok": True}
    return seen


@pytest.mark.anyio
async def test_direct_send_builds_the_request_httpx_builds() -> None:
    seen = await _fetch_with()
    settings = AuditSettings()
    async with build_client(settings, StaticResolver()) as client:
        headers = client.headers.copy()
    headers["Accept"] = "application/json"
    # How the fetcher built its requests before it built them itself.
    expected = httpx.Request("GET", f"{PDS}/xrpc/x?did=did%3Aplc%3Aabc", headers=headers)
    assert [k for k, _ in expected.headers.raw][:2] == [b"Host", b"Accept"]
    for request in seen:
        assert request.method == "GET"
        assert str(request.url) == str(expected.url)
        assert request.headers.raw == expected.headers.raw  # Host first, same order and case
        assert request.content == b""
        assert "cookie" not in request.headers  # a Set-Cookie was ignored
        assert request.extensions["timeout"] == httpx.Timeout(settings.timeout).as_dict()


@pytest.mark.anyio
async def test_event_hooks_and_auth_still_apply() -> None:
    called: list[str] = []

    async def hook(request: httpx.Request) -> None:
        called.append(str(request.url))

    seen = await _fetch_with({"event_hooks": {"request": [hook], "response": []}})
    assert len(called) == 2 and len(seen) == 2
    seen = await _fetch_with({"auth": httpx.BasicAuth("u", "p")})
    assert all(r.headers["authorization"].startswith("Basic ") for r in seen)


@pytest.mark.anyio
async def test_credentials_in_the_url_go_through_httpx() -> None:
    router = respx.Router()
    route = router.get(f"{PDS}/x").respond(200, json={})
    settings = AuditSettings()
    resolver = StaticResolver(addresses={"pds.example.com": [PUBLIC_IP]})
    inner = httpx.MockTransport(router.async_handler)
    async with build_client(settings, resolver, transport=inner) as client:
        fetcher = Fetcher(client, settings, Deadline(30))
        result = await fetcher.get_json("https://u:p@pds.example.com/x")
    assert isinstance(result, JsonResult)
    assert route.calls.last.request.headers["authorization"].startswith("Basic ")


@pytest.mark.anyio
async def test_closed_client_fails_as_httpx_says() -> None:
    settings = AuditSettings()
    client = build_client(settings, StaticResolver(addresses={"pds.example.com": [PUBLIC_IP]}))
    async with client:
        pass
    result = await Fetcher(client, settings, Deadline(30)).get_json(f"{PDS}/x")
    assert not isinstance(result, JsonResult)
    assert result.kind is FailureKind.INTERNAL
    assert "client has been closed" in result.message


@pytest.mark.anyio
async def test_httpx_request_log_line_is_kept(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="httpx"):
        await _fetch_with()
    lines = [r.getMessage() for r in caplog.records if r.name == "httpx"]
    assert lines == [f'HTTP Request: GET {PDS}/xrpc/x?did=did%3Aplc%3Aabc "HTTP/1.1 200 OK"'] * 2


@pytest.mark.anyio
async def test_shared_answer_is_returned_without_waiting() -> None:
    shared: SharedAnswers[int] = SharedAnswers()
    calls = 0

    async def fetch() -> int:
        nonlocal calls
        calls += 1
        return 7

    assert await shared.get("k", fetch, lambda _: True) == 7
    assert await shared.get("k", fetch, lambda _: True) == 7
    assert calls == 1


@pytest.mark.anyio
async def test_policy_memos_stay_bounded_and_still_refuse() -> None:
    from auditor.net import transport as policy

    count = policy._PERMITTED_MAX + 10
    names = {f"h{i}.example.com": [PUBLIC_IP] for i in range(count)}
    resolver = StaticResolver(addresses={**names, "inside.example.com": ["10.0.0.1"]})
    guard = policy.DestinationGuard(resolver, allow_private=False, timeout=5)
    for name in names:
        assert await guard.vet(name) == [ip_address(PUBLIC_IP)]
    assert len(guard._literals) <= policy._PERMITTED_MAX
    for _ in range(2):  # refused every time: only permitted addresses are remembered
        with pytest.raises(policy.BlockedDestination, match=r"10\.0\.0\.1 is private"):
            await guard.vet("inside.example.com")
        with pytest.raises(policy.BlockedDestination, match="refused always"):
            await guard.vet("169.254.169.254")
    assert await guard.vet("93.184.216.34") == [ip_address(PUBLIC_IP)]
