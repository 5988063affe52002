"""The reference network on 127.0.0.1: the Node harness, the stub relay and a loopback DNS server.

:func:`reference_network` starts, in order, a background asyncio loop serving the stub relay
(:mod:`tests.reference.stub_relay`) and the sandbox's DNS server
(:class:`~auditor.sandbox.dns_server.SandboxDnsServer`), then the Node harness (``server.mjs``:
PLC directory, PDS and did:web host) as a child in its own process group, reads the one
``HARNESS-READY`` line describing what it seeded, and publishes each account's ``_atproto`` TXT
record. It yields a :class:`ReferenceNetwork` and, however the ``with`` block ends (a failed test,
Ctrl-C, an error while starting), stops every process and server it started: SIGTERM to the
harness's process group, SIGKILL after a grace period, and an ``atexit`` hook for an interpreter
that exits without unwinding. The harness also exits by itself when its stdin closes, so even a
SIGKILLed pytest leaves nothing running.

Startup never hangs: a harness that does not report ready within :data:`START_TIMEOUT` seconds, or
exits first, raises :class:`HarnessStartError` with the end of its stderr (a port in use is one
clear line from the harness).
"""

from __future__ import annotations

import asyncio
import atexit
import collections
import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Coroutine, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx

from auditor.net.fetch import SANDBOX_HEADER
from auditor.sandbox.dns_server import SandboxDnsServer
from auditor.sandbox.http import Network
from auditor.sandbox.http_server import SandboxHttpServer
from auditor.sandbox.zone import Zone
from tests.reference.stub_relay import StubRelay
from tests.reference.toolchain import Toolchain

T = TypeVar("T")

READY_PREFIX = "HARNESS-READY "
ERROR_PREFIX = "HARNESS-ERROR "
START_TIMEOUT = 120.0
"""Seconds from starting the harness to its ready line (about 3 s; 11 s on a first run)."""
STOP_GRACE = 10.0
"""Seconds the harness gets to shut down after SIGTERM before its group is killed."""
RELAY_HOST = "relay.test"
"""The name decaudit knows the stub relay by (sent to it with ``--connect-to``)."""
MIRROR_HOST = "mirror.test"
"""The name decaudit knows the stub PLC mirror by."""
PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY")


class HarnessStartError(RuntimeError):
    """The harness did not come up; the message carries its own explanation."""


def clean_environment(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment for child processes, without proxies that would divert loopback traffic."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key.upper() not in PROXY_VARIABLES and not key.startswith("DECAUDIT_")
    }
    env.update(extra or {})
    return env


class _LoopThread:
    """An asyncio loop in a daemon thread, for servers a synchronous session fixture owns."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self.loop.run_forever, name="reference-servers", daemon=True
        )
        self._thread.start()

    def run(self, coroutine: Coroutine[Any, Any, T], timeout: float = 30.0) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=10)
        if not self._thread.is_alive():
            self.loop.close()


class _UnmarkedNetwork(Network):
    """A :class:`Network` whose responses do not carry the sandbox marker header.

    decaudit labels a report "sandbox" when any response carries it; the stub relay stands in
    for a real relay, so reports of the reference network must not be labelled so.
    """

    async def handle(self, request: httpx.Request) -> httpx.Response:
        response = await super().handle(request)
        del response.headers[SANDBOX_HEADER]
        return response


class HarnessProcess:
    """The Node harness as a child process in its own process group."""

    def __init__(self, toolchain: Toolchain, args: list[str], log_dir: Path) -> None:
        self.stderr_path = log_dir / "harness.stderr.log"
        self._stderr = self.stderr_path.open("wb")
        self.stdout_lines: collections.deque[str] = collections.deque(maxlen=200)
        self._ready: dict[str, Any] | None = None
        self._ready_event = threading.Event()
        self.process = subprocess.Popen(
            [str(toolchain.node), str(toolchain.script()), *args],
            cwd=toolchain.app,
            stdin=subprocess.PIPE,  # kept open: the harness exits when it closes
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            env=clean_environment({"LOG_ENABLED": "false", "NODE_ENV": "test"}),
            start_new_session=True,
        )
        atexit.register(self.stop)
        self._reader = threading.Thread(target=self._read_stdout, name="harness-out", daemon=True)
        self._reader.start()

    def _read_stdout(self) -> None:
        """Keep draining stdout (a full pipe would block the harness); catch the ready line."""
        assert self.process.stdout is not None
        for raw in self.process.stdout:
            line = raw.decode("utf-8", errors="replace").rstrip("\n")
            if line.startswith(READY_PREFIX) and self._ready is None:
                self._ready = json.loads(line[len(READY_PREFIX) :])
                self._ready_event.set()
            else:
                self.stdout_lines.append(line)
        self._ready_event.set()  # EOF: the harness exited

    def wait_ready(self, timeout: float = START_TIMEOUT) -> dict[str, Any]:
        """The harness's description, or :class:`HarnessStartError` (exit or timeout)."""
        deadline = time.monotonic() + timeout
        while not self._ready_event.wait(0.2):
            if time.monotonic() > deadline:
                self.stop()
                raise HarnessStartError(
                    f"the reference harness was not ready after {timeout:.0f} s; "
                    f"its stderr ends:\n{self.stderr_tail()}"
                )
        if self._ready is None:
            code = self.process.wait(timeout=STOP_GRACE)
            raise HarnessStartError(
                f"the reference harness exited with status {code} before it was ready: "
                f"{self.error_line() or self.stderr_tail()}"
            )
        return self._ready

    def stderr_tail(self, lines: int = 30) -> str:
        with contextlib.suppress(OSError):
            self._stderr.flush()
            text = self.stderr_path.read_text("utf-8", errors="replace")
            return "\n".join(text.strip().splitlines()[-lines:]) or "(empty)"
        return "(unreadable)"

    def error_line(self) -> str | None:
        """The harness's own one-line explanation (``HARNESS-ERROR ...``), if it gave one."""
        for line in reversed(self.stderr_tail(200).splitlines()):
            if line.startswith(ERROR_PREFIX):
                return line[len(ERROR_PREFIX) :]
        return None

    def stop(self) -> None:
        """SIGTERM the process group, then SIGKILL it; safe to call more than once."""
        process = self.process
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=STOP_GRACE)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=STOP_GRACE)
        # Children the harness may have left in its group (none expected).
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)
        for stream in (process.stdin, process.stdout):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()
        self._reader.join(timeout=5)
        self._stderr.close()
        atexit.unregister(self.stop)


