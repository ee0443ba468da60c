"""Installing a staged update at start, in both ways (client/update/install.py, docs/updates.md section 4):
"swap" (Linux: the old version renames its own folder) and "runner" (Windows: the old version starts a copy
of itself and exits; the copy waits for it, swaps, runs the new version and rolls back). Both run here for
real, as processes, with a small fake program: a folder whose `school-client` calls apply_at_start and
mark_started like client/cli.py does, and records what ran in the data folder (ran.log). The real bundles
go through the same steps in tests/packaging/test_update_bundle.py (slow).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from client.update.install import (
    ENV_INSTALL_DIR,
    ENV_MODE,
    RUNNER,
    RUNNER_FILE,
    UNINSTALL_KEY,
    _alive,
)
from client.update.retry import MAX_START_TRIES
from client.update.state import READY_FILE, load_state, read_json, updates_dir, write_json

ROOT = Path(__file__).resolve().parents[2]
LINGER = 0.4  # seconds the old version takes to exit after starting the runner

PROGRAM = """\
import os, sys, time
sys.path.insert(0, {root!r})
from pathlib import Path

here = Path(__file__).resolve().parent
if (here / "BROKEN").exists():
    sys.exit(3)  # a release that cannot start
if os.environ.get("SCHOOL_CLIENT_FINISH_UPDATE") and (here / "RUNNER_DIES").exists():
    sys.exit(9)  # a copy that cannot run from the data folder (a policy, a virus scanner)
version = (here / "VERSION").read_text().strip()
args = sys.argv[1:]
data = Path(args[args.index("--data-dir") + 1])

def note(*words):
    with open(data / "ran.log", "a", encoding="utf-8") as fh:
        fh.write(" ".join([*words, here.name, f"{{time.time():.3f}}"]) + "\\n")

from client.update.install import apply_at_start, mark_started

data.mkdir(parents=True, exist_ok=True)
code = apply_at_start(data, args, running=version)
if code is not None:  # a new version ran in this one's place, or a runner will install it
    time.sleep(float(os.environ.get("FAKE_LINGER", "0")))
    note("handed-over", version)
    sys.exit(code)
