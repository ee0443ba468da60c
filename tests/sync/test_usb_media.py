"""Sync by USB stick on real media (issue 13 item 7, protocol revision 1.16): bundles streamed in numbered parts
below the FAT32 limit, a writer killed mid-write, token rotation and healing after a server restore through
the stick, and bundles and answers of format 1 (1.13) still read. The real server's import service, real
client stores; each test asserts the records on both sides."""

from __future__ import annotations

import hashlib
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from client.store import sync_state as S
from client.store.models import Status
from client.usb.bundle import export_bundle, import_answer
from forms import usb_bundle as U
from forms import usb_files as F
from forms import usb_parts as P
from sync_server import models as M
from sync_server.config import ENV_SECRET_KEY
from sync_server.services.generation import latest_restore
from sync_server.state import get_state
from sync_server.usb import import_bundle, import_file, import_paths
from tests.support.restorable_server import Bureau
from tests.support.samples import inspection
from tests.sync.conftest import Client, ClientFactory, LiveServer, _database, photo_file
from tests.sync.test_usb import client_rows, device_id, enrolled, server_rows, stick

SECRET = "sync-tests"  # the live server's SECRET_KEY
ROOT = Path(__file__).resolve().parents[2]
sqlite_only = pytest.mark.parametrize("live_server", ["sqlite"], indirect=True)


def with_photo(sha: str, inspectors: str) -> dict[str, Any]:
    """An inspection whose hazard has the photo `sha`."""
    return inspection(hazards=[dict(inspection()["hazards"][0], photo=sha)], inspectors=inspectors)


def held_token(client: Client) -> str:
    with client.Session() as s:
        enrollment = S.get_enrollment(s)
    assert enrollment is not None
    return enrollment.device_token


# -- parts ------------------------------------------------------------------------------------------------


