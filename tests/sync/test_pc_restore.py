"""Issue 10: a PC restored from its own older backup never got back the records it made after that backup,
although the server held them (100 of 200 stayed missing; its cursor was kept, and a device's own changes
are not echoed to it).

Now a restored store reads again, from the backup's cursor and with its own changes, what the server holds:
a PC restore loses only what was never sent, and says exactly that. Real server on loopback, real stores,
`school-client restore` as a real process.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy import func, select

from client.clock import FixedClock
from client.context import ClientContext
from client.store import records as R
from client.store import sync_state as S
from client.store.backup import backup_to, restore_from
from client.store.db import open_store
from client.store.healing import K_LAST_HEAL, work_lost_by_restore
from client.store.models import Record, Status
from client.store.prefs import get_setting
from client.sync.engine import SyncEngine
from tests.sync.conftest import NOW, TODAY, Client, ClientFactory, LiveServer, inspection

ROOT = Path(__file__).resolve().parents[2]


def live_records(client: Client | ClientContext) -> dict[str, dict[str, object]]:
    session = client.Session if isinstance(client, Client) else client.store.Session
    with session() as s:
        rows = s.execute(select(Record).where(Record.deleted.is_(False))).scalars()
        return {r.id: r.data for r in rows}


def save_many(client: Client, n: int, tag: str) -> list[str]:
    with client.Session.begin() as s:
        return [
            R.save_record(
                s,
                form=client.ctx.forms.get("safety_inspection"),
                data=inspection(inspectors=f"{tag}{i}"),
                submit=True,
                today=TODAY,
                now=NOW,
            ).record_id
            for i in range(n)
        ]


def reopened(client: Client) -> ClientContext:
    """The same data folder opened again after the restore (as the clerk restarts the program)."""
    return ClientContext(
        open_store(client.ctx.store.data_dir), client.ctx.forms, FixedClock(NOW, TODAY)
    )


def test_a_pc_restored_from_its_backup_gets_back_what_it_sent_after_it(
    make_client: ClientFactory, live_server: LiveServer, tmp_path: Path
):
    school, code = live_server.new_school()
    pc = make_client("pc1")
    pc.engine.enroll(live_server.url, code, device_name="教务处电脑")
    first = save_many(pc, 100, "张伟")
    assert pc.engine.sync().complete
    backup = backup_to(pc.ctx.store, tmp_path / "backup.db")
    second = save_many(pc, 100, "李娜")
    assert pc.engine.sync().complete
    never_sent = save_many(pc, 3, "王五")  # saved after the backup, never sent
    assert len(live_server.school_records(school)) == 200

    pc.ctx.close()
    saved = restore_from(pc.ctx.store, backup)
    lost = work_lost_by_restore(pc.ctx.store.db_path, saved)
    assert lost is not None and (lost.changes, lost.records) == (3, 3)
    ctx = reopened(pc)
    try:
        assert sorted(live_records(ctx)) == sorted(first)
        result = SyncEngine(ctx, pc.http, sleep=pc.sleeps).sync()
        assert result.complete
        assert result.healed is not None
        assert (result.healed.kind, result.healed.came_back) == ("pc_restored", 100)
        held = live_records(ctx)
        assert sorted(held) == sorted(first + second)  # all 200 back; the 3 never sent are lost
        assert not set(never_sent) & set(held)
        on_server = {r.id: r.data for r in live_server.school_records(school)}
        assert held == on_server
        with ctx.store.Session() as s:
            statuses = set(s.execute(select(Record.status)).scalars())
            assert statuses == {Status.RECEIVED}
            assert get_setting(s, K_LAST_HEAL)["came_back"] == 100
            assert S.pending_count(s) == 0
        again = SyncEngine(ctx, pc.http, sleep=pc.sleeps).sync()
        assert again.complete and again.healed is None and again.pulled == 0
    finally:
        ctx.close()


def test_school_client_restore_says_what_came_back_and_what_is_lost(
    make_client: ClientFactory, live_server: LiveServer, tmp_path: Path
):
    _school, code = live_server.new_school()
    pc = make_client("pc1")
    pc.engine.enroll(live_server.url, code, device_name="教务处电脑")
    save_many(pc, 5, "张伟")
    assert pc.engine.sync().complete
    backup = backup_to(pc.ctx.store, tmp_path / "backup.db")
    save_many(pc, 7, "李娜")
    assert pc.engine.sync().complete
    save_many(pc, 2, "王五")  # never sent
    data_dir = pc.ctx.store.data_dir
    pc.ctx.close()

    env = {k: v for k, v in os.environ.items() if k != "SCHOOL_CLIENT_DATA_DIR"}
    env["PYTHONIOENCODING"] = "utf-8"
    r = subprocess.run(
        [sys.executable, "-m", "client.cli", "restore", str(backup), "--data-dir", str(data_dir)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=120,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    assert "Traceback" not in r.stderr
    out = r.stdout
    assert "从未发给教育局的 2 条修改（2 条记录）已丢失" in out
    assert "2 change(s) to 2 record(s) saved here after the backup and never sent are lost" in out
    assert "已从服务器取回本机在备份之后发出的 7 条记录" in out
    assert "同步完成" in out
    store = open_store(data_dir)
    try:
        with store.Session() as s:
            assert s.execute(select(func.count()).select_from(Record)).scalar_one() == 12
    finally:
        store.close()


def test_a_pc_restored_from_an_older_backup_keeps_its_current_credential(
    make_client: ClientFactory, live_server: LiveServer, tmp_path: Path
):
    """Found by the long convergence run after tokens began to rotate (protocol 1.9): a backup holds the
    token of its day; after a few syncs that token is retired, so the restored PC was refused (401
    token_superseded) and had to be enrolled again. The restore keeps the credential of the database it
    replaces: the machine's enrollment is not part of the data being rolled back."""
    school, code = live_server.new_school()
    pc = make_client("pc1")
    pc.engine.enroll(live_server.url, code, device_name="教务处电脑")
    first = save_many(pc, 3, "张伟")
    assert pc.engine.sync().complete
    backup = backup_to(pc.ctx.store, tmp_path / "backup.db")
    second = save_many(pc, 2, "李娜")
    for _ in range(3):  # each sync hands a new token; the backup's is retired
        assert pc.engine.sync().complete
    with pc.Session() as s:
        live_token = S.get_enrollment(s).device_token

    pc.ctx.close()
    restore_from(pc.ctx.store, backup)
    ctx = reopened(pc)
    try:
        with ctx.store.Session() as s:
            assert S.get_enrollment(s).device_token == live_token
        result = SyncEngine(ctx, pc.http, sleep=pc.sleeps).sync()
        assert result.complete
        assert sorted(live_records(ctx)) == sorted(first + second)
        assert len(live_server.school_records(school)) == 5
    finally:
        ctx.close()
