"""`python -m forms` as a bureau IT person runs it: real subprocesses, real files, exit codes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from openpyxl import Workbook

ROOT = Path(__file__).resolve().parents[2]


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "forms", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
        encoding="utf-8",
    )


def test_check_all_shipped_forms():
    r = run("check")
    assert r.returncode == 0, r.stdout + r.stderr
    lines = [ln for ln in r.stdout.splitlines() if ln.startswith("OK")]
    assert len(lines) == 6
    assert any(
        "safety_inspection" in ln and "version 2026.1" in ln and "fields" in ln for ln in lines
    )
    assert "0 with problems" in r.stdout


def test_check_reports_every_problem_with_location(tmp_path: Path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "settings: {form_id: bad, version: '1', title: 坏}\n"
        "survey:\n"
        "  - {type: txet, name: a}\n"
        "  - {type: integer, name: b, constraint: '. > ${zz}'}\n",
        encoding="utf-8",
    )
    r = run("check", str(bad), str(ROOT / "forms/definitions/teachers.yaml"))
    assert r.returncode == 2
    assert "Traceback" not in r.stdout + r.stderr
    assert f"{bad}, line 3, field a, column type: [unknown_type]" in r.stdout
    assert "line 4, field b, column constraint: [unknown_field]" in r.stdout
    assert "题型" in r.stdout  # Chinese message beside the English one
    assert "OK   teachers" in r.stdout


def test_round_trip_through_cli(tmp_path: Path):
    xlsx = tmp_path / "s.xlsx"
    yaml_out = tmp_path / "s.yaml"
    assert run("to-xlsform", "forms/definitions/safety_inspection.yaml", str(xlsx)).returncode == 0
    assert run("from-xlsform", str(xlsx), str(yaml_out)).returncode == 0
    r = run("check", str(yaml_out))
    assert r.returncode == 0, r.stdout


def test_bad_workbook_writes_nothing(tmp_path: Path):
    wb = Workbook()
    ws = wb.active
    ws.title = "survey"
    ws.append(["type", "name", "label"])
    ws.append(["geopoint", "where", "位置"])
    src = tmp_path / "in.xlsx"
    wb.save(src)
    out = tmp_path / "out.yaml"
    r = run("from-xlsform", str(src), str(out))
    assert r.returncode == 2
    assert (
        "sheet survey, row 2" in r.stderr and "column type" in r.stderr and "geopoint" in r.stderr
    )
    assert not out.exists()
    assert list(tmp_path.iterdir()) == [src]


def test_missing_file_and_bad_arguments():
    r = run("check", "no/such/file.yaml")
    assert r.returncode == 2 and "file not found" in r.stderr
    r = run("frobnicate")
    assert r.returncode == 2 and "Traceback" not in r.stderr
    r = run("from-xlsform", "forms/definitions/teachers.yaml", "x.yaml")
    assert r.returncode == 2 and ".xlsx" in r.stderr


def test_not_a_workbook(tmp_path: Path):
    fake = tmp_path / "fake.xlsx"
    fake.write_text("hello", encoding="utf-8")
    r = run("check", str(fake))
    assert (
        r.returncode == 2
        and "xlsx_unreadable" in r.stdout
        and "Traceback" not in r.stdout + r.stderr
    )
