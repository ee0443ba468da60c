"""A backup is one file with the database and every attachment it lists; restore brings both back."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from client.context import ClientContext
from client.store.attachments import add_attachment, attachment_path, read_attachment
from client.store.backup import BackupError, backup_to, check_backup, restore_from
from client.store.db import open_store
from tests.client import NOW, RECORDS, make_ctx, save, stored
from tests.support.encrypted import db_connect

PHOTO = bytes(range(256)) * 64  # 16 KiB of "JPEG"


def record_with_photo(ctx: ClientContext, folder: Path) -> tuple[str, str]:
    """A saved inspection whose hazard has a real photo; returns (record id, the photo's sha256)."""
    source = folder / "灭火器.jpg"
    source.write_bytes(PHOTO)
    with ctx.store.Session.begin() as s:
        photo = add_attachment(s, ctx.store.attachments_dir, source, now=NOW)
    item = RECORDS["safety_inspection"][0]
    hazards = [{**item["hazards"][0], "photo": photo}]
    return save(ctx, "safety_inspection", {**item, "hazards": hazards}), photo


def test_backup_restores_the_record_and_its_photo_into_a_fresh_folder(tmp_path: Path) -> None:
    ctx = make_ctx(tmp_path / "school")
    record_id, photo = record_with_photo(ctx, tmp_path)
    out = backup_to(ctx.store, tmp_path / "usb" / "备份.db")
    ctx.close()
    shutil.rmtree(tmp_path / "school")  # the PC is lost

    held = check_backup(out)
    assert (held.records, held.attachments, held.attachments_missing) == (1, 1, 0)
    assert held.with_attachments

    store = open_store(tmp_path / "new-pc")
    try:
        restore_from(store, out)
    finally:
        store.close()
    assert read_attachment(tmp_path / "new-pc" / "attachments", photo) == PHOTO
    reopened = make_ctx(tmp_path / "new-pc")
    try:
        assert stored(reopened, "safety_inspection")[record_id]["hazards"][0]["photo"] == photo
        with db_connect(reopened.store.db_path) as conn:  # the bytes are not kept in the live db
            tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
        assert "backup_attachments" not in tables
    finally:
        reopened.close()


def test_a_damaged_attachment_in_the_backup_is_refused_by_name_and_nothing_is_replaced(
    tmp_path: Path,
) -> None:
    ctx = make_ctx(tmp_path / "school")
    try:
        _, photo = record_with_photo(ctx, tmp_path)
        out = backup_to(ctx.store, tmp_path / "backup.db")
        with db_connect(out) as conn:
            conn.execute("UPDATE backup_attachments SET data = ? WHERE sha256 = ?", (b"x", photo))
        later = save(ctx, "safety_inspection", RECORDS["safety_inspection"][1])
        shutil.rmtree(ctx.store.attachments_dir)
        ctx.store.attachments_dir.mkdir()

        with pytest.raises(BackupError) as refused:
            restore_from(ctx.store, out)
        assert "灭火器.jpg" in refused.value.message_zh and photo in refused.value.message_en
        assert "nothing was changed" in refused.value.message_en
        assert later in stored(ctx, "safety_inspection")  # the database was not replaced
        assert list(ctx.store.attachments_dir.iterdir()) == []  # nor any file written
        assert not ctx.store.backups_dir.exists() or not list(
            ctx.store.backups_dir.glob("pre-restore-*")
        )
    finally:
        ctx.close()


def test_a_database_only_backup_of_an_older_version_still_restores(tmp_path: Path) -> None:
    ctx = make_ctx(tmp_path / "school")
    try:
        record_id, photo = record_with_photo(ctx, tmp_path)
        old = backup_to(ctx.store, tmp_path / "old.db", with_attachments=False)  # as before
        held = check_backup(old)
        assert not held.with_attachments
        assert (held.records, held.attachments, held.attachments_missing) == (1, 0, 1)
        later = save(ctx, "safety_inspection", RECORDS["safety_inspection"][1])

        restore_from(ctx.store, old)
        reopened = make_ctx(tmp_path / "school")
        try:
            assert set(stored(reopened, "safety_inspection")) == {record_id}
            assert later not in stored(reopened, "safety_inspection")
        finally:
            reopened.close()
        assert read_attachment(ctx.store.attachments_dir, photo) == PHOTO  # kept
    finally:
        ctx.close()


def test_an_attachment_missing_on_the_pc_is_counted_not_fatal(tmp_path: Path) -> None:
    ctx = make_ctx(tmp_path / "school")
    try:
        _, photo = record_with_photo(ctx, tmp_path)
        attachment_path(ctx.store.attachments_dir, photo).unlink()
        held = check_backup(backup_to(ctx.store, tmp_path / "backup.db"))
        assert (held.records, held.attachments, held.attachments_missing) == (1, 0, 1)
    finally:
        ctx.close()


def test_cli_backup_and_restore_say_what_the_backup_holds(tmp_path: Path) -> None:
    ctx = make_ctx(tmp_path / "school")
    try:
        record_with_photo(ctx, tmp_path)
    finally:
        ctx.close()
    out = tmp_path / "usb" / "backup.db"

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "client.cli", "--data-dir", str(tmp_path / "school"), *args],
            capture_output=True,
            text=True,
            encoding="utf-8",
        )

    made = cli("backup", str(out))
    assert made.returncode == 0, made.stderr
    assert "1 条记录、1 个附件" in made.stdout and "1 record(s), 1 attachment(s)" in made.stdout
    back = cli("restore", str(out))
    assert back.returncode == 0, back.stderr
    assert "1 个附件" in back.stdout and "1 attachment(s)" in back.stdout
