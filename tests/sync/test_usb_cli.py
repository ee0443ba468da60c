"""`school-client usb-export/usb-import` and `sync-server usb-import` (issue 13): the whole trip by the command
lines, against the real server's database and a real client data folder."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import select

from client.cli import main as client_main
from client.context import ClientContext
from client.store import records as R
from client.store.models import Record, Status
from sync_server.cli import main as server_main
from sync_server.config import ENV_SECRET_KEY
from sync_server.state import get_state
from tests.support.samples import inspection
from tests.sync.conftest import LiveServer


def _save(data_dir: Path) -> str:
    ctx = ClientContext.open(data_dir)
    try:
        now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
        with ctx.store.Session.begin() as s:
            return R.save_record(
                s,
                form=ctx.forms.get("safety_inspection"),
                data=inspection(),
                submit=True,
                today=now.date(),
                now=now,
            ).record_id
    finally:
        ctx.close()


def _status(data_dir: Path, record_id: str) -> str:
    ctx = ClientContext.open(data_dir)
    try:
        with ctx.store.Session() as s:
            return str(s.execute(select(Record.status).where(Record.id == record_id)).scalar_one())
    finally:
        ctx.close()


def test_the_trip_by_command_lines(
    live_server: LiveServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.delenv("SCHOOL_CLIENT_CONFIG", raising=False)
    monkeypatch.setenv(ENV_SECRET_KEY, "sync-tests")  # the live server's secret key
    state = get_state(live_server.app)
    server = [
        "--instance",
        live_server.app.instance_path,
        "--db",
        str(state.config["DATABASE_URL"]),
    ]
    school, code = live_server.new_school()
    data = tmp_path / "学校电脑"
    assert (
        client_main(
            ["enroll", "--data-dir", str(data), "--server", live_server.url, "--code", code]
        )
        == 0
    )
    rid = _save(data)
    stick = tmp_path / "U盘"
    stick.mkdir()
    capsys.readouterr()

    assert client_main(["usb-export", str(stick), "--data-dir", str(data)]) == 0
    assert "可以拔出U盘" in capsys.readouterr().out
    (bundle,) = stick.iterdir()
    assert bundle.name.startswith(f"城关镇中心小学_{school}_")

    # A damaged copy beside it: refused with its reason, the good one imported all the same.
    damaged = stick / "damaged.usbsync"
    damaged.write_bytes(bundle.read_bytes()[:-10])
    assert server_main(["usb-import", str(bundle), str(damaged), *server]) == 2
    out, err = capsys.readouterr()
    assert "校园安全隐患排查整治记录（" in out and "）：收到 1 条" in out
    assert "已拒收，未导入任何数据" in out
    assert "1 个U盘同步文件被拒收" in err and "refused" in err
    # The usb trial's D11: the bureau's own words (not the school's 不是发给本机的), no English log line.
    assert "或不是本服务器登记的电脑导出的" in out and "不是发给本机的" not in out + err
    assert "WARNING" not in err
    assert [(r.id, r.status) for r in live_server.school_records(school)] == [(rid, "received")]
    answer = stick / f"{bundle.stem}_answer.usbsync"  # the school's name once, as U盘数据 names it
    assert answer.is_file()

    cut = stick / "cut.usbsync"
    cut.write_bytes(answer.read_bytes()[:50])
    assert client_main(["usb-import", str(cut), "--data-dir", str(data)]) == 2
    assert "未导入任何数据" in capsys.readouterr().err
    assert _status(data, rid) == Status.SUBMITTED

    assert client_main(["usb-import", str(answer), "--data-dir", str(data)]) == 0
    assert "1 条修改已送达教育局，记为已发送。" in capsys.readouterr().out
    assert _status(data, rid) == Status.RECEIVED
