"""Preconfigured installs: school-client.ini gives the server, so `enroll` needs only the code."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from client import preconfig
from client.cli import main


@pytest.fixture(autouse=True)
def _no_outside_config(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(preconfig.ENV_CONFIG, raising=False)


def test_reads_server_and_forms_folder(tmp_path: Path) -> None:
    ini = tmp_path / "school-client.ini"
    ini.write_text(
        "\ufeff[server]\nurl = http://10.1.2.3:8700/   ; 县局服务器\n\n[forms]\nfolder = 表单\n",
        encoding="utf-8",
    )
    got = preconfig.load(ini)
    assert got.server == "http://10.1.2.3:8700"
    assert got.forms_dir == (tmp_path / "表单").resolve()
    assert got.source == ini


def test_gbk_file_and_missing_keys(tmp_path: Path) -> None:
    ini = tmp_path / "school-client.ini"
    ini.write_bytes("; 城关镇\n[server]\nurl = http://服务器:8700\n".encode("gbk"))
    assert preconfig.load(ini).server == "http://服务器:8700"
    ini.write_text("[forms]\n", encoding="utf-8")
    assert preconfig.load(ini) == preconfig.Preconfig(source=ini)


def test_a_broken_file_is_ignored(tmp_path: Path) -> None:
    ini = tmp_path / "school-client.ini"
    ini.write_text("url = no section\n", encoding="utf-8")
    assert preconfig.load(ini).server is None


def test_found_by_env_then_beside_the_frozen_executable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert preconfig.find() == preconfig.Preconfig()  # a source checkout: nothing
    app = tmp_path / "app"
    app.mkdir()
    (app / preconfig.CONFIG_NAME).write_text("[server]\nurl = http://beside:1\n", encoding="utf-8")
    baked = tmp_path / "_internal"
    baked.mkdir()
    (baked / preconfig.CONFIG_NAME).write_text("[server]\nurl = http://baked:1\n", encoding="utf-8")
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setattr(sys, "executable", str(app / "school-client.exe"))
    monkeypatch.setattr(sys, "_MEIPASS", str(baked), raising=False)
    assert preconfig.preconfigured_server() == "http://beside:1"
    (app / preconfig.CONFIG_NAME).unlink()
    assert preconfig.preconfigured_server() == "http://baked:1"
    env = tmp_path / "env.ini"
    env.write_text("[server]\nurl = http://env:1\n", encoding="utf-8")
    monkeypatch.setenv(preconfig.ENV_CONFIG, str(env))
    assert preconfig.preconfigured_server() == "http://env:1"


def test_enroll_without_server_or_config_is_bad_input(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--data-dir", str(tmp_path), "enroll", "--code", "K7P-3QX-9ZA"]) == 2
    err = capsys.readouterr().err
    assert "--server" in err and "school-client.ini" in err


def test_enroll_uses_the_configured_server(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    calls: list[tuple[str, str]] = []

    def fake_enroll(_ctx: object, server: str, code: str, fingerprint: str | None = None) -> int:
        calls.append((server, code))
        return 0

    monkeypatch.setattr("client.sync.commands.enroll_command", fake_enroll)
    ini = tmp_path / "school-client.ini"
    ini.write_text("[server]\nurl = http://10.1.2.3:8700\n", encoding="utf-8")
    monkeypatch.setenv(preconfig.ENV_CONFIG, str(ini))
    data = str(tmp_path / "data")
    assert main(["--data-dir", data, "enroll", "--code", "K7P-3QX-9ZA"]) == 0
    assert main(["--data-dir", data, "enroll", "--server", "http://other:1", "--code", "X"]) == 0
    assert calls == [("http://10.1.2.3:8700", "K7P-3QX-9ZA"), ("http://other:1", "X")]