@dataclass
class ReferenceNetwork:
    """What the harness started and seeded, and how to point decaudit at it."""

    description: dict[str, Any]
    dns_address: str
    relay_origin: str
    relay: StubRelay
    harness: HarnessProcess

    @property
    def relay_url(self) -> str:
        return f"https://{RELAY_HOST}"

    @property
    def mirror_url(self) -> str:
        return f"https://{MIRROR_HOST}"

    @property
    def plc_url(self) -> str:
        return str(self.description["plc"]["url"])

    @property
    def pds_api(self) -> str:
        """The PDS on 127.0.0.1 (its public URL says ``localhost``)."""
        return f"http://127.0.0.1:{self.description['pds']['port']}"

    @property
    def accounts(self) -> dict[str, dict[str, Any]]:
        accounts: dict[str, dict[str, Any]] = self.description["accounts"]
        return accounts

    def account(self, role: str) -> dict[str, Any]:
        return self.accounts[role]

    def handles(self) -> list[str]:
        """Every handle any account ever had (each must reach the PDS by ``--connect-to``)."""
        return sorted({h for account in self.accounts.values() for h in account["handles"]})

    def audit_command(self, target: str, *extra: str) -> list[str]:
        """``decaudit check TARGET`` against this network, over real sockets only."""
        connect = [f"{handle}={self.pds_api}" for handle in self.handles()]
        connect += [f"{RELAY_HOST}={self.relay_origin}", f"{MIRROR_HOST}={self.relay_origin}"]
        # Every list of services is given, so no default (public) service is ever asked; no
        # AppView or labeler can run here, so those lists are empty.
        return [
            *decaudit_command(),
            "check", target, "--format", "json",
            "--plc-url", self.plc_url,
            "--nameserver", self.dns_address,
            "--connect-to", ",".join(connect),
            "--relay", self.relay_url,
            "--plc-mirror", self.mirror_url,
            "--appview", "",
            "--labeler", "",
            "--allow-private",
            *extra,
        ]  # fmt: skip


def decaudit_command() -> list[str]:
    """The installed ``decaudit`` console script beside this interpreter (else ``-m auditor``)."""
    script = Path(sys.executable).with_name("decaudit")
    return [str(script)] if script.exists() else [sys.executable, "-m", "auditor"]


def zone_for(description: dict[str, Any]) -> Zone:
    """``_atproto`` TXT records for the accounts the harness says resolve by DNS."""
    zone = Zone()
    for account in description["accounts"].values():
        if account["txt"]:
            zone.add_txt(f"_atproto.{account['handle']}", f"did={account['did']}")
    return zone


@contextlib.contextmanager
def reference_network(
    toolchain: Toolchain,
    work_dir: Path,
    *,
    harness_args: tuple[str, ...] = (),
    start_timeout: float = START_TIMEOUT,
) -> Iterator[ReferenceNetwork]:
    """Start everything, yield the network, stop everything (see the module docstring)."""
    loop = _LoopThread()
    relay = StubRelay()
    dns = SandboxDnsServer(Zone())
    network = _UnmarkedNetwork()
    for name in (RELAY_HOST, "127.0.0.1", "localhost"):
        network.add(name, relay.app())
    network.add(MIRROR_HOST, relay.mirror_app())
    http = SandboxHttpServer(network)
    harness: HarnessProcess | None = None
    try:
        loop.run(dns.start())
        loop.run(http.start())
        data_dir = work_dir / "data"
        data_dir.mkdir(parents=True, exist_ok=True)
        args = ["--data-dir", str(data_dir), "--crawler", http.origin, *harness_args]
        harness = HarnessProcess(toolchain, args, work_dir)
        description = harness.wait_ready(start_timeout)
        relay.pds_api = f"http://127.0.0.1:{description['pds']['port']}"
        relay.plc_api = f"http://127.0.0.1:{description['plc']['port']}"
        dns.zone = zone_for(description)
        yield ReferenceNetwork(description, dns.address, http.origin, relay, harness)
    finally:
        if harness is not None:
            harness.stop()
        with contextlib.suppress(Exception):
            loop.run(http.close())
        with contextlib.suppress(Exception):
            loop.run(relay.aclose())
        with contextlib.suppress(Exception):
            loop.run(dns.close())
        loop.close()
