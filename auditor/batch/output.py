"""The batch output: one JSON report per line, appended as each audit finishes, resumable.

Every report is written with a single ``write()`` on a file opened with ``O_APPEND``. Once that call
returns the line is in the kernel's page cache, which outlives the process: a ``kill -9`` at any
moment loses only the audits still in flight (an ``fsync`` per line would only add protection
against power loss, at a cost per account a large batch cannot afford). Should a write ever be cut
short (a full disk), the next run finds an unterminated last line. On resume the file is read back:
every complete line must be a decaudit report (else the file is refused rather than overwritten,
since it is not ours), a cut-short last line is dropped, and the targets already reported are
skipped. So nothing finished is lost, nothing is audited twice, and no broken line survives into the
next run.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from auditor.batch.targets import target_key
from auditor.syntax import TargetSyntaxError, parse_target


class OutputFileError(ValueError):
    """The output file exists but is not a decaudit batch output (it is left untouched)."""


REQUIRED_KEYS = ("schema_version", "tool_version", "target", "band")


def _key_of(report: dict[str, object]) -> str | None:
    """The batch key of a report line: its target, parsed as the targets file's lines are."""
    target = report.get("target")
    if not isinstance(target, str):
        return None
    try:
        return target_key(parse_target(target))
    except TargetSyntaxError:
        return None


class ReportLog:
    """Append-only JSON-lines file of reports, keyed by target."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.done: set[str] = set()
        self._fd: int | None = None

    def resume(self) -> set[str]:
        """Read what an earlier run finished (line by line: memory stays flat however long the
        file); drop a cut-short last line; refuse a file that is not a decaudit batch output."""
        if not self.path.exists():
            return set()
        complete_end = 0
        with self.path.open("rb") as handle:
            for number, line in enumerate(handle, start=1):
                if not line.endswith(b"\n"):
                    break  # the last write was cut short: drop it, it will be audited again
                self.done.add(self._check_line(line, number))
                complete_end += len(line)
        if complete_end != self.path.stat().st_size:
            with self.path.open("r+b") as handle:
                handle.truncate(complete_end)
        return set(self.done)

    def _check_line(self, line: bytes, number: int) -> str:
        try:
            report = json.loads(line)
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise OutputFileError(
                f"{self.path}: line {number} is not JSON: this is not a decaudit batch output "
                "(refusing to overwrite it; choose another --output)"
            ) from None
        if not isinstance(report, dict) or any(k not in report for k in REQUIRED_KEYS):
            raise OutputFileError(
                f"{self.path}: line {number} is not a decaudit report (refusing to overwrite it; "
                "choose another --output)"
            )
        key = _key_of(report)
        if key is None:
            raise OutputFileError(f"{self.path}: line {number} names no valid target")
        return key

    def append(self, line: str) -> None:
        """Write one report line in a single ``write()``."""
        if self._fd is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        data = (line.rstrip("\n") + "\n").encode("utf-8")
        written = os.write(self._fd, data)
        if written != len(data):  # a short write on a regular file means the disk is full
            raise OSError(f"{self.path}: short write ({written} of {len(data)} bytes)")

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
