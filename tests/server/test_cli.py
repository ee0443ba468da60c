"""`sync-server` as the bureau's IT person runs it: real subprocesses on a real database."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest
import requests
from openpyxl import load_workbook

from forms.catalog import DEFINITIONS_DIR
from forms.loader import load_yaml
from forms.xlsform import write_xlsform
from sync_server import models as M
from sync_server.cli import main
from tests.server.conftest import LiveServer, assert_error, change, inspection

ROOT = Path(__file__).resolve().parents[2]


def run(
    *args: str, db: str, instance: Path, check: int | None = 0
) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env.pop("SYNC_SERVER_DB", None)
    r = subprocess.run(
        [sys.executable, "-m", "sync_server", *args, "--db", db, "--instance", str(instance)],
        capture_output=True,
        text=True,
        encoding="utf-8",
        cwd=ROOT,
        env=env,
        timeout=120,
    )
    if check is not None:
        assert r.returncode == check, r.stdout + r.stderr
    assert "Traceback" not in r.stderr
    return r


def run_here(
    capsys: pytest.CaptureFixture[str], *args: str, db: str, instance: Path, check: int = 0
) -> subprocess.CompletedProcess[str]:
    """The same command in this process (quicker: no interpreter start-up)."""
    code = main([*args, "--db", db, "--instance", str(instance)])
    out, err = capsys.readouterr()
    assert code == check, out + err
    assert "Traceback" not in err
    return subprocess.CompletedProcess(list(args), code, out, err)


def last_json(r: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(r.stdout.strip().splitlines()[-1])
    return body


def one_line_error(r: subprocess.CompletedProcess[str]) -> str:
    line = r.stderr.strip().splitlines()[0]
    assert line.startswith("错误：") and " / error: " in line
    return line


@pytest.fixture
def sqlite_db(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'cli.db'}"


def test_add_school_prints_a_working_code(
    sqlite_db: str, tmp_path: Path, make_server_for: Any, capsys: pytest.CaptureFixture[str]
):
    r = run(
        "add-school",
        "--code",
        "S001",
        "--name",
        "城关镇中心小学",
        "--json",
        db=sqlite_db,
        instance=tmp_path,
    )
    made = last_json(r)
    assert made["school_code"] == "S001" and made["created"] is True
    # The usb trial's D11: shown in the bureau's time (the JSON keeps UTC).
    until = dt.datetime.fromisoformat(made["expires_at"].rstrip("Z")) + dt.timedelta(hours=8)
    assert f"有效期至 / valid until: {until:%Y-%m-%d %H:%M}（北京时间）" in r.stdout
    assert len(made["enrollment_code"]) == 19 and made["enrollment_code"] in r.stdout
    again = last_json(
        run_here(
            capsys,
            "add-school",
            "--code",
            "S001",
            "--name",
            "城关镇中心小学",
            "--json",
            db=sqlite_db,
            instance=tmp_path,
        )
    )
    assert again["created"] is False and again["enrollment_code"] != made["enrollment_code"]
    # The code's hash is keyed with the instance's secret key: the server must have the same one.
    secret = (tmp_path / "secret_key").read_text(encoding="ascii").strip()
    live: LiveServer = make_server_for(sqlite_db, SECRET_KEY=secret)
    assert_error(live.enroll(made["enrollment_code"]), 401, "enrollment_code_replaced")
    r = live.enroll(again["enrollment_code"])
    assert r.status_code == 201 and r.json()["school"]["name"] == "城关镇中心小学"


def test_bad_input_is_one_line_and_exit_2(
    sqlite_db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    r = run("add-school", "--code", "S001", db=sqlite_db, instance=tmp_path, check=2)
    assert "--name" in one_line_error(r)
    assert len(r.stderr.strip().splitlines()) == 1
    r = run_here(
        capsys,
        "add-school",
        "--code",
        "bad code!",
        "--name",
        "x",
        db=sqlite_db,
        instance=tmp_path,
        check=2,
    )
    assert "学校代码" in one_line_error(r)
    r = run_here(
        capsys, "add-school", "--code", "S2", "--name", "甲", db=sqlite_db, instance=tmp_path
    )
    r = run_here(
        capsys,
        "add-school",
        "--code",
        "S2",
        "--name",
        "乙",
        db=sqlite_db,
        instance=tmp_path,
        check=2,
    )
    assert "甲" in one_line_error(r)  # an existing school is never renamed by a typo
    r = run_here(capsys, "frobnicate", db=sqlite_db, instance=tmp_path, check=2)
    one_line_error(r)
    r = run_here(
        capsys,
        "add-school",
        "--code",
        "S1",
        "--name",
        "x",
        "--json",
        db="oracle://x",
        instance=tmp_path,
        check=2,
    )
    one_line_error(r)
    assert last_json(r)["error"]["code"] == "bad_db_url"
    r = run_here(
        capsys, "revoke-device", str(uuid.uuid4()), db=sqlite_db, instance=tmp_path, check=2
    )
    assert "设备" in one_line_error(r)
    r = run_here(
        capsys,
        "add-school",
        "--code",
        "S1",
        "--name",
        "x",
        db="postgresql+psycopg://nobody@127.0.0.1:1/none",
        instance=tmp_path,
        check=1,
    )
    assert "数据库" in one_line_error(r)


def _new_version(tmp_path: Path, version: str, extra: str = "") -> Path:
    text = (DEFINITIONS_DIR / "teachers.yaml").read_text(encoding="utf-8")
    text = text.replace("version: '2026.1'", f"version: '{version}'")
    text = text.replace(
        "    label: {zh: 职称, en: Professional title}",
        "    label: {zh: 职称" + extra + ", en: Title}",
    )
    path = tmp_path / f"teachers-{version}{len(extra)}.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_publish_form_makes_a_new_version_once(
    sqlite_db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    path = _new_version(tmp_path, "2027.1")
    first = last_json(run("publish-form", str(path), "--json", db=sqlite_db, instance=tmp_path))
    assert first["form_id"] == "teachers" and first["version"] == "2027.1" and first["published"]
    same = last_json(
        run_here(capsys, "publish-form", str(path), "--json", db=sqlite_db, instance=tmp_path)
    )
    assert same["published"] is False and same["sha256"] == first["sha256"]
    changed = _new_version(tmp_path, "2027.1", extra="（专业技术职务）")
    r = run_here(
        capsys, "publish-form", str(changed), "--json", db=sqlite_db, instance=tmp_path, check=2
    )
    assert "2027.1" in one_line_error(r)
    assert last_json(r)["error"]["code"] == "version_exists"


def test_publish_form_takes_an_xlsform_with_the_same_definition(
    sqlite_db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    xlsx = tmp_path / "安全排查.xlsx"
    write_xlsform(load_yaml(DEFINITIONS_DIR / "safety_inspection.yaml"), xlsx)
    # The shipped YAML is already published on first start; its XLSForm twin is the same definition.
    r = last_json(
        run_here(capsys, "publish-form", str(xlsx), "--json", db=sqlite_db, instance=tmp_path)
    )
    assert r["form_id"] == "safety_inspection" and r["published"] is False


def test_publish_form_refuses_a_bad_definition_with_locations(
    sqlite_db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    text = (DEFINITIONS_DIR / "teachers.yaml").read_text(encoding="utf-8")
    text = text.replace("version: '2026.1'", "version: '2027.2'")
    text = text.replace(
        "    required: true\n    default: 'yes'", "    required: true\n    relevant: ${nowhere} = 1"
    )
    bad = tmp_path / "bad.yaml"
    bad.write_text(text, encoding="utf-8")
    r = run("publish-form", str(bad), "--json", db=sqlite_db, instance=tmp_path, check=2)
    line = one_line_error(r)
    assert "bad.yaml" in line and "nowhere" in line and "line" in line
    err = last_json(r)["error"]
    assert err["code"] == "form_invalid" and err["details"]["errors"][0]["code"] == "unknown_field"
    r = run_here(
        capsys,
        "publish-form",
        str(tmp_path / "missing.yaml"),
        db=sqlite_db,
        instance=tmp_path,
        check=2,
    )
    one_line_error(r)
    r = run_here(
        capsys,
        "publish-form",
        str(tmp_path / "notes.txt"),
        db=sqlite_db,
        instance=tmp_path,
        check=2,
    )
    one_line_error(r)


def test_revoke_device_makes_its_token_403(
    ready_db_url: str, tmp_path: Path, make_server_for: Any, capsys: pytest.CaptureFixture[str]
):
    live: LiveServer = make_server_for(ready_db_url)
    dev = live.device()
    assert dev.pull()["cursor"] >= 0
    listed = last_json(
        run_here(capsys, "list-devices", "--json", db=ready_db_url, instance=tmp_path)
    )
    assert dev.device_id in {d["device_id"] for d in listed["devices"]}
    r = last_json(run("revoke-device", dev.device_id, "--json", db=ready_db_url, instance=tmp_path))
    assert r["device_id"] == dev.device_id and r["revoked_at"]
    assert_error(dev.http.get(dev.url("/api/v1/pull"), timeout=10), 403, "device_revoked")


RISKY = ["=1+1", "+86 138", "-危险", "@SUM(A1)", "\t制表", '=HYPERLINK("http://x")']


def test_export_writes_every_schools_records_and_formula_like_text_stays_text(
    ready_db_url: str,
    backend: str,
    tmp_path: Path,
    make_server_for: Any,
    capsys: pytest.CaptureFixture[str],
):
    live: LiveServer = make_server_for(ready_db_url)
    a = live.device(name="A")
    b = live.device(name="B")
    ids = []
    for i, text in enumerate(RISKY):
        c = change(inspection(remarks=text, inspectors=f"检查员{i}"))
        ids.append(c["record_id"])
        (a if i % 2 else b).push_ok([c])
    deleted = change()
    a.push_ok([deleted])
    a.push_ok([change(record_id=deleted["record_id"], kind="delete", revision=2, base=1)])
    out = tmp_path / "汇总.xlsx"
    args = ("export", "--form", "safety_inspection", str(out), "--json")
    if backend == "sqlite":
        r = last_json(run(*args, db=ready_db_url, instance=tmp_path))
    else:  # the subprocess path is the same; here it runs in-process to keep the suite quick
        r = last_json(run_here(capsys, *args, db=ready_db_url, instance=tmp_path))
    assert r["records"] == len(RISKY) and r["schools"] == 2 and r["path"] == str(out)

    wb = load_workbook(out)
    main = wb[r["sheets"][0]]
    assert main.title == "校园安全隐患排查整治记录"
    labels = [c.value for c in main[1]]
    names = [c.value for c in main[2]]
    assert labels[:4] == ["学校代码", "学校名称", "记录编号", "状态"]
    assert names[:4] == ["_school_code", "_school_name", "_uuid", "_status"]
    assert main.row_dimensions[2].hidden
    col = {name: i for i, name in enumerate(names)}
    rows = list(main.iter_rows(min_row=3))
    assert sorted(row[col["_uuid"]].value for row in rows) == sorted(ids)
    for row in rows:
        remark = row[col["remarks"]]
        assert remark.data_type == "s" and remark.value in RISKY  # text, never a formula
        assert row[col["_status"]].value == "教育局已收到"
        assert row[col["inspection_date"]].value == dt.datetime(2026, 11, 20)  # a real date
        assert row[col["inspection_type"]].value == "月度排查"  # the choice's label
        assert row[col["areas"]].value == "食堂、消防设施"
        assert row[col["hazard_count"]].value == 1
        assert row[col["_school_code"]].value in (a.school_code, b.school_code)
    assert labels[col["remarks"]] == "备注"
    hazards = wb["隐患清单"]
    hazard_rows = list(hazards.iter_rows(min_row=3, values_only=True))
    assert len(hazard_rows) == len(RISKY)
    assert {row[2] for row in hazard_rows} == set(ids)  # linked by _uuid
    assert all(row[3] == 1 for row in hazard_rows)
    assert wb["_meta"].sheet_state == "hidden"
    assert live.count(M.AuditEntry, M.AuditEntry.action == "form.export") == 1

    r = run_here(
        capsys,
        "export",
        "--form",
        "nope",
        str(tmp_path / "x.xlsx"),
        db=ready_db_url,
        instance=tmp_path,
        check=2,
    )
    one_line_error(r)


def test_serve_runs_waitress_with_healthz(sqlite_db: str, tmp_path: Path):
    env = dict(os.environ)
    env.pop("SYNC_SERVER_DB", None)
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "sync_server",
            "serve",
            "--port",
            "0",
            "--json",
            "--db",
            sqlite_db,
            "--instance",
            str(tmp_path / "inst"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        encoding="utf-8",
        cwd=ROOT,
        env=env,
    )
    try:
        assert proc.stdout is not None
        started: dict[str, Any] = {}
        for _ in range(5):
            line = proc.stdout.readline()
            if line.startswith("{"):
                started = json.loads(line)
                break
        assert started["url"].startswith("http://127.0.0.1:")
        r = requests.get(started["url"] + "/healthz", timeout=10)
        assert r.status_code == 200 and r.json() == {"status": "ok"}
        assert r.headers["X-Sync-Server"] == "school-sync/1"
        forms = requests.get(started["url"] + "/api/v1/openapi.json", timeout=10)
        assert forms.status_code == 200
        assert (tmp_path / "inst" / "secret_key").exists()
        assert (tmp_path / "inst" / "logs" / "sync-server.log").exists()
    finally:
        proc.terminate()
        proc.wait(10)
        assert proc.stderr is not None
        assert "Traceback" not in proc.stderr.read()
