"""HTTP plumbing of the sandbox: host apps, routing, faults, and the in-process transport.

A host is an :data:`App`: an async function from ``httpx.Request`` to ``httpx.Response``. The
:class:`Network` dispatches on the ``Host`` header (which ``--connect-to`` preserves, so the same
dispatch serves in-process requests and requests arriving over loopback sockets) and applies each
host's :class:`Faults`: round-trip time, jitter, error rate, bandwidth cap, or being down.
"""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

from auditor.net.fetch import SANDBOX_HEADER  # sent on every response: reports say "sandbox"

App = Callable[[httpx.Request], Awaitable[httpx.Response]]


def json_response(
    value: Any, status: int = 200, content_type: str = "application/json"
) -> httpx.Response:
    """A JSON response with compact, stable encoding."""
    body = json.dumps(value, separators=(",", ":"), sort_keys=False).encode()
    return httpx.Response(status, content=body, headers={"content-type": content_type})


def xrpc_error(status: int, error: str, message: str) -> httpx.Response:
    """An XRPC error body, as the reference servers send (``{"error", "message"}``)."""
    return json_response({"error": error, "message": message}, status)


def text_response(text: str, status: int = 200, content_type: str = "text/plain") -> httpx.Response:
    return httpx.Response(status, content=text.encode(), headers={"content-type": content_type})


def not_found(request: httpx.Request) -> httpx.Response:
    """What a reference server answers for a path it does not serve: an XRPC method it does not
    implement is 400 ``InvalidRequest`` (as @atproto/pds answers, found by tests/reference), any
    other path 404."""
    path = request.url.path
    if path.startswith("/xrpc/"):
        method = path.removeprefix("/xrpc/")
        return xrpc_error(400, "InvalidRequest", f"No service configured for {method}")
    return xrpc_error(404, "NotFound", f"no route for {request.method} {path}")


Route = Callable[[httpx.Request], Awaitable[httpx.Response]]


@dataclass
class Router:
    """Exact-path routing, then prefix routes (for ``/{did}/...`` style paths)."""

    routes: dict[tuple[str, str], Route] = field(default_factory=dict)
    prefixes: list[tuple[str, str, Route]] = field(default_factory=list)

    def get(self, path: str, route: Route) -> None:
        self.routes[("GET", path)] = route

    def post(self, path: str, route: Route) -> None:
        self.routes[("POST", path)] = route

    def get_prefix(self, prefix: str, route: Route) -> None:
        self.prefixes.append(("GET", prefix, route))

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        route = self.routes.get((request.method, request.url.path))
        if route is not None:
            return await route(request)
        for method, prefix, handler in self.prefixes:
            if request.method == method and request.url.path.startswith(prefix):
                return await handler(request)
        return not_found(request)


def param(request: httpx.Request, name: str) -> str | None:
    """A query parameter (first value), or None."""
    value: str | None = request.url.params.get(name)
    return value


@dataclass(frozen=True)
class Faults:
    """How a host misbehaves (all off by default)."""

    rtt: float = 0.0
    """Seconds added to every response (a round trip)."""
    jitter: float = 0.0
    """Up to this many seconds more, drawn from the network's seeded RNG."""
    error_rate: float = 0.0
    """Share of requests answered 503 instead."""
    bandwidth: float | None = None
    """Bytes per second the body is delivered at (None: unlimited)."""
    down: bool = False
    """Refuse connections (the host is unreachable)."""


class HostDown(httpx.ConnectError):
    """The sandbox host refuses connections (in process this is what a closed port looks like)."""


async def _throttled(body: httpx.Response, bandwidth: float) -> AsyncIterator[bytes]:
    """The body delivered at ``bandwidth`` bytes per second, in slices of about 50 ms."""
    size = max(1024, int(bandwidth / 20))
    stream = body.stream
    assert isinstance(stream, AsyncIterable)  # every sandbox response has an async stream
    async for piece in stream:
        for start in range(0, len(piece), size):
            part = piece[start : start + size]
            await asyncio.sleep(len(part) / bandwidth)
            yield part


@dataclass
class Network:
    """Every sandbox host by name, with its faults."""

    hosts: dict[str, App] = field(default_factory=dict)
    faults: dict[str, Faults] = field(default_factory=dict)
    seed: int = 0
    _rng: random.Random = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)

    def add(self, host: str, app: App, faults: Faults | None = None) -> None:
        self.hosts[host.lower()] = app
        if faults is not None:
            self.faults[host.lower()] = faults

    def set_faults(self, hosts: Mapping[str, Faults]) -> None:
        for host, faults in hosts.items():
            self.faults[host.lower()] = faults

    async def handle(self, request: httpx.Request) -> httpx.Response:
        """Answer ``request`` as the host named by its Host header would; raise if it is down."""
        host = request.headers.get("host", request.url.host).rsplit(":", 1)[0].lower()
        app = self.hosts.get(host)
        faults = self.faults.get(host, Faults())
        if app is None or faults.down:
            raise HostDown(f"connection refused by {host}", request=request)
        delay = faults.rtt + (self._rng.uniform(0, faults.jitter) if faults.jitter else 0.0)
        if delay:
            await asyncio.sleep(delay)
        if faults.error_rate and self._rng.random() < faults.error_rate:
            response = xrpc_error(503, "ServiceUnavailable", "injected fault")
        else:
            response = await app(request)
        if faults.bandwidth:
            response = httpx.Response(
                response.status_code,
                headers=response.headers,
                content=_throttled(response, faults.bandwidth),
            )
        response.headers[SANDBOX_HEADER] = "1"
        return response


class SandboxTransport(httpx.AsyncBaseTransport):
    """The in-process injection point: an httpx transport that answers from the :class:`Network`."""

    def __init__(self, network: Network) -> None:
        self.network = network

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        await request.aread()
        response = await self.network.handle(request)
        # Hand httpx a stream it can read incrementally (size caps apply as on a socket).
        return httpx.Response(
            response.status_code,
            headers=response.headers,
            stream=response.stream,
            request=request,
        )
