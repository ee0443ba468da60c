"""A new version's first start after an update (issue 16; tester's findings #1, #2, #15, #26 of
/work/notes/update-trial.md). Real processes: two program folders of the real client (`school-client` runs
client.cli.main from this source tree; the folder's dist-info gives its version, as a PyInstaller bundle's
does), swapped on disk by client/update/install.py; a broken release is a shell script that exits 127 (a
library missing in the build).

"Started" means the program came up - the command parsed and the store opened by the new version - not the
command's own result: a sync without network (exit 1), a mistyped file name or a server's refusal (exit 2)
say nothing about the new version, and must neither roll it back nor run the command a second time.
"""

from __future__ import annotations

import datetime as dt
import shutil
import subprocess
import sys
from pathlib import Path

from client.update.retry import BLOCK_DAYS, MAX_START_TRIES, lift_expired
from client.update.state import (
    READY_FILE,
    UpdateState,
    load_state,
    save_state,
    updates_dir,
    write_json,
)
from tests.support.releases import ROOT, launcher, run_program

NOT_ENROLLED = "尚未注册"


def stage(data: Path, release: Path, version: str, sha256: str = "ab" * 32) -> None:
    """What client/update/channel.py leaves after verifying a release."""
    staged = updates_dir(data) / "staged"
    shutil.copytree(release, staged / version, symlinks=True)
    target = f"linux/school-client-{version}.tar.gz"
    write_json(staged / READY_FILE, {"version": version, "target": target, "sha256": sha256})


