"""The whole update cycle with real PyInstaller bundles and a real server (issue 16, docs/updates.md).

Marked `slow` (one build from build.spec, minutes; .ci/run's slow step). The bundle is built once; the second
and third "releases" are copies of it that carry another version in their school_data dist-info (what
`school-client --version` and the update check read) - real frozen programs, not rebuilt, which keeps the
step to one build. The third has its Python library removed: a release that cannot start.

    v1 (installed, with the bureau's update-root.json beside it) syncs with the server:
      a tampered v2 archive is refused, v1 keeps running and stays v1;
      the genuine v2 is verified and staged; the next start swaps the folder and v2 runs;
    v2 stages v3, which fails its first start: the folder is swapped back and v2 goes on.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from client.update.state import load_state, updates_dir
from sync_server.app import create_app
from sync_server.cli import main as server_cli
from sync_server.services.schools import add_school
from sync_server.state import get_state
from tests.packaging.test_bundle import Bundle, _env  # the build: tests/packaging/conftest.py
from tests.server.conftest import serve

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1800)]


def _release(built: Path, dest: Path, version: str, *, broken: bool = False) -> Path:
    """A copy of the built bundle that says it is `version`."""
    shutil.copytree(built, dest, symlinks=True)
    internal = dest / "_internal"
    for info in [
        *internal.glob("school_data-*.dist-info"),
        *internal.glob("school_data*.egg-info"),
    ]:
        shutil.rmtree(info)  # the build's own version
    meta = internal / f"school_data-{version}.dist-info"
    meta.mkdir()
    (meta / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: school-data\nVersion: {version}\n", encoding="utf-8"
    )
    if broken:
        libs = list(internal.glob("libpython3*.so*"))
        assert libs, sorted(p.name for p in internal.iterdir())[:50]
        for lib in libs:
            lib.unlink()
    return dest


class Server:
    def __init__(self, folder: Path) -> None:
        self.instance = folder / "instance"
        self.db = f"sqlite:///{folder / 'sync.db'}"
        self.keys = folder / "keys"
        self.app = create_app(
            {"INSTANCE_PATH": str(self.instance), "DATABASE_URL": self.db, "SECRET_KEY": "e2e"}
        )
        self.http, self.thread = serve(self.app)
        self.url = f"http://127.0.0.1:{self.http.server_port}"
        assert server_cli(["make-update-keys", "--out", str(self.keys)]) == 0

    def cli(self, *args: str) -> None:
        assert server_cli([*args, "--instance", str(self.instance), "--db", self.db]) == 0, args

    def publish(self, folder: Path, school: str) -> None:
        self.cli("publish-client", str(folder), "--keys", str(self.keys), "--schools", school)

    def stop(self) -> None:
        self.http.shutdown()
        self.http.server_close()
        self.thread.join(5)
        get_state(self.app).db.engine.dispose()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    s = Server(tmp_path / "bureau")
    try:
        yield s
    finally:
        s.stop()


def _run(exe: Path, data: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(exe), "--data-dir", str(data), *args],
        capture_output=True,
        text=True,
        env=_env(),
        timeout=300,
    )


def _version(exe: Path, data: Path) -> str:
    out = _run(exe, data, "--version")
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def test_v1_updates_itself_to_v2_refuses_a_tampered_archive_and_rolls_back_a_v3_that_fails(
    bundle: Bundle,
    server: Server,
    tmp_path: Path,
) -> None:
    from client.cli import package_version

    v1 = package_version()
    major, minor, *_ = (int(n) for n in [*re.findall(r"\d+", v1), "0", "0"])
    v2, v3 = f"{major}.{minor + 1}.0", f"{major}.{minor + 2}.0"
    releases = tmp_path / "releases"
    program = _release(bundle.folder, tmp_path / "Programs" / "school-client", v1)
    exe = program / "school-client"
    data = tmp_path / "数据"
    with get_state(server.app).db.Session.begin() as s:
        code = add_school(s, code="S001", name="城关镇中心小学", now=get_state(server.app).now())
    server.publish(_release(bundle.folder, releases / "v2", v2), "S001")
    metadata = server.instance / "updates" / "metadata"
    shutil.copyfile(metadata / "1.root.json", program / "update-root.json")  # shipped with v1
    enrolled = _run(exe, data, "enroll", "--server", server.url, "--code", code.enrollment_code)
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
    assert _run(exe, data, "sync").returncode == 0 and _version(exe, data) == f"school-client {v1}"
    failures = load_state(data).failures  # each refused try counts (two syncs here)

    # The genuine archive: verified, staged, installed at the next start.
    archive.write_bytes(genuine)
    assert _run(exe, data, "sync").returncode == 0
    assert load_state(data).state == "staged"
    installed = _run(exe, data, "sync")  # v1 swaps the folder and runs v2, which syncs
    assert installed.returncode == 0, installed.stderr
    assert _version(exe, data) == f"school-client {v2}"
    assert (program.with_name("school-client.previous") / "school-client").is_file()
    assert load_state(data).state == "installed"

    # A v3 that cannot start: rolled back, v2 goes on and does not take it again.
    server.publish(_release(bundle.folder, releases / "v3", v3, broken=True), "S001")
    assert _run(exe, data, "sync").returncode == 0  # v2 stages v3
    failed = _run(exe, data, "sync")
    assert failed.returncode == 0, failed.stderr  # v3 failed; v2 ran the sync itself
    assert _version(exe, data) == f"school-client {v2}"
    state = load_state(data)
    assert (state.state, state.blocked, state.failures) == ("rolled_back", [v3], failures + 1)
    assert (program.with_name("school-client.failed") / "school-client").is_file()
    assert _run(exe, data, "sync").returncode == 0 and _version(exe, data) == f"school-client {v2}"
    print(
        f"\n[update] {v1} -> {v2} installed, {v3} rolled back; {sys.platform}, {os.cpu_count()} cores"
    )
