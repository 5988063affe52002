"""``decaudit explain CHECK_ID``: what a check asks, how, how it scores, what to do about it."""

from __future__ import annotations

from typing import Annotated

import typer

from auditor.cli.common import choose_checks, fail


def explain(
    check_id: Annotated[str, typer.Argument(help="A check id, as 'decaudit checks' lists them.")],
) -> None:
    """Print a check's rationale, method, scoring and remediation."""
    from rich.console import Console
    from rich.text import Text

    from auditor.scoring import effective_weights

    available, _ = choose_checks(None, None)
    found = next((c for c in available.checks if c.meta.id == check_id), None)
    if found is None:
        fail(f"unknown check id {check_id!r} (run 'decaudit checks' for the list)")
    meta = found.meta
    share = effective_weights(available.checks)[meta.id]
    console = Console(highlight=False)
    console.print(Text(meta.id, style="bold"), Text(f"  ({meta.category.value})", style="dim"))
    console.print(Text(meta.title))
    sections = (
        ("Why it matters", meta.rationale),
        ("How it is checked", meta.method),
        ("How it scores", meta.scoring),
        (
            "Weight",
            f"{meta.weight:g} within {meta.category.value}: {share:.1%} of the whole score"
            if meta.weight
            else "informational: not scored",
        ),
        ("What you can do", meta.remediation),
    )
    for heading, body in sections:
        if body:
            console.print(Text(f"\n{heading}", style="bold"))
            console.print(Text(body))
    if meta.data_keys:
        console.print(Text("\nData in the JSON report", style="bold"))
        for key, meaning in meta.data_keys.items():
            console.print(Text(f"  data.{key}: {meaning}"))
    if meta.references:
        console.print(Text("\nReferences", style="bold"))
        for reference in meta.references:
            console.print(Text(f"  {reference}"))
