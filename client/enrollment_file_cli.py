"""`school-client enroll --file F [--code CODE]`: enrollment from the bureau's file, offline (protocol 1.15).

One line in Chinese and English: stdout on success, stderr otherwise; exit 0 enrolled, 2 refused (a wrong
code, tries that must wait, a damaged or changed file, this computer already enrolled). A data folder that
held no store before keeps nothing of a refused enrollment (client.cli.cmd_enroll takes it back)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

from client.enrollment_file import EnrollFileError, enroll_from_file

if TYPE_CHECKING:
    from client.context import ClientContext

EXIT_OK = 0
EXIT_REFUSED = 2


def _say(zh: str, en: str, *, error: bool = False) -> None:
    print(" ".join(f"{zh} / {en}".split()), file=sys.stderr if error else sys.stdout)


def ask_code() -> str:
    print(
        "请输入登记文件的登记码 / the enrollment file's code: ", end="", file=sys.stderr, flush=True
    )
    return sys.stdin.readline().strip()


def no_code() -> int:
    _say("没有输入登记码", "no code was given", error=True)
    return EXIT_REFUSED


def enroll_file_command(ctx: ClientContext, path: Path, code: str) -> int:
    """Enroll the open store's computer from the file `path` with `code` (asked before the store is opened:
    ask_code), saying the outcome."""
    try:
        done = enroll_from_file(ctx, path, code)
    except EnrollFileError as exc:
        _say(f"登记失败：{exc.message_zh}", f"enrollment failed: {exc.message_en}", error=True)
        return EXIT_REFUSED
    e = done.enrollment
    _say(
        f"已从登记文件登记：本机属于“{e.school_name}”（{e.school_code}），服务器 {e.server_url}；"
        f"收到表单 {done.forms} 个、记录 {done.records} 条（含名册）。之后可用U盘同步，或联网时同步",
        f"enrolled from the file: this computer belongs to {e.school_code} ({e.school_name}), server "
        f"{e.server_url}; {done.forms} forms and {done.records} records (roster included) came with "
        "it. Sync by USB stick from now on, or online when there is a link",
    )
    return EXIT_OK