@sqlite_only
def test_a_bundle_with_photos_travels_in_numbered_parts_both_ways(
    make_client: ClientFactory,
    live_server: LiveServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(ENV_SECRET_KEY, SECRET)  # for `sync-server usb-import` at the end
    client, school = enrolled(make_client, live_server)
    photos = [photo_file(tmp_path, 40_000 + i, seed=i) for i in range(3)]
    shas = [client.add_photo(p) for p in photos]
    ids = [client.save(with_photo(sha, f"甲{i}")) for i, sha in enumerate(shas)]
    ids.append(client.save(inspection(inspectors="乙")))
    seen: list[tuple[int, int]] = []

    exported = export_bundle(
        client.ctx, stick(tmp_path), part_bytes=16 * 1024, progress=lambda d, t: seen.append((d, t))
    )

    n = len(exported.paths)
    assert n >= 8 and exported.path == exported.paths[0]
    stem = f"城关镇中心小学_{school}_20261128-1000_{exported.header.bundle_id[:8]}"
    assert [p.name for p in exported.paths] == [
        f"{stem}_分卷{i}共{n}.usbsync" for i in range(1, n + 1)
    ]
    assert all(p.stat().st_size <= 16 * 1024 for p in exported.paths)
    assert sorted(p.name for p in stick(tmp_path).iterdir()) == sorted(
        p.name for p in exported.paths
    )
    assert seen[0] == (0, 4) and seen[-1] == (4, 4)  # a batch and 3 photos
    assert (exported.changes, exported.attachments) == (4, 3)

    # The bureau is given the last part (any part will do); the answer comes back in parts too.
    receipt = import_file(get_state(live_server.app), exported.paths[-1], part_bytes=4096)

    assert receipt.error is None and receipt.paths == exported.paths
    assert dict(receipt.received) == {"safety_inspection": 4} and receipt.attachments == 3
    assert server_rows(live_server, school) == {
        **{rid: (1, "received", f"甲{i}") for i, rid in enumerate(ids[:3])},
        ids[3]: (1, "received", "乙"),
    }
    for sha, photo in zip(shas, photos, strict=True):
        assert (
            live_server.count(M.Attachment, M.Attachment.sha256 == sha, M.Attachment.complete) == 1
        )
        assert hashlib.sha256(photo.read_bytes()).hexdigest() == sha
    assert len(receipt.answer_paths) > 1 and receipt.answer_path == receipt.answer_paths[0]
    assert (
        receipt.answer_paths[0].name == f"{stem}_answer_分卷1共{len(receipt.answer_paths)}.usbsync"
    )
    assert receipt.receipt_path is not None and receipt.receipt_path.name == f"{stem}_回执.txt"

    steps: list[tuple[int, int]] = []
    outcome = import_answer(
        client.ctx, receipt.answer_paths[1], progress=lambda d, t: steps.append((d, t))
    )

    assert outcome.acknowledged == 4 and outcome.paths == receipt.answer_paths
    assert steps[-1][0] == steps[-1][1] > 0
    assert client.unsent() == 0
    assert set(client_rows(client).values()) == {
        *((Status.RECEIVED, f"甲{i}") for i in range(3)),
        (Status.RECEIVED, "乙"),
    }
    result = client.engine.sync()  # online now: nothing sent again, nothing read again
    assert result.complete and (result.pushed, result.pulled, result.uploaded) == (0, 0, 0)
    # `sync-server usb-import` given every part imports the bundle once.
    again = import_paths(
        Path(live_server.app.instance_path),
        str(get_state(live_server.app).config["DATABASE_URL"]),
        exported.paths,
    )
    assert (
        len(again) == 1
        and not again[0].received
        and dict(again[0].duplicates) == {"safety_inspection": 4}
    )
    assert len(live_server.school_records(school)) == 4


@sqlite_only
def test_a_missing_or_foreign_part_at_the_bureau_applies_nothing(
    make_client: ClientFactory, live_server: LiveServer, tmp_path: Path
) -> None:
    client, school = enrolled(make_client, live_server)
    sha = client.add_photo(photo_file(tmp_path, 30_000))
    rid = client.save(with_photo(sha, "甲"))
    exported = export_bundle(client.ctx, stick(tmp_path), part_bytes=8192)
    n = len(exported.paths)
    missing = exported.paths[2]
    kept = missing.read_bytes()
    missing.unlink()

    receipt = import_file(get_state(live_server.app), exported.paths[0])

    assert receipt.error is not None and receipt.error.code == "bundle_parts"
    assert (
        f"缺少第3部分（共{n}部分）" in receipt.error.message_zh
        and missing.name in receipt.error.message_zh
    )
    assert receipt.answer_path is None and live_server.school_records(school) == []
    assert receipt.receipt_path is not None and "未导入任何数据" in receipt.receipt_path.read_text(
        "utf-8-sig"
    )

    missing.write_bytes(kept[:-1])  # copied back, but cut short
    cut = import_file(get_state(live_server.app), exported.paths[0])
    assert cut.error is not None and cut.error.code == "bundle_not_authentic"
    assert f"第3部分，共{n}部分" in cut.error.message_zh
    assert live_server.school_records(school) == []

    missing.write_bytes(kept)
    # The answer cannot be written (something in its place): applied all the same, and the 回执 says to
    # import again; the second import answers it, nothing stored twice.
    blocked = exported.path.with_name(f"{P.stem_of(exported.path)}_answer.usbsync")
    blocked.mkdir()
    done = import_file(get_state(live_server.app), exported.paths[0])
    assert done.error is None and done.answer_error is not None and done.answer_path is None
    assert done.answer_error.code == "bundle_write_failed"
    assert any("再导入一次即可" in line for line in done.receipt_lines())
    assert server_rows(live_server, school) == {rid: (1, "received", "甲")}
    blocked.rmdir()
    again = import_file(get_state(live_server.app), exported.paths[0])
    assert again.answer_error is None and again.answer_path == blocked
    assert dict(again.duplicates) == {"safety_inspection": 1}
    import_answer(client.ctx, blocked)
    assert client_rows(client) == {rid: (Status.RECEIVED, "甲")}


_KILLED_EXPORT = """
import os, signal, sys
from pathlib import Path
from client.clock import FixedClock
from client.context import ClientContext
from client.store.db import open_store
from client.store.formset import FormSet
from client.usb.bundle import export_bundle
import datetime as dt
now = dt.datetime(2026, 11, 28, 2, 0)
ctx = ClientContext(open_store(Path(sys.argv[1])), FormSet.shipped(), FixedClock(now, now.date()))
def killed(done, total):
    if done == 2:  # a photo written, the next not: the stick pulled out, the program gone
        os.kill(os.getpid(), signal.SIGKILL)
export_bundle(ctx, Path(sys.argv[2]), part_bytes=8192, progress=killed)
"""


@sqlite_only
def test_a_writer_killed_mid_write_leaves_the_outbox_and_no_bundle(
    make_client: ClientFactory, live_server: LiveServer, tmp_path: Path
) -> None:
    client, school = enrolled(make_client, live_server)
    shas = [client.add_photo(photo_file(tmp_path, 20_000, seed=10 + i)) for i in range(3)]
    ids = [client.save(with_photo(sha, f"丙{i}")) for i, sha in enumerate(shas)]
    folder = stick(tmp_path)

    run = subprocess.run(
        [sys.executable, "-c", _KILLED_EXPORT, str(tmp_path / "pc1"), str(folder)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert run.returncode == -9, run.stderr
    left = sorted(p.name for p in folder.iterdir())
    assert left and all(name.startswith(".") and name.endswith(".tmp") for name in left), left
    assert client.unsent() == 3  # the outbox as it was
    assert {row[0] for row in client_rows(client).values()} == {Status.SUBMITTED}
    for name in left:  # a temporary file is never taken for a bundle
        assert import_file(get_state(live_server.app), folder / name).error is not None
    assert live_server.school_records(school) == []

    again = export_bundle(client.ctx, folder, part_bytes=8192)
    receipt = import_file(get_state(live_server.app), again.paths[0])
    assert receipt.error is None and receipt.answer_path is not None
    import_answer(client.ctx, receipt.answer_path)
    assert server_rows(live_server, school) == {
        rid: (1, "received", f"丙{i}") for i, rid in enumerate(ids)
    }
    assert client.unsent() == 0


# -- token rotation through the stick -------------------------------------------------------------------


@sqlite_only
def test_the_device_token_rotates_through_the_stick_and_a_lost_or_old_answer_never_locks_it_out(
    make_client: ClientFactory, live_server: LiveServer, tmp_path: Path
) -> None:
    client, school = enrolled(make_client, live_server)
    device = device_id(client)
    enrolled_token = held_token(client)
    a = client.save(inspection(inspectors="甲"))
    first = import_file(get_state(live_server.app), export_bundle(client.ctx, stick(tmp_path)).path)
    assert first.answer_path is not None

    back = import_answer(client.ctx, first.answer_path)

    assert back.token_rotated
    rotated = held_token(client)
    assert rotated != enrolled_token and rotated.startswith(f"d1.{device}.1.")
    with live_server.session() as s:  # handed, not yet used: the old token still works
        assert s.get_one(M.Device, device).token_epoch in (None, 0)

    # The next bundle carries the token held: its first use retires the enrollment's (as online).
    b = client.save(inspection(inspectors="乙"))
    second = import_file(
        get_state(live_server.app), export_bundle(client.ctx, stick(tmp_path)).path
    )
    assert second.error is None and second.answer_path is not None
    with live_server.session() as s:
        assert s.get_one(M.Device, device).token_epoch == 1
    # Its answer is lost on the way (never imported); the older one is imported again.
    again = import_answer(client.ctx, first.answer_path)
    assert not again.token_rotated and held_token(client) == rotated

    # Online with the token held: it works, and rotates once more. The batch whose answer was lost is
    # answered again from the server's store (nothing twice).
    result = client.engine.sync()
    assert result.complete and result.pushed == 1 and result.conflicts == []
    assert server_rows(live_server, school) == {a: (1, "received", "甲"), b: (1, "received", "乙")}
    newest = held_token(client)
    assert newest.startswith(f"d1.{device}.2.")
    # The lost answer turns up after all: its token (epoch 2, the same mint) or an older one changes nothing.
    late = import_answer(client.ctx, second.answer_path)
    assert not late.token_rotated and held_token(client) == newest
    assert client.engine.sync().complete
    assert client_rows(client) == {a: (Status.RECEIVED, "甲"), b: (Status.RECEIVED, "乙")}


# -- bundles and answers of format 1 (revision 1.13) -----------------------------------------------------


def _as_format_1(path: Path, device: str, folder: Path) -> Path:
    """The bundle as a 1.13 client wrote it: one sealed file, attachments as base64, no token."""
    key = U.device_key(SECRET, device)

    def keep(item: dict[str, Any], frame: Any) -> str:
        return U.b64(b"".join(frame.chunks()))

    header, payload, _ = F.read_bundle(path, key, on_blob=keep)
    old = {
        "batches": payload["batches"],
        "attachments": [
            {"sha256": a["sha256"], "filename": a["filename"], "data": a["data"]}
            for a in payload["attachments"]
        ],
        "cursor": payload["cursor"],
        "headers": {k: v for k, v in payload["headers"].items() if k != "Sync-Token-Rotation"},
        "pull_params": payload["pull_params"],
        "app_version": payload["app_version"],
    }
    old_header = U.Header(
        header.kind,
        header.school_code,
        header.device_id,
        str(uuid.uuid4()),
        header.created_at,
        "1.13",
        1,
    )
    target = folder / U.file_name(old_header)
    U.write_atomic(target, U.seal(old_header, old, key))
    return target


@sqlite_only
def test_a_format_1_bundle_of_an_older_client_is_answered_in_format_1(
    make_client: ClientFactory, live_server: LiveServer, tmp_path: Path
) -> None:
    client, school = enrolled(make_client, live_server)
    sha = client.add_photo(photo_file(tmp_path, 25_000))
    rid = client.save(with_photo(sha, "甲"))
    exported = export_bundle(client.ctx, stick(tmp_path, "新"))
    old = _as_format_1(exported.path, device_id(client), stick(tmp_path))
    assert old.read_bytes().startswith(U.MAGIC)

    receipt = import_file(get_state(live_server.app), old)

    assert receipt.error is None and dict(receipt.received) == {"safety_inspection": 1}
    assert receipt.attachments == 1 and receipt.header is not None and receipt.header.format == 1
    assert receipt.answer_path is not None and receipt.answer_paths == [receipt.answer_path]
    answer = receipt.answer_path.read_bytes()
    assert answer.startswith(U.MAGIC)  # a 1.13 client reads only format 1
    _, payload = U.open_bundle(answer, U.device_key(SECRET, device_id(client)))
    assert set(payload["pull"]) == {"since", "pages"} and "next_token" not in payload
    # The 1.13 entry point given the bytes answers the same, in format 1 (the batch held: duplicate).
    again, answer_bytes = import_bundle(get_state(live_server.app), old.read_bytes(), path=old)
    assert again.error is None and dict(again.duplicates) == {"safety_inspection": 1}
    assert answer_bytes is not None and answer_bytes.startswith(U.MAGIC)
    outcome = import_answer(client.ctx, receipt.answer_path)  # and this client still reads it
    assert outcome.acknowledged == 1 and outcome.paths == [receipt.answer_path]
    assert server_rows(live_server, school) == {rid: (1, "received", "甲")}
    assert client_rows(client) == {rid: (Status.RECEIVED, "甲")}
    assert live_server.count(M.Attachment, M.Attachment.sha256 == sha, M.Attachment.complete) == 1


# -- healing after a server restore, by stick only -------------------------------------------------------


@pytest.fixture
def bureau(tmp_path: Path) -> Iterator[Bureau]:
    with _database("sqlite", tmp_path) as url:
        made = Bureau("sqlite", url, tmp_path / "instance")
        made.start()
        try:
            yield made
        finally:
            made.stop()


def _trip(bureau: Bureau, client: Client, folder: Path) -> Any:
    """Export, import at the bureau, import the answer at the school: (the 回执, the school's result)."""
    exported = export_bundle(client.ctx, folder)
    receipt = import_file(get_state(bureau.app), exported.path)
    assert receipt.error is None and receipt.answer_path is not None, receipt.error
    return receipt, import_answer(client.ctx, receipt.answer_path)


def test_a_school_with_no_link_heals_by_stick_after_a_server_restore(
    bureau: Bureau, make_client: ClientFactory, tmp_path: Path
) -> None:
    school = "S" + uuid.uuid4().hex[:8]
    client = make_client("pc1")
    client.engine.enroll(bureau.url, bureau.new_code(school), device_name="教务处电脑")
    folder = stick(tmp_path)
    before = [client.save(inspection(inspectors=f"张伟{i}")) for i in range(2)]
    _trip(bureau, client, folder)
    backup = bureau.backup(tmp_path)
    # After the backup, by stick: a record with a photo, another, an edit of one the backup holds.
    sha = client.add_photo(photo_file(tmp_path, 30_000))
    after = [
        client.save(with_photo(sha, "李娜")),
        client.save(inspection(inspectors="王五")),
    ]
    client.save(inspection(inspectors="张伟0（改）"), record_id=before[0])
    _trip(bureau, client, folder)
    assert client.unsent() == 0 and len(bureau.records(school)) == 4
    bureau.restore(backup)
    assert len(bureau.records(school)) == 2

    told, first = _trip(bureau, client, folder)  # the bureau can apply nothing yet: it says so

    assert told.restart is not None and not told.received and not told.duplicates
    assert any("已从备份恢复" in line for line in told.receipt_lines())
    assert first.healing_started and first.acknowledged == 0
    assert client.unsent() == 3  # what the restored server lacks goes again
    assert len(bureau.records(school)) == 2
    again = import_answer(client.ctx, told.answer_path)  # imported twice: no second heal
    assert not again.healing_started and client.unsent() == 3

    sent, second = _trip(bureau, client, folder)
    assert sent.restart is None and sent.attachments == 1
    assert second.acknowledged == 3
    for _ in range(2):  # what the heal offers back (nothing here), until nothing waits
        if client.unsent() == 0:
            break
        _trip(bureau, client, folder)

    on_server = bureau.records(school)
    assert {rid: (r.server_revision, r.data["inspectors"]) for rid, r in on_server.items()} == {
        before[0]: (2, "张伟0（改）"),
        before[1]: (1, "张伟1"),
        after[0]: (1, "李娜"),
        after[1]: (1, "王五"),
    }
    assert [r.server_revision for r in bureau.revisions(before[0])] == [1, 2]
    with bureau.session() as s:
        assert s.execute(
            select(M.Attachment.complete).where(M.Attachment.sha256 == sha)
        ).scalar_one()
        notice = latest_restore(s)  # the dashboard counts a heal by stick as an online one
    assert notice is not None
    assert (notice.learned, notice.healed, notice.came_back, notice.conflicts) == (1, 1, 3, 0)
    assert client_rows(client) == {
        before[0]: (Status.RECEIVED, "张伟0（改）"),
        before[1]: (Status.RECEIVED, "张伟1"),
        after[0]: (Status.RECEIVED, "李娜"),
        after[1]: (Status.RECEIVED, "王五"),
    }
    result = client.engine.sync()  # the link comes back: nothing to send, nothing to read
    assert result.complete and (result.pushed, result.pulled) == (0, 0) and result.healed is None
    assert len(bureau.records(school)) == 4


# -- a computer enrolled from a file (protocol 1.15) -----------------------------------------------------


@sqlite_only
def test_the_first_computer_heard_from_by_stick_binds_an_enrollment_file(
    make_client: ClientFactory, live_server: LiveServer, tmp_path: Path
) -> None:
    from client.enrollment_file import enroll_from_file, installation_id
    from tests.support.enrollment_files import on_stick, written
    from tests.sync.test_enrollment_file import file_row

    w = written(live_server)
    path = on_stick(tmp_path, w)
    first, second = make_client("pc1"), make_client("pc2")
    for pc in (first, second):  # the same file on two computers, both offline
        enroll_from_file(pc.ctx, path, w.code)
    own = first.save(inspection(inspectors="甲"))
    second.save(inspection(inspectors="乙"))
    mine = export_bundle(first.ctx, stick(tmp_path, "甲"))
    theirs = export_bundle(second.ctx, stick(tmp_path, "乙"))

    receipt = import_file(get_state(live_server.app), mine.path)

    assert receipt.error is None and dict(receipt.received) == {"safety_inspection": 1}
    bound = file_row(live_server, w.device_id)
    assert (bound.installation_id, bound.bound_via) == (installation_id(first.ctx), "usb")
    refused = import_file(get_state(live_server.app), theirs.path)
    assert refused.error is not None and refused.error.code == "enrollment_file_used"
    assert "未导入任何数据" in refused.error.message_zh and refused.answer_path is None
    assert server_rows(live_server, w.school_code) == {own: (1, "received", "甲")}
    assert receipt.answer_path is not None
    assert import_answer(first.ctx, receipt.answer_path).acknowledged == 1
    assert client_rows(first) == {own: (Status.RECEIVED, "甲")}
