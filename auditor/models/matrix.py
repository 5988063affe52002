"""Evidence for a Matrix account: server discovery, the federation API and the client API.

Server discovery follows the server-server specification's order (an IP literal or explicit
port, then ``/.well-known/matrix/server``, then SRV ``_matrix-fed._tcp``, then port 8448); every
step asked is recorded so a reader can see which one decided.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from auditor.models.common import Model
from auditor.models.slots import JsonSlot, NotCollected, SrvSlot


class MatrixProbes(Model):
    """What the server name's domain, its homeserver and its federation endpoint say."""

    outcome: Literal["ok"] = "ok"
    user_id: str
    """The user ID audited (``@localpart:server_name``)."""
    server_name: str
    """The part after the first ``:``: the name the ID is bound to."""
    well_known_server: JsonSlot
    """``https://SERVER_NAME/.well-known/matrix/server`` (``m.server`` delegation)."""
    srv: SrvSlot
    """``_matrix-fed._tcp`` SRV of the delegated (or server) name, when discovery reached it."""
    federation_address: str | None
    """``host:port`` federation requests go to, as discovery decided (None: never decided)."""
    federation_server_name: str | None = None
    """When SRV chose the address: the name presented to it (``Host``, TLS SNI and the
    certificate's name), the one SRV was asked for, as the spec requires."""
    discovery: list[str]
    """Each discovery step, in order, in words ("well-known delegates to ...")."""
    federation_version: JsonSlot
    """``/_matrix/federation/v1/version`` at :attr:`federation_address`."""
    server_keys: JsonSlot
    """``/_matrix/key/v2/server`` at :attr:`federation_address`: signed by the server name."""
    well_known_client: JsonSlot
    """``https://SERVER_NAME/.well-known/matrix/client`` (``m.homeserver.base_url``)."""
    client_versions: JsonSlot
    """``/_matrix/client/versions`` at the client base URL."""
    profile: JsonSlot
    """``/_matrix/client/v3/profile/USER_ID`` at the client base URL (public on most servers)."""


MatrixSlot = Annotated[MatrixProbes | NotCollected, Field(discriminator="outcome")]
