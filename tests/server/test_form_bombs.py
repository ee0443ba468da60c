"""Hostile form files at the bureau: `sync-server publish-form` and the dashboard's upload refuse a YAML alias
bomb and xlsx bombs (whitespace, shared strings, DTD) as bad input, in bounded memory, never a 500
(issue 9; the limits themselves are tested in tests/forms)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from tests.server.test_dashboard_admin import Admin, admin, upload  # noqa: F401 (admin: a fixture)
from tests.support.bombs import (
    dtd_workbook,
    run_measured,
    shared_strings_bomb,
    whitespace_bomb,
    yaml_alias_bomb,
)

ROOT = Path(__file__).resolve().parents[2]


def bomb(kind: str, folder: Path) -> Path:
    if kind == "alias":
        path = folder / "bomb.yaml"
        path.write_text(yaml_alias_bomb(), encoding="utf-8")
        return path
    if kind == "whitespace":
        return whitespace_bomb(folder / "blanks.xlsx", mib=256)
    if kind == "strings":
        return shared_strings_bomb(folder / "strings.xlsx", strings=600_000)
    return dtd_workbook(folder / "dtd.xlsx")


@pytest.mark.parametrize("kind", ["alias", "whitespace"])
def test_publish_form_refuses_a_bomb_in_bounded_memory(kind: str, tmp_path: Path):
    path = bomb(kind, tmp_path)
    args = [sys.executable, "-m", "sync_server", "publish-form", str(path)]
    args += ["--db", f"sqlite:///{tmp_path / 'cli.db'}", "--instance", str(tmp_path / "instance")]
    run = run_measured(args, cwd=ROOT)
    assert run.returncode == 2, run.stdout + run.stderr
    assert "Traceback" not in run.stderr
    assert path.name in run.stderr.splitlines()[0]
    assert run.peak_mb < 200, run.peak_mb


@pytest.mark.parametrize("kind", ["alias", "whitespace", "strings", "dtd"])
def test_dashboard_upload_refuses_a_bomb(kind: str, admin: Admin, tmp_path: Path):  # noqa: F811
    path = bomb(kind, tmp_path)
    c = admin.client()
    r = upload(admin, c, path.name, path.read_bytes())
    page = r.get_data(as_text=True)
    assert r.status_code == 422, page[:500]
    assert "未发布" in page
    code = {"alias": "yaml_too_big", "whitespace": "xlsx_ratio", "strings": "xlsx_too_large"}
    assert code.get(kind, "xlsx_dtd") in page
