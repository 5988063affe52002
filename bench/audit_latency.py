"""Whole-audit wall time on the sandbox with injected round-trip time, against its critical path.

Every sandbox host gets the same round-trip time (default 100 ms). The audit's requests are
recorded as they start; because the plan runs every independent probe at once, request starts
cluster in "waves" one round trip apart, and the number of waves is the length of the longest
chain of requests that depend on each other (handle -> DID document -> listBlobs -> getBlob, for
example). The critical path is that many round trips plus the audit's own computing time
(measured on the same account with no injected latency). The ratio wall / critical path shows how
much the plan loses to waiting it could have avoided (target <= 1.25).

Run: .venv/bin/python bench/audit_latency.py [--rtt 0.1] [--scenario self-sovereign] [--runs 5]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time

import httpx

from auditor.api import gather
from auditor.sandbox.http import Faults, SandboxTransport
from auditor.sandbox.scenarios import build_world
from auditor.session import Session


class Recording(httpx.AsyncBaseTransport):
    """The sandbox transport, noting when each request starts."""

    def __init__(self, inner: SandboxTransport) -> None:
        self.inner = inner
        self.starts: list[float] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.starts.append(time.perf_counter())
        return await self.inner.handle_async_request(request)


async def audit_once(scenario: str, handle: str, rtt: float) -> tuple[float, list[float]]:
    world = build_world([scenario])
    world.set_faults({host: Faults(rtt=rtt) for host in world.network.hosts})
    transport = Recording(world.transport())
    settings = world.settings(deadline=60.0)
    async with Session.open(
        settings, resolver=world.zone.resolver(), transport=transport
    ) as session:
        start = time.perf_counter()
        await gather(handle, session=session)
        wall = time.perf_counter() - start
    return wall, [s - start for s in transport.starts]


def waves(starts: list[float], rtt: float) -> int:
    """Distinct round-trip levels at which requests started."""
    return len({round(s / rtt) for s in starts})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rtt", type=float, default=0.1)
    parser.add_argument("--scenario", default="self-sovereign")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    handle = build_world([args.scenario]).accounts[0].handle
    compute = statistics.median(
        asyncio.run(audit_once(args.scenario, handle, 0.0))[0] for _ in range(args.runs)
    )
    results = [asyncio.run(audit_once(args.scenario, handle, args.rtt)) for _ in range(args.runs)]
    wall = statistics.median(w for w, _ in results)
    levels = max(waves(starts, args.rtt) for _, starts in results)
    requests = len(results[0][1])
    critical = levels * args.rtt + compute
    ratio = wall / critical
    print(f"scenario {args.scenario} ({handle}), {requests} requests, rtt {args.rtt * 1000:.0f} ms")
    print(f"  audit wall time (median of {args.runs}): {wall:.3f} s")
    print(f"  critical path: {levels} round trips + {compute:.3f} s computing = {critical:.3f} s")
    verdict = "PASS" if ratio <= 1.25 else "FAIL"
    print(f"  ratio wall / critical path: {ratio:.2f}  (target <= 1.25: {verdict})")


if __name__ == "__main__":
    main()
