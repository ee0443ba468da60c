"""Install a staged update at start, and roll back a version that fails its first start (docs/updates.md).

The program folder (the PyInstaller bundle: `school-client` and `_internal/`) is swapped whole:

    <data>/updates/staged/<version>  -> <install>.new   first, the long part (a copy across disks)
    <install>            -> <install>.previous    the running version, kept to roll back to
    <install>.new        -> <install>              the verified new version

The two renames are journalled (<data>/updates/swap.json); a start after a crash between them finishes or
undoes the swap (`_recover_swap`). A program folder that cannot be renamed (in use) is counted, and the
version given up after SWAP_TRIES starts.

then the old version starts the new one with the same arguments and waits. The new version marks its first
start as good once it has come up (`mark_started`: the command parsed and the store opened, before the
command runs - its own result, exit 1 or 2, is passed on as it is; or the window shown). If it exits without
that mark - it crashed, could not load a library, its store migration failed - the folders are swapped back,
the release waits in staged/ for another try at the next start (client/update/retry.py: three tries, then
blocked here for a while), the failure is kept for the next report, and the old version runs the command as
if nothing had been staged. The data folder is never touched.

Who does the swap (`update_mode`):

- "swap" (Linux): the old version itself, at its start - it runs on from memory while its folder is renamed.
- "runner" (Windows, where a running program's folder cannot be renamed; SCHOOL_CLIENT_UPDATE_MODE=runner
  elsewhere): the old version copies its own folder to `<data>/updates/runner`, starts that copy (the runner)
  with SCHOOL_CLIENT_FINISH_UPDATE=<its pid> and exits. The runner waits for that process to end, then does
  the same swap, first start and rollback (`_install`, one implementation); after a rollback it goes on as
  the old version itself. The next start removes the runner folder. Only a start that opens the window
  installs this way: a command's caller waits for its own process, output and exit code, so commands run the
  present version and the update waits for the next window start.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path

from client.update.retry import MAX_START_TRIES, start_failed, tries_of
from client.update.state import (
    PENDING_FILE,
    READY_FILE,
    STARTED_PREFIX,
    UpdateState,
    load_state,
    read_json,
    save_state,
    staged_ready,
    updates_dir,
    write_json,
)

log = logging.getLogger(__name__)

ENV_INSTALL_DIR = "SCHOOL_CLIENT_INSTALL_DIR"  # the program folder, when not a frozen bundle's own
ENV_MODE = (
    "SCHOOL_CLIENT_UPDATE_MODE"  # "runner" or "swap"; default: runner on Windows, swap elsewhere
)
ENV_FINISH = (
    "SCHOOL_CLIENT_FINISH_UPDATE"  # given to the runner: the pid of the old version to wait for
)
ENV_RUNNER = (  # given to the new version by the runner: whose copy to remove once it has ended
    "SCHOOL_CLIENT_UPDATE_RUNNER"
)
ENV_FIRST_START = (  # given to the new version's first start: the pid of the process installing it
    "SCHOOL_CLIENT_UPDATE_INSTALLER"
)
EXE = "school-client.exe" if sys.platform == "win32" else "school-client"
# The preconfiguration (school-client.ini), the bureau's trusted root, and Inno Setup's uninstaller
# (unins000.exe/.dat/.msg, which Add/Remove Programs runs), put beside the program by the installer: a release
# archive does not hold them, so they go over to the new folder.
KEPT_BESIDE = ("school-client.ini", "update-root.json", "unins*.exe", "unins*.dat", "unins*.msg")
RUNNER = "runner"  # <data>/updates/runner: the copy of the old version that installs the new one
RUNNER_FILE = "runner.json"  # <data>/updates/runner.json: {"pid", "version"} of the runner started
WAIT_FOR_OLD = 120.0  # seconds the runner waits for the old version to exit
SWAP_FILE = (
    "swap.json"  # <data>/updates/swap.json: a swap of the program folder under way (review F1)
)
SWAP_TRIES = (
    3  # starts whose swap failed (the program folder in use) before the version is given up
)
# <data>/updates/rollback.json: a rollback owed (review F2), tried again at every start
ROLLBACK_FILE = "rollback.json"
ROLLBACK_WAIT = (
    60.0  # seconds a rollback's renames are tried on Windows (WerFault holds the exe ~10 s)
)
RUNNER_TRIES = (
    2  # runners started for one version that never got to install it: then it is given up
)
# The Inno Setup uninstall entry (installer/school-client.iss AppId + "_is1"): its DisplayVersion is what
# Add/Remove Programs shows, so an update installed here sets it (Windows, per-user install).
UNINSTALL_KEY = (
    r"Software\Microsoft\Windows\CurrentVersion\Uninstall"
    r"\{6E2B9C4A-3F1D-4B8E-9A57-2C0D5E8F1A63}_is1"
)


def install_dir() -> Path | None:
    """The program folder to update: the bundle's (frozen), or SCHOOL_CLIENT_INSTALL_DIR; None when run
    from a source checkout (updates are then checked and staged, never installed)."""
    named = os.environ.get(ENV_INSTALL_DIR)
    if named:
        return Path(named)
    if getattr(sys, "frozen", False):
        return Path(sys.executable).resolve().parent
    return None


def update_mode() -> str:
    """ "runner" (the old version hands the swap to a copy of itself and exits) or "swap" (it swaps itself)."""
    named = os.environ.get(ENV_MODE, "").strip().lower()
    if named in ("runner", "swap"):
        return named
    return "runner" if sys.platform == "win32" else "swap"


def mark_started(data_dir: Path, running: str) -> None:
    """This version's first start went well: it came up (client/cli.py: the command parsed and the store
    opened, before the command runs; client/ui/app.py: the window shown). The state says `installed` from
    here on, so the report of this start's own sync says so (not `staged`)."""
    runner = os.environ.pop(ENV_RUNNER, None)  # (not passed on to what this process starts)
    pending = read_json(updates_dir(data_dir) / PENDING_FILE)
    if isinstance(pending, dict) and pending.get("version") == running:
        marker = updates_dir(data_dir) / f"{STARTED_PREFIX}{running}"
        if marker.exists():
            return  # marked already: what this start did since (a newer version staged) stays
        state = load_state(data_dir)
        _installed(state, running)
        save_state(data_dir, state)
        owed = read_json(updates_dir(data_dir) / ROLLBACK_FILE)
        if isinstance(owed, dict) and owed.get("version") == running:  # it came up after all
            (updates_dir(data_dir) / ROLLBACK_FILE).unlink(missing_ok=True)
        # The marker last: whoever waits for it (install.py's _run) finds the state written.
        marker.write_text("ok\n", encoding="utf-8")
        if runner is not None and runner.isdigit():
            threading.Thread(
                target=_remove_runner_once_ended,
                args=(updates_dir(data_dir), int(runner)),
                name="update-runner-cleanup",
                daemon=True,
            ).start()


