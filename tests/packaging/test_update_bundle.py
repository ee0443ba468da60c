"""The whole update cycle with two real PyInstaller bundles and a real server (issue 16, docs/updates.md).

Marked `slow` (.ci/run's slow step). v1 and v2 are two builds of build.spec (tests/packaging/conftest.py: v2 is
built with SCHOOL_CLIENT_BUILD_VERSION, reusing v1's analysis). The updates are installed the Windows way
(SCHOOL_CLIENT_UPDATE_MODE=runner, the default on Windows): the old version copies itself to
<data>/updates/runner, starts the copy and exits; the copy swaps the folders once it has, runs the new version
and rolls back. v3 is a broken copy of v2: its executable without its libraries, a release that cannot start.

    v1 (installed, with the bureau's update-root.json beside it) syncs with the server:
      a tampered v2 archive is refused, v1 keeps running and stays v1;
      the genuine v2 is verified and staged; the next window start hands over to the runner and v2 runs;
    v2 stages v3, which fails its first start: the folders are swapped back and v2 goes on.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import pytest

from client.update.install import ENV_MODE, RUNNER, RUNNER_FILE, _alive
from client.update.state import load_state, read_json, updates_dir
from tests.packaging.conftest import Server, next_version
from tests.packaging.test_bundle import Bundle, _env

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1800)]


def _broken(built: Path, dest: Path, version: str) -> Path:
    """A release that cannot start: the build's executable without the libraries it loads - a bundle by
    its shape (program and dist-info at the top, as publish-client requires), carrying `version`."""
    dest.mkdir(parents=True)
    exe = next(p for p in built.iterdir() if p.name.startswith("school-client") and p.is_file())
    shutil.copy2(exe, dest / exe.name)
    info = dest / "_internal" / f"school_data-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: school-data\nVersion: {version}\n", encoding="utf-8"
    )
    return dest


def _archive(folder: Path, out: Path) -> Path:
    """The release archive publish-client would make of the folder (sync_server/updates_repo.pack_folder:
    its files at the top), packed at gzip level 1: the default level 9 spends half a minute on 160 MB."""
    out.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(out, "w:gz", format=tarfile.PAX_FORMAT, compresslevel=1) as tar:
        found = [Path(r) / n for r, dirs, files in os.walk(folder) for n in [*dirs, *files]]
        for path in sorted(found):
            tar.add(path, arcname=path.relative_to(folder).as_posix(), recursive=False)
    return out


def _run(exe: Path, data: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """A start of the installed program; returns once it - and a runner it started - has finished."""
    done = subprocess.run(
        [str(exe), "--data-dir", str(data), *args],
        capture_output=True,
        text=True,
        env=_env(**{ENV_MODE: "runner"}),
        timeout=300,
    )
    runner = read_json(updates_dir(data) / RUNNER_FILE)
    deadline = time.monotonic() + 120
    while isinstance(runner, dict) and _alive(int(runner["pid"])):
        assert time.monotonic() < deadline, "the runner did not finish"
        time.sleep(0.05)
    return done


def _version(exe: Path, data: Path) -> str:
    out = _run(exe, data, "--version")
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def test_v1_updates_itself_to_v2_refuses_a_tampered_archive_and_rolls_back_a_v3_that_fails(
    bundle: Bundle,
    bundle_v2: Bundle,
    server: Server,
    tmp_path: Path,
) -> None:
    clock = time.monotonic()
    times: dict[str, float] = {}

    def lap(name: str) -> None:
        nonlocal clock
        times[name], clock = time.monotonic() - clock, time.monotonic()

    v1, v2, v3 = bundle.version, bundle_v2.version, next_version(bundle_v2.version)
    program = tmp_path / "Programs" / "school-client"
    shutil.copytree(bundle.folder, program, symlinks=True)  # installed v1
    exe = program / bundle.exe.name
    data = tmp_path / "数据"
    server.make_keys()
    code = server.add_school("S001", "城关镇中心小学")
    lap("copy v1")
    server.publish(_archive(bundle_v2.folder, tmp_path / f"school-client-{v2}.tar.gz"), "S001")
    lap("publish v2")
    metadata = server.instance / "updates" / "metadata"
    shutil.copyfile(metadata / "1.root.json", program / "update-root.json")  # shipped with v1
    enrolled = _run(exe, data, "enroll", "--server", server.url, "--code", code)
    assert enrolled.returncode == 0, (enrolled.stdout, enrolled.stderr)

    # A tampered archive on the server: refused; v1 syncs and keeps running.
    archive = next((server.instance / "updates" / "targets").rglob(f"*{v2}*"))
    genuine = archive.read_bytes()
    archive.write_bytes(genuine[:1000] + bytes(reversed(genuine[1000:2000])) + genuine[2000:])
    synced = _run(exe, data, "sync")
    assert synced.returncode == 0, synced.stderr
    state = load_state(data)
    assert state.state == "failed" and "LengthOrHashMismatch" in (state.error or "")
    assert not (updates_dir(data) / "staged").exists()
    assert _version(exe, data) == f"school-client {v1}"
    failures = load_state(data).failures
    lap("tampered")

    # The genuine archive: verified and staged; the next window start installs it.
    archive.write_bytes(genuine)
    assert _run(exe, data, "sync").returncode == 0
    assert load_state(data).state == "staged"
    lap("stage v2")
    installed = _run(exe, data, "--smoke-test")  # v1 hands over to its runner, which starts v2
    assert installed.returncode == 0, installed.stderr
    assert "smoke ok" in installed.stdout, (installed.stdout, installed.stderr)
    assert _version(exe, data) == f"school-client {v2}"
    assert (program.with_name("school-client.previous") / exe.name).is_file()
    assert (program / "update-root.json").is_file()  # kept beside the program
    assert load_state(data).state == "installed"
    lap("install v2")

    # A v3 that cannot start: rolled back, v2 goes on. (Whether v3 is blocked at once or tried again at the
    # next starts is client/update/install.py's rule, tested in tests/client/test_update_install.py.)
    server.publish(_broken(bundle_v2.folder, tmp_path / "releases" / "v3", v3), "S001", v3)
    assert _run(exe, data, "sync").returncode == 0  # v2 stages v3
    assert load_state(data).state == "staged"
    failed = _run(exe, data, "--smoke-test")  # v3 fails; the runner (v2) opens the window itself
    assert failed.returncode == 0, failed.stderr
    assert "smoke ok" in failed.stdout, (failed.stdout, failed.stderr)
    state = load_state(data)
    # (v2's good first start reset the count: failures since the last good install)
    assert (state.state, state.target_version, state.failures) == ("rolled_back", v3, 1)
    assert failures == 1
    assert f"{v3} failed its first start" in (state.error or "")
    assert _run(exe, data, "sync").returncode == 0 and _version(exe, data) == f"school-client {v2}"
    assert not (updates_dir(data) / RUNNER).exists()  # removed once its work was done
    lap("roll back v3")
    print(
        f"\n[update] {v1} -> {v2} installed, {v3} rolled back; {sys.platform}, {os.cpu_count()} cores; "
        + ", ".join(f"{k} {v:.1f} s" for k, v in times.items())
    )
