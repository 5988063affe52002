"""``decaudit sandbox serve`` in another process, for end-to-end tests over real sockets."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tests.sandbox.test_serve import clean_environment


@contextmanager
def served_sandbox(folder: Path, *options: str) -> Iterator[dict[str, Any]]:
    """Serve the sandbox with ``options`` until the block ends; yields its state file."""
    state, log = folder / "state.json", folder / "serve.log"
    argv = [sys.executable, "-m", "auditor", "sandbox", "serve", "--state", str(state), *options]
    with log.open("wb") as stderr:
        process = subprocess.Popen(argv, env=clean_environment(), stderr=stderr)
    try:
        deadline = time.monotonic() + 60
        while not state.exists():
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"sandbox serve did not start: {log.read_text()}")
            time.sleep(0.05)
        yield json.loads(state.read_text(encoding="utf-8"))
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=10)
