"""The evidence digest: one SHA-256 a reader can quote to pin exactly which evidence a report used.

Computed over the evidence's canonical JSON (keys in model order, no whitespace), so the JSON
report, its HTML and its Markdown rendering all print the same digest, and anyone holding the JSON
report can recompute it: ``python -c "import json,hashlib,sys; ..."`` is not needed, since
``decaudit render report.json`` prints it again.
"""

from __future__ import annotations

import hashlib

from auditor.models.report import Report


def evidence_digest(report: Report) -> str:
    """``sha256:<hex>`` of the report's evidence."""
    canonical = report.evidence.model_dump_json().encode("utf-8")
    return "sha256:" + hashlib.sha256(canonical).hexdigest()
