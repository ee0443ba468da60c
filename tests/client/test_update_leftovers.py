"""What an installed update leaves behind (issue 16 retest N4, N7), with the small fake program of
tests/client/test_update_install.py run as processes:

- a good first start of a new version resets the failure count (a healthy PC showed 失败 3 for ever);
- runner mode: once the new version has marked its first start good, the runner exits (nobody waits for a
  window start's exit code) instead of staying the window's parent all day; the runner copy of the program
  is removed as soon as the runner has exited (by the new version), and runner.json, pending.json and the
  started-* markers go once used. The previous version stays as `<program>.previous` (a manual rollback).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from client.update.install import ENV_INSTALL_DIR, ENV_MODE, RUNNER, RUNNER_FILE, _alive
from client.update.state import (
    PENDING_FILE,
    STARTED_PREFIX,
    load_state,
    read_json,
    save_state,
    updates_dir,
    write_json,
)
from tests.client.test_update_install import (
    LINGER,
    program,
    ran,
    runner_ended,
    stage,
    start,
    version_in,
)

STAY = "time.sleep(float(os.environ.get('FAKE_STAY', '0')))  # the window stays open\n"


def window_start(install: Path, data: Path, log: Path) -> int:
    """A window start as the desktop makes it: nobody reads its output (no pipe the new version would
    hold open), the old version's exit code only; then the runner's end is awaited."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SCHOOL_CLIENT_")}
    env.update({ENV_INSTALL_DIR: str(install), ENV_MODE: "runner", "FAKE_LINGER": str(LINGER)})
    with log.open("a", encoding="utf-8") as err:
        code = subprocess.run(
            [str(install / "school-client"), "--data-dir", str(data)],
            stdout=subprocess.DEVNULL,
            stderr=err,
            env=env,
            timeout=60,
        ).returncode
    runner_ended(data)
    return code


@pytest.mark.parametrize("mode", ["swap", "runner"])
def test_a_good_first_start_resets_the_failure_count(tmp_path: Path, mode: str) -> None:
    install = program(tmp_path / "Programs" / "school-client", "1.0")
    data = tmp_path / "data"
    stage(data, program(tmp_path / "v2", "2.0"), "2.0")
    state = load_state(data)  # an older release failed here three times, then was blocked
    state.failures, state.blocked = 3, ["1.5"]
    state.start_failures = {"1.5": {"tries": 3, "blocked_at": "2026-11-30T00:00:00+00:00"}}
    save_state(data, state)

    assert start(install, data, mode).returncode == 0
    assert version_in(install) == "2.0"
    state = load_state(data)
    assert (state.state, state.target_version, state.failures, state.error) == (
        "installed",
        "2.0",
        0,
        None,
    )
    assert state.blocked == ["1.5"]  # a block is kept: its days are not over


def test_the_runner_exits_once_the_new_version_is_up_and_its_copy_is_removed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    install = program(tmp_path / "Programs" / "school-client", "1.0")
    data = tmp_path / "data"
    release = program(tmp_path / "v2", "2.0")
    with (release / "program.py").open("a", encoding="utf-8") as fh:
        fh.write(STAY)
    stage(data, release, "2.0")
    folder = updates_dir(data)
    (folder / f"{STARTED_PREFIX}0.9").write_text("ok\n")  # an older update's marker
    monkeypatch.setenv("FAKE_STAY", "4")

    began = time.monotonic()
    log = tmp_path / "stderr.log"
    assert window_start(install, data, log) == 0, log.read_text()
    runner = read_json(folder / RUNNER_FILE) or {}
    steps = ran(data)
    assert [(w, v) for w, v, _, _ in steps] == [
        ("handed-over", "1.0"),
        ("ran", "2.0"),
        ("handed-over", "1.0"),
    ]
    assert time.monotonic() - began < 4, "the runner waited for the window to close"
    assert not runner or not _alive(int(runner["pid"]))
    deadline = time.monotonic() + 3  # the new version removes the runner's copy once it has ended
    while (folder / RUNNER).exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not (folder / RUNNER).exists()
    assert not (folder / RUNNER_FILE).exists()
    assert not (folder / PENDING_FILE).exists()
    assert not list(folder.glob(f"{STARTED_PREFIX}*"))
    assert version_in(install) == "2.0"
    assert version_in(install.with_name("school-client.previous")) == "1.0"  # kept: manual rollback
    state = load_state(data)
    assert (state.state, state.target_version) == ("installed", "2.0")


def test_a_start_removes_what_an_ended_runner_left(tmp_path: Path) -> None:
    """The next start cleans up after a runner that could not (killed, or Windows kept its files)."""
    install = program(tmp_path / "Programs" / "school-client", "2.0")
    data = tmp_path / "data"
    folder = updates_dir(data)
    (folder / RUNNER).mkdir(parents=True)
    (folder / RUNNER / "school-client").write_text("a copy")
    (folder / RUNNER_FILE).write_text('{"pid": 999999, "version": "2.0", "tries": 0}')
    (folder / f"{STARTED_PREFIX}2.0").write_text("ok\n")
    (folder / f"{STARTED_PREFIX}1.1").write_text("ok\n")

    assert start(install, data, "runner").returncode == 0
    assert [(w, v) for w, v, _, _ in ran(data)] == [("ran", "2.0")]
    assert not (folder / RUNNER).exists() and not (folder / RUNNER_FILE).exists()
    assert not list(folder.glob(f"{STARTED_PREFIX}*"))


@pytest.mark.parametrize("under_way", ["runner", "first start"])
def test_a_window_start_during_an_updates_handover_opens_no_second_window(
    tmp_path: Path, under_way: str
) -> None:
    """Two clicks a second apart: the second start finds the update under way (the runner waiting for
    the old version, or the new version's first start) and exits instead of opening a window of its
    own, which would also take the window from the new version and roll it back."""
    install = program(tmp_path / "Programs" / "school-client", "1.0")
    data = tmp_path / "data"
    folder = updates_dir(data)
    busy = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        if under_way == "runner":
            stage(data, program(tmp_path / "v2", "2.0"), "2.0")
            write_json(folder / RUNNER_FILE, {"pid": busy.pid, "version": "2.0", "tries": 1})
        else:  # swap mode: the old version waits for 2.0's first start, the folders already swapped
            write_json(folder / PENDING_FILE, {"version": "1.0", "from": "0.9", "pid": busy.pid})
        env = {k: v for k, v in os.environ.items() if not k.startswith("SCHOOL_CLIENT_")}
        env.update(
            {ENV_INSTALL_DIR: str(install), ENV_MODE: "runner" if under_way == "runner" else "swap"}
        )
        done = subprocess.run(
            [str(install / "school-client"), "--data-dir", str(data)],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr
        assert "程序正在更新" in done.stdout and "being updated" in done.stdout
        assert [(w, v) for w, v, _, _ in ran(data)] == [("handed-over", "1.0")]
    finally:
        busy.kill()
        busy.wait()
    if under_way == "first start":  # the update's process has ended (crashed): not waited for
        assert start(install, data, "swap").returncode == 0
        assert [(w, v) for w, v, _, _ in ran(data)] == [("ran", "1.0")]