def _installed(state: UpdateState, version: str) -> None:
    """`version` came up well here: installed, and the failures counted before are over (the dashboard's
    失败 column is this PC's failures since its last good install; the last error goes with them)."""
    state.state, state.target_version, state.error = "installed", version, None
    state.failures = 0


def _remove_runner_once_ended(folder: Path, pid: int, *, wait: float = WAIT_FOR_OLD) -> None:
    """The runner's copy of the old program (about 160 MB) removed once the runner has exited (it exits
    when this version's first start is marked good; on Windows its files can be deleted only then).
    Whatever is left (the window closed first, a virus scanner holding a file) goes at the next start."""
    deadline = time.monotonic() + wait
    while _alive(pid):
        if time.monotonic() > deadline:
            return
        time.sleep(0.1)
    started = read_json(folder / RUNNER_FILE)
    if isinstance(started, dict) and started.get("pid") not in (pid, None):
        return  # another runner since (a newer version): its own
    shutil.rmtree(folder / RUNNER, ignore_errors=True)
    (folder / RUNNER_FILE).unlink(missing_ok=True)


def apply_at_start(data_dir: Path, argv: Sequence[str], *, running: str) -> int | None:
    """Install a staged update and run it; the exit code this process should exit with, or None to go on
    running this version (nothing staged, the swap impossible, a command start in runner mode, or the new
    version failed its first start and was rolled back)."""
    owed = _retry_rollback(data_dir, argv, running)
    if owed is not None:
        return owed
    _recover_swap(data_dir, running)
    finishing = os.environ.pop(ENV_FINISH, None)  # this process is the runner; its children are not
    if finishing is not None:
        return _finish(data_dir, argv, running=running, old_pid=finishing)
    installer = os.environ.pop(ENV_FIRST_START, None)  # this process is a new version's first start
    folder = updates_dir(data_dir)
    if _under_way(folder, installer) and _opens_window(argv):
        print(
            "程序正在更新，马上就会打开，请稍候 / the program is being updated and opens in a moment",
            flush=True,
        )
        return 0  # a window of its own would be a second one (and take the new version's place)
    _remove_idle_runner(folder)
    found = _installable(data_dir, running)
    if found is None:
        return None
    version, target = found
    if update_mode() == "runner":
        return _start_runner(data_dir, target, argv, version) if _opens_window(argv) else None
    return _install(data_dir, target, argv, running=running, version=version)


