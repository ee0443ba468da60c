"""A failed `school-client enroll` leaves nothing behind in a data folder it made (issue 13's leftovers): no
store.db, no key.json, no key in the key store (the file store or a keyring), no logs/ - the error is said as
before (Chinese and English, exit 2). A folder that held a store already keeps all of it. Real parts: the real
server on loopback (a real wrong code online), a file the real server wrote, the real CLI in process, the
real file key store and a real keyring backend (an in-memory KeyringBackend: no desktop keyring here)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import keyring.core
import pytest

from client.cli import main as client_main
from client.context import ClientContext
from client.store import keys as K
from client.store import sync_state as S
from client.store.paths import DB_NAME
from sync_server.enrollment_files import Written
from tests.support.enrollment_files import on_stick, written
from tests.support.keyrings import DictKeyring
from tests.sync.conftest import LiveServer

pytestmark = pytest.mark.parametrize("live_server", ["sqlite"], indirect=True)


@pytest.fixture
def key_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The file key store of this test alone (so what it holds can be counted)."""
    folder = tmp_path / "keys"
    monkeypatch.setenv(K.ENV_KEY_DIR, str(folder))
    monkeypatch.setenv(K.ENV_KEY_STORE, "file")
    monkeypatch.delenv("SCHOOL_CLIENT_CONFIG", raising=False)
    return folder


@pytest.fixture
def a_keyring(monkeypatch: pytest.MonkeyPatch, key_dir: Path) -> Iterator[DictKeyring]:
    """Keys go to a keyring backend, as on a Windows PC (the file store only when it fails)."""
    backend = DictKeyring()
    before = keyring.core._keyring_backend
    keyring.core.set_keyring(backend)
    monkeypatch.setenv(K.ENV_KEY_STORE, "keyring")
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", f"{DictKeyring.__module__}.DictKeyring")
    try:
        yield backend
    finally:
        keyring.core._keyring_backend = before


def from_stick(server: LiveServer, tmp_path: Path) -> tuple[Written, Path]:
    """An enrollment file for a new school, on the stick: (the file, its path)."""
    w = written(server)
    return w, on_stick(tmp_path, w)


def enroll(data: Path, *how: str) -> int:
    """`school-client --data-dir DATA enroll HOW...` in process: its exit code."""
    return client_main(["--data-dir", str(data), "enroll", *how])


def keys_in(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_a_wrong_code_in_a_new_folder_leaves_no_folder_and_no_key(
    live_server: LiveServer,
    tmp_path: Path,
    key_dir: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    w, path = from_stick(live_server, tmp_path)
    data = tmp_path / "新电脑" / "数据"

    code = enroll(data, "--file", str(path), "--code", "WRONG")

    err = capsys.readouterr().err
    assert code == 2 and "登记码不对" in err and "enrollment failed" in err, err
    assert "Traceback" not in err
    (said,) = [line for line in err.splitlines() if "登记失败" in line]  # one line, both languages
    assert "enrollment failed" in said
    assert not (tmp_path / "新电脑").exists() and keys_in(key_dir) == []
    # The right code afterwards enrolls as on a new computer.
    assert enroll(data, "--file", str(path), "--code", w.code) == 0
    assert (data / DB_NAME).is_file() and len(keys_in(key_dir)) == 1


def test_a_wrong_code_online_in_a_new_folder_leaves_nothing(
    live_server: LiveServer,
    tmp_path: Path,
    key_dir: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    live_server.new_school()
    data = tmp_path / "学校电脑"

    code = enroll(data, "--server", live_server.url, "--code", "AAA-BBB-CCC")

    err = capsys.readouterr().err
    assert code == 2 and "登记失败" in err and "enrollment failed" in err, err
    assert not data.exists() and keys_in(key_dir) == []


def test_a_new_folder_keeps_no_keyring_entry_after_a_wrong_code(
    live_server: LiveServer,
    tmp_path: Path,
    key_dir: Path,
    a_keyring: DictKeyring,
) -> None:
    w, path = from_stick(live_server, tmp_path)
    data = tmp_path / "数据"

    assert enroll(data, "--file", str(path), "--code", "X") == 2

    assert a_keyring.kept == {} and keys_in(key_dir) == [] and not data.exists()
    assert enroll(data, "--file", str(path), "--code", w.code) == 0
    assert [service for service, _ in a_keyring.kept] == [K.KEYRING_SERVICE]


def test_an_empty_folder_keeps_only_the_log_of_the_failed_attempt(
    live_server: LiveServer,
    tmp_path: Path,
    key_dir: Path,
) -> None:
    _w, path = from_stick(live_server, tmp_path)
    data = tmp_path / "数据"
    data.mkdir()
    (data / "说明.txt").write_text("the clerk's own note", encoding="utf-8")

    assert enroll(data, "--file", str(path), "--code", "X") == 2

    assert sorted(os.listdir(data)) == ["logs", "说明.txt"] and keys_in(key_dir) == []
    assert "wrong code" in (data / "logs" / "school-client.log").read_text("utf-8")


def test_a_folder_with_a_store_keeps_all_of_it(
    live_server: LiveServer,
    tmp_path: Path,
    key_dir: Path,
) -> None:
    _w, path = from_stick(live_server, tmp_path)
    data = tmp_path / "数据"
    ClientContext.open(data).close()  # the GUI's first start made it
    K.forget_cached()
    before = {p.name: p.stat().st_mtime_ns for p in data.iterdir() if p.is_file()}
    held = keys_in(key_dir)

    assert enroll(data, "--file", str(path), "--code", "X") == 2
    assert enroll(data, "--server", live_server.url, "--code", "AAA-BBB") == 2

    assert set(before) <= {p.name for p in data.iterdir()}
    assert keys_in(key_dir) == held and len(held) == 1
    assert (data / K.KEY_FILE).stat().st_mtime_ns == before[K.KEY_FILE]
    K.forget_cached()
    ctx = ClientContext.open(data)  # its key is still found: the store opens
    try:
        with ctx.store.Session() as s:
            assert S.get_enrollment(s) is None
    finally:
        ctx.close()
