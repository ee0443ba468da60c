"""The server's generation (protocol revision 1.6): answers carry it, a device of another generation is told
to heal (409 generation_changed with what the database still holds), a cursor beyond the counter is a
rewind, compacted pulls, `sync-server restore` and the dashboard's notice. Real server on loopback, on
SQLite and PostgreSQL; the CLI as a real subprocess."""

from __future__ import annotations

import contextlib
import datetime as dt
import shutil
import sqlite3
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import sqlalchemy as sa
from sqlalchemy import select, update

from sync_server import models as M
from sync_server.services.generation import (
    REWIND_COOLDOWN,
    Reason,
    current_generation,
    cursor_proof,
    start_generation,
)
from sync_server.state import get_state
from tests.server.conftest import (
    PG_ADMIN_URL,
    Device,
    LiveServer,
    MovableClock,
    assert_error,
    change,
    inspection,
)
from tests.server.dashboard_seed import logged_in, make_app
from tests.server.test_cli import last_json, one_line_error, run


@contextlib.contextmanager
def db_url_fresh(tmp_path: Path) -> Iterator[str]:
    """A second PostgreSQL schema (the database a backup is restored into)."""
    schema = "t_" + uuid.uuid4().hex[:16]
    admin = sa.create_engine(PG_ADMIN_URL)
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield f"{PG_ADMIN_URL}?options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def generation_of(live: LiveServer) -> M.ServerGeneration:
    with live.session() as s:
        return current_generation(s)


def counter(live: LiveServer) -> int:
    with live.session() as s:
        return int(s.execute(select(M.ChangeCounter.value)).scalar_one())


def pull(dev: Device, since: int = 0, **headers: str) -> requests.Response:
    return dev.http.get(
        dev.url("/api/v1/pull"),
        params={"since": since},
        headers={k.replace("_", "-"): v for k, v in headers.items()},
        timeout=30,
    )


def push(dev: Device, changes: list[dict[str, Any]], **headers: str) -> requests.Response:
    return dev.http.post(
        dev.url("/api/v1/push"),
        json={"changes": changes},
        headers={
            "Idempotency-Key": str(uuid.uuid4()),
            **{k.replace("_", "-"): v for k, v in headers.items()},
        },
        timeout=30,
    )


def test_answers_carry_the_generation_and_the_counter(live: LiveServer):
    dev = live.device()
    gen = generation_of(live).generation
    assert len(gen) == 32
    r = push(dev, [change()], Sync_Generation=gen)
    assert r.status_code == 200, r.text
    assert r.headers["Sync-Generation"] == gen
    assert int(r.headers["Sync-Server-Seq"]) >= 0
    page = pull(dev, 0, Sync_Generation=gen)
    body = page.json()
    assert body["generation"] == gen == page.headers["Sync-Generation"]
    assert body["server_seq"] == counter(live) >= body["cursor"]
    # An older client sends nothing and is answered as before (with the new fields, which it ignores).
    assert pull(dev, 0).status_code == 200


def test_another_generation_is_told_what_the_database_holds(live: LiveServer):
    dev = live.device()
    old = generation_of(live).generation
    dev.push_ok([change()])
    held = counter(live)
    with get_state(live.app).db.Session.begin() as s:
        start_generation(
            s, reason=Reason.RESTORED, now=live.clock(), actor="test", jump_to=held + 50
        )
    new = generation_of(live)
    assert new.parent == old and new.parent_seq == held and counter(live) == held + 50

    for r in (
        pull(dev, 3, Sync_Generation=old),
        push(dev, [change()], Sync_Generation=old, Sync_Cursor="3"),
    ):
        err = assert_error(r, 409, "generation_changed")
        assert err["details"]["generation"] == new.generation
        assert err["details"]["held_through"] == held
        assert err["details"]["server_seq"] == held + 50
        assert err["details"]["reason"] == "restored"
    # Nothing of the refused push was applied.
    assert counter(live) == held + 50
    # A generation it never heard of: nothing is known to be held. "none" (an upgraded client that never
    # learned one) after a restore: the same.
    unknown = assert_error(pull(dev, 0, Sync_Generation="0" * 32), 409, "generation_changed")
    assert unknown["details"]["held_through"] is None
    none = assert_error(pull(dev, 0, Sync_Generation="none"), 409, "generation_changed")
    assert none["details"]["held_through"] is None
    # The current one goes on; the device is counted as told.
    assert pull(dev, 0, Sync_Generation=new.generation).status_code == 200
    with live.session() as s:
        told = s.get(M.GenerationDevice, (new.generation, dev.device_id))
    assert told is not None and told.healed_at is None


