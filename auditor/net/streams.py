"""A network stream whose idle-connection check costs a system call, not an object graph.

httpcore asks every pooled connection ``get_extra_info("is_readable")`` each time it hands out a
request (an idle HTTP/1.1 connection that turned readable was closed by the server). Through
anyio that question builds a fresh dictionary of every attribute of the socket, TLS layer
included, to read one of them: in a batch, with a few dozen kept-alive connections per origin,
it was the largest single cost of the socket path (bench/README.md). :class:`ReadableCheck`
looks the raw socket up once, when the connection is made, and answers with one ``poll()``.
Everything else is the wrapped stream's.
"""

from __future__ import annotations

import select
import ssl
from typing import Any, Protocol

import httpcore


class ReadableCheck(httpcore.AsyncNetworkStream):
    """Wraps an httpcore stream; ``is_readable`` and ``socket`` come from the cached socket."""

    def __init__(self, inner: httpcore.AsyncNetworkStream) -> None:
        self.inner = inner
        # A socket.socket, or asyncio's TransportSocket wrapper of one: both have fileno().
        raw = inner.get_extra_info("socket")
        self._socket: _HasFileno | None = raw if callable(getattr(raw, "fileno", None)) else None

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return await self.inner.read(max_bytes, timeout)

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        await self.inner.write(buffer, timeout)

    async def aclose(self) -> None:
        await self.inner.aclose()

    async def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.AsyncNetworkStream:
        return ReadableCheck(await self.inner.start_tls(ssl_context, server_hostname, timeout))

    def get_extra_info(self, info: str) -> Any:
        if info == "is_readable":
            return is_readable(self._socket)
        if info == "socket" and self._socket is not None:
            return self._socket
        return self.inner.get_extra_info(info)


class _HasFileno(Protocol):
    def fileno(self) -> int: ...


def is_readable(sock: _HasFileno | None) -> bool:
    """Whether a ``recv`` would return at once (data, or the end of a closed connection).

    A socket that is gone counts as readable, so the pool drops the connection.
    """
    fd = -1 if sock is None else sock.fileno()
    if fd < 0:
        return True
    if not hasattr(select, "poll"):  # Windows
        return bool(select.select([fd], [], [], 0)[0])
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    return bool(poller.poll(0))
