"""Publishing client releases (issue 16, docs/updates.md), as the bureau's IT person runs it: `sync-server
publish-client / rollout / refresh-update-metadata / rotate-update-key / install-update-repo` in this process
on a real SQLite copy, keys made by `make-update-keys`, and what they sign checked by python-tuf's ngclient
as a school PC would (tests/server/update_verify.py reads the repository folder as the server serves it).

The bundles are stand-ins shaped like PyInstaller's: `school-client` and `_internal/school_data-X.dist-info`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import shutil
import tarfile
import zipfile
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from sync_server import models as M
from sync_server.cli import main as server_cli
from sync_server.db import open_database
from sync_server.services.schools import add_school
from sync_server.updates_repo import ROLES, Repository, verify_repository
from tests.server.conftest import START


class Bureau:
    def __init__(self, tmp: Path, template: Path, capsys: Any) -> None:
        self.tmp = tmp
        self.instance = tmp / "instance"
        self.instance.mkdir()
        self.db_path = tmp / "sync.db"
        shutil.copyfile(template, self.db_path)
        self.db_url = f"sqlite:///{self.db_path}"
        self.capsys = capsys
        self.keys = tmp / "update-keys"
        assert self.run("make-update-keys", "--out", str(self.keys))[0] == 0
        db = open_database(self.db_url)
        with db.Session.begin() as s:
            for code, name in (
                ("S001", "城关镇中心小学"),
                ("S002", "河口乡小学"),
                ("S003", "东山镇中学"),
            ):
                add_school(s, code=code, name=name, now=START, secret="x")
        db.close()

    @property
    def repo(self) -> Repository:
        return Repository(self.instance / "updates")

    def run(self, *args: str) -> tuple[int, str, str]:
        self.capsys.readouterr()
        code = server_cli([*args, "--instance", str(self.instance), "--db", self.db_url])
        out, err = self.capsys.readouterr()
        return code, out, err

    def ok(self, *args: str) -> str:
        code, out, err = self.run(*args)
        assert code == 0, (args, out, err)
        return out

    def refused(self, *args: str) -> str:
        code, out, err = self.run(*args)
        assert code == 2, (args, code, out, err)
        assert "Traceback" not in err
        return err

    def release(self, version: str) -> M.ClientRelease | None:
        db = open_database(self.db_url)
        try:
            with db.ReadSession.begin() as s:
                row = s.execute(
                    select(M.ClientRelease).where(M.ClientRelease.version == version)
                ).scalar_one_or_none()
                s.expunge_all()
                return row
        finally:
            db.close()

    def audit(self) -> list[tuple[str, str, str | None, dict[str, Any]]]:
        db = open_database(self.db_url)
        try:
            with db.ReadSession.begin() as s:
                return [
                    (e.actor, e.action, e.object_id, dict(e.details))
                    for e in s.execute(
                        select(M.AuditEntry)
                        .where(M.AuditEntry.action.like("client.%"))
                        .order_by(M.AuditEntry.id)
                    ).scalars()
                ]
        finally:
            db.close()

    def metadata(self) -> dict[str, bytes]:
        folder = self.repo.metadata
        return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def bundle(folder: Path, version: str, *, exe: str = "school-client", extra: str = "") -> Path:
    """A stand-in PyInstaller folder: the program and _internal/school_data-X.dist-info/METADATA."""
    meta = folder / "_internal" / f"school_data-{version}.dist-info"
    meta.mkdir(parents=True)
    (meta / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: school-data\nVersion: {version}\n", encoding="utf-8"
    )
    (folder / exe).write_text("#!/bin/sh\necho stand-in\n" + extra, encoding="utf-8")
    (folder / exe).chmod(0o755)
    return folder


@pytest.fixture
def bureau(tmp_path: Path, sqlite_template: Path, capsys: Any) -> Bureau:
    return Bureau(tmp_path, sqlite_template, capsys)


# -- 3: signing with the keys the root names, checked as a client would ----------------------------


def test_a_key_folder_the_root_does_not_name_is_refused_before_anything_is_signed(
    bureau: Bureau,
) -> None:
    bureau.ok("publish-client", str(bundle(bureau.tmp / "v1", "1.0.0")), "--keys", str(bureau.keys))
    other = bureau.tmp / "other-keys"
    bureau.ok("make-update-keys", "--out", str(other))
    before = bureau.metadata()
    root = json.loads(before["root.json"])["signed"]
    expected = root["roles"]["targets"]["keyids"][0]

    err = bureau.refused(
        "publish-client", str(bundle(bureau.tmp / "v2", "2.0.0")), "--keys", str(other)
    )
    assert str(other / "targets.key") in err and expected[:16] in err
    assert "不是" in err and "is not" in err
    assert bureau.metadata() == before  # nothing signed, nothing written
    assert bureau.release("2.0.0") is None
    assert not list((bureau.repo.targets / "linux").glob("*2.0.0*"))

    err = bureau.refused("refresh-update-metadata", "--keys", str(other))
    assert str(other / "snapshot.key") in err or str(other / "timestamp.key") in err
    err = bureau.refused(
        "rotate-update-key", "targets", "--keys", str(other), "--new-keys", str(other)
    )
    assert str(other / "root.key") in err
    assert bureau.metadata() == before


def test_after_a_rotation_the_old_online_key_is_refused_and_the_new_one_works(
    bureau: Bureau,
) -> None:
    bureau.ok("publish-client", str(bundle(bureau.tmp / "v1", "1.0.0")), "--keys", str(bureau.keys))
    online = bureau.tmp / "server-copy"  # the weekly task's copy of the online keys, on the server
    online.mkdir()
    for role in ("snapshot", "timestamp"):
        shutil.copyfile(bureau.keys / f"{role}.key", online / f"{role}.key")
    new = bureau.tmp / "new-keys"
    bureau.ok("make-update-keys", "--out", str(new))
    out = bureau.ok(
        "rotate-update-key", "timestamp", "--keys", str(bureau.keys), "--new-keys", str(new)
    )
    assert "server" in out  # reminded of the server's copy
    assert (bureau.keys / "timestamp.key").read_bytes() == (new / "timestamp.key").read_bytes()
    err = bureau.refused("refresh-update-metadata", "--keys", str(online))  # the copy forgotten
    assert str(online / "timestamp.key") in err and "第 2 版" in err
    shutil.copyfile(new / "timestamp.key", online / "timestamp.key")
    out = bureau.ok("refresh-update-metadata", "--keys", str(online))
    assert "已按学校电脑的方式核对" in out
    verify_repository(bureau.repo.folder)  # a PC trusting root 1 accepts it


def test_a_repository_whose_root_has_expired_is_not_reported_as_published(
    bureau: Bureau,
) -> None:
    """The keys are right, but a PC would refuse what was signed (root 1 expired a year on): the check
    as a client catches it, says what to do, and leaves the repository as it was."""
    long_ago = dt.datetime.now(dt.UTC) - dt.timedelta(days=400)
    bureau.repo._initialize(bureau.repo.signers(bureau.keys, ROLES), now=long_ago)
    before = bureau.metadata()
    err = bureau.refused(
        "publish-client", str(bundle(bureau.tmp / "v2", "2.0.0")), "--keys", str(bureau.keys)
    )
    assert "root" in err and "过期" in err and "expired" in err
    assert bureau.metadata() == before
    assert not list((bureau.repo.targets / "linux").glob("*2.0.0*"))
    # what the message says to do works: root and targets signed again, then the release goes out
    bureau.ok("refresh-update-metadata", "--keys", str(bureau.keys), "--offline-roles")
    bureau.ok("publish-client", str(bureau.tmp / "v2"), "--keys", str(bureau.keys))
    verify_repository(bureau.repo.folder, target="linux/school-client-2.0.0.tar.gz")


# -- 4, 5: only a bundle, its own version -----------------------------------------------------------


def test_what_is_not_a_bundle_is_refused(bureau: Bureau) -> None:
    junk = bureau.tmp / "notabundle"
    junk.mkdir()
    (junk / "readme.txt").write_text("hello", encoding="utf-8")
    err = bureau.refused(
        "publish-client", str(junk), "--keys", str(bureau.keys), "--version", "0.5.0"
    )
    assert "school-client" in err and str(junk) in err
    no_info = bureau.tmp / "noinfo"
    no_info.mkdir()
    (no_info / "school-client").write_text("x", encoding="utf-8")
    err = bureau.refused("publish-client", str(no_info), "--keys", str(bureau.keys))
    assert "school_data-" in err and "dist-info" in err
    assert bureau.release("0.5.0") is None and not bureau.repo.exists()


def test_an_archive_with_a_top_folder_is_published_with_the_program_at_the_top(
    bureau: Bureau,
) -> None:
    folder = bundle(bureau.tmp / "v060" / "school-client", "0.6.0")
    archive = bureau.tmp / "school-client-9.9.9.tar.gz"  # the name says another version
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(folder, arcname="school-client")
    out = bureau.ok("publish-client", str(archive), "--keys", str(bureau.keys))
    assert "0.6.0" in out
    assert bureau.release("9.9.9") is None
    row = bureau.release("0.6.0")
    assert row is not None
    with tarfile.open(bureau.repo.targets / row.target) as tar:
        names = tar.getnames()
    assert "school-client" in names and "_internal/school_data-0.6.0.dist-info/METADATA" in names
    # a folder holding the bundle folder is taken the same way
    bundle(bureau.tmp / "v070" / "school-client", "0.7.0")
    bureau.ok("publish-client", str(bureau.tmp / "v070"), "--keys", str(bureau.keys))
    assert bureau.release("0.7.0") is not None
    verify_repository(bureau.repo.folder, target=row.target)
    # a Windows bundle (school-client.exe) is a Windows release, packed as .zip
    bundle(bureau.tmp / "win" / "school-client", "0.9.0", exe="school-client.exe")
    out = bureau.ok("publish-client", str(bureau.tmp / "win"), "--keys", str(bureau.keys))
    win = bureau.release("0.9.0")
    assert win is not None and (win.platform, win.target) == (
        "windows",
        "windows/school-client-0.9.0.zip",
    )
    with zipfile.ZipFile(bureau.repo.targets / win.target) as zf:
        assert "school-client.exe" in zf.namelist()
    verify_repository(bureau.repo.folder, target=win.target)


def test_a_version_option_that_disagrees_with_the_bundle_is_refused(bureau: Bureau) -> None:
    folder = bundle(bureau.tmp / "v3", "0.3.0")
    err = bureau.refused(
        "publish-client", str(folder), "--keys", str(bureau.keys), "--version", "0.4.0"
    )
    assert "0.3.0" in err and "0.4.0" in err
    assert bureau.release("0.4.0") is None and bureau.release("0.3.0") is None
    bureau.ok("publish-client", str(folder), "--keys", str(bureau.keys), "--version", "0.3.0")
    assert bureau.release("0.3.0") is not None


# -- 6: a published version does not change ---------------------------------------------------------


def test_a_published_version_is_immutable_and_publishing_it_again_keeps_its_rollout(
    bureau: Bureau,
) -> None:
    folder = bundle(bureau.tmp / "v2", "0.2.0")
    bureau.ok("publish-client", str(folder), "--keys", str(bureau.keys), "--schools", "S001")
    first = bureau.release("0.2.0")
    assert first is not None and first.stage == "pilot"
    archive = bureau.repo.targets / first.target
    sha = hashlib.sha256(archive.read_bytes()).hexdigest()
    before = bureau.metadata()

    out = bureau.ok("publish-client", str(folder), "--keys", str(bureau.keys))  # the same again
    assert "未改动" in out and "unchanged" in out
    again = bureau.release("0.2.0")
    assert again is not None and (again.stage, again.schools) == ("pilot", ["S001"])
    assert hashlib.sha256(archive.read_bytes()).hexdigest() == sha
    assert bureau.metadata() == before

    changed = bureau.tmp / "v2b"
    shutil.copytree(folder, changed)
    (changed / "extra.txt").write_text("x", encoding="utf-8")
    err = bureau.refused("publish-client", str(changed), "--keys", str(bureau.keys))
    assert "0.2.0" in err and "新版本" in err and "new version" in err
    assert hashlib.sha256(archive.read_bytes()).hexdigest() == sha
    assert bureau.metadata() == before


def test_publishing_the_same_bundle_again_puts_back_an_archive_changed_on_the_server(
    bureau: Bureau,
) -> None:
    folder = bundle(bureau.tmp / "v2", "0.2.0")
    bureau.ok("publish-client", str(folder), "--keys", str(bureau.keys))
    archive = bureau.repo.targets / "linux" / "school-client-0.2.0.tar.gz"
    good = archive.read_bytes()
    archive.write_bytes(good[:-8] + bytes(8))  # damaged on the server (LengthOrHashMismatchError)
    out = bureau.ok("publish-client", str(folder), "--keys", str(bureau.keys))
    assert "已恢复" in out and archive.read_bytes() == good
    verify_repository(bureau.repo.folder, target="linux/school-client-0.2.0.tar.gz")


# -- 7, 16, 17, 18: who is offered a release, said plainly, audited ----------------------------------


def test_rollout_adds_removes_widens_and_pauses_explicitly(bureau: Bureau) -> None:
    bureau.ok("publish-client", str(bundle(bureau.tmp / "v8", "0.8.0")), "--keys", str(bureau.keys))
    out = bureau.ok("list-releases")
    assert "未提供" in out and "not offered yet" in out and "已暂停" not in out
    out = bureau.ok("rollout", "0.8.0", "--schools", "s002")  # any case, as enroll takes codes
    assert "试点学校：S002" in out
    out = bureau.ok("rollout", "0.8.0", "--schools", "S001")  # added to the pilot
    assert "试点学校：S001、S002" in out
    out = bureau.ok("rollout", "0.8.0", "--remove-schools", "S002")
    assert "试点学校：S001" in out and "S002" not in out
    bureau.ok("rollout", "0.8.0", "--all")
    err = bureau.refused("rollout", "0.8.0", "--schools", "S003")  # never narrows silently
    assert "全部学校" in err and "all schools" in err
    row = bureau.release("0.8.0")
    assert row is not None and row.stage == "all"
    out = bureau.ok("rollout", "0.8.0", "--pause")
    assert "已暂停" in out
    out = bureau.ok("rollout", "0.8.0", "--schools", "S003")  # a new pilot: the old one is not back
    assert "试点学校：S003" in out and "S001" not in out
    out = bureau.ok("rollout", "0.8.0", "--remove-schools", "S003")
    assert "已暂停" in out and "paused" in out
    err = bureau.refused("rollout", "0.8.0", "--schools", "S009")
    assert "S009" in err
    entries = bureau.audit()
    assert entries[0][1:3] == ("client.publish", "0.8.0")
    rollouts = [(e[2], e[3]["stage"], e[3]["schools"]) for e in entries if e[1] == "client.rollout"]
    assert rollouts[:3] == [
        ("0.8.0", "pilot", ["S002"]),
        ("0.8.0", "pilot", ["S001"]),
        ("0.8.0", "remove", ["S002"]),
    ]
    assert all(e[0].startswith("cli") for e in entries)


# -- 12: signed on an offline PC, put in place on the server -----------------------------------------


def test_a_release_signed_on_an_offline_pc_is_installed_and_rolled_out_on_the_server(
    bureau: Bureau,
) -> None:
    bureau.ok("publish-client", str(bundle(bureau.tmp / "v1", "1.0.0")), "--keys", str(bureau.keys))
    bureau.ok("rollout", "1.0.0", "--all")
    stick = bureau.tmp / "stick" / "updates"  # the server's repository, copied to the stick
    shutil.copytree(bureau.repo.folder, stick)
    offline_instance = bureau.tmp / "offline-pc"
    code = server_cli(
        ["publish-client", str(bundle(bureau.tmp / "v2", "2.0.0")), "--keys", str(bureau.keys),
         "--repo", str(stick), "--sign-only", "--instance", str(offline_instance)]
    )  # fmt: skip
    assert code == 0
    assert not (offline_instance / "sync.db").exists()  # no database on the offline PC
    bureau.ok("refresh-update-metadata", "--keys", str(bureau.keys))  # the weekly task meanwhile
    # without the online keys, the server's newer timestamp cannot be overtaken: refused, unchanged
    before = bureau.metadata()
    old_copy = shutil.copytree(bureau.repo.folder, bureau.tmp / "old-copy")
    err = bureau.refused("install-update-repo", str(stick))
    assert "--keys" in err and bureau.metadata() == before
    out = bureau.ok("install-update-repo", str(stick), "--keys", str(bureau.keys))
    assert "2.0.0" in out
    verify_repository(bureau.repo.folder, target="linux/school-client-2.0.0.tar.gz")
    row = bureau.release("2.0.0")
    assert row is not None and row.stage == "new"  # 未提供
    out = bureau.ok("rollout", "2.0.0", "--schools", "S001")
    assert "S001" in out
    # a stale copy (older than the server's) is refused
    err = bureau.refused("install-update-repo", str(old_copy), "--keys", str(bureau.keys))
    assert "比服务器上的更新仓库旧" in err and "is older than" in err


# -- 19, 20, 21: the commands as documented, help in both languages, keys with a passphrase -----------


def test_the_update_commands_help_in_both_languages_and_a_key_path_that_is_no_folder_is_bad_input(
    bureau: Bureau,
) -> None:
    for command in ("publish-client", "rollout", "refresh-update-metadata", "install-update-repo"):
        with pytest.raises(SystemExit):
            server_cli([command, "--help"])
        out = bureau.capsys.readouterr().out
        assert "学校" in out or "签名" in out or "仓库" in out, command
    # docs/updates.md 一: the repository (and the 1.root.json the installer carries) before any release
    out = bureau.ok("refresh-update-metadata", "--keys", str(bureau.keys), "--create")
    assert (bureau.repo.metadata / "1.root.json").is_file() and "update-root.json" in out
    verify_repository(bureau.repo.folder)
    bureau.refused("refresh-update-metadata", "--keys", str(bureau.keys), "--create")
    err = bureau.refused("refresh-update-metadata", "--keys", "/etc/hostname")
    assert "/etc/hostname" in err and "不是文件夹" in err and "not a folder" in err


def test_offline_keys_with_a_passphrase(bureau: Bureau, monkeypatch: pytest.MonkeyPatch) -> None:
    keys = bureau.tmp / "locked-keys"
    monkeypatch.setenv("SYNC_SERVER_UPDATE_KEY_PASSPHRASE", "correct horse 2026")
    out = bureau.ok("make-update-keys", "--out", str(keys), "--passphrase")
    assert "口令" in out
    assert b"ENCRYPTED" in (keys / "targets.key").read_bytes()
    assert b"ENCRYPTED" not in (keys / "timestamp.key").read_bytes()  # the weekly task needs none
    bureau.ok("publish-client", str(bundle(bureau.tmp / "v1", "1.0.0")), "--keys", str(keys))
    monkeypatch.setenv("SYNC_SERVER_UPDATE_KEY_PASSPHRASE", "wrong")
    err = bureau.refused(
        "publish-client", str(bundle(bureau.tmp / "v2", "2.0.0")), "--keys", str(keys)
    )
    assert "口令" in err and "passphrase" in err and str(keys / "targets.key") in err
    monkeypatch.delenv("SYNC_SERVER_UPDATE_KEY_PASSPHRASE")
    bureau.ok(
        "refresh-update-metadata", "--keys", str(keys)
    )  # snapshot and timestamp: no passphrase