def test_none_on_a_database_never_restored_goes_on(live: LiveServer):
    dev = live.device()
    r = pull(dev, 0, Sync_Generation="none")
    assert r.status_code == 200 and r.json()["generation"] == generation_of(live).generation


@pytest.mark.parametrize(
    ("header", "value"),
    [
        ("Sync-Generation", "abc"),
        ("Sync-Generation", ""),
        ("Sync-Heal", "G" * 32),
        ("Sync-Cursor", "-1"),
        ("Sync-Cursor", "9" * 20),
        ("Sync-Cursor", "²"),
    ],
)
def test_malformed_sync_headers_are_400(live_sqlite: LiveServer, header: str, value: str):
    dev = live_sqlite.device()
    request = push if header == "Sync-Cursor" else pull
    args: Any = [[change()]] if request is push else []
    r = request(dev, *args, **{header.replace("-", "_"): value})
    err = assert_error(r, 400, "bad_header")
    assert err["details"]["header"] == header


def test_a_cursor_beyond_the_counter_starts_a_generation_and_moves_the_counter(live: LiveServer):
    """The database went back in time without `sync-server restore` (a file copied back by hand)."""
    dev = live.device()
    other = live.device(dev.school_code, name="二号机")
    gen = generation_of(live).generation
    now = counter(live)
    proof = cursor_proof(
        "server-tests", gen, now + 300
    )  # the server handed it out before going back
    err = assert_error(
        pull(dev, now + 300, Sync_Generation=gen, Sync_Cursor_Proof=proof),
        409,
        "generation_changed",
    )
    new = generation_of(live)
    assert err["details"]["generation"] == new.generation != gen
    assert err["details"]["held_through"] == now == new.parent_seq
    assert new.reason == "rewound" and counter(live) == now + 300

    # An older client (no header) ahead of the counter is answered as before, and what the bureau does
    # next is numbered past its cursor: it is not skipped.
    live.clock.advance(minutes=1)
    old_client = pull(other, now + 400)
    assert old_client.status_code == 200
    assert old_client.json()["changes"] == [] and old_client.json()["cursor"] == now + 400
    assert (
        generation_of(live).generation == new.generation
    )  # within the cooldown: no third generation
    assert counter(live) == now + 400
    dev.push_ok([change()])
    changes, _ = other.pull_all(now + 400)
    assert len(changes) == 1 and changes[0]["seq"] > now + 400

    # Past the cooldown, another (proven) rewind is a new generation.
    live.clock.advance(seconds=REWIND_COOLDOWN.total_seconds() + 1)
    ahead = counter(live) + 10
    proof = cursor_proof("server-tests", new.generation, ahead)
    r = pull(other, ahead, Sync_Generation=new.generation, Sync_Cursor_Proof=proof)
    assert_error(r, 409, "generation_changed")
    assert generation_of(live).generation != new.generation
    with live.session() as s:
        actions = s.execute(
            select(M.AuditEntry.action).where(M.AuditEntry.action.like("server.%"))
        ).scalars()
        assert sorted(actions) == ["server.counter_moved", "server.rewound", "server.rewound"]


def test_a_compacted_pull_gives_each_record_once(live: LiveServer):
    dev = live.device()
    other = live.device(dev.school_code, name="二号机")
    rec = change()
    [first] = dev.push_ok([rec])
    second = change(inspection(hazards_found="no"), record_id=rec["record_id"], base=1)
    dev.push_ok([second])
    dev.push_ok([change()])
    full, _ = other.pull_all(0)
    records = [c for c in full if c["type"] == "record"]
    assert len(records) == 3
    r = other.http.get(
        other.url("/api/v1/pull"), params={"since": 0, "compact": "true"}, timeout=30
    )
    compact = [c for c in r.json()["changes"] if c["type"] == "record"]
    assert len(compact) == 2
    latest = next(c for c in compact if c["record_id"] == rec["record_id"])
    assert latest["server_revision"] == 2
    # Forms are never compacted away.
    assert [c for c in r.json()["changes"] if c["type"] == "form"] == [
        c for c in full if c["type"] == "form"
    ]
    assert first["result"] == "applied"


def test_a_healing_device_is_counted(live: LiveServer):
    dev = live.device()
    rec = change()
    dev.push_ok([rec])
    with get_state(live.app).db.Session.begin() as s:
        gen = start_generation(s, reason=Reason.RESTORED, now=live.clock(), actor="test").generation
    r = push(dev, [rec, change()], Sync_Generation=gen, Sync_Heal=gen)
    assert [x["result"] for x in r.json()["results"]] == ["duplicate", "applied"]
    pull(dev, 0, Sync_Generation=gen, Sync_Heal=gen)
    with live.session() as s:
        row = s.get(M.GenerationDevice, (gen, dev.device_id))
    assert row is not None
    assert (row.came_back, row.already_held, row.conflicts, row.rejected) == (1, 1, 0, 0)
    assert row.healed_at is not None


