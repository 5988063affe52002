"""Timestamp identifiers (TIDs): repository revisions and record keys.

A commit's ``rev`` is a TID, and relays and mirrors compare revs to decide which copy of a
repository is newer, so the sandbox must mint real ones (spec: record-key, "Timestamp
Identifiers"; repository, commit ``rev``). A TID is a 64-bit integer written as 13 characters of
"base32-sortable" (``234567abcdefghijklmnopqrstuvwxyz``), so text order equals numeric order:

* the top bit is 0 (the syntax itself admits any 64-bit value: 13 characters carry 65 bits and
  only the 65th must be 0, so :meth:`Tid.parse` accepts what the syntax accepts);
* the next 53 bits are microseconds since the UNIX epoch;
* the last 10 bits are a "clock identifier" (0-1023) that keeps concurrent writers apart.

Time is injected (:meth:`Tid.from_datetime`, :class:`TidClock`), never read behind the caller's
back, so sandbox data is reproducible.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final

__all__ = [
    "TID_ALPHABET",
    "TID_LENGTH",
    "Tid",
    "TidClock",
    "TidSyntaxError",
    "is_valid_tid",
]

TID_ALPHABET: Final = "234567abcdefghijklmnopqrstuvwxyz"
"""base32-sortable: digits 2-7 then a-z, in ascending ASCII order."""
TID_LENGTH: Final = 13

_TID_RE: Final = re.compile(r"^[234567abcdefghij][234567abcdefghijklmnopqrstuvwxyz]{12}$")
_VALUE: Final = {char: index for index, char in enumerate(TID_ALPHABET)}
_CLOCK_BITS: Final = 10
_MAX_CLOCK_ID: Final = (1 << _CLOCK_BITS) - 1
_MAX_MICROS: Final = (1 << 53) - 1
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND: Final = timedelta(microseconds=1)


class TidSyntaxError(ValueError):
    """A string that is not a syntactically valid TID, or parts out of range."""


def is_valid_tid(s: str) -> bool:
    """True if ``s`` is a syntactically valid TID (13 base32-sortable characters, fits 64 bits)."""
    return isinstance(s, str) and _TID_RE.fullmatch(s) is not None


@dataclass(frozen=True, order=True)
class Tid:
    """A TID as its integer value; ``str(tid)`` is the 13-character form."""

    value: int

    def __post_init__(self) -> None:
        """Reject values that do not fit in 64 bits (minted TIDs always fit in 63)."""
        if not 0 <= self.value < 1 << 64:
            raise TidSyntaxError(f"TID value out of range: {self.value}")

    @classmethod
    def from_parts(cls, micros: int, clock_id: int = 0) -> Tid:
        """A TID from microseconds since the epoch and a clock identifier (0-1023)."""
        if not 0 <= micros <= _MAX_MICROS:
            raise TidSyntaxError(f"TID timestamp out of range: {micros} µs")
        if not 0 <= clock_id <= _MAX_CLOCK_ID:
            raise TidSyntaxError(f"TID clock id must be 0-{_MAX_CLOCK_ID}, not {clock_id}")
        return cls(micros << _CLOCK_BITS | clock_id)

    @classmethod
    def from_datetime(cls, when: datetime, clock_id: int = 0) -> Tid:
        """A TID for an aware ``datetime`` (naive datetimes are ambiguous and rejected)."""
        if when.tzinfo is None or when.utcoffset() is None:
            raise ValueError("TIDs need a timezone-aware datetime")
        return cls.from_parts((when - _EPOCH) // _MICROSECOND, clock_id)

    @classmethod
    def parse(cls, s: str) -> Tid:
        """Parse the 13-character form; TidSyntaxError if it is not valid TID syntax."""
        if not is_valid_tid(s):
            raise TidSyntaxError(f"not a valid TID: {str(s)[:40]!r}")
        value = 0
        for char in s:
            value = value << 5 | _VALUE[char]
        return cls(value)

    @property
    def micros(self) -> int:
        """Microseconds since the UNIX epoch."""
        return self.value >> _CLOCK_BITS

    @property
    def clock_id(self) -> int:
        """The 10-bit clock identifier."""
        return self.value & _MAX_CLOCK_ID

    def as_datetime(self) -> datetime:
        """The timestamp as an aware UTC datetime."""
        return _EPOCH + self.micros * _MICROSECOND

    def __str__(self) -> str:
        """The 13-character base32-sortable form."""
        chars = []
        value = self.value
        for _ in range(TID_LENGTH):
            chars.append(TID_ALPHABET[value & 31])
            value >>= 5
        return "".join(reversed(chars))


class TidClock:
    """Mints strictly increasing TIDs from an injected clock.

    ``now`` returns the current time (an aware datetime); if it stands still or goes backwards,
    the next TID is the previous one plus one microsecond, as the spec asks of TID generators.
    """

    def __init__(self, now: Callable[[], datetime], clock_id: int = 0) -> None:
        """Use ``now`` as the time source and ``clock_id`` (0-1023) in every TID."""
        Tid.from_parts(0, clock_id)  # validates clock_id
        self._now = now
        self._clock_id = clock_id
        self._last_micros = -1

    def next(self) -> Tid:
        """The next TID: the current time, or one microsecond after the last TID if later."""
        micros = max(Tid.from_datetime(self._now()).micros, self._last_micros + 1)
        self._last_micros = micros
        return Tid.from_parts(micros, self._clock_id)
