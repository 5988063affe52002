"""Run-time settings of one audit (or one batch): where to look and how careful to be.

The CLI builds an :class:`AuditSettings` from its options and ``DECAUDIT_*`` environment variables;
library users build one directly. The same object is recorded (minus secrets; there are none) in the
evidence, so a report says which directory, nameservers and overrides produced it.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from pydantic import Field, field_validator

from auditor import __version__, defaults
from auditor.models.common import Model

MIB = 1024 * 1024


def _check_base_url(value: str) -> str:
    """An absolute http(s) URL with a host and no query; returned without a trailing slash."""
    parts = urlsplit(value.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(
            f"{value!r} is not an http(s) URL with a host (e.g. https://plc.directory)"
        )
    if parts.query or parts.fragment:
        raise ValueError(f"{value!r}: a base URL takes no query or fragment")
    return value.strip().rstrip("/")


class AuditSettings(Model):
    """Settings shared by every probe of a run."""

    plc_url: str = defaults.PLC_URL
    """Base URL of the PLC directory that did:plc identities are resolved from."""
    nameservers: list[str] = []
    """DNS servers as ``HOST[:PORT]`` (``[v6]:PORT`` for IPv6); empty means the system's."""
    connect_to: dict[str, str] = {}
    """``HOST[:PORT]`` -> base URL: requests for ``https://HOST`` go there, keeping the Host
    header."""
    timeout: float = Field(default=defaults.TIMEOUT, gt=0)
    """Connect timeout, and whole-response budget, of each request and DNS lookup, in seconds."""
    deadline: float = Field(default=defaults.DEADLINE, gt=0)
    """Wall-clock budget for the whole audit, in seconds."""
    allow_private: bool = False
    """Permit loopback and private destinations (and plain http to them)."""
    ca_bundle: str | None = None
    """Path of a PEM bundle of trusted CAs; default: ``SSL_CERT_FILE`` or certifi's."""
    max_json_bytes: int = Field(default=MIB, gt=0)
    """Size cap of a JSON or text response."""
    max_redirects: int = Field(default=5, ge=0)
    """Redirect hops followed per request."""
    max_retries: int = Field(default=2, ge=0)
    """Retries on 429/502/503/504 per request."""
    max_retry_after: float = Field(default=10.0, ge=0)
    """Longest ``Retry-After`` honoured, in seconds; longer waits give up instead."""

    relays: list[str] = list(defaults.RELAYS)
    """Relays asked whether they carry the account (base URLs)."""
    plc_mirrors: list[str] = list(defaults.PLC_MIRRORS)
    """Independent PLC read mirrors the identity is compared with (base URLs)."""
    appviews: list[str] = list(defaults.APPVIEWS)
    """AppViews asked whether they index the account (base URLs)."""
    labelers: list[str] = list(defaults.LABELERS)
    """Labelers asked which labels they apply to the account (base URLs)."""
    skip_export: bool = False
    """Do not download and verify the repository export."""
    max_export_bytes: int = Field(default=defaults.MAX_EXPORT_BYTES, gt=0)
    """Size cap of the repository export."""
    blob_sample: int | None = Field(default=defaults.BLOB_SAMPLE, ge=0)
    """Blobs fetched and verified (None: all of them)."""
    save_export: str | None = None
    """Folder to keep the export in (``repo.car`` and, with every blob fetched, ``blobs/``)."""
    own_domains: list[str] = []
    """Domains the person running the audit declares the account holder's (``--own-domain``).
    A Matrix server name, or a fediverse server whose size is unknown, cannot show from outside
    whose it is; reports print this list, so the claim is the auditor's, never decaudit's."""

    @field_validator("own_domains")
    @classmethod
    def _domains(cls, values: list[str]) -> list[str]:
        from auditor.syntax import handle_syntax_error  # handles are domain names

        domains = []
        for value in values:
            domain = value.strip().rstrip(".").lower()
            error = handle_syntax_error(domain)
            if error:
                raise ValueError(f"{value!r}: {error.replace('handle', 'domain')}")
            domains.append(domain)
        return sorted(set(domains))

    @field_validator("plc_url")
    @classmethod
    def _base_url(cls, value: str) -> str:
        return _check_base_url(value)

    @field_validator("relays", "plc_mirrors", "appviews", "labelers")
    @classmethod
    def _base_urls(cls, values: list[str]) -> list[str]:
        return [_check_base_url(value) for value in values]

    @property
    def user_agent(self) -> str:
        """The ``User-Agent`` every request carries: names the tool and its version."""
        return f"decaudit/{__version__} (AT Protocol account decentralization auditor)"
