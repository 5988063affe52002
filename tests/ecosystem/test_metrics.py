"""Concentration metrics: hand-computed cases, edge cases, and Are We Decentralized Yet?'s
published values (ricci/distributed-social-networks www/data.js, as the guide's §1.2 lists them).
"""

from __future__ import annotations

import json
import math
import random

import pytest

from auditor.ecosystem.metrics import (
    HORIZONTAL_MERGER_GUIDELINES_1992,
    HORIZONTAL_MERGER_GUIDELINES_2010,
    MERGER_GUIDELINES_2023,
    Band,
    concentration,
    nakamoto,
)

# --- hand-computed ----------------------------------------------------------------------------


def test_four_providers_by_hand() -> None:
    result = concentration({"a": 40, "b": 30, "c": 20, "d": 10})
    assert result.total == 100
    assert result.providers == 4
    assert [s.name for s in result.shares] == ["a", "b", "c", "d"]
    assert [s.share for s in result.shares] == [0.4, 0.3, 0.2, 0.1]
    assert result.hhi == pytest.approx(0.30)  # .16 + .09 + .04 + .01
    assert result.hhi_points == 3000
    assert result.band is Band.HIGHLY_CONCENTRATED
    shannon = -(
        0.4 * math.log(0.4) + 0.3 * math.log(0.3) + 0.2 * math.log(0.2) + 0.1 * math.log(0.1)
    )
    assert result.shannon == pytest.approx(shannon)  # 1.279854...
    assert result.shannon == pytest.approx(1.2798542258)
    assert result.evenness == pytest.approx(shannon / math.log(4))
    assert result.effective_shannon == pytest.approx(math.exp(shannon))
    assert result.effective_hhi == pytest.approx(1 / 0.3)
    # 1 - (40*39 + 30*29 + 20*19 + 10*9) / (100*99) = 1 - 2900/9900
    assert result.simpson == pytest.approx(1 - 2900 / 9900)
    # 40 >= 25; 70 >= 50; 90 >= 75; 90 >= 90 exactly (no float slop); 100 >= 99
    assert result.needed == {"25": 1, "50": 2, "75": 3, "90": 3, "99": 4}
    assert result.majority == 2
    assert result.largest == "a"
    assert result.largest_share == 0.4


def test_doj_worked_example() -> None:
    # The DOJ's own example: four firms at 30, 30, 20 and 20 percent have an HHI of 2,600.
    result = concentration({"w": 30, "x": 30, "y": 20, "z": 20})
    assert result.hhi_points == 2600
    assert result.band is Band.HIGHLY_CONCENTRATED
    assert result.guideline.year == 2023


def test_every_operator_needed_is_an_answer_not_none() -> None:
    # AWDY's calc_B stops one provider early and returns None here; the answer is 4.
    result = concentration({"a": 1, "b": 1, "c": 1, "d": 1})
    assert result.needed == {"25": 1, "50": 2, "75": 3, "90": 4, "99": 4}
    assert result.majority == 3
    assert result.evenness == pytest.approx(1.0)
    assert result.effective_shannon == pytest.approx(4.0)
    assert result.effective_hhi == pytest.approx(4.0)


def test_hundred_percent_level_needs_every_provider() -> None:
    result = concentration({"a": 97, "b": 2, "c": 1}, levels=[100, 99.5])
    assert result.needed == {"100": 3, "99.5": 3}


def test_majority_is_strict_but_needed_50_is_not() -> None:
    result = concentration({"a": 50, "b": 50})
    assert result.needed["50"] == 1
    assert result.majority == 2


def test_empty_layer() -> None:
    result = concentration({})
    assert result.is_empty
    assert (result.total, result.providers, result.shares) == (0, 0, ())
    assert result.hhi is None and result.hhi_points is None and result.band is None
    assert result.shannon is None and result.evenness is None and result.simpson is None
    assert result.effective_shannon is None and result.effective_hhi is None
    assert result.needed == {} and result.majority is None
    assert result.largest is None and result.largest_share is None
    assert concentration({"a": 0, "b": 0}).is_empty


def test_one_provider() -> None:
    result = concentration({"only": 7})
    assert (result.hhi, result.hhi_points, result.band) == (1.0, 10_000, Band.HIGHLY_CONCENTRATED)
    assert result.shannon == 0.0
    assert result.evenness is None  # H / ln 1 is undefined
    assert result.effective_shannon == 1.0 and result.effective_hhi == 1.0
    assert result.simpson == 0.0
    assert result.needed == {"25": 1, "50": 1, "75": 1, "90": 1, "99": 1}
    assert result.majority == 1
    assert concentration({"only": 1}).simpson is None  # X(X-1) = 0


def test_zero_counts_are_left_out() -> None:
    result = concentration({"a": 3, "idle": 0, "b": 1})
    assert result.providers == 2
    assert [s.name for s in result.shares] == ["a", "b"]


