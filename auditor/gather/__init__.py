"""Gathering: all network and DNS I/O of an audit, producing
:class:`~auditor.models.evidence.Evidence`.

Two phases, as sslyze does with its connectivity pre-phase: first the identity (handle -> DID -> DID
document); if that fails there is nothing to audit and the evidence says why. Then the independent
probes run concurrently over the one shared client and resolver. Every probe returns a model or a
:class:`~auditor.models.common.ProbeFailure`; an unexpected exception inside a probe becomes an
``internal`` failure of that probe alone, never the end of the audit.
"""

from __future__ import annotations

from auditor.gather.context import GatherContext
from auditor.gather.run import gather_evidence

__all__ = ["GatherContext", "gather_evidence"]
