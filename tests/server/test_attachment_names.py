"""Attachments keep the names they had on the school's PC (issue 11, item 6; protocol revision 1.7): the real
school client uploads a photo, the server keeps its name with the content hash, and the record page, the
download and the consolidated export call it by that name. A file an older client sent (no name) is called
附件 <short hash>, never a bare hash."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import random
from pathlib import Path
from urllib.parse import quote

import requests
from openpyxl import load_workbook
from sqlalchemy import select

from client.clock import FixedClock
from client.context import ClientContext
from client.store import records as R
from client.store.attachments import add_attachment
from client.store.db import open_store
from client.store.formset import FormSet
from client.sync.engine import SyncEngine
from client.sync.http import RetryPolicy, Timeouts
from sync_server import models as M
from sync_server.export import export_form
from sync_server.state import get_state
from tests.server.conftest import Device, LiveServer, assert_error, change
from tests.server.dashboard_seed import logged_in
from tests.server.page_text import visible_text
from tests.support.samples import inspection

CLIENT_NOW = dt.datetime(2026, 11, 28, 2, 0)
TODAY = dt.date(2026, 11, 28)
JPEG = b"\xff\xd8\xff\xe0" + random.Random(3).randbytes(40_000)
PDF = b"%PDF-1.4 " + random.Random(4).randbytes(3_000)
WINDOWS_PATH = "C:\\Users\\教务处\\约谈记录.pdf"
NOT_UTF8 = base64.b64encode(b"\xff\xfe").decode()


def _client(folder: Path) -> tuple[ClientContext, SyncEngine, requests.Session]:
    ctx = ClientContext(open_store(folder), FormSet.shipped(), FixedClock(CLIENT_NOW, TODAY))
    http = requests.Session()
    engine = SyncEngine(
        ctx,
        http,
        sleep=lambda _s: None,
        rng=random.Random(5),
        policy=RetryPolicy(attempts=2, base=0.1, cap=1.0),
        timeouts=Timeouts(connect=2.0, read=15.0),
    )
    return ctx, engine, http


def _save_with_photo(ctx: ClientContext, photo: Path) -> str:
    with ctx.store.Session.begin() as s:
        sha = add_attachment(s, ctx.store.attachments_dir, photo, now=ctx.clock.now())
        hazard = {**inspection()["hazards"][0], "photo": sha}
        res = R.save_record(
            s,
            form=ctx.forms.get("safety_inspection"),
            data=inspection(hazards=[hazard]),
            submit=True,
            today=TODAY,
            now=ctx.clock.now(),
        )
    return res.record_id


def test_a_photo_keeps_its_name_on_the_record_page_the_download_and_the_export(
    live: LiveServer, tmp_path: Path
):
    _code, enrollment = live.new_school("S200", "城关镇第三小学")
    photo = tmp_path / "教室后墙裂缝.jpg"
    photo.write_bytes(JPEG)
    sha = hashlib.sha256(JPEG).hexdigest()
    ctx, engine, http = _client(tmp_path / "pc")
    try:
        engine.enroll(live.url, enrollment, device_name="教务处电脑")
        rid = _save_with_photo(ctx, photo)
        assert engine.sync().complete
    finally:
        http.close()
        ctx.close()
    with live.session() as s:
        row = s.execute(select(M.Attachment).where(M.Attachment.sha256 == sha)).scalar_one()
        assert row.filename == "教室后墙裂缝.jpg"

    c = logged_in(live.app, "viewer1", "viewer")
    html = c.get(f"/records/{rid}").get_data(as_text=True)
    assert "教室后墙裂缝.jpg" in html
    assert sha[:12] not in html.replace(f"/files/{sha}", "")  # only in the link itself
    r = c.get(f"/records/{rid}/files/{sha}")
    assert r.status_code == 200 and r.data == JPEG
    # Shown inline (an image), and named should it be saved.
    assert f"filename*=UTF-8''{quote('教室后墙裂缝.jpg')}" in r.headers["Content-Disposition"]
    # The return form names the photo and its question, never hazards[0].photo.
    reviewer = logged_in(live.app, "reviewer1", "reviewer")
    form = visible_text(reviewer.get(f"/records/{rid}/return").get_data(as_text=True))
    assert "隐患清单 第1条 · 现场照片" in form and "教室后墙裂缝.jpg" in form
    assert "hazards[" not in form and "photo" not in form

    out = tmp_path / "export.xlsx"
    export_form(get_state(live.app).db.ReadSession, "safety_inspection", out, now=live.clock())
    wb = load_workbook(out)
    sheet = wb["隐患清单"]
    head = [c.value for c in sheet[1]]
    names = [c.value for c in sheet[2]]
    assert sheet.cell(3, names.index("photo") + 1).value == "教室后墙裂缝.jpg"
    assert head[names.index("photo")] == "现场照片"


def _upload(dev: Device, data: bytes, metadata: str | None = None) -> requests.Response:
    sha = hashlib.sha256(data).hexdigest()
    headers = {"Content-Range": f"bytes 0-{len(data) - 1}/{len(data)}"}
    if metadata is not None:
        headers["Upload-Metadata"] = metadata
    return dev.http.put(
        dev.url(f"/api/v1/attachments/{sha}"), data=data, headers=headers, timeout=30
    )


def _b64(name: str) -> str:
    return base64.b64encode(name.encode("utf-8")).decode("ascii")


def test_a_file_keeps_the_name_sent_in_parts_and_an_older_clients_file_is_named_plainly(
    live: LiveServer,
):
    dev = live.device()
    sha = hashlib.sha256(PDF).hexdigest()
    half = len(PDF) // 2
    first = dev.http.put(
        dev.url(f"/api/v1/attachments/{sha}"),
        data=PDF[:half],
        headers={
            "Content-Range": f"bytes 0-{half - 1}/{len(PDF)}",
            "Upload-Metadata": f"filename {_b64('约谈记录.pdf')}",
        },
        timeout=30,
    )
    assert first.status_code == 200, first.text
    rest = dev.http.put(
        dev.url(f"/api/v1/attachments/{sha}"),
        data=PDF[half:],
        headers={
            "Content-Range": f"bytes {half}-{len(PDF) - 1}/{len(PDF)}",
            "Upload-Metadata": f"filename {_b64(WINDOWS_PATH)},other eA==",
        },
        timeout=30,
    )
    assert rest.status_code == 201, rest.text
    older = b"%PDF-1.4 sent by a client before revision 1.7"
    old_sha = hashlib.sha256(older).hexdigest()
    assert _upload(dev, older).status_code == 201
    with live.session() as s:
        names = dict(
            s.execute(
                select(M.Attachment.sha256, M.Attachment.filename).where(
                    M.Attachment.sha256.in_([sha, old_sha])
                )
            ).all()
        )
    assert names == {sha: "约谈记录.pdf", old_sha: None}  # the folder is dropped

    hazard = {**inspection()["hazards"][0], "photo": sha}
    older_hazard = {**inspection()["hazards"][0], "photo": old_sha}
    [res] = dev.push_ok([change(inspection(hazards=[hazard, older_hazard]))])
    assert res["result"] == "applied", res
    c = logged_in(live.app, "viewer2", "viewer")
    page = c.get(f"/records/{res['record_id']}").get_data(as_text=True)
    assert "约谈记录.pdf" in page and f"附件 {old_sha[:8]}" in page
    named = c.get(f"/records/{res['record_id']}/files/{sha}")
    assert named.status_code == 200 and named.data == PDF
    disposition = named.headers["Content-Disposition"]
    assert disposition.startswith("attachment;")
    assert f"filename*=UTF-8''{quote('约谈记录.pdf')}" in disposition
    plain = c.get(f"/records/{res['record_id']}/files/{old_sha}")
    assert (
        f"filename*=UTF-8''{quote(f'附件_{old_sha[:8]}.pdf')}"
        in plain.headers["Content-Disposition"]
    )


def test_a_malformed_file_name_is_refused_naming_the_header(live: LiveServer):
    dev = live.device()
    for metadata in (
        "filename !!!not-base64",
        f"filename {NOT_UTF8}",
        f"filename {_b64('a' * 256 + '.pdf')}",
        "filename " + _b64("bad\x07name.pdf"),
    ):
        err = assert_error(_upload(dev, PDF, metadata), 400, "bad_metadata")
        assert err["details"] == {"header": "Upload-Metadata"}
        assert "Upload-Metadata" in err["message_zh"]
    # Other keys alone are no name, and no error.
    assert _upload(dev, PDF, f"type {_b64('application/pdf')}").status_code == 201
