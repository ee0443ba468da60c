"""Issue 12 point 1: the store, its attachments and its backups are unreadable without the key; a backup restores
on a new PC with the recovery code; a plaintext store of an older version is encrypted on first start without
losing anything, even when the migration is killed midway."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from client.clock import FixedClock
from client.context import ClientContext
from client.store import keys
from client.store.attachments import add_attachment, attachment_path, read_attachment
from client.store.backup import RecoveryCodeNeeded, backup_to, check_backup, restore_from
from client.store.db import is_plaintext, open_store
from client.store.formset import FormSet
from client.store.models import Record
from client.store.records import save_record
from tests.support.samples import inspection

ROOT = Path(__file__).resolve().parents[2]
NOW = dt.datetime(2026, 11, 28, 9, 0)
TODAY = NOW.date()
SECRET = "师德问题调查记录-保密-ZX9Q"  # the text no file may hold in the clear
PHOTO = b"\x89PNG-not-really " + bytes(range(256)) * 40 + SECRET.encode()


def make_ctx(data_dir: Path) -> ClientContext:
    return ClientContext(open_store(data_dir), FormSet.shipped(), FixedClock(NOW, TODAY))


def save_sensitive(ctx: ClientContext, tmp_path: Path) -> tuple[str, str]:
    """A safety inspection naming SECRET, with a photo holding SECRET; returns (record id, photo sha256)."""
    source = tmp_path / "证据照片.png"
    source.write_bytes(PHOTO)
    with ctx.store.Session.begin() as s:
        photo = add_attachment(s, ctx.store.attachments_dir, source, now=NOW)
        data = inspection(inspectors=SECRET)
        data["hazards"][0].update(description=SECRET, photo=photo)
        record = save_record(
            s,
            form=ctx.forms.get("safety_inspection"),
            data=data,
            submit=False,
            today=TODAY,
            now=NOW,
        )
        rid = record.record_id
    return rid, photo


def every_file(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file()]


def holds_secret(path: Path) -> bool:
    data = path.read_bytes()
    return any(
        needle in data
        for needle in (
            SECRET.encode("utf-8"),
            SECRET.encode("utf-16-le"),
            b"ZX9Q",
            PHOTO[:64],
        )
    )


def records_text(ctx: ClientContext) -> list[str]:
    with ctx.store.Session() as s:
        return sorted(str(r.data) for r in s.scalars(select(Record)))


def test_no_file_of_the_data_folder_nor_a_backup_holds_a_sensitive_text(tmp_path: Path) -> None:
    data = tmp_path / "school"
    ctx = make_ctx(data)
    try:
        rid, photo = save_sensitive(ctx, tmp_path)
        # The WAL is where a fresh save lies: searched while the store is open, before any checkpoint.
        assert (data / "store.db-wal").exists()
        in_the_clear = [p for p in every_file(data) if holds_secret(p)]
        assert in_the_clear == []
        out = backup_to(ctx.store, tmp_path / "usb" / "backup.db")
        assert not holds_secret(out) and not is_plaintext(out)
        assert check_backup(out).attachments == 1
        # attachment file names tell nothing of the content either
        assert not (data / "attachments" / photo[:2] / photo).exists()
        assert photo not in {p.name for p in every_file(data)}
        assert read_attachment(ctx.store.attachments_dir, photo) == PHOTO
    finally:
        ctx.close()
    assert [p for p in every_file(data) if holds_secret(p)] == []  # and after closing
    with pytest.raises(sqlite3.DatabaseError):  # not even opened without the key
        sqlite3.connect(data / "store.db").execute("SELECT count(*) FROM records").fetchone()
    # the key is not in the data folder, and the key file outside it is owner-only
    meta = (data / keys.KEY_FILE).read_text("utf-8")
    key = keys.load_key(data)
    assert key is not None and key.key.hex() not in meta
    key_files = list(Path(os.environ[keys.ENV_KEY_DIR]).glob("*.key"))
    assert key_files and all(p.stat().st_mode & 0o077 == 0 for p in key_files)
    assert rid


def test_a_backup_restores_on_a_new_pc_with_the_recovery_code(tmp_path: Path) -> None:
    old = make_ctx(tmp_path / "old-pc")
    try:
        rid, photo = save_sensitive(old, tmp_path)
        before = records_text(old)
        out = backup_to(old.store, tmp_path / "usb" / "backup.db")
        key = keys.load_key(old.store.data_dir)
        assert key is not None and key.recovery_code is not None
        code = key.recovery_code
    finally:
        old.close()
    keys.forget_cached()  # this process no longer holds the old PC's key: as on a new PC
    new_dir = tmp_path / "new-pc"
    store = open_store(new_dir)
    try:
        with pytest.raises(RecoveryCodeNeeded):
            restore_from(store, out)
        restore_from(store, out, recovery_code=code.lower().replace("-", " "))  # as typed
    finally:
        store.close()
    new = make_ctx(new_dir)
    try:
        assert records_text(new) == before
        assert read_attachment(new.store.attachments_dir, photo) == PHOTO
        assert hashlib.sha256(PHOTO).hexdigest() == photo
    finally:
        new.close()
    # what was restored is written with the new PC's key, never in the clear
    assert [p for p in every_file(new_dir) if holds_secret(p)] == []
    assert keys.load_key(new_dir) != keys.DataKey.from_code(code, key.salt)
    assert rid


def cli(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "client.cli", "--data-dir", str(data_dir), *args],
        capture_output=True,
        text=True,
        encoding="utf-8",
        cwd=ROOT,
    )


def test_cli_restore_on_a_fresh_folder_needs_the_right_code(tmp_path: Path) -> None:
    old = make_ctx(tmp_path / "old-pc")
    try:
        _, photo = save_sensitive(old, tmp_path)
    finally:
        old.close()
    out = tmp_path / "usb" / "backup.db"
    assert cli(tmp_path / "old-pc", "backup", str(out)).returncode == 0
    shown = cli(tmp_path / "old-pc", "recovery-code")
    assert shown.returncode == 0, shown.stderr
    code = shown.stdout.strip().rsplit(" ", 1)[-1]
    assert keys.valid_code(code)

    fresh = tmp_path / "new-pc"
    wrong = cli(fresh, "restore", str(out), "--recovery-code", "22222-22222-22222-22222-22222")
    assert wrong.returncode == 2
    line = wrong.stderr.strip()
    assert len(line.splitlines()) == 1 and "Traceback" not in line
    zh, _, en = line.partition(" / ")
    assert "恢复码不正确" in zh and "wrong recovery code" in en
    assert not (fresh / "store.db").exists()  # nothing made

    none = cli(fresh, "restore", str(out), "--no-sync")
    assert none.returncode == 2 and "--recovery-code" in none.stderr

    malformed = cli(fresh, "restore", str(out), "--recovery-code", "12345")
    assert malformed.returncode == 2 and "恢复码格式不对" in malformed.stderr

    right = cli(fresh, "restore", str(out), "--recovery-code", code, "--no-sync")
    assert right.returncode == 0, right.stderr
    assert "1 条记录、1 个附件" in right.stdout
    assert "恢复码" in right.stdout  # the new folder's own code, to print
    keys.forget_cached(fresh)
    new = make_ctx(fresh)
    try:
        assert read_attachment(new.store.attachments_dir, photo) == PHOTO
        assert any(SECRET in t for t in records_text(new))
    finally:
        new.close()


# -- migrating a plaintext store ------------------------------------------------------------------------


def plaintext_store(data: Path, tmp_path: Path, n: int = 300) -> tuple[set[str], str]:
    """A store as an older version left it: plaintext store.db (with a WAL), a plaintext daily backup and a
    plaintext attachment named by its sha256. Returns the record ids and the photo's sha256."""
    store = open_store(data, encrypted=False)
    ctx = ClientContext(store, FormSet.shipped(), FixedClock(NOW, TODAY))
    ids: set[str] = set()
    try:
        rid, photo = save_sensitive(ctx, tmp_path)
        ids.add(rid)
        form = ctx.forms.get("teachers")
        with store.Session.begin() as s:
            for i in range(n):
                r = save_record(
                    s,
                    form=form,
                    data={
                        "teacher_id": f"T{i:05d}",
                        "name": f"教师{i}",
                        "gender": "female",
                        "subject": "数学",
                        "active": "yes",
                    },
                    submit=True,
                    today=TODAY,
                    now=NOW,
                )
                ids.add(r.record_id)
        (data / "backups").mkdir(exist_ok=True)
        backup_to(store, data / "backups" / "store-000001-2026-11-27.db")
        assert (data / "store.db-wal").exists()
        assert attachment_path(store.attachments_dir, photo).name == photo
    finally:
        # leave the WAL as a crash would: dispose without checkpointing is not possible; the WAL's content
        # was checked above and the migration folds it in.
        ctx.close()
    assert is_plaintext(data / "store.db") and holds_secret(data / "store.db")
    return ids, photo


