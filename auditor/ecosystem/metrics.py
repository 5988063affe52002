"""Concentration metrics over the providers of one layer: pure arithmetic, no I/O.

Why these metrics, and why computed here rather than copied from a peer tool: researchers and CI
jobs compare decaudit's numbers with the published series of *Are We Decentralized Yet?* (AWDY,
ricci/distributed-social-networks ``centralization_stats.py``), so the formulas are the same, but
three of AWDY's choices are not reproduced:

* **Operators needed for X %** (AWDY's ``calc_B``, Ricci's B-index): AWDY's loop stops one
  provider early (``range(0, len(x) - 1)``), so it returns ``None`` whenever every provider is
  needed (e.g. four equal providers at 99 %). Here the answer is always defined for a non-empty
  layer: the smallest ``b`` whose cumulative share is at least X %, up to ``b = N``.
* **HHI points**: AWDY publishes ``int(HHI * 10000)`` (truncated; its published Simpson values
  show it, e.g. Fediverse 2026-02-04 "HHI 871, Simpson 0.9128" needs HHI >= 871.5). decaudit
  rounds half up, computed exactly in integers, so a value can be one point above AWDY's.
* **Concentration bands**: AWDY labels HHI with the 2010 Horizontal Merger Guidelines bands
  (1,500 / 2,500). decaudit uses the bands of the guideline in force, the 2023 U.S. DOJ/FTC
  Merger Guidelines, and names the guideline and its year next to every band
  (:data:`MERGER_GUIDELINES_2023`); the older bands are kept for reference.

Every input count is a number of *accounts* (or DIDs, or relay-reported accounts: the caller says
which); a provider is whatever the caller merged them by (an operator, a DID method, a custody
class). Providers with a zero count hold nothing and are left out, as AWDY does. Ties are ordered
by name, so the output is deterministic.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from fractions import Fraction
from typing import Any, Final

__all__ = [
    "DEFAULT_LEVELS",
    "HORIZONTAL_MERGER_GUIDELINES_1992",
    "HORIZONTAL_MERGER_GUIDELINES_2010",
    "MERGER_GUIDELINES_2023",
    "Band",
    "Concentration",
    "HhiGuideline",
    "Nakamoto",
    "Share",
    "concentration",
    "nakamoto",
]

DEFAULT_LEVELS: Final[tuple[float, ...]] = (25, 50, 75, 90, 99)
"""The "operators needed for X %" points reported by default (Ricci's B25 ... B99)."""


class Band(StrEnum):
    """A concentration band of a merger guideline."""

    UNCONCENTRATED = "unconcentrated"
    MODERATELY_CONCENTRATED = "moderately_concentrated"
    HIGHLY_CONCENTRATED = "highly_concentrated"


@dataclass(frozen=True, slots=True)
class HhiGuideline:
    """HHI thresholds (points, 0..10,000) of one antitrust guideline.

    ``points < moderate_from`` is unconcentrated, ``moderate_from <= points <= high_above`` is
    moderately concentrated, ``points > high_above`` is highly concentrated.
    """

    name: str
    year: int
    moderate_from: int
    high_above: int
    source: str

    def band(self, points: int) -> Band:
        """The band of an HHI given in points (0..10,000)."""
        if points > self.high_above:
            return Band.HIGHLY_CONCENTRATED
        if points >= self.moderate_from:
            return Band.MODERATELY_CONCENTRATED
        return Band.UNCONCENTRATED


MERGER_GUIDELINES_2023: Final = HhiGuideline(
    name="U.S. DOJ/FTC Merger Guidelines",
    year=2023,
    moderate_from=1000,
    high_above=1800,
    source=(
        "Merger Guidelines (U.S. Department of Justice and Federal Trade Commission, "
        "December 18, 2023), section 2.1 Guideline 1: markets with an HHI greater than 1,800 are "
        "highly concentrated (https://www.justice.gov/atr/merger-guidelines/applying-merger-"
        "guidelines/guideline-1); the DOJ's HHI page: 'between 1,000 and 1,800 points ... "
        "moderately concentrated ... in excess of 1,800 points ... highly concentrated. See U.S. "
        "Department of Justice & FTC, Merger Guidelines § 2.1 (2023)'"
    ),
)
"""The bands decaudit reports: the guideline in force since December 2023."""

HORIZONTAL_MERGER_GUIDELINES_2010: Final = HhiGuideline(
    name="U.S. DOJ/FTC Horizontal Merger Guidelines",
    year=2010,
    moderate_from=1500,
    high_above=2500,
    source=(
        "Horizontal Merger Guidelines (August 19, 2010), section 5.3: unconcentrated below 1,500, "
        "moderately concentrated 1,500-2,500, highly concentrated above 2,500. Used by Are We "
        "Decentralized Yet?; superseded in 2023."
    ),
)
"""For reference only: the bands AWDY labels its gauge with."""

HORIZONTAL_MERGER_GUIDELINES_1992: Final = HhiGuideline(
    name="U.S. DOJ/FTC Horizontal Merger Guidelines (revised 1997)",
    year=1992,
    moderate_from=1000,
    high_above=1800,
    source=(
        "Horizontal Merger Guidelines (1992, revised 1997), section 1.51: below 1,000 "
        "unconcentrated, 1,000-1,800 moderately concentrated, above 1,800 highly concentrated. "
        "The 2023 guidelines returned to these thresholds."
    ),
)
"""For reference only: the 1992/1997 bands (same numbers as 2023)."""


@dataclass(frozen=True, slots=True)
class Share:
    """One provider's part of a layer."""

    name: str
    """The provider's stable id (an operator id, a DID method, a class)."""
    count: int
    share: float
    """``count / total``, 0..1."""
    label: str
    """How a report should print the provider (defaults to ``name``)."""

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "label": self.label, "count": self.count, "share": self.share}