def _under_way(folder: Path, installer: str | None) -> bool:
    """Whether another process is installing an update now: a runner waiting for the old version to
    exit, or a version swapped in whose first start is in progress (not this process's own)."""
    if _runner_alive(folder) and not (folder / PENDING_FILE).exists():
        started = read_json(folder / RUNNER_FILE) or {}
        ready = read_json(folder / "staged" / READY_FILE)
        return isinstance(ready, dict) and ready.get("version") == started.get("version")
    pending = read_json(folder / PENDING_FILE)
    pid = pending.get("pid") if isinstance(pending, dict) else None
    if not isinstance(pid, int) or isinstance(pid, bool) or str(pid) == installer:
        return False
    return pid != os.getpid() and _alive(pid)


def _installable(data_dir: Path, running: str) -> tuple[str, Path] | None:
    """The staged version and the program folder to put it in, when there is one to install."""
    folder = updates_dir(data_dir)
    ready = staged_ready(data_dir)
    target = install_dir()
    if ready is None or target is None:
        return None
    version = str(ready["version"])
    if version in load_state(data_dir).blocked or version == running:
        shutil.rmtree(folder / "staged", ignore_errors=True)
        return None
    if not (folder / "staged" / version / EXE).is_file():
        shutil.rmtree(folder / "staged", ignore_errors=True)
        return None
    return version, target


