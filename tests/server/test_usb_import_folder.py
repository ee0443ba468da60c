"""`sync-server usb-import` takes the stick's folder, as `school-client usb-export` does (product trial
finding 4): every school bundle in it is imported once (a bundle's parts are found by their header, whatever
their names), answers already on the stick and other files are left alone, each bundle gets its 回执 and
its answer beside it; a single file still works; a folder with no bundle is exit 2 naming the folder."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest
from sqlalchemy import func, select

from client.usb.bundle import export_bundle
from sync_server import models as M
from sync_server.cli import main as server_main
from sync_server.config import ENV_SECRET_KEY
from sync_server.state import get_state
from tests.server.conftest import LiveServer
from tests.server.usb_seed import school_pc
from tests.support.samples import inspection


def _records(live: LiveServer) -> int:
    with live.session() as s:
        return int(s.execute(select(func.count()).select_from(M.Record)).scalar_one())


def test_a_stick_folder_imports_every_school_bundle_once(
    live_sqlite: LiveServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    live = live_sqlite
    monkeypatch.setenv(ENV_SECRET_KEY, "server-tests")  # the live server's secret key
    state = get_state(live.app)
    server = ["--instance", live.app.instance_path, "--db", str(state.config["DATABASE_URL"])]
    stick = tmp_path / "U盘"
    stick.mkdir()
    a = school_pc(live.app, live.url, tmp_path, code="S001", name="城关镇中心小学")
    b = school_pc(live.app, live.url, tmp_path, code="S002", name="河口乡小学")
    try:
        a.save(inspection(inspectors="张三"))
        one = export_bundle(a.ctx, stick).path
        for who in ("周老师", "吴老师", "郑老师"):
            b.save(inspection(inspectors=who, remarks="".join(uuid.uuid4().hex for _ in range(40))))
        parts = export_bundle(b.ctx, stick, part_bytes=1024).paths
        assert len(parts) > 2
    finally:
        for c in (a, b):
            c.http.close()
            c.ctx.close()
    # Parts renamed (a clerk's copy tool, say): found by their header, not by their names.
    renamed = []
    for i, part in enumerate(parts):
        renamed.append(part.rename(stick / f"河口乡_{i + 7}.usbsync"))
    (stick / "照片.jpg").write_bytes(b"\xff\xd8\xff\xe0 not a bundle")
    (stick / "说明.txt").write_text("把U盘交给教育局", encoding="utf-8")
    capsys.readouterr()

    assert server_main(["usb-import", str(stick), *server]) == 0, capsys.readouterr()
    out, err = capsys.readouterr()
    assert _records(live) == 4
    assert "城关镇中心小学" in out and "河口乡小学" in out
    assert "）：收到 1 条" in out and "）：收到 3 条" in out
    assert "2 个学校的同步文件" in out, out
    answers = sorted(p.name for p in stick.iterdir() if "_answer" in p.name)
    assert any(n.startswith("城关镇中心小学_S001_") for n in answers), answers
    assert any(n.startswith("河口乡小学_") for n in answers), answers
    receipts = [p for p in stick.iterdir() if p.name.endswith("_回执.txt")]
    assert len(receipts) == 2, receipts

    # Again, with the answers now on the stick: they are skipped; the bundles are already held.
    assert server_main(["usb-import", str(stick), *server]) == 0
    out, err = capsys.readouterr()
    assert _records(live) == 4
    assert (
        "收到 0 条（另有 1 条先前已收到）" in out and "收到 0 条（另有 3 条先前已收到）" in out
    ), out
    assert "回执 河口乡_7.usbsync" in out, out  # a bundle in parts is named by its first part
    assert "被拒收" not in out + err and "这是一个文件夹" not in out + err
    assert "跳过" in out and "回复文件" in out, out

    # One file still works, and the folder's JSON lists one entry per bundle.
    assert server_main(["usb-import", str(one), *server]) == 0
    capsys.readouterr()
    assert server_main(["usb-import", str(stick), "--json", *server]) == 0
    body = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert len(body["bundles"]) == 2 and not any(b["error"] for b in body["bundles"])

    empty = tmp_path / "空U盘"
    empty.mkdir()
    (empty / "照片.jpg").write_bytes(b"\xff\xd8")
    assert server_main(["usb-import", str(empty), *server]) == 2
    out, err = capsys.readouterr()
    assert str(empty) in err and "没有U盘同步文件" in err and "no USB sync file" in err
