"""`school-client export/import` of a sensitive form (teacher ethics, dropout follow-ups) needs the PIN of the
window's lock (issue 12 point 2): without one set, or with a wrong one, exit 2 and no file; other forms as
ever. The PIN is piped in on stdin (never an argument)."""

from __future__ import annotations

import datetime as dt
import io
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from openpyxl import load_workbook

from client.cli import main
from client.clock import FixedClock
from client.context import ClientContext
from client.store import pin
from client.store import records as R
from client.store.db import open_store
from client.store.formset import FormSet

NOW = dt.datetime(2026, 11, 28, 2, 0)
PIN = "246801"
SECRET = "师德举报内容丙"


def make_data(folder: Path, *, with_pin: bool) -> None:
    ctx = ClientContext(open_store(folder), FormSet.shipped(), FixedClock(NOW))
    try:
        with ctx.store.Session.begin() as s:
            for form_id, data in (
                ("teacher_ethics", {"record_type": "complaint", "description": SECRET}),
                ("after_school_service", {"service_date": "2026-11-27"}),
            ):
                R.save_record(s, form=ctx.forms.get(form_id), data=data, today=NOW.date(), now=NOW)
            if with_pin:
                pin.set_pin(s, PIN, now=NOW)
    finally:
        ctx.close()


@dataclass
class Done:
    returncode: int
    stdout: str
    stderr: str


@pytest.fixture
def client(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Callable[..., Done]:
    """school-client in this process (a subprocess each costs seconds), stdin piped, not a terminal."""
    monkeypatch.delenv("SCHOOL_CLIENT_DATA_DIR", raising=False)

    def run(*args: str, stdin: str = "") -> Done:
        monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
        code = main(list(args))
        out = capsys.readouterr()
        return Done(code, out.out, out.err)

    return run


def test_a_sensitive_export_needs_the_pin(tmp_path: Path, client: Callable[..., Done]) -> None:
    data = tmp_path / "data"
    make_data(data, with_pin=True)
    out = tmp_path / "师德.xlsx"
    wrong = client(
        "export", "--data-dir", str(data), "--form", "teacher_ethics", str(out), stdin="135790\n"
    )
    assert wrong.returncode == 2, wrong.stderr
    assert "PIN码不正确" in wrong.stderr and "Traceback" not in wrong.stderr
    assert not out.exists()
    with open_store(data).Session() as s:
        assert pin.failures(s) == 1  # counted like a wrong try in the window

    right = client(
        "export", "--data-dir", str(data), "--form", "teacher_ethics", str(out), stdin=PIN + "\n"
    )
    assert right.returncode == 0, right.stderr
    assert PIN not in right.stdout + right.stderr
    cells = [c.value for row in load_workbook(out).active.iter_rows() for c in row]
    assert SECRET in cells

    # Other forms ask nothing.
    other = client(
        "export",
        "--data-dir",
        str(data),
        "--form",
        "after_school_service",
        str(tmp_path / "a.xlsx"),
    )
    assert other.returncode == 0, other.stderr


def test_without_a_pin_set_a_sensitive_form_is_neither_exported_nor_imported(
    tmp_path: Path, client: Callable[..., Done]
) -> None:
    data = tmp_path / "data"
    make_data(data, with_pin=False)
    out = tmp_path / "控辍.xlsx"
    done = client(
        "export", "--data-dir", str(data), "--form", "dropout_followup", str(out), stdin=PIN + "\n"
    )
    assert done.returncode == 2
    assert "请先在客户端窗口中打开该表单并设置PIN码" in done.stderr
    assert not out.exists()
    source = tmp_path / "in.json"
    source.write_text("[]", encoding="utf-8")
    done = client("import", "--data-dir", str(data), "--form", "teacher_ethics", str(source))
    assert done.returncode == 2 and "PIN码" in done.stderr
