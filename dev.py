#!/usr/bin/env python3
"""Project bootstrap: `python3 dev.py run` and `python3 dev.py test` (see README "Quick start").

Creates .venv on first use, reinstalls only when pyproject.toml changes, then runs the job.
Uses only the standard library so that it works on a machine with nothing but Python 3.11+.
"""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
STAMP = VENV / ".installed-pyproject-sha256"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PY = BIN / ("python.exe" if os.name == "nt" else "python")


def _pyproject_hash() -> str:
    return hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()


def ensure_venv() -> None:
    if sys.version_info < (3, 11):  # noqa: UP036 - dev.py may be started by an older python3
        sys.exit("Python 3.11 or newer is required / 需要 Python 3.11 或更高版本")
    if not PY.exists():
        print("Creating .venv ...", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    wanted = _pyproject_hash()
    if STAMP.exists() and STAMP.read_text().strip() == wanted:
        return
    print("Installing dependencies into .venv ...", flush=True)
    pip = [str(PY), "-m", "pip", "--disable-pip-version-check", "-q"]
    subprocess.run([*pip, "install", "--upgrade", "pip"], check=True)
    subprocess.run([*pip, "install", "-e", f"{ROOT}[dev]"], check=True)
    STAMP.write_text(wanted)


def _wait_through_ctrl_c(proc: subprocess.Popen[bytes]) -> int:
    """Wait for a child that handles Ctrl+C itself (the terminal sends SIGINT to both of us). A SIGTERM
    (a service manager, `kill`) reaches only us: pass it on, so the child stops what it started (the demo's
    sync server) instead of being left running with it."""

    def pass_on(signum: int, _frame: object) -> None:
        if proc.poll() is None:
            proc.send_signal(signum)

    previous = signal.signal(signal.SIGTERM, pass_on)
    try:
        while True:
            try:
                return proc.wait()
            except KeyboardInterrupt:
                continue
    finally:
        signal.signal(signal.SIGTERM, previous)


def run_main(extra: list[str]) -> int:
    """The demo (packaging/demo.py): a local sync server, a demo school and staff user, an enrolled client
    with records in Chinese, the dashboard URL; then the client window. Ctrl+C stops everything."""
    check = [str(PY), "-m", "forms", "check"]
    if subprocess.call(check, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL):
        return subprocess.call(check, cwd=ROOT)  # again, with the problems shown
    proc = subprocess.Popen([str(PY), str(ROOT / "packaging" / "demo.py"), *extra], cwd=ROOT)
    return _wait_through_ctrl_c(proc)


def run_tests(extra: list[str]) -> int:
    env = dict(os.environ)
    env.setdefault("QT_QPA_PLATFORM", "offscreen")
    # Default to two workers: the CI machine has 2 cores.
    args = ["-n", env.get("PYTEST_WORKERS", "2"), "--dist", "loadfile"]
    if not any(a == "-m" or a.startswith("-m") for a in extra):
        # The minutes-long bundle build (tests/packaging) is its own step in .ci/run.
        args += ["-m", "not slow"]
    args += extra
    return subprocess.call([str(PY), "-m", "pytest", *args], cwd=ROOT, env=env)


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in {"run", "test", "setup"}:
        print(
            "usage: python3 dev.py run [--port N] | test [pytest args...] | setup", file=sys.stderr
        )
        return 2
    ensure_venv()
    if argv[0] == "run":
        return run_main(argv[1:])
    if argv[0] == "test":
        return run_tests(argv[1:])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
