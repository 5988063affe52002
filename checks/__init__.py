"""decaudit's built-in checks.

``ALL_CHECKS`` is the single registration point, in report order. A new check is a module here with
a
class following :class:`auditor.check.Check`, added to this tuple (a test fails if a module's check
is missing from it). Ids are public API: never rename one.
"""

from __future__ import annotations

from auditor.check import Check
from checks.did_document import DidDocumentCheck
from checks.did_method import DidMethodCheck
from checks.handle_domain import HandleDomainCheck
from checks.handle_resolution import HandleResolutionCheck
from checks.identity_history import IdentityHistoryCheck
from checks.plc_log_integrity import PlcLogIntegrityCheck
from checks.rotation_key_custody import RotationKeyCustodyCheck

ALL_CHECKS: tuple[Check, ...] = (
    HandleResolutionCheck(),
    HandleDomainCheck(),
    DidMethodCheck(),
    DidDocumentCheck(),
    PlcLogIntegrityCheck(),
    RotationKeyCustodyCheck(),
    IdentityHistoryCheck(),
)

__all__ = ["ALL_CHECKS"]
