"""Host-level answers shared across a session: single flight, failures re-asked, expiry,
cancellation of the asker does not cancel the waiters."""

from __future__ import annotations

import asyncio

import pytest

from auditor.net.shared import SharedAnswers

pytestmark = pytest.mark.anyio


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def keep_all(value: str) -> bool:
    return True


async def test_concurrent_askers_share_one_request() -> None:
    shared: SharedAnswers[str] = SharedAnswers()
    calls = 0

    async def fetch() -> str:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0.01)
        return "answer"

    results = await asyncio.gather(*(shared.get("k", fetch, keep_all) for _ in range(20)))
    assert results == ["answer"] * 20
    assert calls == 1
    assert await shared.get("k", fetch, keep_all) == "answer"
    assert calls == 1
    assert await shared.get("other", fetch, keep_all) == "answer"
    assert calls == 2


async def test_answers_not_kept_are_asked_again() -> None:
    shared: SharedAnswers[str] = SharedAnswers()
    answers = iter(["timeout", "ok", "never asked"])

    async def fetch() -> str:
        return next(answers)

    def keep(value: str) -> bool:
        return value == "ok"

    assert await shared.get("k", fetch, keep) == "timeout"
    assert await shared.get("k", fetch, keep) == "ok"
    assert await shared.get("k", fetch, keep) == "ok"


async def test_answers_expire() -> None:
    clock = Clock()
    shared: SharedAnswers[int] = SharedAnswers(ttl=300, clock=clock)
    counter = iter(range(10))

    async def fetch() -> int:
        return next(counter)

    assert await shared.get("k", fetch, lambda _: True) == 0
    clock.now = 299.0
    assert await shared.get("k", fetch, lambda _: True) == 0
    clock.now = 300.0
    assert await shared.get("k", fetch, lambda _: True) == 1


async def test_an_exception_reaches_every_waiter_and_is_not_kept() -> None:
    shared: SharedAnswers[str] = SharedAnswers()
    attempts = 0

    async def fetch() -> str:
        nonlocal attempts
        attempts += 1
        await asyncio.sleep(0.01)
        if attempts == 1:
            raise RuntimeError("boom")
        return "fine"

    results = await asyncio.gather(
        *(shared.get("k", fetch, keep_all) for _ in range(3)), return_exceptions=True
    )
    assert [type(r) for r in results] == [RuntimeError] * 3
    assert await shared.get("k", fetch, keep_all) == "fine"


async def test_cancelling_the_asker_does_not_cancel_the_waiters() -> None:
    shared: SharedAnswers[str] = SharedAnswers()
    started = asyncio.Event()
    calls = 0

    async def fetch() -> str:
        nonlocal calls
        calls += 1
        started.set()
        await asyncio.sleep(0.05)
        return f"answer {calls}"

    first = asyncio.create_task(shared.get("k", fetch, keep_all))
    await started.wait()
    waiter = asyncio.create_task(shared.get("k", fetch, keep_all))
    await asyncio.sleep(0)
    first.cancel()
    assert await waiter == "answer 2"  # it asked again itself rather than inheriting the cancel
    with pytest.raises(asyncio.CancelledError):
        await first


async def test_expired_answers_are_swept_once_there_are_many(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("auditor.net.shared.SWEEP_FROM", 3)
    clock = Clock()
    shared: SharedAnswers[str] = SharedAnswers(ttl=10, clock=clock)

    async def fetch() -> str:
        return "x"

    for key in ("a", "b", "c"):
        await shared.get(key, fetch, keep_all)
    clock.now = 10.0
    await shared.get("d", fetch, keep_all)
    assert list(shared._entries) == ["d"]
