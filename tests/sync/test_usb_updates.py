"""Client updates by USB stick (issue 16, protocol revision 1.19), with real parts: the real server's USB import
(its offer, its update repository signed by the project's own `sync-server make-update-keys` and
`publish-client`), real client stores exporting and importing bundles, and python-tuf's ngclient verifying
what the answer carried (client/update/channel.py) before it is staged.

Each test takes its own school and its own versions (a pilot release for that school), so the tests share
one server without seeing each other's releases.
"""

from __future__ import annotations

import html
import io
import json
import re
import secrets
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from client.update.state import load_state, staged_ready, updates_dir
from client.usb import bundle as B
from client.usb.bundle import export_bundle, import_answer
from client.usb.import_summary import ImportSummary, snapshot, summarize, zh_title
from client.usb.key import usb_key
from forms import usb_files as F
from sync_server import models as M
from sync_server.config import ENV_SECRET_KEY
from sync_server.services.users import add_user
from sync_server.state import get_state
from sync_server.usb import ImportResult, UpdateCarry, import_file
from tests.server.dashboard_seed import PASSWORD
from tests.support.releases import UpdateServer, device_id, enrolled, live_update_server
from tests.support.samples import inspection
from tests.sync.conftest import SERVER_NOW, Client, ClientFactory

SECRET = "usb-update-tests"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[UpdateServer]:
    yield from live_update_server(tmp_path_factory, name="usb-update-server", secret=SECRET)


def release(folder: Path, version: str, size: int = 300_000) -> Path:
    """A built program folder (what `pyinstaller build.spec` makes), with some incompressible weight."""
    import random

    folder.mkdir(parents=True)
    (folder / "school-client").write_text("#!/bin/sh\necho new\n", encoding="utf-8")
    meta = folder / f"school_data-{version}.dist-info"
    meta.mkdir()
    (meta / "METADATA").write_text(f"Name: school-data\nVersion: {version}\n", encoding="utf-8")
    (folder / "lib.bin").write_bytes(random.Random(version).randbytes(size))
    return folder


def stick(tmp_path: Path, name: str) -> Path:
    folder = tmp_path / name
    folder.mkdir()
    return folder


def bureau(
    server: UpdateServer, path: Path, *, include: bool = True, part_bytes: int = 4 * 1024**3
) -> ImportResult:
    """The bureau's import as U盘数据 and `sync-server usb-import` make it (the update repository given)."""
    result = import_file(
        get_state(server.app),
        path,
        carry=UpdateCarry(server.repo, include),
        part_bytes=part_bytes,
    )
    assert result.error is None, result.error
    return result


def school_import(client: Client, answer: Path) -> tuple[B.ImportResult, list[str]]:
    """The clerk's import (as the window and `school-client usb-import` do it): the result and its summary
    lines, "中文 / English"."""
    before = snapshot(client.ctx)
    result = import_answer(client.ctx, answer)
    done = ImportSummary(answer, result)
    summarize(client.ctx, done, before, snapshot(client.ctx), title=zh_title)
    return result, [f"{line.zh} / {line.en}" for line in done.lines()]


def answer_payload(client: Client, path: Path) -> dict[str, Any]:
    with client.Session() as s:
        key = usb_key(s)
    assert key is not None
    _, payload, _ = F.read_bundle(path, key, on_blob=lambda item, frame: frame.drain())
    return payload


# -- the cases ---------------------------------------------------------------------------------------


