"""One Matrix account as its evidence shows it: where its homeserver is, whether it federates,
and who runs it.

A Matrix user ID is bound to its server name for life: there is no protocol to move an account
to another server under the same ID, so whoever controls the server name controls the identity
and the name at once. The homeserver may be elsewhere (delegation by ``.well-known`` or SRV),
which is how a person can keep their own domain while a provider runs the server.
"""

from __future__ import annotations

from dataclasses import dataclass

from auditor.attribution import host_of
from auditor.check import EvidenceUnavailable
from auditor.matrix.discovery import client_base, split_server_name
from auditor.matrix.keys import KeyCheck, verify_server_keys
from auditor.models.common import ProbeFailure
from auditor.models.evidence import Evidence, JsonAnswer
from auditor.models.matrix import MatrixProbes
from auditor.models.slots import failure_text


@dataclass(frozen=True, slots=True)
class MatrixView:
    """The reading of a :class:`MatrixProbes`."""

    user_id: str
    server_name: str
    server_host: str
    """The server name's host (no port)."""
    homeserver_host: str | None
    """Where the homeserver answers: the federation host, else the client API's host."""
    delegated: bool
    """The homeserver is on another host than the server name (well-known or SRV)."""
    federates: bool | None
    """True: its federation API answers with keys signed by the server name; False: it does not
    answer (or answers for another name) while the client API does; None: nothing answered."""
    federation_reason: str
    keys: KeyCheck | None
    software: str | None
    """``name version`` from the federation version endpoint."""
    client_ok: bool
    profile_found: bool | None
    """True: a public profile; False: the server said M_NOT_FOUND; None: not known."""


def _software(probes: MatrixProbes) -> str | None:
    if not isinstance(probes.federation_version, JsonAnswer):
        return None
    body = probes.federation_version.body
    server = body.get("server") if isinstance(body, dict) else None
    if not isinstance(server, dict):
        return None
    parts = [str(server.get(k))[:40] for k in ("name", "version") if isinstance(server.get(k), str)]
    return " ".join(parts) or None


def _federation(
    probes: MatrixProbes, keys: KeyCheck | None, client_ok: bool
) -> tuple[bool | None, str]:
    where = probes.federation_address
    if keys is not None and keys.valid:
        version = (
            ""
            if isinstance(probes.federation_version, JsonAnswer)
            else (
                f" (its version endpoint did not answer: {failure_text(probes.federation_version)})"
            )
        )
        return (
            True,
            f"its federation API at {where} answers with keys signed by {probes.server_name}"
            + version,
        )
    if keys is not None:
        return False, f"the federation API at {where} is not {probes.server_name}'s: {keys.problem}"
    problem = failure_text(probes.server_keys)
    if client_ok:
        return (
            False,
            f"its client API answers but its federation API does not ({problem})",
        )
    return None, f"neither its federation API nor its client API answered ({problem})"


def matrix_view(probes: MatrixProbes) -> MatrixView:
    name = split_server_name(probes.server_name)
    server_host = name.host if name else probes.server_name
    keys = (
        verify_server_keys(probes.server_keys.body, probes.server_name)
        if isinstance(probes.server_keys, JsonAnswer)
        else None
    )
    client_ok = isinstance(probes.client_versions, JsonAnswer)
    federates, reason = _federation(probes, keys, client_ok)
    federation_host = (
        split_server_name(probes.federation_address) if probes.federation_address else None
    )
    profile: bool | None = None
    if isinstance(probes.profile, JsonAnswer):
        profile = True
    elif isinstance(probes.profile, ProbeFailure) and probes.profile.error_name == "M_NOT_FOUND":
        profile = False  # no such user there (an unknown endpoint is M_UNRECOGNIZED)
    homeserver: str | None = None
    if federates and federation_host is not None:
        homeserver = federation_host.host
    elif client_ok:
        base = (
            client_base(probes.well_known_client.body)
            if isinstance(probes.well_known_client, JsonAnswer)
            else None
        )
        client_host = host_of(base) if base else server_host
        # a client API elsewhere is only a claim of the server name's well-known file: it is
        # taken as the homeserver when the user's profile is there (anyone can point anywhere)
        if client_host == server_host or profile:
            homeserver = client_host
    return MatrixView(
        user_id=probes.user_id,
        server_name=probes.server_name,
        server_host=server_host,
        homeserver_host=homeserver,
        delegated=homeserver is not None and homeserver != server_host,
        federates=federates,
        federation_reason=reason,
        keys=keys,
        software=_software(probes),
        client_ok=client_ok,
        profile_found=profile,
    )


def homeserver_missing(probes: MatrixProbes) -> str | None:
    """Why no homeserver could be found for the ID, or None when one answered."""
    view = matrix_view(probes)
    if view.federates is None:
        return f"no homeserver answered for {probes.server_name}: {view.federation_reason}"
    if view.profile_found is False:
        return (
            f"the homeserver of {probes.server_name} answers, but has no user {probes.user_id} "
            "(its profile lookup says not found)"
        )
    if view.homeserver_host is None:
        return (
            f"{probes.server_name}'s client discovery names a homeserver elsewhere that does not "
            f"show {probes.user_id}, and its federation API does not answer: not trusted"
        )
    return None


def matrix_of(evidence: Evidence) -> MatrixProbes | None:
    return evidence.matrix if isinstance(evidence.matrix, MatrixProbes) else None


def view_of(evidence: Evidence) -> MatrixView | None:
    probes = matrix_of(evidence)
    return matrix_view(probes) if probes else None


def required_view(evidence: Evidence) -> MatrixView:
    """The view a ``matrix-`` check needs (the runner has checked the slot)."""
    view = view_of(evidence)
    if view is None:
        raise EvidenceUnavailable("no Matrix evidence was gathered")
    return view
