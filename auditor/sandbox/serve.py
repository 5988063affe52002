"""``decaudit sandbox serve``: the sandbox network on real loopback sockets, for other processes.

The in-process sandbox answers through injection points (an httpx transport, a static resolver);
nothing outside the Python process can reach it. Serving it on sockets lets anything audit it the
way it audits the live network (the installed CLI, benchmarks measuring real connection costs, a
journalist trying decaudit before pointing it at a person): one HTTP port for every sandbox host
(dispatch on the ``Host`` header, which ``--connect-to`` keeps), one UDP+TCP DNS port for the
zone, and a JSON *state file* saying how to reach them::

    {
      "version": 1, "sandbox": true, "pid": 4242,
      "plc_url": "https://plc.directory",
      "nameserver": "127.0.0.1:40053",
      "http_port": 40080, "dns_port": 40053, "refused_port": 40099,
      "connect_to": {"plc.directory": "http://127.0.0.1:40080", ...,
                     "pds.judy.test": "http://127.0.0.1:40099"},
      "down_hosts": ["pds.judy.test"],
      "relays": ["https://bsky.network", ...], "plc_mirrors": ["https://plc.wtf", ...],
      "appviews": ["https://api.bsky.app", ...], "labelers": ["https://mod.bsky.app"],
      "pdses": ["https://bsky.social", ...],
      "accounts": [{"scenario": "pds-down", "handle": "judy.test", "did": "did:plc:...",
                    "target": "judy.test", "expected_band": "hybrid", "story": "..."}],
      "check_args": ["--plc-url", "https://plc.directory", "--nameserver", "127.0.0.1:40053",
                     "--connect-to", "plc.directory=http://127.0.0.1:40080,...",
                     "--relay", "https://bsky.network", ..., "--allow-private"]
    }

``connect_to`` covers **every** sandbox host. A host that is down maps to ``refused_port``: a
socket bound on loopback but never listening, held for the server's lifetime, so connecting to
it is refused by the kernel, just as with a dead server (and no other program can take the port
meanwhile). The file is written atomically once both servers listen (its appearance means
"ready") and removed again on shutdown.

Faults (issue 3, "Latency and faults") come from flags: ``--rtt``, ``--jitter``, ``--error-rate``
and ``--bandwidth`` apply to every host; ``--host-faults HOST=rtt:0.1,jitter:0.02,error_rate:0.1,
bandwidth:100000,down`` (repeatable) to one. :func:`faults_from_flags` parses them strictly and
raises ``ValueError`` with a one-line message, which the CLI turns into exit status 2.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import os
import signal
import socket
import sys
import tempfile
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Final, TypedDict

from auditor.sandbox.dns_server import SandboxDnsServer
from auditor.sandbox.http import Faults
from auditor.sandbox.http_server import (
    PortInUseError,
    SandboxBindError,
    SandboxHttpServer,
    bind_error,
    require_loopback,
)
from auditor.sandbox.world import World

__all__ = [
    "FAULT_KEYS",
    "STATE_VERSION",
    "AccountState",
    "PortInUseError",
    "SandboxBindError",
    "SandboxState",
    "build_state",
    "faults_from_flags",
    "parse_host_faults",
    "run_serve_command",
    "serve",
    "write_state",
]

STATE_VERSION: Final = 1
"""Version of the state-file format (bumped on incompatible changes)."""
PLC_URL: Final = "https://plc.directory"
FAULT_KEYS: Final = ("rtt", "jitter", "error_rate", "bandwidth", "down")
"""The keys ``--host-faults`` accepts."""
_HOST_FAULTS_SYNTAX: Final = "HOST=KEY:VALUE,... (keys: rtt, jitter, error_rate, bandwidth, down)"


class AccountState(TypedDict):
    """One scenario account in the state file."""

    scenario: str
    handle: str
    did: str | None
    target: str
    """What to audit: the handle, or a fediverse/Matrix address (``@alice@mastodon.social``)."""
    expected_band: str | None
    story: str


class SandboxState(TypedDict):
    """The state file: how another process reaches the served sandbox."""

    version: int
    sandbox: bool
    pid: int
    plc_url: str
    nameserver: str
    http_port: int
    dns_port: int
    refused_port: int
    connect_to: dict[str, str]
    down_hosts: list[str]
    relays: list[str]
    plc_mirrors: list[str]
    appviews: list[str]
    labelers: list[str]
    pdses: list[str]
    accounts: list[AccountState]
    check_args: list[str]


# --- faults --------------------------------------------------------------------------------------


def _fault_value(key: str, value: float, where: str) -> float:
    """``value`` for fault ``key`` if it is in range; ``ValueError`` naming ``where`` otherwise."""
    if not math.isfinite(value):
        raise ValueError(f"{where}: {key} must be a finite number, not {value}")
    if key == "error_rate" and not 0.0 <= value <= 1.0:
        raise ValueError(f"{where}: error_rate must be between 0 and 1, not {value:g}")
    if key == "bandwidth" and value <= 0:
        raise ValueError(f"{where}: bandwidth must be a positive number of bytes/s, not {value:g}")
    if value < 0:
        raise ValueError(f"{where}: {key} must not be negative, not {value:g}")
    return value


def parse_host_faults(spec: str) -> tuple[str, dict[str, float | bool]]:
    """One ``--host-faults`` value as ``(host, {key: value})``; ``ValueError`` if malformed.

    ``HOST=rtt:0.1,jitter:0.02,error_rate:0.1,bandwidth:100000,down``: times in seconds,
    error_rate a share (0-1), bandwidth in bytes per second; ``down`` takes no value. Every key
    at most once, at least one key.
    """
    where = f"--host-faults {spec!r}"
    host, sep, body = spec.partition("=")
    host = host.strip().lower().rstrip(".")
    if not sep or not host or not body.strip():
        raise ValueError(f"{where}: expected {_HOST_FAULTS_SYNTAX}")
    values: dict[str, float | bool] = {}
    for item in body.split(","):
        key, colon, raw = (part.strip() for part in item.partition(":"))
        if not key:
            raise ValueError(f"{where}: empty fault in the list; expected {_HOST_FAULTS_SYNTAX}")
        if key not in FAULT_KEYS:
            raise ValueError(f"{where}: unknown fault {key!r} (known: {', '.join(FAULT_KEYS)})")
        if key in values:
            raise ValueError(f"{where}: {key} given twice")
        if key == "down":
            if colon:
                raise ValueError(f"{where}: 'down' takes no value")
            values[key] = True
            continue
        if not colon or not raw:
            raise ValueError(f"{where}: {key} needs a value ({key}:NUMBER)")
        try:
            number = float(raw)
        except ValueError:
            raise ValueError(f"{where}: {key} must be a number, not {raw!r}") from None
        values[key] = _fault_value(key, number, where)
    return host, values


def faults_from_flags(
    hosts: Iterable[str],
    *,
    existing: Mapping[str, Faults] | None = None,
    rtt: float = 0.0,
    jitter: float = 0.0,
    error_rate: float = 0.0,
    bandwidth: float | None = None,
    host_faults: Sequence[str] = (),
) -> dict[str, Faults]:
    """The :class:`Faults` of every host in ``hosts`` after applying the serve flags.

    Each host starts from its ``existing`` faults (what the scenarios set, e.g. ``pds-down``'s
    host being down); the global flags replace the fields they set (non-zero values, a
    bandwidth); then ``--host-faults`` entries replace theirs for one host. Raises ``ValueError``
    for a value out of range, a malformed entry, or a host the sandbox does not serve.
    """
    known = sorted({host.lower() for host in hosts})
    overrides: dict[str, float | bool] = {}
    for key, value in (("rtt", rtt), ("jitter", jitter), ("error_rate", error_rate)):
        if _fault_value(key, float(value), f"--{key.replace('_', '-')}"):
            overrides[key] = float(value)
    if bandwidth is not None:
        overrides["bandwidth"] = _fault_value("bandwidth", float(bandwidth), "--bandwidth")
    per_host: dict[str, dict[str, float | bool]] = {}
    for spec in host_faults:
        host, values = parse_host_faults(spec)
        if host not in known:
            raise ValueError(
                f"--host-faults {spec!r}: {host} is not a host of the selected scenarios "
                f"(hosts: {', '.join(known)})"
            )
        per_host.setdefault(host, {}).update(values)
    current = {host.lower(): faults for host, faults in (existing or {}).items()}
    result: dict[str, Faults] = {}
    for host in known:
        faults = _overridden(current.get(host, Faults()), overrides)
        result[host] = _overridden(faults, per_host.get(host, {}))
    return result


def _overridden(faults: Faults, values: Mapping[str, float | bool]) -> Faults:
    """``faults`` with the fields named in ``values`` replaced."""
    bandwidth = values.get("bandwidth", faults.bandwidth)
    return Faults(
        rtt=float(values.get("rtt", faults.rtt)),
        jitter=float(values.get("jitter", faults.jitter)),
        error_rate=float(values.get("error_rate", faults.error_rate)),
        bandwidth=None if bandwidth is None else float(bandwidth),
        down=bool(values.get("down", faults.down)),
    )


# --- the state file ------------------------------------------------------------------------------


def _origin(host: str, port: int) -> str:
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def build_state(
    world: World, *, host: str, http_port: int, dns_port: int, refused_port: int
) -> SandboxState:
    """The state file's content for ``world`` served on these ports of ``host``."""
    served, refused = _origin(host, http_port), _origin(host, refused_port)
    down = sorted(h for h in world.network.hosts if world.network.faults.get(h, Faults()).down)
    connect_to = {h: refused if h in down else served for h in sorted(world.network.hosts)}
    nameserver = f"[{host}]:{dns_port}" if ":" in host else f"{host}:{dns_port}"
    relays = [f"https://{h}" for h in world.relays]
    mirrors = [f"https://{h}" for h in world.mirrors]
    appviews = [f"https://{h}" for h in world.appviews]
    return SandboxState(
        version=STATE_VERSION,
        sandbox=True,
        pid=os.getpid(),
        plc_url=PLC_URL,
        nameserver=nameserver,
        http_port=http_port,
        dns_port=dns_port,
        refused_port=refused_port,
        connect_to=connect_to,
        down_hosts=down,
        relays=relays,
        plc_mirrors=mirrors,
        appviews=appviews,
        labelers=[f"https://{world.labeler.hostname}"],
        pdses=[f"https://{h}" for h in world.pdses],
        accounts=[
            AccountState(
                scenario=a.scenario,
                handle=a.handle,
                did=a.did,
                target=a.target,
                expected_band=None if a.expected_band is None else str(a.expected_band.value),
                story=a.story,
            )
            for a in world.accounts
        ],
        check_args=[
            "--plc-url",
            PLC_URL,
            "--nameserver",
            nameserver,
            "--connect-to",
            ",".join(f"{h}={url}" for h, url in compact_connect_to(connect_to).items()),
            *(arg for url in relays for arg in ("--relay", url)),
            *(arg for url in mirrors for arg in ("--plc-mirror", url)),
            *(arg for url in appviews for arg in ("--appview", url)),
            "--labeler",
            f"https://{world.labeler.hostname}",
            *(arg for domain in world.own_domains for arg in ("--own-domain", domain)),
            "--allow-private",
        ],
    )