def test_ties_are_ordered_by_name() -> None:
    result = concentration({"b": 5, "c": 1, "a": 5})
    assert [s.name for s in result.shares] == ["a", "b", "c"]
    assert result.largest == "a"


def test_bad_counts_are_refused() -> None:
    with pytest.raises(ValueError, match="negative"):
        concentration({"a": -1})
    with pytest.raises(TypeError, match="int"):
        concentration({"a": True})
    with pytest.raises(TypeError, match="int"):
        concentration({"a": 1.5})  # type: ignore[dict-item]
    with pytest.raises(ValueError, match="percentage"):
        concentration({"a": 1}, levels=[0])
    with pytest.raises(ValueError, match="percentage"):
        concentration({"a": 1}, levels=[101])


def test_labels() -> None:
    result = concentration({"bluesky": 3, "x.example": 1}, labels={"bluesky": "Bluesky PBC"})
    assert [(s.name, s.label) for s in result.shares] == [
        ("bluesky", "Bluesky PBC"),
        ("x.example", "x.example"),
    ]


def test_hhi_points_round_half_up_exactly() -> None:
    # 10,000 * (1 + 199^2) / 200^2 = 9900.5 exactly: half up gives 9901 (Python's round, 9900)
    assert concentration({"a": 199, "b": 1}).hhi_points == 9901


@pytest.mark.parametrize("seed", range(5))
def test_simpson_is_the_finite_sample_form(seed: int) -> None:
    rng = random.Random(seed)
    counts = {f"p{i}": rng.randint(1, 1000) for i in range(rng.randint(2, 40))}
    result = concentration(counts)
    total = sum(counts.values())
    assert result.hhi is not None and result.simpson is not None
    # 1 - sum x(x-1) / X(X-1) == 1 - (X * HHI - 1) / (X - 1)
    assert result.simpson == pytest.approx(1 - (total * result.hhi - 1) / (total - 1))
    assert sum(s.share for s in result.shares) == pytest.approx(1.0)
    assert result.effective_hhi is not None and result.effective_shannon is not None
    assert 1 <= result.effective_hhi <= result.effective_shannon <= result.providers + 1e-9


def test_to_dict_is_json() -> None:
    text = json.dumps(concentration({"a": 2, "b": 1}).to_dict())
    back = json.loads(text)
    assert back["band"] == "highly_concentrated"
    assert back["band_guideline"]["year"] == 2023
    assert back["needed"]["50"] == 1
    assert back["shares"][0] == {"name": "a", "label": "a", "count": 2, "share": 2 / 3}


# --- bands ------------------------------------------------------------------------------------


def test_2023_bands() -> None:
    guideline = MERGER_GUIDELINES_2023
    assert (guideline.year, guideline.moderate_from, guideline.high_above) == (2023, 1000, 1800)
    assert guideline.band(999) is Band.UNCONCENTRATED
    assert guideline.band(1000) is Band.MODERATELY_CONCENTRATED
    assert guideline.band(1800) is Band.MODERATELY_CONCENTRATED
    assert guideline.band(1801) is Band.HIGHLY_CONCENTRATED
    assert "2023" in guideline.source


def test_reference_bands_of_older_guidelines() -> None:
    assert HORIZONTAL_MERGER_GUIDELINES_2010.band(2000) is Band.MODERATELY_CONCENTRATED
    assert HORIZONTAL_MERGER_GUIDELINES_2010.band(2501) is Band.HIGHLY_CONCENTRATED
    assert HORIZONTAL_MERGER_GUIDELINES_1992.band(2000) is Band.HIGHLY_CONCENTRATED
    # 2,250 points: moderately concentrated under AWDY's 2010 bands, highly under 2023's.
    counts = {"a": 30, "b": 25, "c": 20, "d": 15, "e": 10}
    assert concentration(counts).hhi_points == 2250
    assert concentration(counts).band is Band.HIGHLY_CONCENTRATED
    older = concentration(counts, guideline=HORIZONTAL_MERGER_GUIDELINES_2010)
    assert older.band is Band.MODERATELY_CONCENTRATED
    assert older.to_dict()["band_guideline"]["year"] == 2010


# --- Are We Decentralized Yet? ----------------------------------------------------------------

AWDY_BIGGEST = 5_767_305  # Bluesky PBC's PDSes, MAU, 2026-02-04
AWDY_REST = 60_296  # the other 1,770 PDSes
AWDY_SERVERS = 1_771


def _awdy_atmosphere() -> dict[str, int]:
    """A distribution matching every number AWDY published for 2026-02-04.

    The guide gives the biggest host, the sum of the rest and the host count; the rest's shape is
    not published. This one (second and third hosts 17,100 and 16,500, then a 1/i^2 tail over
    1,768 hosts) is one shape consistent with all the published values at once.
    """
    x2, x3, tail_hosts = 17_100, 16_500, AWDY_SERVERS - 3
    rest = AWDY_REST - x2 - x3
    weights = [1 / (i + 1) ** 2 for i in range(tail_hosts)]
    total_weight = sum(weights)
    tail = [1 + int((rest - tail_hosts) * w / total_weight) for w in weights]
    tail[0] += rest - sum(tail)
    counts = [AWDY_BIGGEST, x2, x3, *tail]
    return {f"host{i}": count for i, count in enumerate(counts)}