def test_an_offered_release_arrives_by_stick_and_is_staged(
    make_client: ClientFactory, server: UpdateServer, tmp_path: Path
) -> None:
    client, school = enrolled(make_client, server, "stick-pc")
    server.publish(release(tmp_path / "build", "99.1"), "99.1", school)
    record = client.save(inspection())
    exported = export_bundle(client.ctx, stick(tmp_path, "U盘"))

    got = bureau(server, exported.path, part_bytes=128 * 1024)  # a release makes the answer large
    assert got.update is not None and got.update["included"] is True
    assert (got.update["version"], got.update["target"]) == (
        "99.1",
        "linux/school-client-99.1.tar.gz",
    )
    assert got.update["bytes"] > 300_000
    assert len(got.answer_paths) > 1  # split in parts, as photos are
    mb = f"{got.update['bytes'] / 1024**2:.1f}"
    assert any(f"答复中包含客户端更新：新版本 99.1（{mb} MB）" in line for line in got.lines)
    assert any(f"includes a client update of {mb} MB" in line for line in got.lines)
    assert got.receipt is not None and got.receipt["update"]["version"] == "99.1"
    assert got.receipt["rows"]  # the 回执 read its answer back (the update's files skipped)

    result, lines = school_import(client, got.answer_paths[-1])  # any part names the whole set
    assert client.unsent() == 0  # the rest of the answer applied: the record is sent
    assert result.acknowledged == 1 and result.update is not None and result.update.staged
    assert (
        "新版本 99.1 已收到，下次启动时安装 / new version 99.1 received; it installs at the next start"
        in lines
    )
    ready = staged_ready(client.ctx.store.data_dir)
    assert ready is not None and len(str(ready.pop("sha256"))) == 64  # (kept for a retry, issue 16)
    assert ready == {"version": "99.1", "target": "linux/school-client-99.1.tar.gz"}
    staged = updates_dir(client.ctx.store.data_dir) / "staged" / "99.1"
    assert (staged / "school-client").is_file()
    assert (staged / "school_data-99.1.dist-info" / "METADATA").is_file()
    state = load_state(client.ctx.store.data_dir)
    assert (state.state, state.target_version, state.error) == ("staged", "99.1", None)
    assert not list(
        updates_dir(client.ctx.store.data_dir).glob("usb-answer-*")
    )  # the spool is gone
    assert [r.id for r in server.school_records(school)] == [record]

    # The PC's next bundle says it holds 99.1 staged: its answer carries no second copy.
    client.save(inspection())
    again = bureau(server, export_bundle(client.ctx, stick(tmp_path, "U盘2")).path)
    assert again.update is None
    assert "update" not in answer_payload(client, again.answer_path or Path())
    with server.session() as s:
        row = s.get(M.DeviceUpdate, device_id(client))
        assert row is not None and (row.state, row.target_version) == ("staged", "99.1")


def test_a_release_not_offered_to_the_school_is_not_carried(
    make_client: ClientFactory, server: UpdateServer, tmp_path: Path
) -> None:
    client, school = enrolled(make_client, server, "paused-pc")
    other, _ = server.new_school("东风小学")
    server.publish(release(tmp_path / "b1", "99.3"), "99.3", school)
    assert server.cli("rollout", "99.3", "--pause") == 0  # paused: offered to nobody
    server.publish(release(tmp_path / "b2", "99.4"), "99.4", other)  # a pilot of another school
    client.save(inspection())
    got = bureau(server, export_bundle(client.ctx, stick(tmp_path, "U盘")).path)
    assert got.update is None
    assert not any("客户端更新" in line for line in got.lines)
    payload = answer_payload(client, got.answer_path or Path())
    assert "update" not in payload and payload["attachments"] == []
    result, lines = school_import(client, got.answer_path or Path())
    assert result.update is None and client.unsent() == 0
    assert staged_ready(client.ctx.store.data_dir) is None
    assert not any("新版本" in line for line in lines)


