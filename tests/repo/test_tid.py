"""TIDs: the interop syntax vectors, the bit layout, ordering and the injectable clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from auditor.repo.tid import Tid, TidClock, TidSyntaxError, is_valid_tid
from tests.repo import vector_lines

VALID = vector_lines("syntax/tid_syntax_valid.txt")
INVALID = vector_lines("syntax/tid_syntax_invalid.txt")


def test_vector_files_are_present() -> None:
    assert len(VALID) >= 4 and len(INVALID) >= 8


@pytest.mark.parametrize("text", VALID)
def test_valid_vectors_parse_and_round_trip(text: str) -> None:
    assert is_valid_tid(text)
    assert str(Tid.parse(text)) == text


@pytest.mark.parametrize("text", INVALID)
def test_invalid_vectors_are_rejected(text: str) -> None:
    assert not is_valid_tid(text)
    with pytest.raises(TidSyntaxError):
        Tid.parse(text)


def test_bit_layout() -> None:
    assert str(Tid(0)) == "2222222222222"
    assert str(Tid((1 << 63) - 1)) == "bzzzzzzzzzzzz"  # the largest TID a clock can mint
    assert Tid.parse("jzzzzzzzzzzzz") == Tid((1 << 64) - 1)  # the largest the syntax admits
    tid = Tid.from_parts(micros=1_700_000_000_123_456, clock_id=987)
    assert tid.value == 1_700_000_000_123_456 << 10 | 987
    assert (tid.micros, tid.clock_id) == (1_700_000_000_123_456, 987)
    assert Tid.parse(str(tid)) == tid


def test_from_datetime_is_exact_to_the_microsecond() -> None:
    when = datetime(2024, 5, 1, 12, 0, 0, 123456, tzinfo=UTC)
    tid = Tid.from_datetime(when, clock_id=7)
    assert tid.as_datetime() == when
    assert tid.clock_id == 7
    same_instant = when.astimezone(timezone(timedelta(hours=-5)))
    assert Tid.from_datetime(same_instant, clock_id=7) == tid


def test_text_order_is_time_order() -> None:
    tids = [Tid.from_parts(micros, clock) for micros in (0, 1, 10**15, 2**52) for clock in (0, 5)]
    assert sorted(tids) == tids
    assert sorted(str(tid) for tid in tids) == [str(tid) for tid in tids]


def test_out_of_range_parts_are_rejected() -> None:
    with pytest.raises(TidSyntaxError):
        Tid.from_parts(0, 1024)
    with pytest.raises(TidSyntaxError):
        Tid.from_parts(-1)
    with pytest.raises(TidSyntaxError):
        Tid.from_parts(1 << 53)
    with pytest.raises(TidSyntaxError):
        Tid(1 << 64)
    with pytest.raises(ValueError, match="timezone"):
        Tid.from_datetime(datetime(2024, 1, 1))  # naive on purpose
    assert not is_valid_tid(123)  # type: ignore[arg-type]


def test_clock_is_injected_and_strictly_increasing() -> None:
    now = datetime(2024, 5, 1, tzinfo=UTC)
    times = [now, now, now - timedelta(seconds=1), now + timedelta(seconds=1)]
    clock = TidClock(lambda: times.pop(0), clock_id=3)
    minted = [clock.next() for _ in range(4)]
    assert [tid.micros - minted[0].micros for tid in minted] == [0, 1, 2, 1_000_000]
    assert all(tid.clock_id == 3 for tid in minted)
    assert minted[0].as_datetime() == now
    with pytest.raises(TidSyntaxError):
        TidClock(lambda: now, clock_id=2000)