WILDCARD_FROM = 8
"""Names under one top-level domain sent to one place, from which ``check_args`` uses ``*.TLD``."""


def compact_connect_to(connect_to: Mapping[str, str]) -> dict[str, str]:
    """The ``--connect-to`` table with the names under a top-level domain folded into one
    ``*.TLD`` entry for the place most of them go (the others keep exact entries, which win): the
    same routing for every sandbox host, short enough for a command line with 100,000 accounts.
    A name the sandbox does not serve then reaches the sandbox's server, which refuses it as the
    in-process sandbox does (it used to fail earlier, in DNS)."""
    by_tld: dict[str, Counter[str]] = {}
    for host, url in connect_to.items():
        if "." in host:
            by_tld.setdefault(host.rsplit(".", 1)[1], Counter())[url] += 1
    table: dict[str, str] = {}
    for tld, targets in sorted(by_tld.items()):
        url, count = targets.most_common(1)[0]
        if count >= WILDCARD_FROM:
            table[f"*.{tld}"] = url
    for host, url in connect_to.items():
        tld = host.rsplit(".", 1)[1] if "." in host else ""
        if table.get(f"*.{tld}") != url:
            table[host] = url
    return table


def write_state(path: Path, state: SandboxState) -> str:
    """Write ``state`` to ``path`` atomically (temporary file, then rename); returns the text.

    Raises ``OSError`` with a message naming ``path`` when it cannot be written.
    """
    text = json.dumps(state, indent=2) + "\n"
    directory = path.parent if str(path.parent) else Path(".")
    try:
        fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    except OSError as exc:
        raise OSError(f"cannot write the state file {path}: {exc.strerror or exc}") from exc
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        if isinstance(exc, OSError):
            raise OSError(f"cannot write the state file {path}: {exc.strerror or exc}") from exc
        raise
    return text