# -- sync-server restore ------------------------------------------------------------------------------


def _sqlite_backup(source: Path, target: Path) -> None:
    with sqlite3.connect(source) as src, sqlite3.connect(target) as dst:
        src.backup(dst)


def test_restore_puts_a_sqlite_backup_back_and_starts_a_generation(
    tmp_path: Path, sqlite_template: Path, make_server_for: Any
):
    path = tmp_path / "sync.db"
    shutil.copyfile(sqlite_template, path)
    url = f"sqlite:///{path}"
    live = make_server_for(url)
    dev = live.device()
    dev.push_ok([change() for _ in range(3)])
    before = generation_of(live).generation
    backup = tmp_path / "backup.db"
    _sqlite_backup(path, backup)
    held = counter(live)
    dev.push_ok([change() for _ in range(4)])  # after the backup: lost by the restore
    lost_counter = counter(live)
    get_state(live.app).db.close()  # "stop the server"

    instance = tmp_path / "instance-cli"
    r = run("restore", str(backup), "--json", db=url, instance=instance)
    out = last_json(r)
    assert out["parent"] == before and out["held_through"] == held
    assert out["previous_seq"] == lost_counter and out["counter"] == lost_counter
    assert Path(out["saved_as"]).is_file() and Path(out["saved_as"]).parent == instance / "backups"
    assert "新的服务器代次 / new server generation" in r.stdout
    assert "请重新处理 / reviews made after the backup" in r.stdout

    again = make_server_for(url)
    with again.session() as s:
        gen = current_generation(s)
        assert gen.generation == out["generation"] and gen.reason == "restored"
        assert s.execute(select(M.ChangeCounter.value)).scalar_one() == lost_counter
        assert s.query(M.Record).count() == 3
        assert s.execute(
            select(M.AuditEntry).where(M.AuditEntry.action == "server.restored")
        ).scalar_one().details["backup"] == str(backup.resolve())
    # The device is told at once, with what the backup holds.
    err = assert_error(
        pull(Device(again, dev.device_id, dev.token, dev.school_code), 0, Sync_Generation=before),
        409,
        "generation_changed",
    )
    assert err["details"]["held_through"] == held


def test_restore_refuses_what_is_not_a_backup(tmp_path: Path, sqlite_template: Path):
    path = tmp_path / "sync.db"
    shutil.copyfile(sqlite_template, path)
    url = f"sqlite:///{path}"
    junk = tmp_path / "photo.db"
    junk.write_bytes(b"not a database at all" * 100)
    r = run("restore", str(junk), db=url, instance=tmp_path / "i", check=2)
    assert "不是有效的服务器数据库备份" in one_line_error(r)
    other = tmp_path / "other.db"
    sqlite3.connect(other).execute("CREATE TABLE records (id TEXT)").connection.close()
    r = run("restore", str(other), db=url, instance=tmp_path / "i", check=2)
    assert "no table change_counter" in one_line_error(r)
    r = run("restore", str(tmp_path / "missing.db"), db=url, instance=tmp_path / "i", check=2)
    assert "找不到备份文件" in one_line_error(r)
    r = run("restore", db=url, instance=tmp_path / "i", check=2)
    assert "--after-pg-restore" in one_line_error(r)
    assert filecmp_same(path, sqlite_template)  # nothing was changed


def filecmp_same(a: Path, b: Path) -> bool:
    with sqlite3.connect(a) as x, sqlite3.connect(b) as y:
        q = "SELECT count(*) FROM records"
        return bool(x.execute(q).fetchone() == y.execute(q).fetchone())


def test_after_pg_restore_starts_a_generation(backend: str, db_url: str, tmp_path: Path):
    """After pg_restore (or a file put back by hand) the command only starts the generation."""
    run("list-devices", db=db_url, instance=tmp_path / "i")  # migrates the fresh database
    r = run(
        "restore",
        "--after-pg-restore",
        "--previous-seq",
        "77",
        "--json",
        db=db_url,
        instance=tmp_path / "i",
    )
    out = last_json(r)
    assert out["held_through"] < out["counter"] == 77 and out["saved_as"] is None
    if backend == "postgresql":
        r = run("restore", str(tmp_path / "x.db"), db=db_url, instance=tmp_path / "i", check=2)
        assert "pg_restore" in one_line_error(r)


# -- the dashboard ------------------------------------------------------------------------------------