@pytest.mark.parametrize("tampered", ["archive", "metadata"])
def test_a_tampered_release_is_refused_and_the_rest_of_the_answer_applied(
    make_client: ClientFactory, server: UpdateServer, tmp_path: Path, tampered: str
) -> None:
    """The bureau's server holds a changed archive (or targets metadata) - as after a break-in without the
    offline keys: the answer carries it, the PC's ngclient refuses it, nothing is staged."""
    version = "99.5" if tampered == "archive" else "99.6"
    client, school = enrolled(make_client, server, f"tampered-{tampered}")
    server.publish(release(tmp_path / "build", version), version, school)
    path = (
        server.repo / "targets" / "linux" / f"school-client-{version}.tar.gz"
        if tampered == "archive"
        else server.repo / "metadata" / "targets.json"
    )
    original = path.read_bytes()
    try:
        if tampered == "archive":
            data = bytearray(original)
            data[len(data) // 2] ^= 0x01
            path.write_bytes(bytes(data))
        else:
            signed = json.loads(original)
            info = signed["signed"]["targets"][f"linux/school-client-{version}.tar.gz"]
            info["length"] += 1  # the signature no longer holds
            path.write_text(json.dumps(signed), encoding="utf-8")
        record = client.save(inspection())
        got = bureau(server, export_bundle(client.ctx, stick(tmp_path, "U盘")).path)
    finally:
        path.write_bytes(original)
    assert got.update is not None and got.update["included"]

    result, lines = school_import(client, got.answer_path or Path())
    assert client.unsent() == 0 and [r.id for r in server.school_records(school)] == [record]
    assert result.acknowledged == 1
    assert result.update is not None and not result.update.staged and result.update.error
    expected = "LengthOrHashMismatchError" if tampered == "archive" else "UnsignedMetadataError"
    assert expected in result.update.error
    refusal = [line for line in lines if f"答复中的新版本 {version} 未通过签名核对，已拒收" in line]
    assert len(refusal) == 1 and "failed verification and was refused" in refusal[0]
    assert "其余" in refusal[0] or "其他内容已导入" in refusal[0]
    data_dir = client.ctx.store.data_dir
    assert staged_ready(data_dir) is None
    assert not (updates_dir(data_dir) / "staged").exists()
    assert not list((updates_dir(data_dir) / "download").glob("*.tar.gz"))
    state = load_state(data_dir)
    assert (state.state, state.target_version, state.failures) == ("failed", version, 1)


def signed_in(server: UpdateServer, username: str, role: str) -> FlaskClient:
    """A dashboard session as a login gives it (as tests/server/test_usb_page.py makes one)."""
    state = get_state(server.app)
    with state.db.Session.begin() as s:
        user = add_user(
            s,
            username=username,
            password=PASSWORD,
            role=role,
            can_view_sensitive=False,
            now=state.now(),
        )
    web = server.app.test_client()
    now = int(state.now().timestamp())
    with web.session_transaction() as session:
        session.update(uid=user.id, nonce=user.session_nonce, login_at=now, seen=now)
        session["csrf"] = web.csrf = secrets.token_urlsafe(32)  # type: ignore[attr-defined]
    return web


def page_text(page: str) -> str:
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", page)))


def test_the_report_by_stick_shows_on_the_bureaus_side(
    make_client: ClientFactory, server: UpdateServer, tmp_path: Path
) -> None:
    """A PC that syncs only by stick appears on 客户端更新 (its version, platform, state, last check)."""
    from client.sync.engine import app_version

    client, _ = enrolled(make_client, server, "report-pc")
    with server.session() as s:
        assert s.get(M.DeviceUpdate, device_id(client)) is None  # never synced online
    client.save(inspection())
    got = bureau(server, export_bundle(client.ctx, stick(tmp_path, "U盘")).path)
    assert got.update is None  # nothing offered to this school
    with server.session() as s:
        row = s.get(M.DeviceUpdate, device_id(client))
        assert row is not None
        assert (row.app_version, row.platform, row.state) == (app_version(), "linux", "current")
        assert row.checked_at == SERVER_NOW.replace(tzinfo=None)
    page = signed_in(server, "li-it", "admin").get("/updates")
    assert page.status_code == 200
    shown = [
        r for r in re.findall(r"<tr.*?</tr>", page.get_data(as_text=True), re.S) if "report-pc" in r
    ]
    assert len(shown) == 1
    assert app_version() in page_text(shown[0]) and "已是最新" in page_text(shown[0])


def test_the_usb_page_carries_the_update_unless_left_out(
    make_client: ClientFactory, server: UpdateServer, tmp_path: Path
) -> None:
    """U盘数据: the answer carries the offered release by default and says so with its size; ticking
    不放入客户端更新 leaves it out (and says that)."""
    client, school = enrolled(make_client, server, "page-pc")
    server.publish(release(tmp_path / "build", "99.9"), "99.9", school)
    client.save(inspection())
    exported = export_bundle(client.ctx, stick(tmp_path, "U盘"))
    web = signed_in(server, "wang-usb", "reviewer")
    form = web.get("/usb").get_data(as_text=True)
    assert 'name="no_update"' in form and "答复中不放入客户端更新" in form
    for no_update, expected in (("1", "客户端更新 99.9（"), (None, "答复含客户端更新 99.9（")):
        data: dict[str, Any] = {
            "csrf_token": web.csrf,  # type: ignore[attr-defined]
            "bundles": [(io.BytesIO(exported.path.read_bytes()), exported.path.name)],
        }
        if no_update:
            data["no_update"] = no_update
        answer = web.post("/usb/import", data=data, content_type="multipart/form-data")
        assert answer.status_code == 302
        page = web.get(answer.headers["Location"]).get_data(as_text=True)
        page = page_text(page.split('id="usb-results"', 1)[1].split('id="usb-history"', 1)[0])
        assert expected in page
        assert ("未放入答复" in page) == bool(no_update)


def test_a_bundle_of_a_1_18_client_gets_an_answer_it_can_read(
    make_client: ClientFactory,
    server: UpdateServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A 1.18 client's bundle carries no update report: its answer carries no update (a 1.18 reader refuses
    files it does not expect in an answer), and the 1.18 reader - read_bundle without a place for files -
    reads it whole."""
    client, school = enrolled(make_client, server, "old-pc")
    server.publish(release(tmp_path / "build", "99.7"), "99.7", school)
    monkeypatch.setattr(B, "_update_headers", lambda ctx: {})  # what a 1.18 export wrote
    record = client.save(inspection())
    got = bureau(server, export_bundle(client.ctx, stick(tmp_path, "U盘")).path)
    assert got.update is None
    with client.Session() as s:
        key = usb_key(s)
    assert key is not None
    _, payload, _ = F.read_bundle(got.answer_path or Path(), key)  # the 1.18 reader's call
    assert "update" not in payload and payload["attachments"] == []
    result, _ = school_import(client, got.answer_path or Path())
    assert result.acknowledged == 1 and result.update is None
    assert [r.id for r in server.school_records(school)] == [record]
    with server.session() as s:
        assert s.get(M.DeviceUpdate, device_id(client)) is None  # no report, nothing recorded


def test_the_command_line_says_the_size_and_leaves_it_out_when_asked(
    make_client: ClientFactory,
    server: UpdateServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv(ENV_SECRET_KEY, SECRET)  # the command line's app: the live server's secret
    client, school = enrolled(make_client, server, "cli-pc")
    server.publish(release(tmp_path / "build", "99.8"), "99.8", school)
    client.save(inspection())
    exported = export_bundle(client.ctx, stick(tmp_path, "U盘"))
    copy = stick(tmp_path, "U盘副本") / exported.path.name
    shutil.copyfile(exported.path, copy)

    assert server.cli("usb-import", str(exported.path), "--no-update") == 0
    out = capsys.readouterr().out
    assert "本机可更新到新版本 99.8" in out and "按要求未放入答复" in out
    answer = next(exported.path.parent.glob("*_answer.usbsync"))
    assert "update" not in answer_payload(client, answer)
    result, _ = school_import(client, answer)
    assert result.update is None and staged_ready(client.ctx.store.data_dir) is None

    assert server.cli("usb-import", str(copy)) == 0  # the same bundle again, the update included
    out = capsys.readouterr().out
    assert "答复中包含客户端更新：新版本 99.8" in out and " MB）" in out
    answer = next(copy.parent.glob("*_answer.usbsync"))
    result, lines = school_import(client, answer)
    assert result.update is not None and result.update.staged
    assert any(line.startswith("新版本 99.8 已收到，下次启动时安装") for line in lines)
