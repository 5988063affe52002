"""Which checks run: the built-in registry ``checks.ALL_CHECKS``, plugins, and
``--select``/``--skip``.

Built-in checks are listed explicitly in ``checks/__init__.py`` (no import-time self-registration,
so the list is greppable and import order cannot change it). Third-party checks come from the
entry-point group ``decaudit.checks``; a plugin that fails to import or does not satisfy the check
contract is reported as a warning naming the plugin and the problem, and the audit goes on without
it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from importlib.metadata import EntryPoint, entry_points
from typing import get_args

from auditor.check import Check, CheckMeta
from auditor.models.evidence import Evidence
from auditor.models.report import Category
from auditor.syntax import Network

ENTRY_POINT_GROUP = "decaudit.checks"
_ID_PATTERN = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")


class SelectionError(ValueError):
    """``--select``/``--skip`` named a check that does not exist."""


@dataclass(frozen=True)
class CheckSet:
    """The checks available to a run, and what went wrong loading them."""

    checks: tuple[Check, ...]
    warnings: tuple[str, ...] = field(default=())


def contract_problem(check: object) -> str | None:
    """Why ``check`` does not satisfy the check contract, or None if it does."""
    meta = getattr(check, "meta", None)
    if not isinstance(meta, CheckMeta):
        return "has no 'meta' of type auditor.check.CheckMeta"
    if not callable(getattr(check, "evaluate", None)):
        return f"{meta.id}: has no evaluate() method"
    if not _ID_PATTERN.match(meta.id):
        return f"{meta.id!r}: id must be kebab-case (a-z, 0-9, single '-')"
    category: object = meta.category  # plugins are untyped: check what mypy cannot
    if not isinstance(category, Category):
        return f"{meta.id}: category must be an auditor.models.report.Category"
    if meta.protocol not in get_args(Network):
        return f"{meta.id}: protocol must be one of {', '.join(get_args(Network))}"
    if meta.weight < 0:
        return f"{meta.id}: weight must be >= 0"
    if not meta.title or not meta.rationale or not meta.remediation:
        return f"{meta.id}: title, rationale and remediation must not be empty"
    unknown = [name for name in (*meta.requires, *meta.uses) if name not in Evidence.model_fields]
    if unknown:
        return f"{meta.id}: declares unknown evidence fields {unknown}"
    return None


def _load_entry_point(entry: EntryPoint) -> list[Check]:
    loaded = entry.load()
    if isinstance(loaded, type):
        loaded = loaded()
    items = list(loaded) if isinstance(loaded, list | tuple) else [loaded]
    return [item() if isinstance(item, type) else item for item in items]


def _plugins(known_ids: set[str]) -> tuple[list[Check], list[str]]:
    found: list[Check] = []
    warnings: list[str] = []
    for entry in entry_points(group=ENTRY_POINT_GROUP):
        label = f"plugin {entry.name!r} ({entry.value})"
        try:
            candidates = _load_entry_point(entry)
        except Exception as exc:  # a broken plugin must never stop an audit
            warnings.append(f"{label} could not be loaded: {type(exc).__name__}: {exc}")
            continue
        for candidate in candidates:
            problem = contract_problem(candidate)
            if problem is not None:
                warnings.append(f"{label} skipped: {problem}")
                continue
            if candidate.meta.id in known_ids:
                warnings.append(f"{label} skipped: check id {candidate.meta.id!r} is taken")
                continue
            known_ids.add(candidate.meta.id)
            found.append(candidate)
    return found, warnings


def load_checks(*, plugins: bool = True) -> CheckSet:
    """The built-in checks, then the plugins' (each validated)."""
    from checks import ALL_CHECKS

    builtin = tuple(ALL_CHECKS)
    if not plugins:
        return CheckSet(builtin)
    extra, warnings = _plugins({check.meta.id for check in builtin})
    return CheckSet((*builtin, *extra), tuple(warnings))


def select_checks(
    available: Sequence[Check], select: Iterable[str] = (), skip: Iterable[str] = ()
) -> tuple[Check, ...]:
    """Narrow ``available`` by ids; unknown ids raise :class:`SelectionError`."""
    select, skip = list(select), list(skip)
    known = {check.meta.id for check in available}
    unknown = sorted({*select, *skip} - known)
    if unknown:
        raise SelectionError(
            f"unknown check id{'s' if len(unknown) > 1 else ''} {', '.join(unknown)} (run "
            "'decaudit checks' for the list)"
        )
    chosen = [c for c in available if not select or c.meta.id in select]
    return tuple(c for c in chosen if c.meta.id not in skip)