def run(install: Path, data: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return run_program(install, data, *args, mode="swap")


def version_of(install: Path) -> str:
    return next(install.glob("school_data-*.dist-info")).name.split("-")[1].removesuffix(".dist")


def with_store(data: Path) -> Path:
    """A data folder holding a store (not enrolled: `sync` is refused, exit 2, after opening it)."""
    from client.context import ClientContext

    ClientContext.open(data).close()
    return data


def test_a_first_start_whose_command_fails_keeps_the_new_version_and_runs_the_command_once(
    tmp_path: Path,
) -> None:
    """#1/#2: the new version opened the store and ran `sync`, which was refused (here: not enrolled; the
    same as no network or a 426): exit 2 is the command's, passed through; nothing is rolled back or run
    again by the old version."""
    install = launcher(tmp_path / "Programs" / "school-client", "1.0.0")
    data = with_store(tmp_path / "data")
    stage(data, launcher(tmp_path / "v2", "2.0.0"), "2.0.0")

    done = run(install, data, "sync")

    assert done.returncode == 2, done.stderr
    assert done.stderr.count(NOT_ENROLLED) == 1, done.stderr  # run once, by 2.0.0
    assert version_of(install) == "2.0.0"
    state = load_state(data)
    assert (state.state, state.target_version, state.blocked) == ("installed", "2.0.0", [])
    assert state.failures == 0 and state.error is None
    assert not install.with_name("school-client.failed").exists()


def test_a_first_start_with_a_mistyped_file_keeps_the_new_version(tmp_path: Path) -> None:
    """#1: the clerk's typo (exit 2) at the first start, in a folder without a store yet."""
    install = launcher(tmp_path / "Programs" / "school-client", "1.0.0")
    data = tmp_path / "data"
    stage(data, launcher(tmp_path / "v2", "2.0.0"), "2.0.0")

    done = run(install, data, "import", "--form", "x", str(tmp_path / "nosuchfile.xlsx"))

    assert done.returncode == 2, done.stderr
    assert done.stderr.count("找不到文件") == 1, done.stderr
    assert version_of(install) == "2.0.0"
    state = load_state(data)
    assert (state.state, state.target_version, state.blocked) == ("installed", "2.0.0", [])


def test_the_report_says_installed_during_the_new_versions_first_start(tmp_path: Path) -> None:
    """#15: the new version's first sync reports `installed` (not `staged`): the mark sets it, before
    the command runs. A fake 2.0.0 notes the state its command sees."""
    install = launcher(tmp_path / "Programs" / "school-client", "1.0.0")
    data = with_store(tmp_path / "data")
    release = launcher(tmp_path / "v2", "2.0.0")
    seen = tmp_path / "seen.txt"
    (release / "spy.py").write_text(  # 2.0.0 notes the state its command starts with
        "import json, sys\n"
        f"sys.path[:0] = [{str(release)!r}, {str(ROOT)!r}]\n"
        "import client.cli as c\n"
        "real = c._run\n"
        "def spy(args, data_dir):\n"
        "    s = json.loads((data_dir / 'updates' / 'state.json').read_text())\n"
        f"    open({str(seen)!r}, 'w').write(s['state'] + ' ' + str(s['target_version']))\n"
        "    return real(args, data_dir)\n"
        "c._run = spy\n"
        "sys.exit(c.main())\n",
        encoding="utf-8",
    )
    (release / "school-client").write_text(
        f'#!/bin/sh\nexec "{sys.executable}" "$(dirname "$0")/spy.py" "$@"\n'
    )
    stage(data, release, "2.0.0")
    before = load_state(data)
    before.state, before.target_version = "staged", "2.0.0"
    save_state(data, before)

    done = run(install, data, "sync")

    assert done.returncode == 2, done.stderr
    assert seen.read_text(encoding="utf-8") == "installed 2.0.0"


def test_a_version_that_cannot_start_is_tried_again_then_blocked_and_leaves_no_failed_folder(
    tmp_path: Path,
) -> None:
    """#1/#2/#26: a release that never comes up (exit 127 before any command) is rolled back and the old
    version runs the command (it never ran); it is tried again at the next starts, MAX_START_TRIES in all,
    then blocked. No `school-client.failed` bundle is left beside the program: between tries the release
    waits in the data folder's staged/, once blocked it is removed."""
    install = launcher(tmp_path / "Programs" / "school-client", "1.0.0")
    data = tmp_path / "data"
    stage(data, launcher(tmp_path / "v2", "2.0.0", broken=True), "2.0.0")
    folder = updates_dir(data)

    for attempt in range(1, MAX_START_TRIES + 1):
        done = run(install, data, "sync")
        assert done.returncode == 2, done.stderr  # 1.0.0's own answer: no client data here
        assert "error while loading shared libraries" in done.stderr
        assert done.stderr.count("没有客户端数据") == 1  # run by 1.0.0, once
        assert version_of(install) == "1.0.0"
        assert not install.with_name("school-client.failed").exists()
        state = load_state(data)
        assert (state.state, state.target_version) == ("rolled_back", "2.0.0")
        assert state.failures == attempt
        assert "2.0.0 failed its first start (exit code 127)" in (state.error or "")
        if attempt < MAX_START_TRIES:
            assert state.blocked == []
            assert (folder / "staged" / "2.0.0" / "school-client").is_file()  # tried again
        else:
            assert state.blocked == ["2.0.0"]
            assert not (folder / "staged").exists()

    done = run(install, data, "sync")  # blocked: not tried again
    assert "error while loading shared libraries" not in done.stderr
    assert load_state(data).failures == MAX_START_TRIES


def test_a_block_is_lifted_after_some_days_for_one_more_try() -> None:
    """A blocked version gets one more try BLOCK_DAYS after it was blocked (the bureau may have fixed what
    made it fail on this PC); so does a version blocked by an older client's rule (one failure of any
    kind, with no record of its tries)."""
    now = dt.datetime(2026, 12, 1, 10, tzinfo=dt.UTC)
    state = UpdateState(state="rolled_back", target_version="3.0", blocked=["2.0", "3.0"])
    state.start_failures = {
        "3.0": {"tries": MAX_START_TRIES, "blocked_at": (now - dt.timedelta(days=1)).isoformat()}
    }
    assert lift_expired(state, now=now) == ["2.0"]  # the older rule's block
    assert state.blocked == ["3.0"]
    later = now + dt.timedelta(days=BLOCK_DAYS)
    assert lift_expired(state, now=later) == ["3.0"]
    assert state.blocked == [] and state.start_failures["3.0"]["tries"] == MAX_START_TRIES - 1
