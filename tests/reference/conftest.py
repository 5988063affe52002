"""Fixtures of the reference-server tests: one real AT Protocol network for the whole session.

Why a session fixture: installing Node 22 and the pinned servers takes about 100 s once (then it
is cached outside the source tree, see :mod:`tests.reference.toolchain`), and starting and
seeding the network about 3 s; every test then reads the same network and the same audits.

Without Node or npm on the machine every test in this folder is skipped with one reason (from
:func:`~tests.reference.toolchain.unavailable_reason`); set ``DECAUDIT_SKIP_REFERENCE=1`` to skip
them on purpose. A failed install or start is an error, not a skip: CI must notice it.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.reference.network import ReferenceNetwork, clean_environment, reference_network
from tests.reference.toolchain import Toolchain, ensure_installed, unavailable_reason

HERE = Path(__file__).resolve().parent
AUDIT_TIMEOUT = 120.0
"""Seconds one ``decaudit check`` subprocess may take (a few seconds in practice)."""


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "reference: audits accounts on the unmodified reference PDS and PLC directory (needs Node)",
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark this folder's tests ``reference``, and skip them all with one reason without Node."""
    reason = unavailable_reason()
    for item in items:
        if HERE in Path(str(item.path)).resolve().parents:
            item.add_marker(pytest.mark.reference)
            item.add_marker(pytest.mark.network)
            if reason is not None:
                item.add_marker(pytest.mark.skip(reason=reason))


@pytest.fixture(scope="session")
def toolchain() -> Toolchain:
    """Node 22 and the pinned servers (installed on first use, then reused from the cache)."""
    return ensure_installed()


@pytest.fixture(scope="session")
def reference(
    toolchain: Toolchain, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ReferenceNetwork]:
    """The running, seeded network; stopped at the end of the session whatever happens."""
    with reference_network(toolchain, tmp_path_factory.mktemp("reference")) as network:
        yield network


@dataclass(frozen=True)
class Audit:
    """One ``decaudit check --format json`` run: its report and where its export was saved."""

    role: str
    report: dict[str, Any]
    export_dir: Path

    @property
    def evidence(self) -> dict[str, Any]:
        evidence: dict[str, Any] = self.report["evidence"]
        return evidence

    def check(self, check_id: str) -> dict[str, Any]:
        for check in self.report["checks"]:
            if check["id"] == check_id:
                found: dict[str, Any] = check
                return found
        raise KeyError(f"no check {check_id!r} in the report of {self.role}")


def run_audit(network: ReferenceNetwork, target: str, *extra: str) -> dict[str, Any]:
    """Run the installed ``decaudit`` on ``target``; its JSON report (any exit status)."""
    done = subprocess.run(
        network.audit_command(target, *extra),
        capture_output=True,
        text=True,
        timeout=AUDIT_TIMEOUT,
        env=clean_environment(),
        stdin=subprocess.DEVNULL,
        check=False,
    )
    try:
        report: dict[str, Any] = json.loads(done.stdout)
    except json.JSONDecodeError:
        raise AssertionError(
            f"decaudit check {target} exited {done.returncode} without a JSON report:\n"
            f"{done.stdout[-2000:]}\n{done.stderr[-4000:]}"
        ) from None
    return report


@pytest.fixture(scope="session")
def audits(
    reference: ReferenceNetwork, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Audit]:
    """Every seeded account audited once by handle (in parallel), with export and all blobs."""
    base = tmp_path_factory.mktemp("exports")

    def audit(role: str) -> Audit:
        account = reference.account(role)
        export_dir = base / role
        report = run_audit(
            reference, account["handle"], "--blobs", "all", "--save-export", str(export_dir)
        )
        return Audit(role, report, export_dir)

    with ThreadPoolExecutor(max_workers=4) as pool:
        return {audit.role: audit for audit in pool.map(audit, sorted(reference.accounts))}