def _install(
    data_dir: Path,
    target: Path,
    argv: Sequence[str],
    *,
    running: str,
    version: str,
    runner: int | None = None,
) -> int | None:
    """Swap the folders, run the new version's first start, and swap back when it fails (both modes)."""
    folder = updates_dir(data_dir)
    staged = folder / "staged" / version
    # Staged again for another try if it fails:
    ready = staged_ready(data_dir) or {"version": version}
    previous = target.with_name(target.name + ".previous")
    new = target.with_name(target.name + ".new")
    # The long part first (review F1): the release moved beside the program folder, on its disk (a ~160 MB
    # copy when the data is on another disk); the program folder is not touched until it is whole there.
    try:
        shutil.rmtree(new, ignore_errors=True)
        shutil.move(str(staged), str(new))
    except OSError as exc:  # not ours to change (a machine-wide install), a full disk ...
        log.warning("update %s cannot be put beside %s: %s", version, target, exc)
        shutil.rmtree(new, ignore_errors=True)
        return None
    try:
        for pattern in KEPT_BESIDE:  # what the installer put beside the program stays beside it
            for kept in target.glob(pattern):
                if kept.is_file() and not (new / kept.name).exists():
                    shutil.copy2(kept, new / kept.name)
    except OSError as exc:
        log.warning("update %s: the files beside the program cannot be kept: %s", version, exc)
        _keep_for_another_try(folder, new, ready)
        return None
    # Then two quick renames on one disk, journalled: a crash between them is finished or undone at the
    # next start (_recover_swap).
    write_json(
        folder / SWAP_FILE,
        {"version": version, "from": running, "target": str(target), "pid": os.getpid()},
    )
    try:
        shutil.rmtree(previous, ignore_errors=True)
        _rename(target, previous)
    except OSError as exc:  # in use (Windows: a window's working directory, a virus scanner)
        log.warning("update %s cannot be installed in %s: %s", version, target, exc)
        _keep_for_another_try(folder, new, ready)
        (folder / SWAP_FILE).unlink(missing_ok=True)
        _swap_failed(data_dir, version, target, exc)
        return None
    try:
        _rename(new, target)
    except OSError as exc:
        log.warning("update %s cannot be put in %s: %s", version, target, exc)
        _rename(previous, target)
        _keep_for_another_try(folder, new, ready)
        (folder / SWAP_FILE).unlink(missing_ok=True)
        _swap_failed(data_dir, version, target, exc)
        return None
    shutil.rmtree(folder / "staged", ignore_errors=True)
    write_json(folder / PENDING_FILE, {"version": version, "from": running, "pid": os.getpid()})
    (folder / SWAP_FILE).unlink(
        missing_ok=True
    )  # the first start's judge is pending.json from here
    (folder / f"{STARTED_PREFIX}{version}").unlink(missing_ok=True)
    log.info("update %s installed in %s; its first start follows", version, target)
    # Started where this process was, except from the runner's own folder (the old version was started in
    # its program folder, as the Start-menu shortcut does): then in the program folder, as it was.
    cwd = target if _inside(Path.cwd(), folder / RUNNER) else None
    marker = folder / f"{STARTED_PREFIX}{version}"
    # A window start: nobody waits for its exit code, so this process (the old version, or the runner)
    # need not stay the window's parent all day - it exits once the new version has come up.
    code = _run(
        target / EXE, argv, cwd=cwd, runner=runner, until=marker if _opens_window(argv) else None
    )
    started = marker.exists()
    if started:  # (a failed one's pending.json goes only once it is rolled back: review F2)
        (folder / PENDING_FILE).unlink(missing_ok=True)
    marker.unlink(missing_ok=True)  # used: the next first start writes its own
    state = load_state(data_dir)  # the new version may have written it meanwhile
    if started:  # its exit code is the command's: passed on, the command is not run again
        moved_on = state.target_version != version and state.state in ("downloading", "staged")
        if not moved_on and (state.state, state.target_version, state.failures) != (
            "installed",
            version,
            0,
        ):  # (mark_started said so already, unless this start fetched a newer one)
            _installed(state, version)
            save_state(data_dir, state)
        _show_version_in_windows(version)
        return code
    failed = target.with_name(target.name + ".failed")
    not_back = _swap_back(target, previous, failed)
    if not_back is None:
        (folder / PENDING_FILE).unlink(missing_ok=True)
    else:  # owed: every start tries it again first (_retry_rollback), nobody believes it done (review F2)
        log.error("update %s failed and %s cannot be put back: %s", version, running, not_back)
        write_json(
            folder / ROLLBACK_FILE,
            {"version": version, "from": running, "target": str(target), "ready": ready},
        )
    put_back = not_back is None
    state.state, state.target_version = "rolled_back", version
    state.failures += 1
    blocked = start_failed(state, version, now=dt.datetime.now(dt.UTC))
    tries = tries_of(state, version)
    then = (
        f"tried {tries} times, not tried again" if blocked else f"try {tries} of {MAX_START_TRIES}"
    )
    state.error = f"{version} failed its first start (exit code {code}); {running} kept; {then}"
    if not put_back:
        state.state = "failed"
        state.error = (
            f"{version} failed its first start (exit code {code}); {running} could not be put back "
            f"yet ({not_back}), the rollback is tried again at the next start; {then}"
        )
    # Nothing of it stays beside the program: it waits in staged/ for the next try, or goes.
    if put_back and not blocked:
        _keep_for_another_try(folder, failed, ready)
    elif put_back:
        shutil.rmtree(failed, ignore_errors=True)
    save_state(data_dir, state)
    log.error(
        "update %s failed its first start (exit code %s): rolled back to %s (%s)",
        version,
        code,
        running,
        then,
    )
    return None  # it never came up: this version runs the command


def _swap_back(target: Path, previous: Path, failed: Path) -> OSError | None:
    """The failed version renamed to `.failed` and the previous one put back (either step may be done
    already: a rollback owed, tried again); the error when it cannot be done now."""
    if not previous.is_dir():
        return FileNotFoundError(f"{previous} is missing")
    try:
        if target.exists():
            shutil.rmtree(failed, ignore_errors=True)
            _rename(target, failed, wait=ROLLBACK_WAIT)
        _rename(previous, target, wait=ROLLBACK_WAIT)
    except OSError as exc:
        return exc
    return None


