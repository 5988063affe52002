"""Peak memory of ``decaudit batch`` as a user runs it, at 10,000 and at 100,000 accounts.

    python bench/batch_memory.py --accounts 10000 100000

For each size: ``decaudit sandbox serve --bulk N`` serves the sandbox on loopback in its own
process (so the simulated network's memory is not counted), and ``decaudit batch`` audits every
account over real sockets, writing full reports (evidence included) to a file. The batch's peak
resident set is read from the kernel when it exits (``wait4``'s ``ru_maxrss``). Target: <= 300 MB at
both sizes, i.e. flat in the number of accounts. Results go to stdout as JSON lines.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

PROXIES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY")


def environment() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k.upper() not in PROXIES}


def serve(accounts: int, folder: Path) -> tuple[subprocess.Popen[bytes], dict[str, Any]]:
    state = folder / "state.json"
    argv = [
        sys.executable, "-m", "auditor", "sandbox", "serve", "--state", str(state),
        "--scenarios", "bsky-default", "--bulk", str(accounts),
    ]  # fmt: skip
    process = subprocess.Popen(argv, env=environment(), stderr=subprocess.DEVNULL)
    while not state.exists():
        if process.poll() is not None:
            raise RuntimeError("sandbox serve exited")
        time.sleep(0.2)
    return process, json.loads(state.read_text(encoding="utf-8"))


def measure(accounts: int, concurrency: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        started = time.perf_counter()
        server, state = serve(accounts, folder)
        built = time.perf_counter() - started
        try:
            targets = folder / "targets.txt"
            handles = [a["handle"] for a in state["accounts"] if a["scenario"].startswith("bulk-")]
            targets.write_text("\n".join(handles) + "\n", encoding="utf-8")
            out = folder / "reports.jsonl"
            argv = [
                sys.executable, "-m", "auditor", "batch", str(targets), "-o", str(out),
                "--summary", str(folder / "summary.json"), "--format", "json",
                "--concurrency", str(concurrency), "--deadline", "600", *state["check_args"],
            ]  # fmt: skip
            started = time.perf_counter()
            batch = subprocess.Popen(argv, env=environment(), stdout=subprocess.DEVNULL)
            _, status, usage = os.wait4(batch.pid, 0)
            wall = time.perf_counter() - started
            lines = sum(1 for _ in out.open("rb"))
            size = out.stat().st_size
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait()
    return {
        "accounts": len(handles),
        "reports_written": lines,
        "exit_status": os.waitstatus_to_exitcode(status),
        "output_mb": round(size / 2**20, 1),
        "batch_peak_rss_mb": round(usage.ru_maxrss / 1024, 1),
        "batch_cpu_s": round(usage.ru_utime + usage.ru_stime, 1),
        "batch_wall_s": round(wall, 1),
        "sandbox_build_s": round(built, 1),
        "concurrency": concurrency,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--accounts", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--concurrency", type=int, default=32)
    args = parser.parse_args()
    ok = True
    for count in args.accounts:
        result = measure(count, args.concurrency)
        print(json.dumps(result), flush=True)
        ok = ok and result["batch_peak_rss_mb"] <= 300 and result["reports_written"] == count
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