note("ran", version, *args[2:])
mark_started(data, version)
"""


def program(folder: Path, version: str, *, broken: bool = False) -> Path:
    folder.mkdir(parents=True)
    (folder / "VERSION").write_text(version, encoding="utf-8")
    (folder / "program.py").write_text(PROGRAM.format(root=str(ROOT)), encoding="utf-8")
    exe = folder / "school-client"
    exe.write_text(f'#!/bin/sh\nexec "{sys.executable}" "$(dirname "$0")/program.py" "$@"\n')
    exe.chmod(0o755)
    if broken:
        (folder / "BROKEN").touch()
    return folder


def stage(data: Path, release: Path, version: str) -> None:
    """What client/update/channel.py leaves after verifying a release: staged/<version> and ready.json."""
    staged = updates_dir(data) / "staged"
    shutil.copytree(release, staged / version)
    write_json(
        staged / READY_FILE, {"version": version, "target": f"school-client-{version}.tar.gz"}
    )


def start(install: Path, data: Path, mode: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SCHOOL_CLIENT_")}
    env.update({ENV_INSTALL_DIR: str(install), ENV_MODE: mode, "FAKE_LINGER": str(LINGER)})
    done = subprocess.run(
        [str(install / "school-client"), "--data-dir", str(data), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    runner_ended(data)
    return done


def runner_ended(data: Path) -> None:
    """Once the runner named in `data` (if any) has finished its work (at most 30 s)."""
    runner = read_json(updates_dir(data) / RUNNER_FILE)
    deadline = time.monotonic() + 30
    while isinstance(runner, dict) and _alive(int(runner["pid"])):
        assert time.monotonic() < deadline, "the runner did not finish"
        time.sleep(0.05)


def ran(data: Path) -> list[tuple[str, str, str, float]]:
    """(what, version, folder, time) for each line of ran.log since the last call."""
    log = data / "ran.log"
    lines = log.read_text(encoding="utf-8").splitlines() if log.exists() else []
    log.unlink(missing_ok=True)
    return [(w[0], w[1], w[-2], float(w[-1])) for w in (line.split() for line in lines)]


def version_in(folder: Path) -> str:
    return (folder / "VERSION").read_text(encoding="utf-8")


@pytest.mark.parametrize("mode", ["swap", "runner"])
def test_a_staged_version_is_installed_at_start_and_one_that_fails_is_rolled_back(
    tmp_path: Path, mode: str
) -> None:
    install = program(tmp_path / "Programs" / "school-client", "1.0")
    beside = {  # what the installer put beside the program
        "school-client.ini": "[server]\nurl = https://edu.example\n",
        "update-root.json": "{}",
        "unins000.exe": "uninstaller",
        "unins000.dat": "its log",
    }
    for name, text in beside.items():
        (install / name).write_text(text, encoding="utf-8")
    data = tmp_path / "数据"
    stage(data, program(tmp_path / "v2", "2.0"), "2.0")

    if (
        mode == "runner"
    ):  # a command's caller waits for its own process: it runs the present version
        assert start(install, data, mode, "sync").returncode == 0
        assert [(w, v) for w, v, _, _ in ran(data)] == [("ran", "1.0")]
        assert (updates_dir(data) / "staged" / "2.0").is_dir()

    first = start(install, data, mode)  # a window start: 2.0 is installed and runs
    assert first.returncode == 0, first.stderr
    steps = ran(data)
    if mode == "runner":
        assert [(w, v, f) for w, v, f, _ in steps] == [
            (
                "handed-over",
                "1.0",
                "school-client",
            ),  # the old version started the runner and exited
            ("ran", "2.0", "school-client"),  # the runner swapped the folders and started 2.0
            ("handed-over", "1.0", RUNNER),  # and ended with its exit code
        ]
        assert steps[1][3] > steps[0][3]  # the runner waited for the old version to exit first
        # (the runner's copy goes once the runner has ended: test_update_leftovers.py)
    else:
        assert [(w, v, f) for w, v, f, _ in steps] == [
            ("ran", "2.0", "school-client"),
            ("handed-over", "1.0", "school-client"),
        ]
    assert version_in(install) == "2.0"
    assert version_in(install.with_name("school-client.previous")) == "1.0"
    for name, text in beside.items():
        assert (install / name).read_text(encoding="utf-8") == text, name
    state = load_state(data)
    assert (state.state, state.target_version) == ("installed", "2.0")
    assert not (updates_dir(data) / "staged").exists()

    stage(data, program(tmp_path / "v3", "3.0", broken=True), "3.0")
    second = start(install, data, mode)  # 3.0 cannot start: 2.0 is put back and goes on
    assert second.returncode == 0, second.stderr
    runner_folder = RUNNER if mode == "runner" else "school-client"
    assert [(w, v, f) for w, v, f, _ in ran(data)][-1] == ("ran", "2.0", runner_folder)
    assert version_in(install) == "2.0"
    assert not install.with_name("school-client.failed").exists()  # staged again for another try
    assert (updates_dir(data) / "staged" / "3.0" / "BROKEN").is_file()
    state = load_state(data)
    assert (state.state, state.target_version, state.blocked) == ("rolled_back", "3.0", [])
    assert state.failures == 1 and "3.0 failed its first start (exit code 3)" in (state.error or "")
    for _ in range(MAX_START_TRIES - 1):  # tried again at the next starts, then blocked
        assert start(install, data, mode).returncode == 0
        assert [(w, v) for w, v, _, _ in ran(data)][-1] == ("ran", "2.0")
    state = load_state(data)
    assert (state.blocked, state.failures) == (["3.0"], MAX_START_TRIES)
    # each try was a runner that came up and rolled back, none one that died (it would be given up)
    assert state.state == "rolled_back" and "not tried again" in (state.error or "")
    assert not (updates_dir(data) / "staged").exists()
    assert not install.with_name("school-client.failed").exists()

    third = start(install, data, mode)  # nothing left to install; the runner folder is gone
    assert third.returncode == 0, third.stderr
    assert [(w, v, f) for w, v, f, _ in ran(data)] == [("ran", "2.0", "school-client")]
    assert not (updates_dir(data) / RUNNER).exists()


def test_a_blocked_version_is_not_installed_again(tmp_path: Path) -> None:
    install = program(tmp_path / "Programs" / "school-client", "2.0")
    data = tmp_path / "data"
    stage(data, program(tmp_path / "v3", "3.0"), "3.0")
    write_json(updates_dir(data) / "state.json", {"state": "rolled_back", "blocked": ["3.0"]})
    assert start(install, data, "runner").returncode == 0
    assert [(w, v) for w, v, _, _ in ran(data)] == [("ran", "2.0")]
    assert not (updates_dir(data) / "staged").exists() and version_in(install) == "2.0"


def test_a_runner_that_dies_twice_gives_the_version_up_and_the_program_opens(
    tmp_path: Path,
) -> None:
    install = program(tmp_path / "Programs" / "school-client", "1.0")
    (install / "RUNNER_DIES").touch()
    data = tmp_path / "data"
    stage(data, program(tmp_path / "v2", "2.0"), "2.0")
    for _ in range(2):  # the old version hands over and exits; its runner dies: nothing opens
        assert start(install, data, "runner").returncode == 0
        assert [(w, v) for w, v, _, _ in ran(data)] == [("handed-over", "1.0")]
    assert read_json(updates_dir(data) / RUNNER_FILE)["tries"] == 2
    assert start(install, data, "runner").returncode == 0  # the third start runs 1.0 itself
    assert [(w, v) for w, v, _, _ in ran(data)] == [("ran", "1.0")]
    state = load_state(data)
    assert (state.state, state.blocked, state.failures) == ("failed", ["2.0"], 1)
    assert "runner ended 2 times" in (state.error or "")
    assert (
        "blocked_at" in state.start_failures["2.0"]
    )  # lifted after days, not at once as an old block
    assert version_in(install) == "1.0" and not (updates_dir(data) / "staged").exists()


def test_an_exited_process_not_yet_reaped_counts_as_ended() -> None:
    """The runner's parent (the old version) exits before whoever started it reaps it."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    deadline = time.monotonic() + 10
    while _alive(child.pid):
        assert time.monotonic() < deadline, "an exited child still counts as running"
        time.sleep(0.02)
    assert child.poll() == 0  # reaped only now
    assert _alive(os.getpid())


def test_the_uninstall_entry_updated_is_the_one_the_installer_makes() -> None:
    """Add/Remove Programs' version (Windows): Inno Setup's key is the script's AppId + "_is1"."""
    iss = (ROOT / "installer" / "school-client.iss").read_text(encoding="utf-8")
    app_id = re.search(r"^AppId=\{(\{[0-9A-F-]+\})", iss, re.MULTILINE)
    assert app_id is not None
    assert UNINSTALL_KEY.endswith("\\" + app_id.group(1) + "_is1")