def _remove_state(path: Path, text: str) -> None:
    """Remove the state file, unless something else has replaced it since."""
    with contextlib.suppress(OSError):
        if path.read_text(encoding="utf-8") == text:
            path.unlink()


@contextlib.contextmanager
def _refusing_port(host: str) -> Iterator[int]:
    """A loopback port bound but never listening: connections to it are refused."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        try:
            sock.bind((host, 0))
        except OSError as exc:
            raise bind_error("refused-port", host, 0, exc) from exc
        yield int(sock.getsockname()[1])
    finally:
        sock.close()


# --- serving -------------------------------------------------------------------------------------


def _check_port(name: str, port: int) -> None:
    if not 0 <= port <= 65_535:
        raise ValueError(f"{name} must be between 0 (any free port) and 65535, not {port}")


async def serve(
    world: World,
    *,
    host: str = "127.0.0.1",
    http_port: int = 0,
    dns_port: int = 0,
    state_path: Path | None = None,
    ready: Callable[[SandboxState], object] | None = None,
) -> None:
    """Serve ``world`` on ``host`` (loopback only) until cancelled.

    Starts the HTTP server (every sandbox host, one port) and the DNS server (UDP and TCP, one
    port); port 0 picks a free one. Once both listen, writes the state file to ``state_path``
    (atomically; when given) and calls ``ready(state)``. Cancelling the task stops the servers,
    ends open connections, releases every port and removes the state file.

    Raises ``ValueError`` for a non-loopback ``host`` or bad ports,
    :class:`~auditor.sandbox.http_server.PortInUseError` when a port is taken and ``OSError``
    when the state file cannot be written; all before serving anything.
    """
    address = require_loopback(host)
    _check_port("the HTTP port", http_port)
    _check_port("the DNS port", dns_port)
    if http_port and http_port == dns_port:
        raise ValueError(f"the HTTP and DNS ports must differ (both are {http_port})")
    async with contextlib.AsyncExitStack() as stack:
        http = SandboxHttpServer(world.network, host=address, port=http_port)
        await stack.enter_async_context(http)
        dns = SandboxDnsServer(world.zone, host=address, port=dns_port)
        await stack.enter_async_context(dns)
        refused_port = stack.enter_context(_refusing_port(address))
        state = build_state(
            world, host=address, http_port=http.port, dns_port=dns.port, refused_port=refused_port
        )
        if state_path is not None:
            text = write_state(state_path, state)
            stack.callback(_remove_state, state_path, text)
        if ready is not None:
            ready(state)
        await asyncio.Event().wait()  # serve until cancelled


def run_serve_command(
    scenarios: list[str],
    state: Path | None,
    http_port: int,
    dns_port: int,
    rtt: float,
    jitter: float,
    error_rate: float,
    bandwidth: float | None,
    host_faults: list[str],
    bulk: int = 0,
) -> int:
    """``decaudit sandbox serve``: validate, build the world, serve until SIGINT/SIGTERM.

    ``scenarios`` are ids (comma lists allowed; empty: all). Prints one line to stderr naming the
    ports and the state file once serving, and returns 0 after a signal. Raises ``ValueError``
    with a one-line message for anything the user must fix: an unknown scenario, a bad fault
    flag or port, a port in use, an unwritable state file (the CLI exits 2 with it). ``bulk``
    adds that many ordinary accounts (:mod:`auditor.sandbox.bulk`) for batch runs.
    """
    from auditor.sandbox.bulk import add_bulk_accounts
    from auditor.sandbox.scenarios import build_world, select

    ids = [part.strip() for value in scenarios for part in value.split(",") if part.strip()]
    select(ids)  # UnknownScenarioError (a ValueError) before any work
    _check_port("--http-port", http_port)
    _check_port("--dns-port", dns_port)
    if http_port and http_port == dns_port:
        raise ValueError(f"--http-port and --dns-port must differ (both are {http_port})")
    if bulk < 0:
        raise ValueError(f"--bulk must be 0 or more (got {bulk})")
    world = build_world(ids or None)
    add_bulk_accounts(world, bulk)
    world.set_faults(
        faults_from_flags(
            world.network.hosts,
            existing=world.network.faults,
            rtt=rtt,
            jitter=jitter,
            error_rate=error_rate,
            bandwidth=bandwidth,
            host_faults=host_faults,
        )
    )
    try:
        asyncio.run(_serve_until_signalled(world, state, http_port, dns_port))
    except OSError as exc:  # a port in use, an unwritable state file: the user's to fix
        raise ValueError(str(exc)) from exc
    return 0


async def _serve_until_signalled(
    world: World, state: Path | None, http_port: int, dns_port: int
) -> None:
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    assert task is not None
    installed: list[signal.Signals] = []
    for signum in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(signum, task.cancel)
        except (NotImplementedError, RuntimeError):  # not the main thread, or Windows
            continue
        installed.append(signum)

    def announce(current: SandboxState) -> None:
        where = f"state file {state}" if state is not None else "no state file (use --state)"
        print(
            f"decaudit: sandbox serving {len(current['connect_to'])} hosts and "
            f"{len(current['accounts'])} accounts: HTTP on 127.0.0.1:{current['http_port']}, "
            f"DNS on {current['nameserver']} (UDP+TCP); {where}; Ctrl-C stops it",
            file=sys.stderr,
            flush=True,
        )

    try:
        await serve(world, http_port=http_port, dns_port=dns_port, state_path=state, ready=announce)
    except asyncio.CancelledError:
        pass  # SIGINT/SIGTERM: serve() has shut everything down
    finally:
        for signum in installed:
            loop.remove_signal_handler(signum)
