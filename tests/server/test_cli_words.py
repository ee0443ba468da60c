"""The command lines speak one language per half of a line (issue 11, item 7), run as real subprocesses:
argparse's English stays out of the Chinese half (sync-server, school-client, python -m forms), an
enrollment that fails says 登记失败 (not 同步失败), and the code is 登记码 everywhere."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from client.sync.commands import enroll_command
from tests.client import make_ctx
from tests.server.conftest import LiveServer

ROOT = Path(__file__).resolve().parents[2]
ARGPARSE_WORDS = re.compile(
    r"the following arguments|unrecognized arguments|invalid choice|expected one argument|"
    r"invalid int value|argument "
)


def run(module: str, *args: str, data_dir: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "SCHOOL_CLIENT_DATA_DIR"}
    env["PYTHONIOENCODING"] = "utf-8"
    extra = ["--data-dir", str(data_dir)] if data_dir is not None else []
    return subprocess.run(
        [sys.executable, "-m", module, *args, *extra],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=120,
    )


def chinese_half(stderr: str) -> str:
    """The Chinese part of the last line: what comes before ' / '."""
    last = [line for line in stderr.splitlines() if line.strip()][-1]
    return last.split(" / ", 1)[0]


def test_argparse_errors_read_in_chinese_on_every_command_line(tmp_path: Path):
    cases = [
        (
            ("sync_server.cli", "add-school", "--instance", str(tmp_path / "i")),
            "缺少必需的参数：--code、--name",
        ),
        (("sync_server.cli", "nonsense"), "命令：没有“nonsense”"),
        (("sync_server.cli", "serve", "--threads", "abc"), "参数 --threads：“abc”不是整数"),
        # --code is optional since enroll --file (the code may come on stdin); without either it is asked for
        (("client.cli", "enroll", "--server", "http://127.0.0.1:9"), "请用 --code 给出登记码"),
        (
            ("client.cli", "export", "--form", "safety_inspection", "x.xlsx", "--bogus"),
            "不认识的参数：--bogus",
        ),
        (("forms", "check", "--nope"), "不认识的参数：--nope"),
    ]
    procs = [
        (
            expected,
            subprocess.Popen(
                [sys.executable, "-m", *args],
                cwd=ROOT,
                env={**os.environ, "PYTHONIOENCODING": "utf-8"},
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                encoding="utf-8",
            ),
        )
        for args, expected in cases
    ]
    for expected, proc in procs:
        _out, err = proc.communicate(timeout=120)
        assert proc.returncode == 2, err
        zh = chinese_half(err)
        assert expected in zh, err
        assert ARGPARSE_WORDS.search(zh) is None, err
        assert "Traceback" not in err


def test_a_failed_enrollment_says_so_and_names_the_code_as_the_bureau_does(
    live_sqlite: LiveServer, tmp_path: Path
):
    wrong = run(
        "client.cli",
        "enroll",
        "--server",
        live_sqlite.url,
        "--code",
        "AAA-BBB-CCC",
        data_dir=tmp_path / "pc",
    )
    assert wrong.returncode == 2, wrong.stderr
    assert "登记失败" in wrong.stderr and "登记码不正确" in wrong.stderr
    assert "同步失败" not in wrong.stderr and "注册" not in wrong.stderr
    _school, code = live_sqlite.new_school("S300", "河湾村小学")
    ok = run(
        "client.cli",
        "enroll",
        "--server",
        live_sqlite.url,
        "--code",
        code,
        data_dir=tmp_path / "pc",
    )
    assert ok.returncode == 0, ok.stderr
    assert "已登记" in ok.stdout and "河湾村小学" in ok.stdout and "注册" not in ok.stdout
    helps = run("client.cli", "enroll", "--help")
    assert "登记码" in helps.stdout and "注册" not in helps.stdout


def test_an_enrollment_that_cannot_reach_the_server_says_enrollment_failed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    ctx = make_ctx(tmp_path / "pc")
    try:
        code = enroll_command(ctx, "http://127.0.0.1:9", "AAA-BBB-CCC", sleep=lambda _s: None)
    finally:
        ctx.close()
    err = capsys.readouterr().err
    assert code == 1
    assert err.startswith("登记失败：") and "同步失败" not in err
    assert "enrollment failed" in err
