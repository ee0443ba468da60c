"""The client bundle built once for the whole slow step: tests/packaging/test_bundle.py runs it,
tests/packaging/test_update_bundle.py makes its releases from copies of it (a build takes minutes)."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest

from tests.packaging.test_bundle import EXE_SUFFIX, ROOT, Bundle


def _ensure_pyinstaller() -> None:
    if importlib.util.find_spec("PyInstaller") is None:
        subprocess.run(
            [sys.executable, "-m", "pip", "install", "-q", "pyinstaller>=6.3"], check=True
        )


@pytest.fixture(scope="session")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Bundle]:
    _ensure_pyinstaller()
    work = tmp_path_factory.mktemp("pyinstaller")
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
            str(work / "dist"),
            "--workpath",
            str(work / "build"),
            str(ROOT / "build.spec"),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    elapsed = time.monotonic() - started
    assert proc.returncode == 0, proc.stderr[-4000:]
    folder = work / "dist" / "school-client"
    exe = folder / f"school-client{EXE_SUFFIX}"
    assert exe.is_file(), sorted(os.listdir(folder))
    built = Bundle(folder, exe, elapsed)
    print(f"\n[bundle] build {elapsed:.0f} s, size {built.size_mb():.0f} MB, {folder}")
    yield built
