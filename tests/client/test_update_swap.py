"""The program folder's swap cut short, and a swap that cannot be done (review F1, F3), with the small fake
program of tests/client/test_update_install.py run as processes.

F1: the release is first moved beside the program folder (`<program>.new`), then two quick renames follow,
journalled in `<data>/updates/swap.json`; a start after a crash at either point runs the right version.
F3: a program folder that cannot be renamed (in use) is counted; after SWAP_TRIES starts the version is
given up (runner mode would otherwise copy the program and open from the copy at every start).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from client.update.install import RUNNER, SWAP_FILE, SWAP_TRIES
from client.update.state import READY_FILE, load_state, updates_dir, write_json
from tests.client.test_update_install import program, ran, stage, start, version_in


def dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def crashed_swap(data: Path, install: Path, version: str) -> None:
    """What a process killed during the swap leaves: the journal, ready.json (its release moved away)."""
    write_json(updates_dir(data) / "staged" / READY_FILE, {"version": version})
    write_json(
        updates_dir(data) / SWAP_FILE,
        {"version": version, "from": "1.0", "target": str(install), "pid": dead_pid()},
    )


@pytest.mark.parametrize("mode", ["swap", "runner"])
def test_the_release_goes_beside_the_program_first_and_nothing_is_left(
    tmp_path: Path, mode: str
) -> None:
    install = program(tmp_path / "Programs" / "school-client", "1.0")
    data = tmp_path / "data"
    stage(data, program(tmp_path / "v2", "2.0"), "2.0")
    assert start(install, data, mode).returncode == 0
    assert version_in(install) == "2.0"
    assert not install.with_name("school-client.new").exists()
    assert not (updates_dir(data) / SWAP_FILE).exists()


def test_a_crash_before_the_renames_installs_the_new_version_at_the_next_start(
    tmp_path: Path,
) -> None:
    install = program(tmp_path / "Programs" / "school-client", "1.0")
    program(tmp_path / "Programs" / "school-client.new", "2.0")  # moved beside, not yet renamed
    data = tmp_path / "data"
    crashed_swap(data, install, "2.0")
    assert start(install, data, "swap").returncode == 0
    assert [(w, v) for w, v, _, _ in ran(data)] == [("ran", "2.0"), ("handed-over", "1.0")]
    assert (
        version_in(install) == "2.0"
        and version_in(install.with_name("school-client.previous")) == "1.0"
    )
    assert not install.with_name("school-client.new").exists()
    assert not (updates_dir(data) / SWAP_FILE).exists()
    state = load_state(data)
    assert (state.state, state.target_version) == ("installed", "2.0")


def test_a_crash_between_the_renames_is_undone_by_the_next_start_from_elsewhere(
    tmp_path: Path,
) -> None:
    """No program folder (renamed to .previous, .new not yet in its place): a start from another copy of
    the program (the runner's) puts the old one back and installs the new one again."""
    install = tmp_path / "Programs" / "school-client"
    program(tmp_path / "Programs" / "school-client.previous", "1.0")
    program(tmp_path / "Programs" / "school-client.new", "2.0")
    other = program(updates_dir(tmp_path / "data") / RUNNER, "1.0")
    data = tmp_path / "data"
    crashed_swap(data, install, "2.0")
    env = {k: v for k, v in os.environ.items() if not k.startswith("SCHOOL_CLIENT_")}
    env.update({"SCHOOL_CLIENT_INSTALL_DIR": str(install), "SCHOOL_CLIENT_UPDATE_MODE": "swap"})
    done = subprocess.run(
        [str(other / "school-client"), "--data-dir", str(data)],
        capture_output=True, text=True, env=env, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert [(w, v, f) for w, v, f, _ in ran(data)] == [
        ("ran", "2.0", "school-client"),
        ("handed-over", "1.0", RUNNER),
    ]
    assert (
        version_in(install) == "2.0"
        and version_in(install.with_name("school-client.previous")) == "1.0"
    )
    assert not install.with_name("school-client.new").exists()
    assert not (updates_dir(data) / SWAP_FILE).exists()


def test_a_crash_after_the_renames_counts_as_installed_when_the_new_version_runs(
    tmp_path: Path,
) -> None:
    install = program(tmp_path / "Programs" / "school-client", "2.0")  # both renames done
    program(tmp_path / "Programs" / "school-client.previous", "1.0")
    data = tmp_path / "data"
    crashed_swap(data, install, "2.0")
    assert start(install, data, "swap").returncode == 0
    assert [(w, v) for w, v, _, _ in ran(data)] == [("ran", "2.0")]
    assert version_in(install.with_name("school-client.previous")) == "1.0"
    assert not (updates_dir(data) / SWAP_FILE).exists()
    state = load_state(data)
    assert (state.state, state.target_version) == ("installed", "2.0")


def test_a_program_folder_that_cannot_be_renamed_gives_the_version_up_after_a_few_starts(
    tmp_path: Path,
) -> None:
    install = program(tmp_path / "Programs" / "school-client", "1.0")
    # A file where the old version would go: the rename fails at every start (as a folder in use would).
    install.with_name("school-client.previous").write_text("in the way", encoding="utf-8")
    data = tmp_path / "data"
    stage(data, program(tmp_path / "v2", "2.0"), "2.0")
    for _ in range(
        SWAP_TRIES
    ):  # the runner copies the program, fails the swap, opens from the copy
        assert start(install, data, "runner").returncode == 0
        assert [(w, v, f) for w, v, f, _ in ran(data)][-1] == ("ran", "1.0", RUNNER)
        assert version_in(install) == "1.0"
    state = load_state(data)
    assert (state.state, state.target_version, state.blocked) == ("failed", "2.0", ["2.0"])
    assert "program folder in use" in (state.error or "")
    assert state.report("1.0")["error"] == " ".join((state.error or "").split())
    assert start(install, data, "runner").returncode == 0  # no more runner: 1.0 opens itself
    assert [(w, v, f) for w, v, f, _ in ran(data)] == [("ran", "1.0", "school-client")]
    assert not (updates_dir(data) / "staged").exists()
    assert not install.with_name("school-client.new").exists()


@pytest.mark.skipif(not Path("/dev/shm").is_dir(), reason="needs a second file system (tmpfs)")
def test_a_kill_while_the_release_is_copied_from_another_disk_leaves_the_program_whole(
    tmp_path: Path,
) -> None:
    """The data folder on another disk: the release is copied (~160 MB in the product). The installing
    process is SIGKILLed while it copies; the program folder is whole and the next start installs."""
    import signal
    import tempfile
    import time

    install = program(tmp_path / "Programs" / "school-client", "1.0")
    data = Path(tempfile.mkdtemp(prefix="update-data-", dir="/dev/shm"))
    try:
        release = program(data / "release", "2.0")
        with (release / "big.bin").open(
            "wb"
        ) as fh:  # written first by the copy (scandir order aside)
            for _ in range(256):
                fh.write(b"\0" * (1 << 20))
        stage(data, release, "2.0")
        shutil.rmtree(release)
        env = {k: v for k, v in os.environ.items() if not k.startswith("SCHOOL_CLIENT_")}
        env.update({"SCHOOL_CLIENT_INSTALL_DIR": str(install), "SCHOOL_CLIENT_UPDATE_MODE": "swap"})
        proc = subprocess.Popen([str(install / "school-client"), "--data-dir", str(data)], env=env)
        deadline = time.monotonic() + 30
        copies = [
            install.with_name("school-client.new") / "big.bin",
            install / "big.bin",  # (where the release went before review F1)
        ]
        while not any(p.exists() for p in copies):
            assert proc.poll() is None and time.monotonic() < deadline, "no copy seen"
            time.sleep(0.001)
        os.kill(proc.pid, signal.SIGKILL)  # the power goes
        proc.wait(10)
        assert version_in(install) == "1.0"  # the program folder is whole
        assert (install / "school-client").is_file()

        assert start(install, data, "swap").returncode == 0  # the next start installs it
        assert [(w, v) for w, v, _, _ in ran(data)] == [("ran", "2.0"), ("handed-over", "1.0")]
        assert version_in(install) == "2.0" and (install / "big.bin").stat().st_size == 256 << 20
        assert not install.with_name("school-client.new").exists()
        assert (load_state(data).state, load_state(data).target_version) == ("installed", "2.0")
    finally:
        shutil.rmtree(data, ignore_errors=True)
