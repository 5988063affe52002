"""decaudit's built-in checks.

``ALL_CHECKS`` is the single registration point, in report order. A new check is a module here
with a class following :class:`auditor.check.Check`, added to this tuple (a test fails if a
module's check is missing from it). Ids are public API: never rename one. Each check judges one
network's accounts (``CheckMeta.protocol``): AT Protocol first, then the fediverse, then Matrix.
"""

from __future__ import annotations

from auditor.check import Check
from checks.account_status import AccountStatusCheck
from checks.appview_dependence import AppViewDependenceCheck
from checks.blob_export import BlobExportCheck
from checks.did_document import DidDocumentCheck
from checks.did_method import DidMethodCheck
from checks.fediverse_account_move import FediverseAccountMoveCheck
from checks.fediverse_discovery import FediverseDiscoveryCheck
from checks.fediverse_export import FediverseExportCheck
from checks.fediverse_federation import FediverseFederationCheck
from checks.fediverse_identity_control import FediverseIdentityControlCheck
from checks.fediverse_instance import FediverseInstanceCheck
from checks.fediverse_instance_operator import FediverseInstanceOperatorCheck
from checks.fediverse_name_domain import FediverseNameDomainCheck
from checks.handle_domain import HandleDomainCheck
from checks.handle_resolution import HandleResolutionCheck
from checks.hosting_network import HostingNetworkCheck
from checks.identity_availability import IdentityAvailabilityCheck
from checks.identity_history import IdentityHistoryCheck
from checks.matrix_data_replication import MatrixDataReplicationCheck
from checks.matrix_federation import MatrixFederationCheck
from checks.matrix_homeserver import MatrixHomeserverCheck
from checks.matrix_homeserver_operator import MatrixHomeserverOperatorCheck
from checks.matrix_identity_portability import MatrixIdentityPortabilityCheck
from checks.matrix_name_domain import MatrixNameDomainCheck
from checks.pds_availability import PdsAvailabilityCheck
from checks.pds_operator import PdsOperatorCheck
from checks.plc_log_integrity import PlcLogIntegrityCheck
from checks.relay_carriage import RelayCarriageCheck
from checks.repo_export import RepoExportCheck
from checks.rotation_key_custody import RotationKeyCustodyCheck

ALL_CHECKS: tuple[Check, ...] = (
    HandleResolutionCheck(),
    HandleDomainCheck(),
    DidMethodCheck(),
    DidDocumentCheck(),
    PlcLogIntegrityCheck(),
    IdentityAvailabilityCheck(),
    PdsOperatorCheck(),
    PdsAvailabilityCheck(),
    AccountStatusCheck(),
    HostingNetworkCheck(),
    RelayCarriageCheck(),
    AppViewDependenceCheck(),
    RepoExportCheck(),
    BlobExportCheck(),
    RotationKeyCustodyCheck(),
    IdentityHistoryCheck(),
    # the fediverse (ActivityPub)
    FediverseDiscoveryCheck(),
    FediverseNameDomainCheck(),
    FediverseIdentityControlCheck(),
    FediverseInstanceOperatorCheck(),
    FediverseInstanceCheck(),
    FediverseFederationCheck(),
    FediverseExportCheck(),
    FediverseAccountMoveCheck(),
    # Matrix
    MatrixNameDomainCheck(),
    MatrixIdentityPortabilityCheck(),
    MatrixHomeserverOperatorCheck(),
    MatrixHomeserverCheck(),
    MatrixFederationCheck(),
    MatrixDataReplicationCheck(),
)

__all__ = ["ALL_CHECKS"]
