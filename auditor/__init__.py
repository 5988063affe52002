"""decaudit: how decentralized is one social-network account, with evidence you can cite.

The package is split along the audit pipeline:

    gather (all network and DNS I/O)  ->  Evidence (pydantic models)
    ->  checks (pure functions of evidence)  ->  scoring  ->  renderers (see only the Report)

This module stays import-light on purpose: ``decaudit --version`` and ``decaudit --help`` import it,
and must not pull in httpx, dnspython, pydantic or jinja2 (a test checks ``sys.modules``). The
public API below is therefore loaded lazily, on first attribute access.
"""

from __future__ import annotations

import importlib
import typing

__version__ = "0.1.0"

# name -> module that defines it; loaded on first access (PEP 562).
_LAZY: dict[str, str] = {
    "AuditSettings": "auditor.settings",
    "Check": "auditor.check",
    "CheckMeta": "auditor.check",
    "Evidence": "auditor.models.evidence",
    "ProbeFailure": "auditor.models.common",
    "Report": "auditor.models.report",
    "audit": "auditor.api",
    "rescore": "auditor.api",
}

__all__ = sorted([*_LAZY, "__version__"])


def __getattr__(name: str) -> typing.Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'auditor' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
