from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest

from client.clock import FixedClock
from client.context import ClientContext
from client.store.db import open_store
from client.store.formset import FormSet
from tests.support.samples import inspection  # noqa: F401 - re-exported for the tests

NOW = dt.datetime(2026, 11, 28, 2, 0)
TODAY = dt.date(2026, 11, 28)


@pytest.fixture(scope="session")
def formset() -> FormSet:
    return FormSet.shipped()


@pytest.fixture
def ctx(tmp_path: Path, formset: FormSet) -> Iterator[ClientContext]:
    context = ClientContext(open_store(tmp_path / "data"), formset, FixedClock(NOW, TODAY))
    yield context
    context.close()
