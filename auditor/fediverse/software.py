"""What fediverse server software documents about leaving it: moving an account, exporting data.

Neither can be observed from outside (both need the account holder's login), so decaudit reads
the server's software from NodeInfo and says what that software's own documentation promises,
with the source, and says plainly that it was not verified. Unknown software is "not known", not
a failure.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Exit:
    """What a software's documentation says an account holder can take away."""

    move_since: tuple[int, ...] | None
    """First version that can send an ActivityPub ``Move`` (followers follow the new account);
    None: no documented way."""
    export: str
    """What its data export gives the account holder."""
    source: str


KNOWN: dict[str, Exit] = {
    "mastodon": Exit(
        (3, 0),
        "an archive of posts and media, and CSV lists of follows, blocks, mutes and bookmarks",
        "https://docs.joinmastodon.org/user/moving/",
    ),
    "gotosocial": Exit(
        (0, 15),
        "CSV lists of follows, lists, blocks and mutes",
        "https://docs.gotosocial.org/en/latest/user_guide/migration/",
    ),
}
"""Software decaudit knows; a fork that reports another name (``hometown``...) is not guessed."""


def version_tuple(version: str | None) -> tuple[int, ...] | None:
    """``"4.3.2+glitch"`` -> ``(4, 3, 2)``; None when it does not start with a number."""
    if not version:
        return None
    numbers: list[int] = []
    for part in version.split("+", 1)[0].split("-", 1)[0].split("."):
        if not part.isdigit():
            break
        numbers.append(int(part))
    return tuple(numbers) or None


def exit_of(software: str | None) -> Exit | None:
    return KNOWN.get(software or "")


def can_move(software: str | None, version: str | None) -> bool | None:
    """True/False when the software is known (and its version, when it matters), else None."""
    known = exit_of(software)
    if known is None:
        return None
    if known.move_since is None:
        return False
    parsed = version_tuple(version)
    return None if parsed is None else parsed >= known.move_since
