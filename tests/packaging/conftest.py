"""The client bundles built once for the whole slow step: tests/packaging/test_bundle.py runs v1 (the
package's version), tests/packaging/test_update_bundle.py updates v1 to v2 - a second real PyInstaller run
of build.spec with SCHOOL_CLIENT_BUILD_VERSION, into another dist folder. Both use the same --workpath, so the
second build reuses the first's analysis and executables (build.spec sets the version after the analysis)
and only collects the folder again: seconds, not another full build."""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from sync_server.app import create_app
from sync_server.cli import main as server_cli
from sync_server.services.schools import add_school
from sync_server.state import get_state
from tests.packaging.test_bundle import EXE_SUFFIX, ROOT, Bundle
from tests.server.conftest import serve

ENV_BUILD_VERSION = "SCHOOL_CLIENT_BUILD_VERSION"  # read by build.spec


def _ensure_pyinstaller() -> None:
    if importlib.util.find_spec("PyInstaller") is None:
        subprocess.run(
            [sys.executable, "-m", "pip", "install", "-q", "pyinstaller>=6.3"], check=True
        )


def next_version(version: str, step: int = 1) -> str:
    major, minor, *_ = (int(n) for n in [*re.findall(r"\d+", version), "0", "0"])
    return f"{major}.{minor + step}.0"


def build(work: Path, dist: str, version: str | None) -> Bundle:
    env = {k: v for k, v in os.environ.items() if k != ENV_BUILD_VERSION}
    if version is not None:
        env[ENV_BUILD_VERSION] = version
    started = time.monotonic()
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "PyInstaller",
            "--noconfirm",
            "--log-level",
            "WARN",
            "--distpath",
            str(work / dist),
            "--workpath",
            str(work / "build"),
            str(ROOT / "build.spec"),
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    elapsed = time.monotonic() - started
    assert proc.returncode == 0, proc.stderr[-4000:]
    folder = work / dist / "school-client"
    exe = folder / f"school-client{EXE_SUFFIX}"
    assert exe.is_file(), sorted(os.listdir(folder))
    from client.cli import package_version

    built = Bundle(folder, exe, elapsed, version or package_version())
    print(
        f"\n[bundle] {built.version} built in {elapsed:.0f} s, {built.size_mb():.0f} MB, {folder}"
    )
    return built


@pytest.fixture(scope="session")
def build_work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    _ensure_pyinstaller()
    return tmp_path_factory.mktemp("pyinstaller")


@pytest.fixture(scope="session")
def bundle(build_work: Path) -> Bundle:
    """v1: the package's own version, as a release build."""
    return build(build_work, "dist", None)


@pytest.fixture(scope="session")
def bundle_v2(bundle: Bundle, build_work: Path) -> Bundle:
    """v2: the same sources built again as the next minor version (after v1: its analysis is reused)."""
    return build(build_work, "dist-v2", next_version(bundle.version))


class Server:
    """The bureau's server on loopback (real Flask app, SQLite) with its update signing keys."""

    def __init__(self, folder: Path) -> None:
        self.instance = folder / "instance"
        self.db = f"sqlite:///{folder / 'sync.db'}"
        self.keys = folder / "keys"
        self.app = create_app(
            {"INSTANCE_PATH": str(self.instance), "DATABASE_URL": self.db, "SECRET_KEY": "e2e"}
        )
        self.http, self.thread = serve(self.app)
        self.url = f"http://127.0.0.1:{self.http.server_port}"

    def make_keys(self) -> None:
        assert server_cli(["make-update-keys", "--out", str(self.keys)]) == 0

    def add_school(self, code: str, name: str) -> str:
        """The school's enrollment code."""
        state = get_state(self.app)
        with state.db.Session.begin() as s:
            return str(add_school(s, code=code, name=name, now=state.now()).enrollment_code)

    def cli(self, *args: str) -> None:
        assert server_cli([*args, "--instance", str(self.instance), "--db", self.db]) == 0, args

    def publish(self, folder: Path, school: str, *version: str) -> None:
        more = ["--version", *version] if version else []
        self.cli(
            "publish-client", str(folder), "--keys", str(self.keys), "--schools", school, *more
        )

    def stop(self) -> None:
        self.http.shutdown()
        self.http.server_close()
        self.thread.join(5)
        get_state(self.app).db.close()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    s = Server(tmp_path / "bureau")
    try:
        yield s
    finally:
        s.stop()
