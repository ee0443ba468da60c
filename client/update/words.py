"""The one line `school-client sync` prints about updates (issue 16 retest N9): what a clerk at the command
line or a scheduled task's log would otherwise find only in the program's log - a new version downloaded
(and when it installs), installed, being downloaded, refused, withdrawn by the bureau, rolled back or
blocked here. Nothing when there is nothing to say. Read from `<data>/updates/state.json` before and after
the command (client/cli.py), so that a failure already said is not said again at every sync.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from client.update.retry import BLOCK_DAYS, MAX_START_TRIES, tries_of
from client.update.state import PENDING_FILE, load_state, read_json, staged_ready, updates_dir

MAX_ERROR = (
    200  # characters of a reason shown on the line (the whole one is in the log and the report)
)


@dataclass(frozen=True)
class Before:
    """The update state when the command started."""

    said: tuple[str, str | None, str | None]  # (state, target_version, error)
    first_start: bool  # this start is the first of a version just installed


def before(data_dir: Path, running: str) -> Before:
    state = load_state(data_dir)
    pending = read_json(updates_dir(data_dir) / PENDING_FILE)
    first = isinstance(pending, dict) and pending.get("version") == running
    return Before((state.state, state.target_version, state.error), first)


def update_line(was: Before, data_dir: Path, running: str) -> tuple[str, str, bool] | None:
    """(zh, en, is_a_problem) of the line to print after a sync, or None."""
    from client.update.install import update_mode

    state = load_state(data_dir)
    changed = was.said != (state.state, state.target_version, state.error)
    target = state.target_version
    reason = " ".join((state.error or "").split())[:MAX_ERROR]
    ready = staged_ready(data_dir)
    staged = str(ready["version"]) if ready else None
    if target and target in state.blocked and state.state in ("rolled_back", "failed"):
        return (
            f"更新：新版本 {target} 在本机没能启动或安装，暂时不再安装（{BLOCK_DAYS} 天后再试一次），"
            f"本机继续使用 {running}；请联系县教育局",
            f"update: version {target} could not start or be installed on this computer and is not "
            f"tried again for now (once more after {BLOCK_DAYS} days); {running} goes on; ask the bureau",
            True,
        )
    if state.state == "rolled_back" and target and staged == target:
        tries = tries_of(state, target)
        return (
            f"更新：新版本 {target} 启动失败，已退回 {running}；下次启动时再试（已试 {tries} 次，"
            f"共 {MAX_START_TRIES} 次）",
            f"update: version {target} failed to start; {running} was put back; it is tried again at "
            f"the next start (try {tries} of {MAX_START_TRIES})",
            True,
        )
    if staged and staged != running and staged not in state.blocked:
        if update_mode() == "runner":
            when_zh, when_en = (
                "下次打开程序窗口时安装",
                "it installs when the program's window is next opened",
            )
        else:
            when_zh, when_en = "下次启动时安装", "it installs at the next start"
        return (
            f"更新：新版本 {staged} 已下载并通过核对，{when_zh}",
            f"update: version {staged} has been downloaded and verified; {when_en}",
            False,
        )
    if was.first_start and state.state == "installed" and target == running:
        return (f"更新：已安装新版本 {running}", f"update: version {running} installed", False)
    if state.state == "downloading" and target:
        return (
            f"更新：正在下载新版本 {target}（下次同步时接着下载）",
            f"update: version {target} is being downloaded (it goes on at the next sync)",
            False,
        )
    if not changed:
        return None
    if state.state == "failed" and target:
        return (
            f"更新：新版本 {target} 没能下载或通过核对，本机继续使用 {running}（原因已报告给县教育局）：{reason}",
            f"update: version {target} could not be downloaded or verified; {running} goes on (the bureau "
            f"has the reason): {reason}",
            True,
        )
    if state.state == "current" and target and "withdrawn" in reason:
        return (
            f"更新：县教育局已撤回新版本 {target}（暂停或不再提供给本校），下载的文件已删除，不安装",
            f"update: the bureau withdrew version {target} (paused, or no longer offered to this "
            "school); the download was removed, not installed",
            False,
        )
    return None
