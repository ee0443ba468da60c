"""The two sync commands of `school-client`, for client/cli.py to call:

    school-client enroll --server URL --code CODE [--fingerprint FP]  ->  enroll_command(ctx, server, code)
    school-client sync                              ->  sync_command(ctx)

Each prints one line in Chinese and English (stdout on success, stderr otherwise) and returns the exit code:
0 everything pending was sent and everything new pulled; 1 the server could not be reached (network, timeout,
a captive portal, the server failing or busy); 2 the server refused (not enrolled, revoked, a change
rejected, a conflict waiting for the clerk) or something it sent cannot be used here (a sync problem in
待办), with the reason; 3 this computer's disk is full (the line names the data folder; the store is as it
was), like every school-client command; 4 another sync of this data folder runs now (the open window's, or
another command's: client/sync/lock.py) and nothing was sent - `--wait SECONDS` waits for it to end first.
"""

from __future__ import annotations

import sys
import time
from typing import Any

import requests

from client.context import ClientContext
from client.store import sync_state as S
from client.sync.engine import SyncEngine
from client.sync.errors import ErrorKind, SyncError
from client.sync.http import Sleep
from client.sync.lock import SyncBusy, hold_sync
from client.sync.state import HealReport, SyncResult

EXIT_OK = 0
EXIT_UNREACHABLE = 1
EXIT_REFUSED = 2
EXIT_DISK_FULL = 3  # as client/cli.py's
EXIT_BUSY = 4  # another sync (window, command, USB) of this data folder runs: nothing was sent


def exit_code(exc: SyncError) -> int:
    if exc.kind is ErrorKind.DISK_FULL:
        return EXIT_DISK_FULL
    if exc.kind in (ErrorKind.NETWORK, ErrorKind.SERVER):
        return EXIT_UNREACHABLE
    return EXIT_REFUSED


def _say(zh: str, en: str, *, error: bool = False) -> None:
    line = " ".join(f"{zh} / {en}".split())
    print(line, file=sys.stderr if error else sys.stdout)


def _fail(exc: SyncError) -> int:
    if exc.kind in (ErrorKind.NETWORK, ErrorKind.SERVER, ErrorKind.DISK_FULL):
        _say(f"同步失败：{exc.message_zh}", f"sync failed: {exc.message_en}", error=True)
    else:
        _say(f"服务器拒绝：{exc.message_zh}", f"refused: {exc.message_en}", error=True)
    return exit_code(exc)


def enroll_command(
    ctx: ClientContext,
    server: str,
    code: str,
    *,
    device_name: str | None = None,
    fingerprint: str | None = None,
    sleep: Sleep = time.sleep,
    **engine_options: Any,
) -> int:
    with requests.Session() as http:
        engine = SyncEngine(ctx, http, sleep=sleep, **engine_options)
        try:
            e = engine.enroll(server, code, device_name=device_name, fingerprint=fingerprint)
        except SyncError as exc:  # said as an enrollment, not a sync (issue 11)
            _say(f"登记失败：{exc.message_zh}", f"enrollment failed: {exc.message_en}", error=True)
            return exit_code(exc)
    _say(
        f"已登记：本机属于“{e.school_name}”（{e.school_code}），服务器 {e.server_url}",
        f"enrolled: this computer belongs to {e.school_code} ({e.school_name}), server {e.server_url}",
    )
    return EXIT_OK


def _incomplete_reason(ctx: ClientContext, result: SyncResult) -> tuple[str, str]:
    if result.rejected:
        r = result.rejected[0]
        more = len(result.rejected) - 1
        return (
            f"{len(result.rejected)} 条记录未被接收：{r.message_zh}"
            + (f"（另有 {more} 条）" if more else ""),
            f"{len(result.rejected)} change(s) refused: {r.message_en}"
            + (f" (and {more} more)" if more else ""),
        )
    if result.conflicts:
        return (
            f"{len(result.conflicts)} 条记录与服务器上的版本冲突，请在“待办”中选择保留哪个版本",
            f"{len(result.conflicts)} record(s) conflict with the server's version; choose one in the to-do list",
        )
    if result.problems:
        p = result.problems[0]
        more = len(result.problems) - 1
        return (
            p.message_zh + (f"（另有 {more} 项）" if more else ""),
            p.message_en + (f" (and {more} more)" if more else ""),
        )
    with ctx.store.Session() as s:
        issues = S.open_issues(s)
    if issues:
        first = issues[0]
        return (
            f"{result.pending} 条变更在等待处理：{first.message_zh}",
            f"{result.pending} change(s) wait for you: {first.message_en}",
        )
    return (
        f"还有 {result.pending} 条变更未发出",
        f"{result.pending} change(s) still unsent",
    )


def heal_lines(healed: HealReport) -> tuple[str, str]:
    """What a heal after a restore did, for the clerk."""
    if healed.kind == "pc_restored":
        return (
            f"从备份恢复后，已从服务器取回本机在备份之后发出的 {healed.came_back} 条记录",
            f"after the restore from a backup, {healed.came_back} record(s) this computer had sent "
            "came back from the server",
        )
    return (
        f"县教育局服务器曾从备份恢复：本机已自动重新发送 {healed.resent} 条修改，并重新读取了本校数据"
        f"（取回 {healed.came_back} 条记录）",
        f"the bureau's server was restored from a backup: this computer sent {healed.resent} "
        f"change(s) again and read its school's data again ({healed.came_back} record(s) came back)",
    )


def busy(exc: SyncBusy) -> int:
    """Another sync of this data folder runs: said on stderr, EXIT_BUSY."""
    _say(exc.message_zh, exc.message_en, error=True)
    return EXIT_BUSY


def sent_words(result: SyncResult) -> tuple[str, str]:
    """ "发出 N 条" and, when some of them the server had already (answered `duplicate`, or a batch whose
    answer was lost replayed), how many of those."""
    zh, en = f"发出 {result.pushed} 条", f"{result.pushed} sent"
    if result.resent:
        zh += f"（其中 {result.resent} 条是上次中断后重发，服务器已经收到过）"
        en += f" ({result.resent} of them again after an interrupted sync: the server had them already)"
    return zh, en


def sync_command(
    ctx: ClientContext,
    *,
    sleep: Sleep = time.sleep,
    wait: float = 0.0,
    by: str = "command",
    **engine_options: Any,
) -> int:
    """One sync, holding the data folder's sync lock (client/sync/lock.py): another sync running there
    (waited for up to `wait` seconds) is EXIT_BUSY, and nothing is sent."""
    try:
        with hold_sync(ctx.store.data_dir, by=by, what="sync", wait=wait):
            return _sync(ctx, sleep=sleep, **engine_options)
    except SyncBusy as exc:
        return busy(exc)


def _sync(ctx: ClientContext, *, sleep: Sleep, **engine_options: Any) -> int:
    with requests.Session() as http:
        engine = SyncEngine(ctx, http, sleep=sleep, **engine_options)
        try:
            result = engine.sync()
        except SyncError as exc:
            return _fail(exc)
    if result.healed is not None:
        _say(*heal_lines(result.healed))
    sent_zh, sent_en = sent_words(result)
    done_zh = f"{sent_zh}，收到 {result.pulled} 条更新"
    done_en = f"{sent_en}, {result.pulled} received"
    if result.complete:
        _say(f"同步完成：{done_zh}", f"sync complete: {done_en}")
        return EXIT_OK
    zh, en = _incomplete_reason(ctx, result)
    _say(f"同步未全部完成（{done_zh}）：{zh}", f"sync incomplete ({done_en}): {en}", error=True)
    return EXIT_REFUSED
