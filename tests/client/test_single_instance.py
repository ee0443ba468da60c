"""One window per data folder (issue 16 retest N9: two window starts a second apart gave two windows on the
same store). Two real processes of the client (offscreen): the second start finds the first window's lock,
asks it to come to the front (a local socket named after the data folder), says 程序已经打开 and exits 0
without opening the store, installing anything or opening a window. Another data folder opens its own
window.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from client.cli import WINDOW_LOCK
from client.ui.single_instance import LOCK_NAME, WindowGuard

LOG = Path("logs") / "school-client.log"


def window_start(data: Path) -> subprocess.Popen[str]:
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    return subprocess.Popen(
        [sys.executable, "-m", "client.cli", "--data-dir", str(data)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def wait_for(data: Path, words: str, proc: subprocess.Popen[str], seconds: float = 40) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        log = data / LOG
        if log.exists() and words in log.read_text(encoding="utf-8", errors="replace"):
            return
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.1)
    raise AssertionError(f"{words!r} not in the log")


@pytest.mark.timeout(120)
def test_a_second_window_start_brings_the_first_to_the_front_and_exits(tmp_path: Path) -> None:
    data = tmp_path / "data"
    first = window_start(data)
    try:
        wait_for(data, "window ready", first)
        ready = (data / LOG).read_text(encoding="utf-8").count("window ready")
        began = time.monotonic()
        second = subprocess.run(
            [sys.executable, "-m", "client.cli", "--data-dir", str(data)],
            capture_output=True,
            text=True,
            env=dict(os.environ, QT_QPA_PLATFORM="offscreen"),
            timeout=60,
        )
        assert second.returncode == 0, second.stderr
        assert "程序已经打开" in second.stdout and "already open" in second.stdout
        assert time.monotonic() - began < 15
        wait_for(data, "brought to the front", first, seconds=10)
        assert first.poll() is None  # the first window goes on
        log = (data / LOG).read_text(encoding="utf-8")
        assert log.count("window ready") == ready  # no second window
        assert "a window is open on" in log
    finally:
        first.terminate()
        first.communicate(timeout=30)


def test_the_lock_is_the_data_folders_and_freed_with_its_holder(tmp_path: Path) -> None:
    one, other = tmp_path / "one", tmp_path / "other"
    one.mkdir()
    other.mkdir()
    held = WindowGuard(one)
    assert held.acquire()
    try:
        assert (one / LOCK_NAME).exists() and LOCK_NAME == WINDOW_LOCK  # (cli.py looks for it)
        assert not WindowGuard(one).acquire()  # the same folder: taken
        elsewhere = WindowGuard(other)
        assert elsewhere.acquire()  # another folder: its own window
        elsewhere.release()
    finally:
        held.release()
    again = WindowGuard(one)
    assert again.acquire()
    again.release()
