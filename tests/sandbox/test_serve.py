"""``sandbox serve``: fault flags, the state file, refused ports for dead hosts, shutdown, ports in
use, and a whole audit of the served sandbox by the real CLI in another process."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest

from auditor.net.dns import DnsError, DnspythonResolver
from auditor.net.transport import ConnectTo
from auditor.sandbox.http import Faults
from auditor.sandbox.http_server import PortInUseError
from auditor.sandbox.scenarios import build_world
from auditor.sandbox.serve import (
    SandboxState,
    compact_connect_to,
    faults_from_flags,
    parse_host_faults,
    run_serve_command,
    serve,
)
from auditor.sandbox.world import World

pytestmark = pytest.mark.anyio

SCENARIOS = ["bsky-default", "did-web-selfhosted", "pds-down"]
STATE_KEYS = {
    "plc_url",
    "nameserver",
    "connect_to",
    "relays",
    "plc_mirrors",
    "appviews",
    "accounts",
    "check_args",
    "down_hosts",
    "http_port",
    "dns_port",
    "refused_port",
}
PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY", "SSL_CERT_FILE")


def clean_environment() -> dict[str, str]:
    """The environment for subprocesses, without proxies that would divert loopback requests."""
    blocked = {name.upper() for name in PROXY_VARIABLES}
    return {k: v for k, v in os.environ.items() if k.upper() not in blocked}


# --- fault flags (no sockets) -------------------------------------------------------------------


def test_compact_connect_to_routes_every_host_as_the_full_table_does() -> None:
    full = {f"u{i}.bsky.social": "http://127.0.0.1:1" for i in range(20)}
    full |= {"down.bsky.social": "http://127.0.0.1:9", "plc.directory": "http://127.0.0.1:1"}
    full |= {"a.test": "http://127.0.0.1:1", "b.test": "http://127.0.0.1:1"}
    compact = compact_connect_to(full)
    assert "*.social" in compact and "u3.bsky.social" not in compact
    assert compact["down.bsky.social"] == "http://127.0.0.1:9"  # exact beats the wildcard
    assert "a.test" in compact and "*.test" not in compact  # too few to fold
    router = ConnectTo(compact)
    for host, url in full.items():
        assert str(router.rewrite(httpx.URL(f"https://{host}/x"))) == f"{url}/x"
    assert len(",".join(f"{h}={u}" for h, u in compact.items())) < 200


def test_host_faults_are_parsed() -> None:
    assert parse_host_faults(
        "PDS.Example.test.=rtt:0.1, jitter:0.02,error_rate:0.1,bandwidth:100000,down"
    ) == (
        "pds.example.test",
        {"rtt": 0.1, "jitter": 0.02, "error_rate": 0.1, "bandwidth": 100_000.0, "down": True},
    )
    assert parse_host_faults("a.test=down") == ("a.test", {"down": True})


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("a.test", "expected HOST=KEY:VALUE"),
        ("=rtt:1", "expected HOST=KEY:VALUE"),
        ("a.test=", "expected HOST=KEY:VALUE"),
        ("a.test=rtt:1,", "empty fault"),
        ("a.test=latency:1", "unknown fault 'latency' (known: rtt, jitter, error_rate"),
        ("a.test=rtt", "rtt needs a value"),
        ("a.test=rtt:", "rtt needs a value"),
        ("a.test=rtt:fast", "rtt must be a number, not 'fast'"),
        ("a.test=rtt:-1", "rtt must not be negative"),
        ("a.test=rtt:nan", "rtt must be a finite number"),
        ("a.test=jitter:inf", "jitter must be a finite number"),
        ("a.test=error_rate:1.5", "error_rate must be between 0 and 1"),
        ("a.test=bandwidth:0", "bandwidth must be a positive number"),
        ("a.test=down:yes", "'down' takes no value"),
        ("a.test=rtt:1,rtt:2", "rtt given twice"),
    ],
)
def test_bad_host_faults_are_refused_clearly(spec: str, message: str) -> None:
    with pytest.raises(ValueError) as error:
        parse_host_faults(spec)
    assert message in str(error.value)
    assert str(error.value).startswith(f"--host-faults {spec!r}: ")
    assert "\n" not in str(error.value)


def test_flags_combine_with_the_scenarios_faults() -> None:
    faults = faults_from_flags(
        ["a.test", "B.test", "down.test"],
        existing={"down.test": Faults(down=True), "a.test": Faults(rtt=5.0)},
        rtt=0.05,
        bandwidth=1e6,
        host_faults=["a.test=jitter:0.5", "b.test=error_rate:0.25,rtt:1", "b.test=down"],
    )
    assert faults == {
        "a.test": Faults(rtt=0.05, jitter=0.5, bandwidth=1e6),
        "b.test": Faults(rtt=1.0, error_rate=0.25, bandwidth=1e6, down=True),
        "down.test": Faults(rtt=0.05, bandwidth=1e6, down=True),
    }
    # no flags: every host keeps what its scenario set
    assert faults_from_flags(["a.test"], existing={"a.test": Faults(rtt=5.0)}) == {
        "a.test": Faults(rtt=5.0)
    }


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        ({"rtt": -0.1}, "--rtt: rtt must not be negative"),
        ({"jitter": float("nan")}, "--jitter: jitter must be a finite number"),
        ({"error_rate": 2.0}, "--error-rate: error_rate must be between 0 and 1"),
        ({"bandwidth": 0.0}, "--bandwidth: bandwidth must be a positive number"),
        ({"host_faults": ["nobody.test=down"]}, "nobody.test is not a host of the selected"),
    ],
)
def test_bad_flags_are_refused_clearly(flags: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        faults_from_flags(["a.test"], **flags)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"scenarios": ["bsky-default,no-such-thing"]}, "unknown scenario no-such-thing"),
        ({"host_faults": ["bsky.social=rtt:-1"]}, "rtt must not be negative"),
        ({"host_faults": ["elsewhere.test=down"]}, "elsewhere.test is not a host"),
        ({"error_rate": 3.0}, "--error-rate"),
        ({"http_port": 70_000}, "--http-port must be between 0"),
        ({"http_port": 4000, "dns_port": 4000}, "must differ"),
    ],
)
def test_the_serve_command_refuses_bad_input_before_serving(
    overrides: dict[str, Any], message: str
) -> None:
    arguments: dict[str, Any] = {
        "scenarios": ["bsky-default"],
        "state": None,
        "http_port": 0,
        "dns_port": 0,
        "rtt": 0.0,
        "jitter": 0.0,
        "error_rate": 0.0,
        "bandwidth": None,
        "host_faults": [],
    }
    arguments.update(overrides)
    with pytest.raises(ValueError, match=message):
        run_serve_command(**arguments)


# --- serving ------------------------------------------------------------------------------------


@dataclass
class Running:
    world: World
    state: SandboxState
    path: Path
    task: asyncio.Task[None]


async def start_serving(world: World, **options: Any) -> tuple[asyncio.Task[None], SandboxState]:
    """Start :func:`serve` and wait until it is ready (or has failed)."""
    ready: asyncio.Future[SandboxState] = asyncio.get_running_loop().create_future()
    task = asyncio.create_task(serve(world, ready=ready.set_result, **options))
    waiters: list[asyncio.Future[Any]] = [task, ready]
    with anyio.fail_after(2):
        await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
    if task.done():
        ready.cancel()
        task.result()  # raises what serve raised
    return task, ready.result()


async def stop(task: asyncio.Task[None]) -> None:
    task.cancel()
    with anyio.fail_after(2), contextlib.suppress(asyncio.CancelledError):
        await task


@pytest.fixture
async def running(anyio_backend: str, tmp_path: Path) -> AsyncIterator[Running]:
    world = build_world(SCENARIOS)
    path = tmp_path / "sandbox.json"
    task, state = await start_serving(world, state_path=path)
    try:
        yield Running(world, state, path, task)
    finally:
        await stop(task)


@pytest.mark.network
async def test_the_state_file_names_every_host_and_account(running: Running) -> None:
    world, state = running.world, running.state
    assert json.loads(running.path.read_text(encoding="utf-8")) == state
    assert STATE_KEYS <= set(state)
    assert state["sandbox"] is True
    assert state["plc_url"] == "https://plc.directory"
    assert state["nameserver"] == f"127.0.0.1:{state['dns_port']}"
    assert set(state["connect_to"]) == set(world.network.hosts)
    down = {h for h, f in world.network.faults.items() if f.down}
    assert "pds.judy.test" in down  # the pds-down scenario's server
    assert set(state["down_hosts"]) == down
    for host, url in state["connect_to"].items():
        port = state["refused_port"] if host in down else state["http_port"]
        assert url == f"http://127.0.0.1:{port}", host
    assert state["relays"] == [f"https://{h}" for h in world.relays]
    assert "https://relay2.fire.hose.cam" in state["relays"]
    assert state["plc_mirrors"] == ["https://plc.wtf", "https://us-west.plc.wtf"]
    assert state["appviews"] == ["https://api.bsky.app", "https://appview.northwind.test"]
    assert [a["scenario"] for a in state["accounts"]] == SCENARIOS
    for account, info in zip(state["accounts"], world.accounts, strict=True):
        assert account["handle"] == info.handle
        assert account["did"] == info.did
        assert account["expected_band"] == (info.expected_band and info.expected_band.value)
    assert [a["expected_band"] for a in state["accounts"]] == [
        "centralized",
        "decentralized",
        "hybrid",
    ]


@pytest.mark.network
async def test_every_host_answers_or_refuses_as_the_state_says(running: Running) -> None:
    state = running.state
    async with httpx.AsyncClient(trust_env=False, timeout=2.0) as client:
        for host, base in state["connect_to"].items():
            request = client.build_request("GET", f"{base}/xrpc/_health", headers={"Host": host})
            if host in state["down_hosts"]:
                with pytest.raises(httpx.ConnectError):
                    await client.send(request)
            else:
                response = await client.send(request)
                assert response.headers["x-decaudit-sandbox"] == "1", host
        did = state["accounts"][0]["did"]
        document = await client.get(
            f"{state['connect_to']['plc.directory']}/{did}", headers={"Host": "plc.directory"}
        )
    assert document.json()["id"] == did
    with pytest.raises(ConnectionRefusedError):
        await asyncio.open_connection("127.0.0.1", state["refused_port"])


@pytest.mark.network
async def test_dns_answers_as_the_in_process_zone_does(running: Running) -> None:
    served = DnspythonResolver([running.state["nameserver"]], timeout=1.0)
    static = running.world.zone.resolver()
    zone = running.world.zone
    assert any(name.startswith("_atproto.") for name in zone.txt)
    assert any(name.endswith(".origin.asn.cymru.com") for name in zone.txt)
    for name in [*zone.txt, *zone.addresses, "nobody.test", "_atproto.nobody.test"]:
        for lookup in ("txt", "addresses"):
            try:
                expected: object = await getattr(static, lookup)(name, timeout=1.0)
            except DnsError as error:
                expected = error.kind
            try:
                got: object = await getattr(served, lookup)(name, timeout=1.0)
            except DnsError as error:
                got = error.kind
            assert got == expected, (lookup, name)


@pytest.mark.network
async def test_flags_mark_a_host_down(anyio_backend: str) -> None:
    world = build_world(["bsky-default"])
    world.set_faults(
        faults_from_flags(
            world.network.hosts, existing=world.network.faults, host_faults=["api.bsky.app=down"]
        )
    )
    task, state = await start_serving(world)
    try:
        assert state["down_hosts"] == ["api.bsky.app"]
        assert state["connect_to"]["api.bsky.app"].endswith(f":{state['refused_port']}")
    finally:
        await stop(task)


@pytest.mark.network
async def test_shutdown_releases_ports_tasks_and_the_state_file(
    anyio_backend: str, tmp_path: Path
) -> None:
    before = asyncio.all_tasks()
    path = tmp_path / "state.json"
    task, state = await start_serving(build_world(["bsky-default"]), state_path=path)
    assert path.exists()
    async with httpx.AsyncClient(trust_env=False) as client:  # an open keep-alive connection
        response = await client.get(
            state["connect_to"]["bsky.social"] + "/xrpc/_health", headers={"Host": "bsky.social"}
        )
        assert response.status_code == 200
        await stop(task)
    assert not path.exists()
    assert asyncio.all_tasks() - before == set()
    for port, kind in (
        (state["http_port"], socket.SOCK_STREAM),
        (state["dns_port"], socket.SOCK_STREAM),
        (state["dns_port"], socket.SOCK_DGRAM),
        (state["refused_port"], socket.SOCK_STREAM),
    ):
        with socket.socket(socket.AF_INET, kind) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(("127.0.0.1", port))


@pytest.mark.network
@pytest.mark.parametrize("which", ["http_port", "dns_port"])
async def test_a_port_in_use_is_a_clear_error(
    anyio_backend: str, tmp_path: Path, which: str
) -> None:
    before = asyncio.all_tasks()
    path = tmp_path / "state.json"
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp, socket.socket() as tcp:
        tcp.bind(("127.0.0.1", 0))
        tcp.listen()
        port = tcp.getsockname()[1]
        with contextlib.suppress(OSError):
            udp.bind(("127.0.0.1", port))
        with pytest.raises(PortInUseError, match=f"port {port} on 127.0.0.1 is already in use"):
            await start_serving(build_world(["bsky-default"]), state_path=path, **{which: port})
    assert not path.exists()
    assert asyncio.all_tasks() - before == set()


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"host": "0.0.0.0"}, "loopback"),
        ({"http_port": 5000, "dns_port": 5000}, "must differ"),
        ({"dns_port": -1}, "between 0"),
    ],
)
async def test_serve_refuses_bad_options(
    anyio_backend: str, options: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        await serve(build_world(["bsky-default"]), **options)


@pytest.mark.network
def test_the_serve_command_reports_a_port_in_use_as_a_value_error() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(ValueError, match=f"HTTP port {port} on 127.0.0.1 is already in use"):
            run_serve_command(["bsky-default"], None, port, 0, 0.0, 0.0, 0.0, None, [])


# --- other processes ----------------------------------------------------------------------------


@pytest.mark.network
async def test_the_cli_audits_the_served_sandbox(running: Running) -> None:
    state = running.state
    connect_to = ",".join(f"{host}={url}" for host, url in state["connect_to"].items())
    options = [
        "--plc-url", state["plc_url"],
        "--nameserver", state["nameserver"],
        "--connect-to", connect_to,
        *(arg for url in state["relays"] for arg in ("--relay", url)),
        *(arg for url in state["plc_mirrors"] for arg in ("--plc-mirror", url)),
        *(arg for url in state["appviews"] for arg in ("--appview", url)),
        *(arg for url in state["labelers"] for arg in ("--labeler", url)),
        "--allow-private",
    ]  # fmt: skip
    assert state["check_args"] == options
    results: dict[str, Any] = {}

    async def audit(handle: str) -> None:
        argv = [sys.executable, "-m", "auditor", "check", handle, "--format", "json", *options]
        results[handle] = await anyio.run_process(argv, check=False, env=clean_environment())

    with anyio.fail_after(30):  # a hang guard, not a speed target (speed: bench/)
        async with anyio.create_task_group() as group:
            for account in state["accounts"]:
                group.start_soon(audit, account["handle"])
    for account in state["accounts"]:
        result = results[account["handle"]]
        assert result.returncode == 0, result.stderr.decode()
        report = json.loads(result.stdout)
        assert report["did"] == account["did"]
        assert report["handle_verified"] is True
        health = report["evidence"]["pds"]["health"]
        if account["scenario"] == "pds-down":
            assert health["outcome"] == "failed"
            assert health["kind"] == "network"
        else:
            assert health["outcome"] == "ok"


@pytest.mark.network
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
async def test_the_serve_command_runs_until_signalled(
    anyio_backend: str, tmp_path: Path, signum: signal.Signals
) -> None:
    path = tmp_path / "state.json"
    code = (
        "import sys; from pathlib import Path; "
        "from auditor.sandbox.serve import run_serve_command; "
        f"sys.exit(run_serve_command(['bsky-default'], Path({str(path)!r}), 0, 0, "
        "0.0, 0.0, 0.0, None, ['api.bsky.app=rtt:0.01']))"
    )
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        code,
        stderr=asyncio.subprocess.PIPE,
        env=clean_environment(),
    )
    assert process.stderr is not None
    try:
        with anyio.fail_after(2.5):
            line = (await process.stderr.readline()).decode()
        state = json.loads(path.read_text(encoding="utf-8"))
        assert line.startswith("decaudit: sandbox serving ")
        assert f"HTTP on 127.0.0.1:{state['http_port']}" in line
        assert f"DNS on {state['nameserver']} (UDP+TCP)" in line
        assert f"state file {path}" in line
        process.send_signal(signum)
        with anyio.fail_after(2):
            code_returned = await process.wait()
            rest = (await process.stderr.read()).decode()
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert code_returned == 0, rest
    assert rest == ""
    assert not path.exists()