def _retry_rollback(data_dir: Path, argv: Sequence[str], running: str) -> int | None:
    """A rollback owed (review F2: the failed version's folder could not be renamed then) done now; when
    this process is that failed version, the version put back runs in its place (its exit code)."""
    folder = updates_dir(data_dir)
    owed = read_json(folder / ROLLBACK_FILE)
    if not isinstance(owed, dict):
        return None
    version = str(owed.get("version") or "")
    if not version or not owed.get("target"):
        (folder / ROLLBACK_FILE).unlink(missing_ok=True)
        return None
    target = Path(str(owed["target"]))
    failed = target.with_name(target.name + ".failed")
    not_back = _swap_back(target, target.with_name(target.name + ".previous"), failed)
    if not_back is not None:
        log.error("update %s: the rollback owed cannot be done yet: %s", version, not_back)
        return None
    state = load_state(data_dir)
    kept = str(owed.get("from") or "the previous version")
    state.state, state.target_version = "rolled_back", version
    state.error = f"{version} failed its first start; {kept} put back at a later start"
    ready = owed.get("ready")
    if version not in state.blocked and isinstance(ready, dict) and ready.get("version") == version:
        _keep_for_another_try(folder, failed, ready)
    else:
        shutil.rmtree(failed, ignore_errors=True)
    save_state(data_dir, state)
    (folder / PENDING_FILE).unlink(missing_ok=True)
    (folder / ROLLBACK_FILE).unlink(missing_ok=True)
    log.warning("update %s: the rollback owed is done; %s is back in %s", version, kept, target)
    if running == version and (target / EXE).is_file():
        return _run(target / EXE, argv)
    return None


def _swap_failed(data_dir: Path, version: str, target: Path, exc: OSError) -> None:
    """The program folder could not be swapped (review F3): counted; given up after SWAP_TRIES starts (in
    runner mode each such start copied the program and opened from the copy), the reason reported."""
    state = load_state(data_dir)
    record = state.start_failures.setdefault(version, {})
    count = record.get("swap_failures", 0)
    count = (count if isinstance(count, int) and not isinstance(count, bool) else 0) + 1
    record["swap_failures"] = count
    save_state(data_dir, state)
    if count >= SWAP_TRIES:
        _give_up(
            data_dir,
            version,
            f"program folder in use: {target} could not be renamed at {count} starts ({exc})",
        )


def _recover_swap(data_dir: Path, running: str) -> None:
    """A swap of the program folder cut short (a crash or power cut; review F1), finished or undone by the
    next start: the new version beside the program (`.new`) goes back to staged/ (installed again, with its
    first start judged, by this start); a folder renamed away is put back; a swap done but not yet followed
    by its first start counts as installed once that version runs."""
    folder = updates_dir(data_dir)
    journal = read_json(folder / SWAP_FILE)
    if not isinstance(journal, dict):
        return
    pid = journal.get("pid")
    if isinstance(pid, int) and pid != os.getpid() and _alive(pid):
        return  # under way in another process
    version = str(journal.get("version") or "")
    target = Path(str(journal.get("target") or ""))
    if not version or not journal.get("target"):
        (folder / SWAP_FILE).unlink(missing_ok=True)
        return
    previous = target.with_name(target.name + ".previous")
    new = target.with_name(target.name + ".new")
    ready = staged_ready(data_dir) or {"version": version}
    try:
        if not (target / EXE).is_file() and (previous / EXE).is_file():
            shutil.rmtree(target, ignore_errors=True)
            _rename(previous, target)  # between the two renames: the old version back
        if (target / EXE).is_file() and (new / EXE).is_file():
            _keep_for_another_try(folder, new, ready)  # tried again now, as staged
            log.warning("update %s: an interrupted swap was undone; installed again", version)
        elif (target / EXE).is_file():  # both renames done, the first start never judged
            if running == version:
                state = load_state(data_dir)
                _installed(state, version)
                save_state(data_dir, state)
            log.warning("update %s: an interrupted swap was finished", version)
        else:
            log.error("update %s: an interrupted swap left no program in %s", version, target)
            return
    except OSError as exc:
        log.error("update %s: an interrupted swap cannot be finished now: %s", version, exc)
        return
    (folder / SWAP_FILE).unlink(missing_ok=True)


def _keep_for_another_try(folder: Path, failed: Path, ready: dict[str, object]) -> None:
    """A rolled-back release staged again (no download) for its next try; removed if that cannot be."""
    staged = folder / "staged"
    try:
        shutil.rmtree(staged, ignore_errors=True)
        staged.mkdir(parents=True)
        shutil.move(str(failed), str(staged / str(ready["version"])))
        write_json(staged / READY_FILE, ready)
    except OSError as exc:
        log.warning("update %s cannot be kept for another try: %s", ready.get("version"), exc)
        shutil.rmtree(failed, ignore_errors=True)
        shutil.rmtree(staged, ignore_errors=True)


