"""Shared fixtures: anyio on asyncio, the in-test fake network, recorded evidence."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import respx

from tests.support.fakenet import FakeNet


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def fakenet() -> Iterator[FakeNet]:
    """A respx-mocked network plus a static resolver; nothing leaves the process."""
    with respx.mock(assert_all_called=False, assert_all_mocked=True) as router:
        yield FakeNet(router)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--update-goldens",
        action="store_true",
        default=False,
        help="Rewrite sample_reports/ and other goldens from the current code.",
    )


@pytest.fixture
def update_goldens(request: pytest.FixtureRequest) -> bool:
    return bool(request.config.getoption("--update-goldens"))
