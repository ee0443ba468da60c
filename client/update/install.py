"""Install a staged update at start, and roll back a version that fails its first start (docs/updates.md).

The program folder (the PyInstaller bundle: `school-client` and `_internal/`) is swapped whole:

    <install>            -> <install>.previous    the running version, kept to roll back to
    <data>/updates/staged/<version>  -> <install>  the verified new version

then the old version, still running from memory, starts the new one with the same arguments and waits. The
new version marks its first start as good (`mark_started`: a command finished, or the window was shown).
If it exits without that mark - it crashed, could not load a library, its store migration failed - the
folders are swapped back, the version is blocked on this computer, the failure is kept for the next report,
and the old version goes on as if nothing had been staged. The data folder is never touched.

On Windows a running program's folder cannot be renamed: there the staged version is installed by the Inno
Setup installer (docs/updates.md); this module does the swap on Linux (and wherever renaming works).
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from client.update.state import (
    PENDING_FILE,
    STARTED_PREFIX,
    load_state,
    read_json,
    save_state,
    staged_ready,
    updates_dir,
    write_json,
)

log = logging.getLogger(__name__)

ENV_INSTALL_DIR = "SCHOOL_CLIENT_INSTALL_DIR"  # the program folder, when not a frozen bundle's own
EXE = "school-client.exe" if sys.platform == "win32" else "school-client"
# The preconfiguration (school-client.ini) and the bureau's trusted root, copied beside the program by the
# installer: a release archive does not hold them, so they go over to the new folder.
KEPT_BESIDE = ("school-client.ini", "update-root.json")


def install_dir() -> Path | None:
    """The program folder to update: the bundle's (frozen), or SCHOOL_CLIENT_INSTALL_DIR; None when run
    from a source checkout (updates are then checked and staged, never installed)."""
    named = os.environ.get(ENV_INSTALL_DIR)
    if named:
        return Path(named)
    if getattr(sys, "frozen", False):
        return Path(sys.executable).resolve().parent
    return None


def mark_started(data_dir: Path, running: str) -> None:
    """This version's first start went well (called once a command finished or the window was shown)."""
    pending = read_json(updates_dir(data_dir) / PENDING_FILE)
    if isinstance(pending, dict) and pending.get("version") == running:
        marker = updates_dir(data_dir) / f"{STARTED_PREFIX}{running}"
        marker.write_text("ok\n", encoding="utf-8")


def apply_at_start(data_dir: Path, argv: Sequence[str], *, running: str) -> int | None:
    """Install a staged update and run it; its exit code, or None to go on running this version (nothing
    staged, the swap impossible, or the new version failed its first start and was rolled back)."""
    folder = updates_dir(data_dir)
    ready = staged_ready(data_dir)
    target = install_dir()
    if ready is None or target is None:
        return None
    version = str(ready["version"])
    state = load_state(data_dir)
    staged = folder / "staged" / version
    if version in state.blocked or version == running or not (staged / EXE).is_file():
        shutil.rmtree(folder / "staged", ignore_errors=True)
        return None
    previous = target.with_name(target.name + ".previous")
    try:
        shutil.rmtree(previous, ignore_errors=True)
        target.rename(previous)
    except OSError as exc:  # not ours to change (a machine-wide install), or in use (Windows)
        log.warning("update %s cannot be installed in %s: %s", version, target, exc)
        return None
    try:
        shutil.move(
            str(staged), str(target)
        )  # a rename, or a copy when the data is on another disk
    except OSError as exc:
        log.warning("update %s cannot be put in %s: %s", version, target, exc)
        shutil.rmtree(target, ignore_errors=True)
        previous.rename(target)
        return None
    shutil.rmtree(folder / "staged", ignore_errors=True)
    for name in KEPT_BESIDE:  # what the installer put beside the program stays beside it
        if (previous / name).is_file() and not (target / name).exists():
            shutil.copy2(previous / name, target / name)
    write_json(folder / PENDING_FILE, {"version": version, "from": running})
    (folder / f"{STARTED_PREFIX}{version}").unlink(missing_ok=True)
    log.info("update %s installed in %s; its first start follows", version, target)
    code = _run(target / EXE, argv)
    started = (folder / f"{STARTED_PREFIX}{version}").exists()
    (folder / PENDING_FILE).unlink(missing_ok=True)
    state = load_state(data_dir)  # the new version may have written it meanwhile
    if started:
        state.state, state.target_version, state.error = "installed", version, None
        save_state(data_dir, state)
        return code
    failed = target.with_name(target.name + ".failed")
    shutil.rmtree(failed, ignore_errors=True)
    target.rename(failed)
    previous.rename(target)
    state.state, state.target_version = "rolled_back", version
    state.failures += 1
    state.error = f"{version} failed its first start (exit code {code}); {running} kept"
    if version not in state.blocked:
        state.blocked.append(version)
    save_state(data_dir, state)
    log.error(
        "update %s failed its first start (exit code %s): rolled back to %s", version, code, running
    )
    return None


def _child_environment() -> dict[str, str]:
    """This environment, as the new program would get it from the desktop: a frozen program's bootloader
    changed it for itself (PyInstaller: its _PYI_ variables, LD_LIBRARY_PATH)."""
    env = dict(os.environ)
    if getattr(sys, "frozen", False):
        env["PYINSTALLER_RESET_ENVIRONMENT"] = (
            "1"  # PyInstaller >= 6.10: start as a top-level program
        )
        original = env.pop("LD_LIBRARY_PATH_ORIG", None)
        if original is not None:
            env["LD_LIBRARY_PATH"] = original
        else:
            env.pop("LD_LIBRARY_PATH", None)
    return env


def _run(exe: Path, argv: Sequence[str]) -> int:
    try:
        return subprocess.run([str(exe), *argv], check=False, env=_child_environment()).returncode
    except OSError as exc:
        log.error("the new version cannot be started: %s", exc)
        return 127
