"""The registry: built-in checks are complete and honest, plugins load or fail clearly."""

from __future__ import annotations

import importlib
import pkgutil
from importlib.metadata import EntryPoint
from typing import Any, ClassVar

import pytest

import checks
from auditor.crypto import PrivateKey
from auditor.models.evidence import Evidence
from auditor.registry import (
    ENTRY_POINT_GROUP,
    SelectionError,
    contract_problem,
    load_checks,
    select_checks,
)
from auditor.runner import run_check
from auditor.sandbox.identities import PlcIdentity
from checks import ALL_CHECKS
from tests.support.fakenet import FakeNet


def test_ids_are_unique_kebab_case_and_meta_is_complete() -> None:
    ids = [c.meta.id for c in ALL_CHECKS]
    assert len(ids) == len(set(ids))
    for check in ALL_CHECKS:
        assert contract_problem(check) is None, check.meta.id
        assert check.meta.data_keys, f"{check.meta.id} documents no data keys"
        assert check.meta.references, f"{check.meta.id} cites nothing"
        assert check.meta.method and check.meta.scoring, f"{check.meta.id}: explain has gaps"


def test_issue_two_check_ids_are_present() -> None:
    assert {
        "handle-resolution",
        "handle-domain",
        "did-method",
        "plc-log-integrity",
        "rotation-key-custody",
        "identity-history",
    } <= {c.meta.id for c in ALL_CHECKS}


def test_every_check_module_is_registered() -> None:
    registered = {type(c).__module__ for c in ALL_CHECKS}
    modules = {
        f"checks.{m.name}"
        for m in pkgutil.iter_modules(checks.__path__)
        if not m.name.startswith("_")
    }
    assert modules == registered


class RecordingEvidence:
    """Proxy that records which evidence fields a check reads."""

    METHOD_FIELDS: ClassVar[dict[str, str]] = {"resolution_for": "handle_resolutions"}

    def __init__(self, evidence: Evidence) -> None:
        self._evidence = evidence
        self.read: set[str] = set()

    def __getattr__(self, name: str) -> Any:
        self.read.add(self.METHOD_FIELDS.get(name, name))
        return getattr(self._evidence, name)


def _evidences(fakenet: FakeNet) -> list[Evidence]:
    plc_account = PlcIdentity(
        "alice.example.com", "https://pds.example.com", [PrivateKey.generate("k256")]
    )
    plc_account.update(pds="https://pds.example.org")
    fakenet.account(plc_account)
    return [fakenet.gather("alice.example.com"), fakenet.gather(plc_account.did)]


def test_checks_read_only_the_evidence_they_declare(fakenet: FakeNet) -> None:
    for evidence in _evidences(fakenet):
        for check in ALL_CHECKS:
            proxy = RecordingEvidence(evidence)
            run_check(check, proxy, strict=True)  # type: ignore[arg-type]
            declared = set(check.meta.requires) | set(check.meta.uses)
            assert proxy.read <= declared, (
                f"{check.meta.id} reads undeclared {proxy.read - declared}"
            )


def _fake_entry_points(*values: str) -> Any:
    def entry_points(group: str) -> list[EntryPoint]:
        assert group == ENTRY_POINT_GROUP
        return [EntryPoint(f"p{i}", value, group) for i, value in enumerate(values)]

    return entry_points


def test_plugins_load_and_broken_ones_become_warnings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        "auditor.registry.entry_points",
        _fake_entry_points(
            "tests.support.plugins:ThirdPartyCheck",
            "tests.support.plugins:DoesNotExist",
            "tests.support.no_such_module:Check",
            "tests.support.plugins:NotACheck",
            "tests.support.plugins:ClashingCheck",
            "tests.support.plugins:UndeclaredFieldCheck",
        ),
    )
    loaded = load_checks()
    assert loaded.checks[-1].meta.id == "third-party-example"
    assert len(loaded.checks) == len(ALL_CHECKS) + 1
    warnings = "\n".join(loaded.warnings)
    assert len(loaded.warnings) == 5
    assert (
        "plugin 'p1' (tests.support.plugins:DoesNotExist) could not be loaded: AttributeError"
        in warnings
    )
    assert "ModuleNotFoundError" in warnings
    assert "has no 'meta'" in warnings
    assert "check id 'handle-domain' is taken" in warnings
    assert "unknown evidence fields ['no_such_field']" in warnings


def test_select_and_skip() -> None:
    chosen = select_checks(ALL_CHECKS, ["did-method", "handle-domain"], ["handle-domain"])
    assert [c.meta.id for c in chosen] == ["did-method"]
    # registry order, not argument order
    chosen = select_checks(ALL_CHECKS, ["did-method", "handle-resolution"])
    assert [c.meta.id for c in chosen] == ["handle-resolution", "did-method"]
    with pytest.raises(SelectionError, match="unknown check ids nope, zilch"):
        select_checks(ALL_CHECKS, ["nope"], ["zilch"])


def test_checks_package_is_importable_alone() -> None:
    assert importlib.import_module("checks").ALL_CHECKS is ALL_CHECKS


def test_readme_checks_table_matches_the_registry() -> None:
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    for check in ALL_CHECKS:
        meta = check.meta
        row = f"| `{meta.id}` | {meta.category.value} | {meta.weight:g} | {meta.title} |"
        assert row in readme, f"README checks table is stale for {meta.id}: expected {row}"
