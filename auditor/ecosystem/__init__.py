"""The ecosystem view: concentration metrics over many accounts, and the whole-network census.

* :mod:`auditor.ecosystem.metrics`: HHI (with the band of the 2023 U.S. Merger Guidelines),
  Shannon, evenness, effective numbers, Simpson, operators needed for X %, the Nakamoto
  coefficient; pure functions of counts.
* :mod:`auditor.ecosystem.census`: :func:`run_census` reads the PLC directory's ``/export`` and
  relays' ``listHosts`` into an SQLite database (:mod:`auditor.ecosystem.store`, pages checked by
  :mod:`auditor.ecosystem.export`); :mod:`auditor.ecosystem.summary` measures it
  (:func:`census_summary`, re-exported by ``census``).

Import-light on purpose (the CLI imports the package for ``--help``): the names below load on first
use.
"""

from __future__ import annotations

import importlib
import typing

_LAZY: dict[str, str] = {
    "Band": "auditor.ecosystem.metrics",
    "Concentration": "auditor.ecosystem.metrics",
    "HhiGuideline": "auditor.ecosystem.metrics",
    "MERGER_GUIDELINES_2023": "auditor.ecosystem.metrics",
    "Nakamoto": "auditor.ecosystem.metrics",
    "Share": "auditor.ecosystem.metrics",
    "concentration": "auditor.ecosystem.metrics",
    "nakamoto": "auditor.ecosystem.metrics",
    "CensusError": "auditor.ecosystem.census",
    "CensusInputError": "auditor.ecosystem.census",
    "CensusResult": "auditor.ecosystem.census",
    "CensusStoreError": "auditor.ecosystem.census",
    "CensusSummary": "auditor.ecosystem.census",
    "census_metrics": "auditor.ecosystem.census",
    "census_summary": "auditor.ecosystem.census",
    "custody_of": "auditor.ecosystem.census",
    "run_census": "auditor.ecosystem.census",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> typing.Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'auditor.ecosystem' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
