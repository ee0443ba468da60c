"""The command line says which data folder it used (issue 11): the README's examples without --data-dir
exported 0 records from an empty default folder without a word. A folder with no client data is refused for
export, backup and sync (nothing is made there); one with no records is named with a note; an import says
what it did with drafts."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.client import RECORDS, make_ctx, populate, save

ROOT = Path(__file__).resolve().parents[2]


def run(*args: str, home: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "SCHOOL_CLIENT_DATA_DIR"}
    env.update(PYTHONIOENCODING="utf-8", HOME=str(home), XDG_DATA_HOME=str(home / "share"))
    return subprocess.run(
        [sys.executable, "-m", "client.cli", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=120,
    )


def default_folder(home: Path) -> Path:
    return home / "share" / "school-client"


def test_export_from_a_folder_without_client_data_is_refused_naming_it(tmp_path: Path):
    home = tmp_path / "home"
    done = run("export", "--form", "safety_inspection", str(tmp_path / "out.xlsx"), home=home)
    assert done.returncode == 2, done.stderr
    first = done.stderr.splitlines()[0]
    assert str(default_folder(home)) in first and "--data-dir" in first
    assert "没有客户端数据" in first and "no client data" in first
    assert not (default_folder(home) / "store.db").exists()  # nothing made there
    assert not (tmp_path / "out.xlsx").exists()
    for command in (("backup", str(tmp_path / "b.db")), ("sync",)):
        done = run(*command, home=home)
        assert done.returncode == 2 and str(default_folder(home)) in done.stderr, command


def test_export_names_the_folder_and_notes_an_empty_one(tmp_path: Path):
    school = tmp_path / "school"
    ctx = make_ctx(school)
    populate(ctx)
    ctx.close()
    empty = tmp_path / "empty"
    make_ctx(empty).close()

    done = run(
        "export", "--data-dir", str(school), "--form", "safety_inspection",
        str(tmp_path / "a.xlsx"), home=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "已导出 2 条记录" in done.stdout and str(school) in done.stdout
    assert done.stderr == ""

    done = run(
        "export", "--data-dir", str(empty), "--form", "safety_inspection",
        str(tmp_path / "b.xlsx"), home=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0
    assert "已导出 0 条记录" in done.stdout
    assert (
        str(empty) in done.stderr and "没有任何记录" in done.stderr and "--data-dir" in done.stderr
    )


def test_import_says_where_and_what_it_did_with_drafts(tmp_path: Path):
    school = tmp_path / "school"
    ctx = make_ctx(school)
    populate(ctx)
    save(ctx, "safety_inspection", {"inspection_date": "2026-11-21"}, submit=False)
    ctx.close()
    out = tmp_path / "安全.xlsx"
    assert (
        run(
            "export",
            "--data-dir",
            str(school),
            "--form",
            "safety_inspection",
            str(out),
            home=tmp_path,
        ).returncode
        == 0
    )

    done = run(
        "import", "--data-dir", str(school), "--form", "safety_inspection", str(out), home=tmp_path
    )
    assert done.returncode == 0, done.stderr
    assert "新增 0，更新 0，未变 3" in done.stdout and "草稿 1" in done.stdout
    assert str(school) in done.stdout

    fresh = tmp_path / "fresh"
    roster = tmp_path / "roster.json"
    roster.write_text(json.dumps([RECORDS["school_conditions"][0]]), encoding="utf-8")
    done = run(
        "import",
        "--data-dir",
        str(fresh),
        "--form",
        "school_conditions",
        str(roster),
        home=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert str(fresh) in done.stdout and "新建" in done.stderr  # a new, empty data folder was made