@dataclass(frozen=True, slots=True)
class Concentration:
    """Every metric of one layer. Metrics that are undefined for the input are None."""

    total: int
    """Sum of the counts."""
    providers: int
    """Providers with a non-zero count (N)."""
    shares: tuple[Share, ...]
    """Providers by count, largest first; ties by name."""
    hhi: float | None
    """Herfindahl-Hirschman index, sum of squared shares (0..1)."""
    hhi_points: int | None
    """HHI x 10,000, rounded half up (AWDY truncates instead)."""
    band: Band | None
    """The band of ``hhi_points`` under ``guideline``."""
    guideline: HhiGuideline
    shannon: float | None
    """Shannon entropy H = -sum s ln s (natural log; 0 for one provider)."""
    evenness: float | None
    """Pielou's evenness H / ln N (defined for N >= 2)."""
    effective_shannon: float | None
    """e^H: the number of equal providers with the same entropy (Hill number of order 1)."""
    effective_hhi: float | None
    """1 / HHI: the number of equal providers with the same HHI (Hill number of order 2)."""
    simpson: float | None
    """Simpson's diversity in the finite-sample form AWDY uses,
    1 - sum x(x-1) / (X(X-1)) (the chance two accounts drawn without replacement sit with
    different providers); defined for X >= 2."""
    needed: dict[str, int]
    """Level (percent, as text: ``"50"``, ``"99.5"``) -> the fewest providers that together hold
    at least that share. Empty for an empty layer; never None when every provider is needed."""
    majority: int | None
    """The fewest providers holding strictly more than half (the Nakamoto coefficient of this
    layer)."""
    largest: str | None
    """The name of the largest provider."""
    largest_share: float | None

    @property
    def is_empty(self) -> bool:
        return self.total == 0

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form (enums as their values, the guideline by name and year)."""
        return {
            "total": self.total,
            "providers": self.providers,
            "hhi": self.hhi,
            "hhi_points": self.hhi_points,
            "band": self.band.value if self.band else None,
            "band_guideline": {
                "name": self.guideline.name,
                "year": self.guideline.year,
                "moderately_concentrated_from": self.guideline.moderate_from,
                "highly_concentrated_above": self.guideline.high_above,
                "source": self.guideline.source,
            },
            "shannon": self.shannon,
            "evenness": self.evenness,
            "effective_shannon": self.effective_shannon,
            "effective_hhi": self.effective_hhi,
            "simpson": self.simpson,
            "needed": dict(self.needed),
            "majority": self.majority,
            "largest": self.largest,
            "largest_share": self.largest_share,
            "shares": [share.to_dict() for share in self.shares],
        }


def _level_key(level: float) -> str:
    return f"{level:g}"


def _checked_counts(counts: Mapping[str, int]) -> list[tuple[str, int]]:
    """The non-zero counts sorted largest first (ties by name); rejects bad values."""
    rows: list[tuple[str, int]] = []
    for name, count in counts.items():
        if isinstance(count, bool) or not isinstance(count, int):
            raise TypeError(f"count of {name!r} must be an int, not {type(count).__name__}")
        if count < 0:
            raise ValueError(f"count of {name!r} is negative ({count})")
        if count:
            rows.append((str(name), count))
    rows.sort(key=lambda row: (-row[1], row[0]))
    return rows


def _hhi_points(values: Sequence[int], total: int) -> int:
    """round_half_up(10,000 * sum x^2 / X^2), exactly."""
    squares = sum(value * value for value in values)
    return (20_000 * squares + total * total) // (2 * total * total)


def _shannon(values: Sequence[int], total: int) -> float:
    return max(0.0, -math.fsum(v / total * math.log(v / total) for v in values))


def _simpson(values: Sequence[int], total: int) -> float | None:
    if total < 2:
        return None
    return 1 - sum(v * (v - 1) for v in values) / (total * (total - 1))


def _needed(values: Sequence[int], total: int, share: Fraction, *, strict: bool) -> int:
    """The fewest providers (largest first) whose cumulative count reaches ``share`` of total
    (exceeds it when ``strict``). Always defined: at worst every provider."""
    target = share * total
    cumulative = 0
    for index, value in enumerate(values, start=1):
        cumulative += value
        if cumulative > target or (not strict and cumulative == target):
            return index
    return len(values)


def concentration(
    counts: Mapping[str, int],
    *,
    labels: Mapping[str, str] | None = None,
    levels: Iterable[float] = DEFAULT_LEVELS,
    guideline: HhiGuideline = MERGER_GUIDELINES_2023,
) -> Concentration:
    """Every concentration metric of one layer from its providers' counts.

    ``counts`` must already be merged by operator (e.g. every ``*.host.bsky.network`` PDS under
    one Bluesky row). Raises TypeError for a non-int count and ValueError for a negative one or a
    level outside (0, 100].
    """
    rows = _checked_counts(counts)
    level_list = [float(level) for level in levels]
    for level in level_list:
        if not 0 < level <= 100:
            raise ValueError(f"level {level:g} is not a percentage in (0, 100]")
    names = labels or {}
    total = sum(count for _, count in rows)
    values = [count for _, count in rows]
    shares = tuple(Share(n, c, c / total, names.get(n, n)) for n, c in rows)
    if total == 0:
        return _empty(guideline)
    hhi = math.fsum(v * v for v in values) / (total * total)
    points = _hhi_points(values, total)
    shannon = _shannon(values, total)
    count = len(values)
    return Concentration(
        total=total,
        providers=count,
        shares=shares,
        hhi=hhi,
        hhi_points=points,
        band=guideline.band(points),
        guideline=guideline,
        shannon=shannon,
        evenness=shannon / math.log(count) if count >= 2 else None,
        effective_shannon=math.exp(shannon),
        effective_hhi=1 / hhi,
        simpson=_simpson(values, total),
        needed={
            _level_key(level): _needed(values, total, Fraction(str(level)) / 100, strict=False)
            for level in level_list
        },
        majority=_needed(values, total, Fraction(1, 2), strict=True),
        largest=rows[0][0],
        largest_share=values[0] / total,
    )


def _empty(guideline: HhiGuideline) -> Concentration:
    return Concentration(
        total=0,
        providers=0,
        shares=(),
        hhi=None,
        hhi_points=None,
        band=None,
        guideline=guideline,
        shannon=None,
        evenness=None,
        effective_shannon=None,
        effective_hhi=None,
        simpson=None,
        needed={},
        majority=None,
        largest=None,
        largest_share=None,
    )


@dataclass(frozen=True, slots=True)
class Nakamoto:
    """The minimum Nakamoto coefficient over a system's critical layers (Srinivasan & Lee,
    "Quantifying Decentralization", 2017): for each layer the fewest operators that together hold
    strictly more than half of it, then the minimum over the layers."""

    value: int | None
    """The minimum; None when no critical layer has data."""
    layer: str | None
    """The first critical layer (in the order given) that attains the minimum."""
    bottlenecks: tuple[str, ...]
    """Every critical layer that attains the minimum."""
    per_layer: dict[str, int | None] = field(default_factory=dict)
    """Each critical layer's coefficient (None: no data)."""
    missing: tuple[str, ...] = ()
    """Critical layers that were not measured or are empty: the minimum ignores them."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "value": self.value,
            "layer": self.layer,
            "bottlenecks": list(self.bottlenecks),
            "per_layer": dict(self.per_layer),
            "missing": list(self.missing),
            "threshold": "more than 50%",
        }


def nakamoto(layers: Mapping[str, Concentration], critical: Iterable[str]) -> Nakamoto:
    """The minimum Nakamoto coefficient over ``critical`` layers of ``layers``."""
    per_layer: dict[str, int | None] = {}
    for name in dict.fromkeys(critical):
        layer = layers.get(name)
        per_layer[name] = layer.majority if layer is not None else None
    measured = {name: value for name, value in per_layer.items() if value is not None}
    missing = tuple(name for name, value in per_layer.items() if value is None)
    if not measured:
        return Nakamoto(None, None, (), per_layer, missing)
    value = min(measured.values())
    bottlenecks = tuple(name for name, found in measured.items() if found == value)
    return Nakamoto(value, bottlenecks[0], bottlenecks, per_layer, missing)
