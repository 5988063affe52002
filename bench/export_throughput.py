"""Export verification throughput on the sandbox's ``large-repo`` account, against bare SHA-256.

``verify_export`` must keep up with the download of a large repository, and its cost is measured
against the least any complete check could do: hash every block once. The script builds the
``large-repo`` account's CAR once (50,000 records, about 33 MB), then alternates, run after run,
between

* ``verify_export`` over the whole CAR (framing, every CID, the commit and its signature, the
  whole MST), and
* bare ``hashlib.sha256`` over the same block bytes (already cut out of the CAR, in a tight loop),

so that both see the same machine state; the medians give MB/s and their ratio. Peak memory is
measured twice: with ``tracemalloc`` around one verification (Python allocations beyond the CAR
itself), and as the maximum resident set size of a fresh child process that only reads the CAR
and verifies it (everything, the interpreter included), compared with the CAR's size.

Targets (issue 4): >= 100 MB/s on one core, ratio >= 0.3, peak memory <= CAR size + 100 MB.
The process is single-threaded, so it uses one core.

Run: .venv/bin/python bench/export_throughput.py [--runs 7]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

from auditor.crypto import PublicKey, parse_did_key
from auditor.repo.car import iter_car
from auditor.repo.verify import ExportVerification, verify_export

MB = 1_000_000
TARGET_MB_S = 100.0
TARGET_RATIO = 0.3
MEMORY_HEADROOM = 100 * MB
PDS = "pds.max.test"


def large_repo() -> tuple[bytes, str, PublicKey]:
    """The large-repo account's CAR, DID and signing key (the key its PDS's commit names)."""
    from auditor.sandbox.scenarios import build_world  # not in the child: it only verifies

    world = build_world(["large-repo"])
    (account,) = world.pdses[PDS].accounts.values()
    snapshot = account.repo
    return snapshot.car_bytes(), account.did, snapshot.key


def bare_sha256(blocks: list[bytes]) -> None:
    """The floor: hash every block once, nothing else."""
    sha256 = hashlib.sha256
    for block in blocks:
        sha256(block).digest()


def timed(action: object, *args: object, **kwargs: object) -> float:
    """Wall time of one call, in seconds."""
    start = time.perf_counter()
    action(*args, **kwargs)  # type: ignore[operator]
    return time.perf_counter() - start


def traced_peak(car: bytes, did: str, key: PublicKey) -> int:
    """Peak Python allocations during one verification (the CAR itself excluded)."""
    tracemalloc.start()
    try:
        verify_export(car, did=did, signing_key=key)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak


def child_peak_rss(car: bytes, did: str, key: PublicKey) -> dict[str, int]:
    """Run one verification in a fresh process; its RSS before and its peak RSS, in bytes."""
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / "repo.car"
        path.write_bytes(car)
        output = subprocess.run(
            [sys.executable, __file__, "--child", str(path), did, key.did_key],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    result: dict[str, int] = json.loads(output)
    return result


def _status_bytes(field: str) -> int:
    """A memory figure of this process from /proc/self/status (Linux), in bytes.

    ``VmHWM`` (peak RSS) rather than ``getrusage``'s ``ru_maxrss``: the latter survives
    ``fork``/``exec`` and would report the parent's peak (the parent built the whole sandbox).
    """
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024  # kB
    raise RuntimeError(f"{field} not in /proc/self/status (this measurement needs Linux)")


def child(path: str, did: str, did_key: str) -> None:
    """The child process: read the CAR, verify it, print RSS figures as JSON."""
    car = Path(path).read_bytes()
    key = parse_did_key(did_key)
    before = _status_bytes("VmRSS")
    result = verify_export(car, did=did, signing_key=key)
    peak = _status_bytes("VmHWM")
    print(json.dumps({"before": before, "peak": peak, "verified": int(result.verified)}))


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def report(
    result: ExportVerification, car: bytes, verify_s: list[float], hash_s: list[float]
) -> bool:
    """Print the figures and the verdicts; True if every target is met."""
    verify_median = statistics.median(verify_s)
    hash_median = statistics.median(hash_s)
    throughput = len(car) / verify_median / MB
    ratio = hash_median / verify_median
    cpu = platform.processor() or platform.machine()
    print(f"machine: {cpu}, {os.cpu_count()} cores; python {sys.version.split()[0]}")
    print(
        f"large-repo CAR: {len(car) / MB:.1f} MB, {result.blocks} blocks, {result.records} records,"
        f" verified={result.verified}"
    )
    print(
        f"verify_export: median {verify_median * 1000:.0f} ms (min {min(verify_s) * 1000:.0f}) "
        f"= {throughput:.0f} MB/s   [{verdict(throughput >= TARGET_MB_S)} >= {TARGET_MB_S:.0f}]"
    )
    print(
        f"bare sha256:   median {hash_median * 1000:.0f} ms (min {min(hash_s) * 1000:.0f}) "
        f"= {len(car) / hash_median / MB:.0f} MB/s"
    )
    print(f"ratio verify/sha256 speed: {ratio:.2f}   [{verdict(ratio >= TARGET_RATIO)} >= 0.3]")
    return result.verified and throughput >= TARGET_MB_S and ratio >= TARGET_RATIO


def report_memory(car: bytes, did: str, key: PublicKey) -> bool:
    """Measure and print peak memory both ways; True if within the target."""
    peak = traced_peak(car, did, key)
    rss = child_peak_rss(car, did, key)
    growth = rss["peak"] - rss["before"]
    ok = peak <= MEMORY_HEADROOM and growth <= MEMORY_HEADROOM
    print(f"memory: tracemalloc peak {peak / MB:.1f} MB allocated while verifying (CAR excluded)")
    print(
        f"memory: child process RSS {rss['before'] / MB:.0f} MB with the CAR "
        f"({len(car) / MB:.1f} MB) loaded, peak {rss['peak'] / MB:.0f} MB: "
        f"+{growth / MB:.1f} MB while verifying   [{verdict(ok)} <= CAR + 100 MB]"
    )
    return ok and bool(rss["verified"])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=7, help="timed runs of each (median)")
    parser.add_argument("--child", nargs=3, metavar=("CAR", "DID", "KEY"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return 0
    car, did, key = large_repo()
    _, frames = iter_car(car)
    blocks = [data for _, data in frames]
    result = verify_export(car, did=did, signing_key=key)  # warm-up, and the figures
    verify_s: list[float] = []
    hash_s: list[float] = []
    for _ in range(args.runs):
        hash_s.append(timed(bare_sha256, blocks))
        verify_s.append(timed(verify_export, car, did=did, signing_key=key))
    speed_ok = report(result, car, verify_s, hash_s)
    memory_ok = report_memory(car, did, key)
    print("overall:", verdict(speed_ok and memory_ok))
    return 0 if speed_ok and memory_ok else 1


if __name__ == "__main__":
    sys.exit(main())
