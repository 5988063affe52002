"""Network and probe options shared by ``check`` and ``batch``, declared once.

``network_settings`` turns their values into validated settings (bad values exit 2). Lists given on
the command line replace the defaults; absent ones keep them.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from auditor import defaults
from auditor.cli.common import build_settings, connect_to_map, env, fail, split

if TYPE_CHECKING:
    from auditor.batch.gates import Requirement
    from auditor.registry import CheckSet
    from auditor.settings import AuditSettings

ListOpt = list[str] | None

PlcUrl = Annotated[
    str, typer.Option("--plc-url", envvar=env("plc_url"), help="PLC directory base URL.")
]
Nameserver = Annotated[
    ListOpt,
    typer.Option(
        "--nameserver",
        envvar=env("nameserver"),
        help="DNS server HOST[:PORT] (repeatable; default: the system's).",
    ),
]
ConnectTo = Annotated[
    ListOpt,
    typer.Option(
        "--connect-to",
        envvar=env("connect_to"),
        help="HOST[:PORT]=BASE_URL: send requests for https://HOST there, keeping the Host header "
        "(repeatable).",
    ),
]
Relay = Annotated[
    ListOpt,
    typer.Option(
        "--relay",
        envvar=env("relay", "DECAUDIT_RELAYS"),
        help="Relay base URL to ask whether it carries the account (repeatable).",
    ),
]
PlcMirror = Annotated[
    ListOpt,
    typer.Option(
        "--plc-mirror",
        envvar=env("plc_mirror", "DECAUDIT_PLC_MIRRORS"),
        help="Independent PLC read mirror base URL (repeatable).",
    ),
]
AppView = Annotated[
    ListOpt,
    typer.Option(
        "--appview",
        envvar=env("appview", "DECAUDIT_APPVIEWS"),
        help="AppView base URL to ask whether it indexes the account (repeatable).",
    ),
]
Labeler = Annotated[
    ListOpt,
    typer.Option(
        "--labeler",
        envvar=env("labeler", "DECAUDIT_LABELERS"),
        help="Labeler base URL to ask which labels it applies (repeatable).",
    ),
]
SaveExport = Annotated[
    Path | None,
    typer.Option(
        "--save-export",
        envvar=env("save_export"),
        file_okay=False,
        help="Keep the export in this folder (repo.car; blobs/ with --blobs all).",
    ),
]
MaxExportSize = Annotated[
    int,
    typer.Option(
        "--max-export-size",
        envvar=env("max_export_size"),
        min=1,
        help="Size cap of the repository export, in MiB.",
    ),
]
Blobs = Annotated[
    str,
    typer.Option(
        "--blobs", envvar=env("blobs"), help="Blobs to fetch and verify: a number, or 'all'."
    ),
]
Timeout = Annotated[
    float,
    typer.Option(
        "--timeout",
        envvar=env("timeout"),
        min=0.1,
        help="Seconds per request (connect, and the whole response).",
    ),
]
Deadline = Annotated[
    float, typer.Option("--deadline", envvar=env("deadline"), min=1, help="Whole-audit seconds.")
]
AllowPrivate = Annotated[
    bool,
    typer.Option(
        "--allow-private",
        envvar=env("allow_private"),
        help="Permit loopback/private destinations and plain http to them (self-hosters, tests). "
        "Link-local, multicast and reserved stay refused.",
    ),
]
CaBundle = Annotated[
    Path | None,
    typer.Option(
        "--ca-bundle",
        envvar=env("ca_bundle"),
        exists=True,
        dir_okay=False,
        readable=True,
        help="PEM file of CAs to trust (else SSL_CERT_FILE, else certifi).",
    ),
]
Require = Annotated[
    ListOpt,
    typer.Option(
        "--require",
        envvar=env("require"),
        help="CHECK_ID=STATUS[|STATUS]: exit 1 unless the check has that status (repeatable).",
    ),
]

MaxHhi = Annotated[
    float | None, typer.Option("--max-hhi", help="Gate: hosting-operator HHI (x10,000) at most.")
]
MinOperatorsFor50 = Annotated[
    int | None,
    typer.Option("--min-operators-for-50", help="Gate: hosting operators needed for 50% at least."),
]
Baseline = Annotated[
    Path | None,
    typer.Option("--baseline", help="A previous summary JSON: fail on regressions against it."),
]
SummaryFile = Annotated[
    Path | None, typer.Option("--summary", help="Also write the summary JSON here.")
]
Badge = Annotated[
    Path | None,
    typer.Option(
        "--badge", envvar=env("badge"), help="Also write a shields.io endpoint badge JSON here."
    ),
]

DEFAULT_MAX_EXPORT_MIB = defaults.MAX_EXPORT_BYTES // (1024 * 1024)
DEFAULT_BLOBS = str(defaults.BLOB_SAMPLE)


def blob_count(value: str) -> int | None:
    """``--blobs``: a number, or ``all`` (None)."""
    if value.strip().lower() == "all":
        return None
    if not value.strip().isdigit():
        fail(f"--blobs {value!r}: expected a number or 'all'")
    return int(value)


OwnDomain = Annotated[
    ListOpt,
    typer.Option(
        "--own-domain",
        envvar=env("own_domain"),
        help="DOMAIN the account holder controls (repeatable): a Matrix server name or a "
        "fediverse server decaudit cannot otherwise tell is theirs. Reports print the claim.",
    ),
]


def network_settings(
    *,
    plc_url: str,
    nameserver: ListOpt,
    connect_to: ListOpt,
    relay: ListOpt,
    plc_mirror: ListOpt,
    appview: ListOpt,
    labeler: ListOpt,
    skip_export: bool,
    save_export: Path | None,
    max_export_size: int,
    blobs: str,
    timeout: float,
    deadline: float,
    allow_private: bool,
    ca_bundle: Path | None,
    own_domain: ListOpt = None,
) -> AuditSettings:
    """Settings from the shared options.

    The default PLC mirrors copy ``plc.directory``: with another ``--plc-url`` (a private or test
    directory) they would answer for a different directory, so they are left out unless
    ``--plc-mirror`` names mirrors of that one.
    """
    if plc_mirror is None and plc_url.rstrip("/") != defaults.PLC_URL.rstrip("/"):
        plc_mirror = []
    lists = {"relays": relay, "plc_mirrors": plc_mirror, "appviews": appview, "labelers": labeler}
    return build_settings(
        plc_url=plc_url,
        nameservers=split(nameserver),
        connect_to=connect_to_map(split(connect_to)),
        **{name: split(value) for name, value in lists.items() if value is not None},
        skip_export=skip_export,
        save_export=str(save_export) if save_export else None,
        max_export_bytes=max_export_size * 1024 * 1024,
        blob_sample=blob_count(blobs),
        timeout=timeout,
        deadline=deadline,
        allow_private=allow_private,
        ca_bundle=str(ca_bundle) if ca_bundle else None,
        own_domains=split(own_domain),
    )


def requirements(require: ListOpt, available: CheckSet) -> list[Requirement]:
    """``--require`` values, parsed against the checks available (bad ones exit 2)."""
    from auditor.batch.gates import GateSpecError, parse_requirement

    known = [check.meta.id for check in available.checks]
    try:
        return [parse_requirement(spec, known) for spec in split(require)]
    except GateSpecError as exc:
        fail(str(exc))
