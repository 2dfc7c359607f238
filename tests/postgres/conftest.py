"""Tests of what only PostgreSQL has: its startup checks, its outages, its schema."""

from __future__ import annotations

import pytest

from tests.support.backends import selected_backends


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    if "postgres" in selected_backends():
        return
    skip = pytest.mark.skip(reason="ENGRAM_TEST_BACKENDS leaves PostgreSQL out")
    for item in items:
        if "tests/postgres/" in str(item.fspath):
            item.add_marker(skip)
