"""Signing on an offline PC and the repository's upkeep, after the retest of issue 16
(/work/notes/update-retest.md N2, N3, N8, N9): the commands as the bureau's IT person runs them (in this
process, real SQLite copies, keys from make-update-keys, every result checked by python-tuf's ngclient as a
school PC would).

- N2: publish-client (without --sign-only) and rollout on a PC with no server database refuse, create none;
- N3: the stick carries the metadata one way and only the new archives back;
- N8: a stick copied before a key rotation is refused saying the copy is old, and what to copy;
- N9: retire-release takes an old release out of the signed targets and off the disk (refused while
  offered), audited; list-releases and the serving server warn about expiring signatures.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import shutil
import time
from pathlib import Path
from typing import Any

import pytest

from sync_server.cli import main as server_cli
from sync_server.updates_repo import ROLES, verify_repository
from tests.server.test_update_publishing import Bureau, bundle


@pytest.fixture
def bureau(tmp_path: Path, sqlite_template: Path, capsys: Any) -> Bureau:
    return Bureau(tmp_path, sqlite_template, capsys)


def _offline(bureau: Bureau, *args: str) -> tuple[int, str, str]:
    """A command on the offline PC: an instance folder with no database."""
    bureau.capsys.readouterr()
    code = server_cli([*args, "--instance", str(bureau.tmp / "offline-pc")])
    out, err = bureau.capsys.readouterr()
    return code, out, err


def _metadata_only(bureau: Bureau, name: str) -> Path:
    stick = bureau.tmp / name / "updates"
    shutil.copytree(bureau.repo.metadata, stick / "metadata")
    return stick


def test_publishing_or_rolling_out_where_there_is_no_server_database_is_refused(
    bureau: Bureau,
) -> None:
    bureau.ok("publish-client", str(bundle(bureau.tmp / "v1", "1.0.0")), "--keys", str(bureau.keys))
    stick = _metadata_only(bureau, "stick")
    offline = bureau.tmp / "offline-pc"
    offline.mkdir()
    before = {p.name: p.read_bytes() for p in (stick / "metadata").iterdir()}
    for args in (
        ["publish-client", str(bundle(bureau.tmp / "v7", "0.7.0")), "--keys", str(bureau.keys),
         "--repo", str(stick)],
        ["rollout", "0.7.0", "--all"],
        ["list-releases"],
    ):  # fmt: skip
        code, out, err = _offline(bureau, *args)
        assert code == 2, (args, out, err)
        assert "没有服务器数据库" in err and "no server database" in err
        assert "--sign-only" in err and "install-update-repo" in err
        assert "Traceback" not in err
        assert list(offline.iterdir()) == []  # no sync.db made
    # nothing was signed onto the stick either
    assert {p.name: p.read_bytes() for p in (stick / "metadata").iterdir()} == before
    # what it says to do works
    code, _out, err = _offline(
        bureau, "publish-client", str(bureau.tmp / "v7"), "--keys", str(bureau.keys), "--repo",
        str(stick), "--sign-only",
    )  # fmt: skip
    assert code == 0, err
    assert list(offline.iterdir()) == []


def test_the_stick_carries_metadata_there_and_only_the_new_archives_back(bureau: Bureau) -> None:
    for version in ("1.0.0", "1.1.0"):
        folder = bundle(bureau.tmp / f"v{version}", version, extra="x" * 2000)
        bureau.ok("publish-client", str(folder), "--keys", str(bureau.keys))
    bureau.ok("rollout", "1.1.0", "--all")
    stick = _metadata_only(bureau, "stick")  # the server's metadata folder only: a few KB
    code, _out, err = _offline(
        bureau, "publish-client", str(bundle(bureau.tmp / "v2", "2.0.0")), "--keys",
        str(bureau.keys), "--repo", str(stick), "--sign-only",
    )  # fmt: skip
    assert code == 0, err
    carried = sorted(p.relative_to(stick).as_posix() for p in stick.rglob("*") if p.is_file())
    assert [c for c in carried if c.startswith("targets/")] == [
        "targets/linux/school-client-2.0.0.tar.gz"
    ]
    out = bureau.ok("install-update-repo", str(stick), "--keys", str(bureau.keys))
    assert "2.0.0" in out
    row = bureau.release("2.0.0")
    assert row is not None and row.stage == "new"
    for version in ("1.0.0", "1.1.0", "2.0.0"):  # every release still served and verified
        verify_repository(bureau.repo.folder, target=f"linux/school-client-{version}.tar.gz")

    # a new archive left off the stick is named; an archive of the server's damaged there too
    stick2 = _metadata_only(bureau, "stick2")
    code, _out, err = _offline(
        bureau, "publish-client", str(bundle(bureau.tmp / "v3", "3.0.0")), "--keys",
        str(bureau.keys), "--repo", str(stick2), "--sign-only",
    )  # fmt: skip
    assert code == 0, err
    (stick2 / "targets" / "linux" / "school-client-3.0.0.tar.gz").unlink()
    err = bureau.refused("install-update-repo", str(stick2), "--keys", str(bureau.keys))
    assert "linux/school-client-3.0.0.tar.gz" in err and "targets" in err
    assert bureau.release("3.0.0") is None
    served = bureau.repo.targets / "linux" / "school-client-1.0.0.tar.gz"
    good = served.read_bytes()
    served.write_bytes(good[:-4] + bytes(4))
    shutil.copytree(bureau.tmp / "stick2", bureau.tmp / "stick3")
    stick3 = bureau.tmp / "stick3" / "updates"
    code, _out, err = _offline(
        bureau,
        "publish-client",
        str(bureau.tmp / "v3"),
        "--keys",
        str(bureau.keys),
        "--repo",
        str(stick3),
        "--sign-only",
    )  # fmt: skip  (the archive put back on the stick: the same bytes, nothing signed again)
    assert code == 0, err
    err = bureau.refused("install-update-repo", str(stick3), "--keys", str(bureau.keys))
    assert "linux/school-client-1.0.0.tar.gz" in err
    served.write_bytes(good)
    bureau.ok("install-update-repo", str(stick3), "--keys", str(bureau.keys))
    verify_repository(bureau.repo.folder, target="linux/school-client-3.0.0.tar.gz")


def test_a_stick_from_before_a_key_rotation_is_called_an_old_copy(bureau: Bureau) -> None:
    bureau.ok("publish-client", str(bundle(bureau.tmp / "v1", "1.0.0")), "--keys", str(bureau.keys))
    stick = _metadata_only(bureau, "stick")
    offline_keys = shutil.copytree(bureau.keys, bureau.tmp / "offline-keys")
    code, _out, err = _offline(
        bureau, "publish-client", str(bundle(bureau.tmp / "v2", "2.0.0")), "--keys",
        str(offline_keys), "--repo", str(stick), "--sign-only",
    )  # fmt: skip
    assert code == 0, err
    new = bureau.tmp / "new-keys"
    bureau.ok("make-update-keys", "--out", str(new))
    bureau.ok("rotate-update-key", "timestamp", "--keys", str(bureau.keys), "--new-keys", str(new))
    before = bureau.metadata()
    err = bureau.refused("install-update-repo", str(stick), "--keys", str(bureau.keys))
    assert "比服务器上的更新仓库旧" in err and "根元数据第 1 版" in err and "服务器是第 2 版" in err
    assert "metadata" in err and "older" in err
    assert "signed by" not in err and "refresh-update-metadata" not in err  # not a key problem
    assert bureau.metadata() == before and bureau.release("2.0.0") is None


def test_an_old_release_is_retired_from_the_repository_unless_offered(bureau: Bureau) -> None:
    for version in ("1.0.0", "1.1.0"):
        bureau.ok("publish-client", str(bundle(bureau.tmp / f"v{version}", version)), "--keys",
                  str(bureau.keys))  # fmt: skip
    bureau.ok("rollout", "1.0.0", "--schools", "S001")
    bureau.ok("rollout", "1.1.0", "--all")
    archive = bureau.repo.targets / "linux" / "school-client-1.0.0.tar.gz"
    err = bureau.refused("retire-release", "1.0.0", "--keys", str(bureau.keys))
    assert "S001" in err and "rollout 1.0.0 --pause" in err and archive.is_file()
    bureau.refused("retire-release", "9.9.9", "--keys", str(bureau.keys))
    bureau.ok("rollout", "1.0.0", "--pause")
    out = bureau.ok("retire-release", "1.0.0", "--keys", str(bureau.keys))
    assert "1.0.0" in out and "已停用" in out and "retired" in out
    assert not archive.exists() and bureau.release("1.0.0") is None
    targets = json.loads((bureau.repo.metadata / "targets.json").read_text())["signed"]["targets"]
    assert list(targets) == ["linux/school-client-1.1.0.tar.gz"]
    verify_repository(bureau.repo.folder, target="linux/school-client-1.1.0.tar.gz")
    assert "1.0.0" not in bureau.ok("list-releases")
    entries = [(e[1], e[2]) for e in bureau.audit()]
    assert ("client.retire", "1.0.0") in entries
    err = bureau.refused("retire-release", "1.1.0", "--keys", str(bureau.keys))
    assert "全部学校" in err


def test_a_release_retired_on_the_offline_pc_is_retired_on_the_server_when_named(
    bureau: Bureau,
) -> None:
    for version in ("1.0.0", "1.1.0"):
        bureau.ok("publish-client", str(bundle(bureau.tmp / f"v{version}", version)), "--keys",
                  str(bureau.keys))  # fmt: skip
    bureau.ok("rollout", "1.0.0", "--schools", "S001")
    stick = _metadata_only(bureau, "stick")
    code, out, err = _offline(
        bureau, "retire-release", "1.0.0", "--keys", str(bureau.keys), "--repo", str(stick),
        "--sign-only",
    )  # fmt: skip
    assert code == 0 and "--retire 1.0.0" in out, err
    assert not (bureau.tmp / "offline-pc").exists()  # no database, no instance made
    archive = bureau.repo.targets / "linux" / "school-client-1.0.0.tar.gz"
    err = bureau.refused("install-update-repo", str(stick), "--keys", str(bureau.keys))
    assert "--retire" in err and archive.is_file()  # not named: a missing release is refused
    err = bureau.refused("install-update-repo", str(stick), "--retire", "1.0.0")
    assert "S001" in err and "--pause" in err and archive.is_file()  # still offered
    bureau.ok("rollout", "1.0.0", "--pause")
    bureau.refused("install-update-repo", str(stick), "--retire", "1.0.0,9.9.9")
    out = bureau.ok("install-update-repo", str(stick), "--retire", "1.0.0")
    assert "retired" in out and not archive.exists() and bureau.release("1.0.0") is None
    verify_repository(bureau.repo.folder, target="linux/school-client-1.1.0.tar.gz")
    assert ("client.retire", "1.0.0") in [(e[1], e[2]) for e in bureau.audit()]


def test_expiring_signatures_are_warned_by_list_releases_and_daily_while_serving(
    bureau: Bureau, caplog: Any
) -> None:
    from sync_server.app import create_app
    from sync_server.serving import create_server
    from sync_server.state import get_state

    signed = dt.datetime.now(dt.UTC) - dt.timedelta(days=6)  # snapshot/timestamp: a day left
    bureau.repo._initialize(bureau.repo.signers(bureau.keys, ROLES), now=signed)
    out = bureau.ok("list-releases")
    assert "timestamp" in out and "将于" in out and "refresh-update-metadata" in out

    app = create_app({"DATABASE_URL": bureau.db_url, "INSTANCE_PATH": str(bureau.instance)})
    server = create_server(app, host="127.0.0.1", port=0)
    try:
        start = time.time()
        with caplog.at_level(logging.WARNING):
            caplog.clear()
            server.maintenance(start + 60)
            assert "refresh-update-metadata" not in caplog.text  # said at start; not every minute
            server.maintenance(start + 86400 + 60)  # a day on
            assert "timestamp" in caplog.text and "refresh-update-metadata" in caplog.text
            caplog.clear()
            server.maintenance(start + 86400 + 120)
            assert "refresh-update-metadata" not in caplog.text  # once a day
    finally:
        server.close()
        get_state(app).db.close()
