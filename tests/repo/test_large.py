"""Large repositories: 50,000 records build, export and stream in bounded memory.

The 50,000 tiny-record build runs in the default suite (about a second or two; counts only, no
timing assertions).
"""

from __future__ import annotations

import tracemalloc
from typing import Any

from auditor.repo import Link, Tid, build_repository, iter_car
from auditor.repo.car import DEFAULT_CHUNK_SIZE
from tests.repo import ACCOUNT_KEY, DID

N = 50_000
REV = str(Tid.from_parts(1_714_564_800_000_000, 0))


def many_records(n: int, text_size: int) -> dict[str, dict[str, Any]]:
    base = 1_600_000_000_000_000
    return {
        f"app.bsky.feed.post/{Tid.from_parts(base + 1000 * i, i % 1024)}": {
            "$type": "app.bsky.feed.post",
            "text": f"{i:06d} " + "x" * text_size,
            "createdAt": "2024-05-01T12:00:00.000Z",
        }
        for i in range(n)
    }


def test_fifty_thousand_tiny_records() -> None:
    snapshot = build_repository(DID, ACCOUNT_KEY, many_records(N, 0), rev=REV)
    assert snapshot.record_count == N
    assert snapshot.collections == ("app.bsky.feed.post",)
    roots, blocks = iter_car(snapshot.car_bytes())
    assert roots == [Link(snapshot.commit_cid)]
    count = sum(1 for _ in blocks)
    assert count == 1 + len(snapshot.mst_node_cids) + N
    assert len(snapshot.mst_node_cids) > N // 8  # a real, multi-layer tree


def test_export_over_twenty_megabytes_streams_in_bounded_memory() -> None:
    snapshot = build_repository(DID, ACCOUNT_KEY, many_records(N, 420), rev=REV)
    assert snapshot.record_count == N
    tracemalloc.start()
    try:
        total = 0
        largest = 0
        for chunk in snapshot.car_chunks():
            total += len(chunk)
            largest = max(largest, len(chunk))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert total > 20_000_000
    assert largest < DEFAULT_CHUNK_SIZE + 4096
    assert peak < 2_000_000  # streaming holds about a chunk, never the whole file