def test_the_overview_shows_a_restore_and_what_came_back(tmp_path: Path, sqlite_template: Path):
    path = tmp_path / "pages.db"
    shutil.copyfile(sqlite_template, path)
    clock = MovableClock(dt.datetime(2026, 11, 28, 2, 0, tzinfo=dt.UTC))
    app = make_app(f"sqlite:///{path}", tmp_path / "instance", clock, LOGIN_FAILURE_DELAY=0)
    try:
        client = logged_in(app, "viewer1", "viewer")
        assert "restore-notice" not in client.get("/").text
        with get_state(app).db.Session.begin() as s:
            gen = start_generation(s, reason=Reason.RESTORED, now=clock(), actor="cli").generation
            s.add(
                M.GenerationDevice(
                    generation=gen,
                    device_id=str(uuid.uuid4()),
                    school_id=1,
                    learned_at=clock().replace(tzinfo=None),
                    healed_at=clock().replace(tzinfo=None),
                    came_back=12,
                    already_held=30,
                    conflicts=1,
                    rejected=0,
                )
            )
        page = client.get("/").text
        assert 'id="restore-notice"' in page
        assert "数据库已从备份恢复（2026-11-28 10:00）" in page
        assert 'id="restore-came-back">12<' in page and "1 台已重新读取" in page
        assert "请重新处理" in page
        clock.advance(days=31)  # a month on, with every device healed, it is no longer news
        with get_state(app).db.Session.begin() as s:
            s.execute(update(M.Device).values(revoked_at=clock().replace(tzinfo=None)))
        assert "restore-notice" not in client.get("/").text
    finally:
        get_state(app).db.close()


def test_restore_keeps_who_enrolled_or_was_revoked_after_the_backup(
    tmp_path: Path, sqlite_template: Path, make_server_for: Any
):
    """Schools, devices, codes and staff accounts come from the replaced database: a PC enrolled after
    the backup goes on syncing without a new code; a device revoked since stays revoked."""
    path = tmp_path / "sync.db"
    shutil.copyfile(sqlite_template, path)
    url = f"sqlite:///{path}"
    live = make_server_for(url)
    early = live.device()
    doomed = live.device(early.school_code, name="二号机")
    backup = tmp_path / "backup.db"
    _sqlite_backup(path, backup)
    late = live.device(name="新学校的电脑")  # a new school and its PC, after the backup
    with get_state(live.app).db.Session.begin() as s:
        s.execute(
            update(M.Device)
            .where(M.Device.id == doomed.device_id)
            .values(revoked_at=live.clock().replace(tzinfo=None))
        )
    get_state(live.app).db.close()

    r = run("restore", str(backup), "--json", db=url, instance=tmp_path / "i")
    assert "carried over from the previous database" in r.stdout
    again = make_server_for(url)
    gen = last_json(r)["generation"]
    for dev, status in ((early, 409), (late, 409), (doomed, 403)):
        moved = Device(again, dev.device_id, dev.token, dev.school_code)
        assert pull(moved, 0, Sync_Generation="0" * 32).status_code == status
    assert pull(
        Device(again, late.device_id, late.token, late.school_code), 0, Sync_Generation=gen
    ).ok

    # --no-carry-over: the backup's devices as they were (the late PC must enroll again).
    get_state(again.app).db.close()
    run("restore", str(backup), "--no-carry-over", db=url, instance=tmp_path / "i")
    third = make_server_for(url)
    assert pull(Device(third, late.device_id, late.token, late.school_code), 0).status_code == 401


def test_after_pg_restore_takes_over_from_the_previous_database(
    backend: str, db_url: str, tmp_path: Path, make_server_for: Any
):
    """PostgreSQL: pg_restore into a new database, then `--after-pg-restore --previous-db OLD`."""
    if backend != "postgresql":
        pytest.skip("the SQLite path keeps and reads the previous database itself")
    old = make_server_for(db_url)
    dev = old.device()
    dev.push_ok([change() for _ in range(5)])
    old_counter = counter(old)
    get_state(old.app).db.close()
    with db_url_fresh(tmp_path) as restored:
        run("list-devices", db=restored, instance=tmp_path / "i")  # "the backup": an older database
        r = run(
            "restore",
            "--after-pg-restore",
            "--previous-db",
            db_url,
            "--json",
            db=restored,
            instance=tmp_path / "i",
        )
        out = last_json(r)
        assert out["counter"] == old_counter
        live = make_server_for(restored)
        moved = Device(live, dev.device_id, dev.token, dev.school_code)
        assert pull(moved, 0, Sync_Generation=out["generation"]).ok
        live.new_school()  # the schools' id sequence moved past the ones taken over