def assert_all_there(data: Path, ids: set[str], photo: str) -> None:
    ctx = make_ctx(data)
    try:
        with ctx.store.Session() as s:
            found = set(s.scalars(select(Record.id)))
        assert ids <= found, f"{len(ids - found)} records lost"
        assert read_attachment(ctx.store.attachments_dir, photo) == PHOTO
        daily = data / "backups" / "store-000001-2026-11-27.db"
        assert check_backup(daily).records == len(ids)
    finally:
        ctx.close()
    assert not is_plaintext(data / "store.db")
    assert [p for p in every_file(data) if holds_secret(p)] == []
    assert not list(data.glob(".encrypting-*")) and not list(
        (data / "backups").glob(".encrypting-*")
    )


def test_a_plaintext_store_is_encrypted_on_first_start_losing_nothing(tmp_path: Path) -> None:
    data = tmp_path / "school"
    ids, photo = plaintext_store(data, tmp_path)
    keys.forget_cached()
    assert_all_there(data, ids, photo)


MIGRATE_AND_STOP = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from client.store import encrypt_migration
    from client.store.db import open_store

    stop_at, seen = sys.argv[2], []

    def step(name):
        seen.append(name)
        if name == stop_at:
            print("stopped", name, flush=True)
            time.sleep(600)

    encrypt_migration.step = step
    open_store(Path(sys.argv[1])).close()
    print("done", flush=True)
    """
)


@pytest.mark.parametrize("stop_at", ["exported", "verified", "replaced", "attachment"])
def test_a_migration_killed_midway_loses_nothing(tmp_path: Path, stop_at: str) -> None:
    data = tmp_path / "school"
    ids, photo = plaintext_store(data, tmp_path, n=50)
    keys.forget_cached()
    proc = subprocess.Popen(
        [sys.executable, "-c", MIGRATE_AND_STOP, str(data), stop_at],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert line.startswith("stopped"), (line, proc.stderr.read() if proc.stderr else "")
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    if stop_at in ("exported", "verified"):
        assert is_plaintext(data / "store.db") and list(data.glob(".encrypting-*"))
    assert_all_there(data, ids, photo)


def test_a_killed_migration_is_timed_by_the_real_process_not_a_hook(tmp_path: Path) -> None:
    """The same with no hook at all: killed after a random short time, again and again, until it finishes."""
    data = tmp_path / "school"
    ids, photo = plaintext_store(data, tmp_path, n=200)
    keys.forget_cached()
    for delay in (0.05, 0.15, 0.3, 0.5, 0.8):
        proc = subprocess.Popen(
            [sys.executable, "-c", MIGRATE_AND_STOP, str(data), "never"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            cwd=ROOT,
        )
        time.sleep(delay)
        proc.kill()
        proc.wait(timeout=30)
    assert_all_there(data, ids, photo)


def test_a_pc_that_lost_the_key_unlocks_the_folder_with_the_recovery_code(tmp_path: Path) -> None:
    data = tmp_path / "school"
    ctx = make_ctx(data)
    try:
        _, photo = save_sensitive(ctx, tmp_path)
        before = records_text(ctx)
    finally:
        ctx.close()
    key = keys.load_key(data)
    assert key is not None and key.recovery_code
    key_id = json.loads((data / keys.KEY_FILE).read_text("utf-8"))["key_id"]
    (Path(os.environ[keys.ENV_KEY_DIR]) / f"{key_id}.key").unlink()  # a new Windows profile, say
    keys.forget_cached()

    locked = cli(data, "export", "--form", "safety_inspection", str(tmp_path / "out.xlsx"))
    assert locked.returncode == 2 and "Traceback" not in locked.stderr
    assert "找不到" in locked.stderr and "school-client recover" in locked.stderr
    wrong = cli(data, "recover", "--recovery-code", "22222-22222-22222-22222-22222")
    assert wrong.returncode == 2 and "恢复码不正确" in wrong.stderr
    right = cli(data, "recover", "--recovery-code", key.recovery_code)
    assert right.returncode == 0, right.stderr
    ctx = make_ctx(data)
    try:
        assert records_text(ctx) == before
        assert read_attachment(ctx.store.attachments_dir, photo) == PHOTO
    finally:
        ctx.close()


OPEN_AND_SAVE = textwrap.dedent(
    """
    import datetime as dt, sys
    from pathlib import Path
    from client.store.db import open_store
    from client.store.formset import FormSet
    from client.store.records import save_record

    store = open_store(Path(sys.argv[1]))
    with store.Session.begin() as s:
        r = save_record(s, form=FormSet.shipped().get("teachers"),
                        data={"teacher_id": sys.argv[2], "name": "教师", "gender": "male",
                              "subject": "数学", "active": "yes"},
                        submit=True, today=dt.date(2026, 11, 28), now=dt.datetime(2026, 11, 28, 9))
    store.close()
    print(r.record_id)
    """
)


def test_programs_starting_at_once_on_a_new_folder_share_one_key(tmp_path: Path) -> None:
    data = tmp_path / "school"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", OPEN_AND_SAVE, str(data), f"T{i}"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=ROOT,
        )
        for i in range(4)
    ]
    ids = set()
    for p in procs:
        out, err = p.communicate(timeout=240)
        assert p.returncode == 0, err
        ids.add(out.strip())
    ctx = make_ctx(data)
    try:
        with ctx.store.Session() as s:
            assert ids <= set(s.scalars(select(Record.id)))
    finally:
        ctx.close()