def test_awdy_atmosphere_2026_02_04_is_reproduced() -> None:
    counts = _awdy_atmosphere()
    assert len(counts) == AWDY_SERVERS
    assert sum(counts.values()) == AWDY_BIGGEST + AWDY_REST
    result = concentration(counts, levels=[25, 50, 75, 90, 99, 99.5])
    assert result.hhi is not None and result.shannon is not None and result.simpson is not None
    assert int(result.hhi * 10_000) == 9794  # AWDY truncates
    assert result.hhi_points == 9794
    assert round(result.shannon, 4) == 0.0787
    assert round(result.simpson, 4) == 0.0206
    assert result.largest_share is not None
    assert round(100 * result.largest_share, 2) == 98.97
    assert result.needed == {"25": 1, "50": 1, "75": 1, "90": 1, "99": 2, "99.5": 3}
    assert result.band is Band.HIGHLY_CONCENTRATED


def test_awdy_atmosphere_what_the_published_totals_alone_imply() -> None:
    # The biggest share is 98.965% (published rounded, 98.97), so HHI >= 0.98965^2 = 9794.1.
    alone = concentration({"bluesky": AWDY_BIGGEST, "rest": AWDY_REST})
    assert alone.largest_share is not None
    assert alone.largest_share == pytest.approx(0.989653, abs=1e-6)
    assert round(100 * alone.largest_share, 2) == 98.97
    # Two providers at 98.97 / 1.03 give 9796, not 9794: the published 9794 needs the other
    # 1.03% spread over many hosts (their squares add almost nothing).
    assert alone.hhi_points == 9795
    assert concentration({"a": 9897, "b": 103}).hhi_points == 9796
    assert alone.needed["90"] == 1 and alone.needed["99"] == 2
    # Simpson ~ 1 - HHI for millions of accounts: 1 - 0.9794 = 0.0206, as published.
    assert alone.simpson is not None and alone.hhi is not None
    assert alone.simpson == pytest.approx(1 - alone.hhi, abs=1e-6)


def test_awdy_fediverse_2026_02_04_biggest_share() -> None:
    # the other 28,247 servers hold 861,295 accounts; any split keeps them below the biggest
    result = concentration(
        {"mastodon.social": 321_904, "r1": 287_098, "r2": 287_098, "r3": 287_099}
    )
    assert result.largest == "mastodon.social"
    assert result.largest_share is not None
    assert round(100 * result.largest_share, 2) == 27.21


def test_awdy_publishes_truncated_hhi() -> None:
    # Fediverse 2026-02-04: HHI 871 with Simpson 0.9128. With ~1.18 million accounts Simpson is
    # 1 - HHI to 1e-6, so HHI lies in (0.08715, 0.08725]: rounding gives 872, truncation 871.
    low, high = (1 - 0.9128 - 0.00005) * 10_000, (1 - 0.9128 + 0.00005) * 10_000
    assert (round(low, 6), round(high, 6)) == (871.5, 872.5)
    # 871 is int() of a value in (871.5, 872): rounding any such value gives 872, which is what
    # decaudit reports for the same data (its hhi_points round half up).
    for points in (871.51, 871.75, 871.99):
        assert int(points) == 871
        assert math.floor(points + 0.5) == 872


# --- Nakamoto ---------------------------------------------------------------------------------


def test_nakamoto_is_the_minimum_over_critical_layers() -> None:
    layers = {
        "pds": concentration({"bluesky": 98, "other": 2}),
        "relay": concentration({"a": 40, "b": 35, "c": 25}),
        "appview": concentration({"x": 1, "y": 1, "z": 1}),
    }
    result = nakamoto(layers, ["relay", "pds"])
    assert result.value == 1
    assert result.layer == "pds"
    assert result.bottlenecks == ("pds",)
    assert result.per_layer == {"relay": 2, "pds": 1}
    assert result.missing == ()


def test_nakamoto_ties_and_missing_layers() -> None:
    layers = {
        "a": concentration({"x": 60, "y": 40}),
        "b": concentration({"p": 51, "q": 49}),
        "empty": concentration({}),
    }
    result = nakamoto(layers, ["b", "a", "empty", "absent"])
    assert result.value == 1
    assert result.layer == "b"
    assert result.bottlenecks == ("b", "a")
    assert result.missing == ("empty", "absent")
    assert json.loads(json.dumps(result.to_dict()))["threshold"] == "more than 50%"


def test_nakamoto_without_data() -> None:
    result = nakamoto({}, ["pds"])
    assert (result.value, result.layer, result.bottlenecks) == (None, None, ())
    assert result.missing == ("pds",)
