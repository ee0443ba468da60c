"""`school-client` as a clerk or a script runs it: real subprocesses, exit codes 0 and 2, one-line errors.

Independent commands run side by side to keep the suite fast; each works on its own data folder.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from openpyxl import load_workbook

from client.cli import main, package_version
from tests.client import RECORDS, make_ctx, populate, stored

ROOT = Path(__file__).resolve().parents[2]
CJK = re.compile(r"[\u4e00-\u9fff]")


@dataclass
class Done:
    args: tuple[str, ...]
    code: int
    out: str
    err: str


def run_all(*commands: tuple[str, ...]) -> list[Done]:
    env = {k: v for k, v in os.environ.items() if k != "SCHOOL_CLIENT_DATA_DIR"}
    env["PYTHONIOENCODING"] = "utf-8"
    procs = [
        (
            args,
            subprocess.Popen(
                [sys.executable, "-m", "client.cli", *args],
                cwd=ROOT,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                encoding="utf-8",
            ),
        )
        for args in commands
    ]
    done = []
    for args, proc in procs:
        out, err = proc.communicate(timeout=120)
        done.append(Done(args, proc.returncode, out, err))
    return done


def assert_ok(done: Done) -> None:
    assert done.code == 0, (done.args, done.err)
    assert "Traceback" not in done.err


def assert_refused(done: Done, *words: str) -> str:
    """Exit 2, no traceback, and a first line in Chinese and English that says it all."""
    assert done.code == 2, (done.args, done.out, done.err)
    assert "Traceback" not in done.err and done.out == ""
    first = done.err.splitlines()[0]
    zh, _, en = first.partition(" / ")
    assert CJK.search(zh) and re.search(r"[a-z]{3}", en), first
    for word in words:
        assert word in first, (word, first)
    return first


def test_every_command_succeeds(tmp_path: Path):
    school = tmp_path / "school"
    ctx = make_ctx(school)
    populate(ctx)
    expected = stored(ctx, "safety_inspection")
    ctx.close()
    out, roster_file, backup = (
        tmp_path / "安全 11月.xlsx",
        tmp_path / "名册.xlsx",
        tmp_path / "b.db",
    )

    version, export, export_roster, made = run_all(
        ("--version",),
        ("export", "--data-dir", str(school), "--form", "safety_inspection", str(out),
         "--period", "2026-11", "--status", "submitted", "received"),
        ("--data-dir", str(school), "export", "--form", "teachers", str(roster_file)),
        ("backup", str(backup), "--data-dir", str(school)),
    )  # fmt: skip
    assert_ok(version)
    assert version.out.strip() == f"school-client {package_version()}"
    assert_ok(export)
    assert "已导出 1 条记录" in export.out and "exported 1 records" in export.out
    assert load_workbook(out).worksheets[0].title == "校园安全隐患排查整治记录"
    assert_ok(export_roster)
    assert_ok(made)
    assert backup.is_file() and "backed up to" in made.out

    imported, imported_roster, restored = run_all(
        ("import", "--data-dir", str(tmp_path / "other"), "--form", "safety_inspection", str(out)),
        ("import", "--data-dir", str(tmp_path / "other2"), "--form", "teachers", str(roster_file)),
        ("restore", "--data-dir", str(school), str(backup)),
    )
    assert_ok(imported)
    assert "已导入 1 条记录" in imported.out and "1 new" in imported.out
    assert_ok(imported_roster)
    assert_ok(restored)
    assert "restored from" in restored.out
    assert list((school / "backups").glob("pre-restore-*.db"))
    assert list((tmp_path / "other" / "backups").glob("store-*.db"))  # the daily backup came first

    check = make_ctx(tmp_path / "other")
    try:
        (rid, data) = next(iter(stored(check, "safety_inspection").items()))
        assert data == expected[rid] and data["inspection_date"] == "2026-11-20"
    finally:
        check.close()
    log = (school / "logs" / "school-client.log").read_text(encoding="utf-8")
    assert "exported 1 safety_inspection records" in log


def test_bad_input_exits_2_with_one_bilingual_line(tmp_path: Path):
    bad_json = tmp_path / "bad.json"
    record = dict(RECORDS["safety_inspection"][1])
    record["inspection_date"] = "2026-13-01"
    bad_json.write_text(json.dumps([record, {"inspectors": "张伟"}], ensure_ascii=False), "utf-8")
    notes = tmp_path / "notes.db"
    notes.write_text("不是数据库", encoding="utf-8")
    d = [str(tmp_path / f"d{i}") for i in range(5)]
    make_ctx(Path(d[1])).close()  # a data folder with client data: the form is what is wrong

    invalid, unknown, missing, not_db, bad_args = run_all(
        ("import", "--data-dir", d[0], "--form", "safety_inspection", str(bad_json)),
        ("export", "--data-dir", d[1], "--form", "nope", str(tmp_path / "x.xlsx")),
        ("import", "--data-dir", d[2], "--form", "teachers", str(tmp_path / "missing.xlsx")),
        ("restore", "--data-dir", d[3], str(notes)),
        ("export", "--data-dir", d[4], str(tmp_path / "x.xlsx")),
    )
    first = assert_refused(invalid, "导入失败", "import failed", "第 1 条记录", "“排查日期”")
    assert "共 6 个问题" in first and "6 problems" in first
    assert len(invalid.err.splitlines()) == 6  # then one line per further problem
    assert_refused(unknown, "没有表单“nope”", "unknown form 'nope'")
    assert_refused(missing, "找不到文件", "file not found")
    assert_refused(not_db, "不是有效的数据备份", "not a valid store backup")
    assert not (tmp_path / "d3" / "store.db").exists()  # refused before anything was made
    assert_refused(bad_args, "参数错误", "--form")


def test_main_in_process_version_and_help(capsys):
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.startswith("school-client ")
    assert main(["export", "--help"]) == 0
    assert "--period" in capsys.readouterr().out
    assert main(["frobnicate"]) == 2
    assert "参数错误" in capsys.readouterr().err