def _rename(source: Path, dest: Path, *, wait: float = 5.0) -> None:
    """A folder renamed; on Windows tried again for up to `wait` seconds, less and less often (a virus
    scanner, the indexer or Windows Error Reporting may hold a file of a program that has just exited)."""
    deadline = time.monotonic() + (wait if sys.platform == "win32" else 0.0)
    pause = 0.25
    while True:
        try:
            source.rename(dest)
            return
        except OSError:
            if time.monotonic() + pause > deadline:
                raise
            time.sleep(pause)
            pause = min(pause * 1.5, 2.0)


# -- runner mode ----------------------------------------------------------------------------------


def _opens_window(argv: Sequence[str]) -> bool:
    from client.cli import build_parser

    try:
        return getattr(build_parser().parse_args(list(argv)), "command", None) is None
    except (SystemExit, Exception):  # main() parsed these already; anything odd runs as it is
        return False


def _start_runner(data_dir: Path, target: Path, argv: Sequence[str], version: str) -> int | None:
    """Copy this program folder to the runner folder and start it there to install `version` once this
    process has exited; 0 (this process exits), or None when the runner cannot be started."""
    folder = updates_dir(data_dir)
    runner = folder / RUNNER
    if _runner_alive(folder):
        log.info("update %s: a runner is installing it already", version)
        return None
    before = read_json(folder / RUNNER_FILE)
    tries = 1
    if isinstance(before, dict) and before.get("version") == version:
        # staged still: the last runner did not install it
        tries = int(before.get("tries") or 0) + 1
    if tries > RUNNER_TRIES:  # it starts and dies (blocked, or broken on this PC): this one goes on
        _give_up(data_dir, version, f"its runner ended {RUNNER_TRIES} times without installing it")
        return None
    if not _may_rename(target):  # a machine-wide install: not copied and handed over at every start
        log.warning("update %s cannot be installed in %s: not ours to change", version, target)
        return None
    try:
        shutil.rmtree(runner, ignore_errors=True)
        shutil.copytree(target, runner, symlinks=True)
        env = _child_environment()
        env[ENV_FINISH] = str(os.getpid())
        env[ENV_INSTALL_DIR] = str(target)
        # Not started in the program folder (Windows would not rename a folder that is a working directory).
        cwd = runner if _inside(Path.cwd(), target) else None
        command = [str(runner / EXE), *argv]
        if sys.platform == "win32":  # the runner outlives the process that starts it
            flags = subprocess.CREATE_NEW_PROCESS_GROUP
            proc = subprocess.Popen(command, env=env, cwd=cwd, creationflags=flags)
        else:
            proc = subprocess.Popen(command, env=env, cwd=cwd, start_new_session=True)
    except OSError as exc:
        log.warning("update %s: the runner cannot be started from %s: %s", version, runner, exc)
        return None
    write_json(folder / RUNNER_FILE, {"pid": proc.pid, "version": version, "tries": tries})
    log.info("update %s: runner %d started from %s; this version exits", version, proc.pid, runner)
    return 0


def _may_rename(target: Path) -> bool:
    """Whether this user may make folders beside the program folder (and so rename it): a per-user
    install may, one in Program Files may not (Windows' permissions are not what os.access says)."""
    probe = target.with_name(f"{target.name}.probe-{os.getpid()}")
    try:
        probe.mkdir()
        probe.rmdir()
    except OSError:
        return False
    return True


def _give_up(data_dir: Path, version: str, why: str) -> None:
    """The staged version is not installed here, now or later; the failure is kept for the next report."""
    shutil.rmtree(updates_dir(data_dir) / "staged", ignore_errors=True)
    state = load_state(data_dir)
    state.state, state.target_version = "failed", version
    state.failures += 1
    state.error = f"{version} not installed: {why}"
    if version not in state.blocked:
        state.blocked.append(version)
    # A block of its own time (client/update/retry.py lifts it after BLOCK_DAYS for one more try).
    record = state.start_failures.setdefault(version, {})
    record["blocked_at"] = dt.datetime.now(dt.UTC).isoformat()
    save_state(data_dir, state)
    log.error("update %s given up: %s", version, why)


