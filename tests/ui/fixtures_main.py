"""Fixtures for the main-window tests, loaded by their modules with `pytest_plugins` (tests/ui/conftest.py
belongs to the editor's tests)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtWidgets import QApplication

from client.context import ClientContext
from client.ui import lang
from client.ui.main_window import MainWindow
from client.ui.tasks import TaskManager
from tests.ui.main_helpers import make_window, open_ctx, settle


@pytest.fixture
def main_data_dir(tmp_path: Path) -> Path:
    return tmp_path / "school-data"


@pytest.fixture
def main_ctx(main_data_dir: Path) -> Iterator[ClientContext]:
    ctx = open_ctx(main_data_dir)
    yield ctx
    ctx.close()


@pytest.fixture
def main_tasks(qapp: QApplication) -> Iterator[TaskManager]:
    tasks = TaskManager()
    yield tasks
    tasks.wait()


@pytest.fixture
def chinese() -> Iterator[None]:
    lang.set_language("zh_CN")
    yield
    lang.set_language("zh_CN")


@pytest.fixture
def window(
    qtbot: object, chinese: None, main_ctx: ClientContext, main_tasks: TaskManager
) -> Iterator[MainWindow]:
    w = make_window(qtbot, main_ctx, main_tasks)
    yield w
    w.close()
    settle(main_tasks)
