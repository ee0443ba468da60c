"""Fixtures for the GUI tests: a client context on a fresh data folder with a fixed clock, the task
manager that runs database work off the GUI thread, and a teacher roster of two.

Run with QT_QPA_PLATFORM=offscreen (set here too when missing)."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from client.clock import FixedClock
from client.context import ClientContext
from client.store import records
from client.store.db import open_store
from client.store.formset import FormSet
from client.ui.tasks import TaskManager

NOW = dt.datetime(2026, 11, 28, 10, 0)
TODAY = dt.date(2026, 11, 28)

TEACHERS = [
    {"teacher_id": "T001", "name": "张明", "gender": "male", "active": "yes"},
    {"teacher_id": "T002", "name": "李芳", "gender": "female", "active": "yes"},
]


@pytest.fixture(scope="session")
def formset() -> FormSet:
    return FormSet.shipped()


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(NOW)


def open_context(data_dir: Path, formset: FormSet, clock: FixedClock) -> ClientContext:
    return ClientContext(open_store(data_dir), formset, clock)


@pytest.fixture
def ctx(data_dir: Path, formset: FormSet, clock: FixedClock) -> Iterator[ClientContext]:
    context = open_context(data_dir, formset, clock)
    yield context
    context.close()


@pytest.fixture
def tasks(qapp: object) -> Iterator[TaskManager]:
    manager = TaskManager()
    yield manager
    manager.wait()


def save(ctx: ClientContext, form_id: str, data: dict[str, object], **kw: object) -> str:
    """Save a record straight into the store (as set-up for a test); returns its id."""
    with ctx.store.Session.begin() as s:
        result = records.save_record(
            s,
            form=ctx.forms.get(form_id),
            data=data,
            today=ctx.clock.today(),
            now=ctx.clock.now(),
            **kw,  # type: ignore[arg-type]
        )
    return result.record_id


@pytest.fixture
def roster(ctx: ClientContext) -> dict[str, str]:
    """Two teachers on the roster: teacher_id -> record id."""
    return {t["teacher_id"]: save(ctx, "teachers", t, submit=True) for t in TEACHERS}