def _finish(data_dir: Path, argv: Sequence[str], *, running: str, old_pid: str) -> int | None:
    """The runner: once the old version has exited, the swap and first start as in swap mode."""
    try:
        pid = int(old_pid)
    except ValueError:
        return None
    deadline = time.monotonic() + WAIT_FOR_OLD
    while _alive(pid):
        if time.monotonic() > deadline:
            log.warning("update: the old version (%d) has not exited; not installed now", pid)
            return None
        time.sleep(0.05)
    started = read_json(updates_dir(data_dir) / RUNNER_FILE)
    if isinstance(
        started, dict
    ):  # this runner came up: a failed first start or swap is not its death
        write_json(updates_dir(data_dir) / RUNNER_FILE, {**started, "tries": 0})
    found = _installable(data_dir, running)
    if found is None:
        return None
    version, target = found
    return _install(data_dir, target, argv, running=running, version=version, runner=os.getpid())


def _inside(path: Path, folder: Path) -> bool:
    try:
        return path.resolve().is_relative_to(folder.resolve())
    except OSError:
        return False


def _runner_alive(folder: Path) -> bool:
    started = read_json(folder / RUNNER_FILE)
    pid = started.get("pid") if isinstance(started, dict) else None
    return isinstance(pid, int) and _alive(pid)


def _remove_idle_runner(folder: Path) -> None:
    """What an update done left: the runner folder (its process has ended), runner.json once its
    version is no longer staged (while staged, it counts the runners that died: RUNNER_TRIES), and the
    started-* markers of first starts no longer in progress."""
    if _runner_alive(folder):
        return
    if (folder / RUNNER).exists():
        shutil.rmtree(folder / RUNNER, ignore_errors=True)
    started = read_json(folder / RUNNER_FILE)
    ready = read_json(folder / "staged" / READY_FILE)
    staged = ready.get("version") if isinstance(ready, dict) else None
    if (folder / RUNNER_FILE).exists() and (
        not isinstance(started, dict) or started.get("version") != staged
    ):
        (folder / RUNNER_FILE).unlink(missing_ok=True)
    if not (folder / PENDING_FILE).exists():
        for marker in folder.glob(f"{STARTED_PREFIX}*"):
            marker.unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    """Whether process `pid` is still running (an exited one not yet reaped by its parent is not)."""
    if sys.platform == "win32":
        import ctypes

        kernel32 = ctypes.WinDLL("kernel32", use_last_error=True)
        handle = kernel32.OpenProcess(0x00100000, False, pid)  # SYNCHRONIZE
        if not handle:
            return ctypes.get_last_error() == 5  # ERROR_ACCESS_DENIED: someone's, running
        try:
            return bool(kernel32.WaitForSingleObject(handle, 0) == 0x102)  # WAIT_TIMEOUT
        finally:
            kernel32.CloseHandle(handle)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii", errors="replace")
    except OSError:
        return True  # no /proc: a zombie counts as running until it is reaped
    fields = stat.rpartition(")")[2].split()
    return not fields or fields[0] not in ("Z", "X")


def _show_version_in_windows(version: str) -> None:
    """Add/Remove Programs shows the version now installed (the Inno Setup entry of a per-user install)."""
    if sys.platform == "win32":
        import winreg

        try:
            with winreg.OpenKey(
                winreg.HKEY_CURRENT_USER, UNINSTALL_KEY, 0, winreg.KEY_SET_VALUE
            ) as key:
                winreg.SetValueEx(key, "DisplayVersion", 0, winreg.REG_SZ, version)
        except OSError as exc:  # not installed by the setup program, or for all users
            log.info("the uninstall entry's version was not updated: %s", exc)


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


def _run(
    exe: Path,
    argv: Sequence[str],
    *,
    cwd: Path | None = None,
    runner: int | None = None,
    until: Path | None = None,
) -> int:
    """The new version run with `argv`: its exit code, or 0 as soon as `until` (its started marker)
    appears - a window start, left running on its own. `runner`: this process's pid when it is the
    runner, for the new version to remove the runner's copy once this process has ended."""
    env = _child_environment()
    env[ENV_FIRST_START] = str(os.getpid())  # (whose pending.json it is)
    if runner is not None:
        env[ENV_RUNNER] = str(runner)
    try:
        proc = subprocess.Popen([str(exe), *argv], env=env, cwd=cwd)
    except OSError as exc:
        log.error("the new version cannot be started: %s", exc)
        return 127
    if until is None:
        return proc.wait()
    while True:
        try:
            return proc.wait(timeout=0.1)
        except subprocess.TimeoutExpired:
            if until.exists():
                log.info("update: the new version (%d) is up; this process exits", proc.pid)
                return 0
