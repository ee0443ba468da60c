"""`school-client`: the school desktop client, and a few commands beside it.

    school-client [--data-dir DIR]                       open the window
    school-client export --form ID OUT.xlsx [--period P] [--status S ...]
    school-client import --form ID FILE.xlsx|FILE.json   (all rows or none; the daily backup is made first)
    school-client backup OUT.db                          (the database and its attachments, in one file)
    school-client restore IN.db [--recovery-code CODE]   (the current database is kept in backups/; the code
                                                         for a backup of another PC or data folder)
    school-client enroll [--server URL] --code CODE     (the server defaults to school-client.ini's)
    school-client enroll --file F [--code CODE]          (offline, from the bureau's enrollment file)
    school-client sync [--wait SECONDS]                  (exit 4 while another sync of the folder runs)
    school-client recovery-code                          (the code that restores a backup on a new PC)
    school-client recover --recovery-code CODE           (this PC lost the data folder's key)
    school-client usb-export DIR                         (sync by USB stick: what waits, to a bundle file)
    school-client usb-import FILE.usbsync                (the bureau's answer bundle)
    school-client --version

Every command takes --data-dir (default: $SCHOOL_CLIENT_DATA_DIR, else the user data folder).
Exit codes: 0 success; 2 bad input, with ONE line in Chinese and English on stderr (details may follow on
the next lines); 3 the disk is full (one line naming the folder or file; nothing was changed: an import is
all or nothing, an export or backup is written to a temporary name first); 1 an unexpected error (its
details go to logs/school-client.log in the data folder); 4 (sync, usb-export, usb-import) another sync of the
data folder runs now - the open window's or another command's - and nothing was done (`sync --wait SECONDS`
waits for it first). Never a traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import json
import logging
import shutil
import sys
import zipfile
from collections.abc import Callable, Sequence
from logging.handlers import RotatingFileHandler
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING

from client.store.dberrors import DB_ERRORS
from client.store.paths import APP_NAME, DB_NAME, resolve_data_dir
from forms.argparse_zh import argparse_zh

if TYPE_CHECKING:
    from client.context import ClientContext
    from client.store.backup import BackupContents
    from client.update.words import Before

log = logging.getLogger(__name__)

WINDOW_LOCK = "window.lock"  # client/ui/single_instance.py LOCK_NAME: held by the open window
EXIT_OK = 0
EXIT_ERROR = 1
EXIT_BAD_INPUT = 2
EXIT_DISK_FULL = 3
EXIT_BUSY = 4  # client/sync/commands.py's: another sync of the data folder runs
LOG_NAME = "school-client.log"
MAX_DETAIL_LINES = 20
FALLBACK_VERSION = "0.1.0"
DISK_FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EFBIG, getattr(errno, "EDQUOT", errno.ENOSPC)})
SQLITE_FULL = 13
SQLITE_IOERR = 10
LOW_SPACE = (
    1024 * 1024
)  # bytes free under which a write error on that disk is taken for a full disk


def package_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("school-data")
    except PackageNotFoundError:
        return FALLBACK_VERSION


class _BadArguments(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise _BadArguments(message)


def _one_line(text: str) -> str:
    return " ".join(text.split("\n")).replace("\r", " ")


def _fail(zh: str, en: str, details: Sequence[str] = ()) -> int:
    print(_one_line(f"{zh} / {en}"), file=sys.stderr)
    for line in details:
        print(f"  {line}", file=sys.stderr)
    return EXIT_BAD_INPUT


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 <= value <= 24 * 3600:  # (NaN too)
        raise argparse.ArgumentTypeError(
            f"“{text}” 应为 0 到 86400 之间的秒数 / seconds from 0 to 86400"
        )
    return value


def build_parser() -> argparse.ArgumentParser:
    data_dir_help = (
        "数据文件夹 / the data folder (default: $SCHOOL_CLIENT_DATA_DIR or the user data folder)"
    )
    common = _Parser(add_help=False)
    common.add_argument("--data-dir", default=argparse.SUPPRESS, help=data_dir_help)
    parser = _Parser(
        prog=APP_NAME,
        description="学校数据采集客户端 / school data-collection client. Without a command: open the window.",
    )
    parser.add_argument("--data-dir", default=None, help=data_dir_help)
    parser.add_argument("--version", action="version", version=f"{APP_NAME} {package_version()}")
    # Hidden: the packaging test's smoke run (save one record, open the window offscreen, close, exit 0).
    parser.add_argument("--smoke-test", action="store_true", help=argparse.SUPPRESS)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser(
        "export", parents=[common], help="导出记录到 Excel / export records to .xlsx"
    )
    p.add_argument(
        "--form", required=True, help="表单编号 / form id, e.g. safety_inspection, teachers"
    )
    p.add_argument("out", metavar="OUT.xlsx")
    p.add_argument(
        "--period", help="只导出这一期 / only this period, e.g. 2026-11, 2026-W48, 2026-autumn"
    )
    p.add_argument(
        "--status",
        nargs="+",
        action="extend",
        metavar="S",
        help="只导出这些状态 / only these statuses: draft submitted received returned accepted",
    )

    p = sub.add_parser(
        "import", parents=[common], help="从 Excel 或 JSON 导入 / import .xlsx or .json"
    )
    p.add_argument("--form", required=True, help="表单编号 / form id")
    p.add_argument("file", metavar="FILE.xlsx|FILE.json")

    p = sub.add_parser(
        "backup",
        parents=[common],
        help="备份数据库和附件 / back the database and its attachments up",
    )
    p.add_argument("out", metavar="OUT.db")

    p = sub.add_parser("restore", parents=[common], help="从备份恢复 / restore from a backup")
    p.add_argument("source", metavar="IN.db")
    p.add_argument(
        "--recovery-code",
        metavar="CODE",
        help="恢复码：恢复另一台电脑（或另一个数据文件夹）的备份时需要 / the recovery code printed for "
        "the PC that made the backup (needed on a new PC or data folder)",
    )
    p.add_argument(
        "--no-sync",
        action="store_true",
        help="恢复后不立即同步 / do not sync right after (what was sent comes back at the next sync)",
    )

    p = sub.add_parser(
        "enroll",
        parents=[common],
        help="用登记码连接教育局服务器 / enroll with the bureau's server",
    )
    p.add_argument(
        "--server",
        help="服务器地址 / server URL, e.g. https://10.1.2.3:8700 "
        "(default: the url in school-client.ini beside the program)",
    )
    p.add_argument(
        "--code",
        help="登记码 / enrollment code (with --file: the file's code; asked on stdin when not given)",
    )
    p.add_argument(
        "--file",
        metavar="F",
        help="从登记文件登记（不联网）/ enroll offline from the bureau's enrollment file (USB stick)",
    )
    p.add_argument(
        "--fingerprint",
        help="服务器证书指纹 / the server certificate's SHA-256 fingerprint, as on the code slip "
        "(default: the fingerprint in school-client.ini)",
    )

    p = sub.add_parser("sync", parents=[common], help="立即同步 / sync now")
    p.add_argument(
        "--wait",
        type=_seconds,
        default=0.0,
        metavar="SECONDS",
        help="另一个同步（程序窗口或另一个命令）正在进行时，最多等待的秒数（默认不等，退出码 4） / "
        "seconds to wait for another sync of this data folder (the window's or another command's) to "
        "end (default: none, exit 4)",
    )
    sub.add_parser(
        "recovery-code",
        parents=[common],
        help="显示本机数据的恢复码 / show the recovery code of this PC's data",
    )
    p = sub.add_parser(
        "recover",
        parents=[common],
        help="本机找不到数据密钥时，用恢复码解锁数据文件夹 / unlock the data folder with its recovery "
        "code when this PC lost its key",
    )
    p.add_argument("--recovery-code", required=True, metavar="CODE", help="恢复码 / recovery code")

    p = sub.add_parser(
        "usb-export",
        parents=[common],
        help="把未发送的数据导出到U盘 / export what waits to be sent to a USB stick",
    )
    p.add_argument("folder", metavar="DIR", help="U盘上的文件夹 / a folder on the stick")
    p = sub.add_parser(
        "usb-import",
        parents=[common],
        help="导入教育局的U盘答复文件 / import the bureau's answer from a USB stick",
    )
    p.add_argument("file", metavar="FILE.usbsync")
    return parser


# -- the data folder --------------------------------------------------------------------------------
# Every command says which data folder it used: the default one (the user data folder) is easy to take
# by mistake for the one the client uses, and an empty folder exports 0 records without a word.


def _has_client_data(data_dir: Path) -> bool:
    return (data_dir / DB_NAME).is_file()


def _no_client_data(data_dir: Path) -> int:
    """Refused: nothing to read in this folder (and nothing is made there)."""
    return _fail(
        f"数据文件夹 {data_dir} 里没有客户端数据：请用 --data-dir 指定客户端使用的数据文件夹"
        "（客户端“设置”页上写着）",
        f"no client data in the data folder {data_dir}: give the folder the client uses with "
        "--data-dir (its 设置 page shows it)",
    )


def _say_folder(data_dir: Path) -> None:
    print(f"数据文件夹 / data folder: {data_dir}")


def _note(zh: str, en: str) -> None:
    print(_one_line(f"注意：{zh} / note: {en}"), file=sys.stderr)


def _note_if_empty(ctx: ClientContext, data_dir: Path) -> None:
    from sqlalchemy import func, select

    from client.store.models import Record

    with ctx.store.Session() as s:
        records = s.execute(select(func.count()).select_from(Record)).scalar_one()
    if not records:
        _note(
            f"数据文件夹 {data_dir} 里没有任何记录；如果客户端用的是别的文件夹，请用 --data-dir 指定",
            f"the data folder {data_dir} holds no records; if the client uses another folder, "
            "give it with --data-dir",
        )


def _read_pin() -> str:
    if sys.stdin.isatty():
        import getpass

        return getpass.getpass("PIN码 / PIN: ")
    return sys.stdin.readline().rstrip("\r\n")  # piped in (a script), never an argument


def _check_pin(ctx: ClientContext, form_id: str) -> None:
    """A sensitive form (teacher ethics, dropout follow-ups) is exported or imported only with the PIN of the
    window's lock (client.store.pin): asked for, counted and made to wait like in the window."""
    from client.store import pin

    if form_id not in pin.sensitive_forms(ctx.forms.data_forms()):
        return
    with ctx.store.Session() as s:
        if not pin.pin_is_set(s):
            raise pin.PinError(
                "敏感表单需要PIN码：请先在客户端窗口中打开该表单并设置PIN码",
                "a sensitive form needs the PIN: set one in the client's window first",
            )
        wait = pin.wait_seconds(s, now=ctx.clock.now())
    if wait:
        raise pin.PinWait(wait)
    typed = _read_pin()
    with ctx.store.Session.begin() as s:  # a wrong PIN is a counted try
        ok = pin.verify_pin(s, typed, now=ctx.clock.now())
    if not ok:
        raise pin.PinError(
            f"PIN码不正确，“{form_id}”是敏感表单，没有导出或导入任何记录",
            f"wrong PIN; {form_id} is a sensitive form, nothing was exported or imported",
        )


# -- commands ---------------------------------------------------------------------------------------


def cmd_export(args: argparse.Namespace, data_dir: Path) -> int:
    from client.context import ClientContext
    from client.excel import export_records

    out = Path(args.out)
    if out.suffix.lower() != ".xlsx":
        return _fail(
            f"导出文件名应以 .xlsx 结尾：{out}", f"the export file name must end in .xlsx: {out}"
        )
    if not _has_client_data(data_dir):
        return _no_client_data(data_dir)
    ctx = ClientContext.open(data_dir)
    try:
        _check_pin(ctx, args.form)
        n = export_records(ctx, args.form, out, period=args.period, statuses=args.status)
        print(f"已导出 {n} 条记录到 {out} / exported {n} records to {out}")
        _say_folder(data_dir)
        _note_if_empty(ctx, data_dir)
    finally:
        ctx.close()
    return EXIT_OK


def cmd_import(args: argparse.Namespace, data_dir: Path) -> int:
    from client.context import ClientContext
    from client.excel import import_file
    from client.store.backup import daily_backup
    from client.store.records import StoreError

    source = Path(args.file)
    if not source.is_file():
        return _fail(f"找不到文件 {source}", f"file not found: {source}")
    new_folder = not _has_client_data(data_dir)
    ctx = ClientContext.open(data_dir)
    try:
        try:
            daily_backup(ctx.store, ctx.clock.today())
        except (OSError, StoreError, *DB_ERRORS) as exc:  # type: ignore[misc]  # the import goes on
            log.warning("daily backup before the import failed: %s", exc)
        _check_pin(ctx, args.form)
        result = import_file(ctx, args.form, source)
    finally:
        ctx.close()
    drafts_zh = f"；其中草稿 {result.drafts}，仍为草稿、不会发送" if result.drafts else ""
    drafts_en = (
        f"; {result.drafts} of them drafts, kept as drafts, not sent" if result.drafts else ""
    )
    print(
        f"已导入 {result.total} 条记录（新增 {result.created}，更新 {result.updated}，"
        f"未变 {result.unchanged}{drafts_zh}） / imported {result.total} records ({result.created} new, "
        f"{result.updated} updated, {result.unchanged} unchanged{drafts_en})"
    )
    _say_folder(data_dir)
    if new_folder:
        _note(
            f"数据文件夹 {data_dir} 原来没有客户端数据，已新建；如果客户端用的是别的文件夹，请用 --data-dir 指定",
            f"the data folder {data_dir} held no client data and was made now; if the client uses "
            "another folder, give it with --data-dir",
        )
    return EXIT_OK


def cmd_backup(args: argparse.Namespace, data_dir: Path) -> int:
    from client.store.backup import backup_to, check_backup
    from client.store.db import open_store

    if not _has_client_data(data_dir):
        return _no_client_data(data_dir)
    store = open_store(data_dir)
    try:
        out = backup_to(store, Path(args.out))
    finally:
        store.close()
    zh, en = _holds(check_backup(out))
    print(f"已备份到 {out}（已校验）：{zh} / backed up to {out} (verified): {en}")
    return EXIT_OK


def _holds(held: BackupContents) -> tuple[str, str]:
    """What a backup holds, in both languages."""
    zh = f"{held.records} 条记录、{held.attachments} 个附件"
    en = f"{held.records} record(s), {held.attachments} attachment(s)"
    if not held.with_attachments:
        zh, en = (
            f"{held.records} 条记录（旧版备份，不含附件）",
            f"{held.records} record(s) (an older backup without attachments)",
        )
    elif held.attachments_missing:
        zh += f"（另有 {held.attachments_missing} 个附件在本机已缺失或损坏，未能备份）"
        en += f" ({held.attachments_missing} more missing or damaged on this PC, not included)"
    return zh, en


def cmd_restore(args: argparse.Namespace, data_dir: Path) -> int:
    from client.store.backup import check_backup, restore_from
    from client.store.db import open_store
    from client.store.keys import has_key, load_key

    source = Path(args.source)
    code = args.recovery_code
    new_key = not has_key(data_dir)
    # Checked before opening (and so creating) anything.
    held = check_backup(source, own=None if new_key else load_key(data_dir), recovery_code=code)
    store = open_store(data_dir)
    try:
        saved = restore_from(store, source, recovery_code=code)
    finally:
        store.close()
    open_store(data_dir).close()  # brings the restored database's schema up to date
    zh, en = _holds(held)
    print(
        f"已从 {source} 恢复（{zh}）；原数据库另存为 {saved} / "
        f"restored from {source} ({en}); the previous database was saved as {saved}"
    )
    if new_key:
        _print_recovery_code(data_dir)
    _restore_report(args, data_dir, saved)
    return EXIT_OK


def _print_recovery_code(data_dir: Path) -> None:
    """The data folder's recovery code, for the clerk to print and keep apart from the PC."""
    from client.store.keys import load_key, mark_recovery_shown

    key = load_key(data_dir)
    if key is None or not key.recovery_code:
        return
    print(
        f"本机数据的恢复码（请打印或抄下，与电脑分开妥善保管；换电脑恢复备份时需要）：{key.recovery_code} / "
        f"the recovery code of this PC's data (print or copy it and keep it apart from the PC; a backup "
        f"restores on a new PC with it): {key.recovery_code}"
    )
    mark_recovery_shown(data_dir)


def cmd_recovery_code(args: argparse.Namespace, data_dir: Path) -> int:
    if not _has_client_data(data_dir):
        return _no_client_data(data_dir)
    from client.store.db import prepare_folder

    prepare_folder(data_dir)
    _print_recovery_code(data_dir)
    return EXIT_OK


def cmd_recover(args: argparse.Namespace, data_dir: Path) -> int:
    if not _has_client_data(data_dir):
        return _no_client_data(data_dir)
    from client.store.db import recover_folder_key

    recover_folder_key(data_dir, args.recovery_code)
    print(
        f"已用恢复码解锁数据文件夹 {data_dir} / the data folder {data_dir} is unlocked with its recovery code"
    )
    return EXIT_OK


def _restore_report(args: argparse.Namespace, data_dir: Path, saved: Path) -> None:
    """What the restore lost for good, and (a sync right away) what came back from the server."""
    from client.context import ClientContext
    from client.store import sync_state as S
    from client.store.healing import work_lost_by_restore
    from client.sync.commands import sync_command

    ctx = ClientContext.open(data_dir)
    try:
        lost = work_lost_by_restore(ctx.store.db_path, saved)
        if lost is None or lost.changes == 0:
            print(
                "备份之后本机没有未发出的修改，没有丢失内容 / nothing saved here after the backup was "
                "left unsent: nothing is lost"
            )
        else:
            print(
                f"备份之后在本机保存、但从未发给教育局的 {lost.changes} 条修改（{lost.records} 条记录）"
                f"已丢失；它们仍在另存的原数据库 {saved} 中 / {lost.changes} change(s) to "
                f"{lost.records} record(s) saved here after the backup and never sent are lost; "
                f"they are still in the saved copy {saved}"
            )
        with ctx.store.Session() as s:
            enrolled = S.get_enrollment(s) is not None
        if not enrolled:
            print(
                "本机未登记到教育局服务器：只有备份中的内容 / this computer is not enrolled: it holds "
                "what the backup held"
            )
        elif args.no_sync:
            print(
                "下次同步时，本机在备份之后发给教育局的记录会从服务器取回 / at the next sync, what "
                "this computer sent after the backup comes back from the server"
            )
        else:
            sync_command(ctx)
    finally:
        ctx.close()


def _gui(data_dir: Path, *, smoke: bool = False) -> int:
    try:
        from client.ui.app import run_gui
    except ImportError as exc:
        log.exception("the window cannot start")
        print(_one_line(f"无法打开窗口 / cannot open the window: {exc}"), file=sys.stderr)
        return EXIT_ERROR
    return int(run_gui(data_dir, smoke=smoke) or 0)


def _smoke_test(data_dir: Path) -> int:
    """`--smoke-test`: save one submitted record through the store, then run_gui(smoke=True).

    Prints `smoke ok: N records, window shown at T` (T: epoch seconds) so that the bundle test can measure the
    time from start to the first window."""
    from client.context import ClientContext
    from client.store.records import RecordFilter, count_records, save_record

    ctx = ClientContext.open(data_dir)
    try:
        today, now = ctx.clock.today(), ctx.clock.now()
        form = ctx.forms.get("safety_inspection")
        data = {
            "inspection_date": today.isoformat(),
            "inspection_type": "routine",
            "inspectors": "张明、李华",
            "areas": ["teaching_building", "fire_equipment"],
            "hazards_found": "no",
            "signed_by": "王校长",
        }
        with ctx.store.Session.begin() as session:
            save_record(session, form=form, data=data, submit=True, today=today, now=now)
        with ctx.store.Session() as session:
            records = count_records(session, RecordFilter(form_id="safety_inspection"))
    finally:
        ctx.close()
    code = _gui(data_dir, smoke=True)
    if code == EXIT_OK:
        from client.ui import app

        print(f"smoke ok: {records} records, window shown at {app.FIRST_WINDOW_AT}")
    return code


def cmd_enroll(args: argparse.Namespace, data_dir: Path) -> int:
    """Enroll online or from a file. In a data folder that held no store, a refused enrollment leaves
    nothing of what it made (store, key.json, the key store's entry; main() removes the log of a folder it
    made): a later try, or the window, starts as on a new computer. Online, a try whose answer never came
    (no network, a server error) keeps the store: its enrollment request id makes the retry safe (the
    server may have used the code)."""
    from client.context import ClientContext, FolderBefore
    from client.enrollment_file_cli import ask_code, enroll_file_command, no_code
    from client.preconfig import CONFIG_NAME, preconfigured_server
    from client.sync.commands import EXIT_REFUSED, enroll_command

    server = ""
    if args.file:
        code = args.code or ask_code()
        if not code:
            return no_code()
    elif not args.code:
        return _fail("请用 --code 给出登记码", "give the enrollment code with --code")
    else:
        code = args.code
        server = args.server or preconfigured_server() or ""
        if not server:
            return _fail(
                f"请用 --server 指定服务器地址（或在程序旁的 {CONFIG_NAME} 中设置）",
                f"give the server with --server (or set it in {CONFIG_NAME} beside the program)",
            )
    before = FolderBefore.look(data_dir)
    done: int | None = None  # None: an error was raised
    enrolled = False
    try:
        ctx = ClientContext.open(data_dir)
        try:
            if args.file:
                done = enroll_file_command(ctx, Path(args.file), code)
            else:
                done = enroll_command(ctx, server, code, fingerprint=args.fingerprint)
        finally:
            enrolled = _enrolled(ctx)
            ctx.close()
    finally:
        # From a file nothing was sent: any failure takes back. Online, only a refusal does.
        failed = done != EXIT_OK if args.file else done == EXIT_REFUSED
        if failed and not enrolled:
            before.take_back()
    if done == EXIT_OK:
        _print_recovery_code(data_dir)
    assert done is not None  # (None only when an error was raised)
    return done


def _enrolled(ctx: ClientContext) -> bool:
    """Whether the store holds an enrollment (True when it cannot be read: then nothing is taken back)."""
    from client.store import sync_state as S

    try:
        with ctx.store.Session() as s:
            return S.get_enrollment(s) is not None
    except Exception as exc:
        log.warning("whether this computer is enrolled cannot be read: %s", exc)
        return True


def cmd_sync(args: argparse.Namespace, data_dir: Path) -> int:
    from client.context import ClientContext
    from client.sync.commands import sync_command

    if not _has_client_data(data_dir):
        return _no_client_data(data_dir)
    _say_folder(data_dir)
    ctx = ClientContext.open(data_dir)
    try:
        return sync_command(ctx, wait=args.wait)
    finally:
        ctx.close()


COMMANDS: dict[str, Callable[[argparse.Namespace, Path], int]] = {
    "export": cmd_export,
    "import": cmd_import,
    "backup": cmd_backup,
    "restore": cmd_restore,
    "enroll": cmd_enroll,
    "sync": cmd_sync,
    "recovery-code": cmd_recovery_code,
    "recover": cmd_recover,
    "usb-export": lambda args, data_dir: _usb("cmd_usb_export", args, data_dir),
    "usb-import": lambda args, data_dir: _usb("cmd_usb_import", args, data_dir),
}


def _usb(name: str, args: argparse.Namespace, data_dir: Path) -> int:
    """Sync by USB stick (client.usb.cli), on this PC's client data only."""
    from client.usb import cli as usb_cli

    if not _has_client_data(data_dir):
        return _no_client_data(data_dir)
    _say_folder(data_dir)
    command: Callable[[argparse.Namespace, Path], int] = getattr(usb_cli, name)
    return command(args, data_dir)


# -- entry point ------------------------------------------------------------------------------------


class _LogFile(RotatingFileHandler):
    """The log is kept as well as the disk allows: a record that cannot be written (a full disk) is
    dropped, never printed to the clerk as a "--- Logging error ---" traceback."""

    def handleError(self, record: logging.LogRecord) -> None:
        pass

    def close(self) -> None:
        with contextlib.suppress(OSError):
            super().close()


def _setup_logging(data_dir: Path) -> logging.Handler | None:
    """A rotating UTF-8 log in the data folder; None if the folder cannot be written."""
    try:
        folder = data_dir / "logs"
        folder.mkdir(parents=True, exist_ok=True)
        handler = _LogFile(folder / LOG_NAME, maxBytes=1_000_000, backupCount=3, encoding="utf-8")
    except OSError:
        return None
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    logging.getLogger("alembic").setLevel(logging.WARNING)
    return handler


def _excepthook(kind: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
    log.critical("unhandled error", exc_info=(kind, exc, tb))
    print(_one_line(f"程序出错 / unexpected error: {exc}"), file=sys.stderr)


def _causes(exc: BaseException) -> list[BaseException]:
    """The error and every error it wraps (SQLAlchemy's .orig, __cause__, __context__)."""
    out: list[BaseException] = []
    todo: list[BaseException | None] = [exc]
    while todo:
        e = todo.pop()
        if e is None or any(e is seen for seen in out):
            continue
        out.append(e)
        orig = getattr(e, "orig", None)
        todo += [orig if isinstance(orig, BaseException) else None, e.__cause__, e.__context__]
    return out


def _free(path: Path) -> int | None:
    for folder in (path, *path.parents):
        if folder.exists():
            try:
                return shutil.disk_usage(folder).free
            except OSError:
                return None
    return None


def _full_disk(exc: BaseException, args: argparse.Namespace, data_dir: Path) -> Path | None:
    """Where the disk is full, if that is what this error says: SQLite's SQLITE_FULL, a write refused
    with ENOSPC/EDQUOT/EFBIG, or an SQLite I/O error on a disk with (almost) no space left."""
    written = [Path(p) for p in (getattr(args, "out", None),) if p]
    full = io_error = False
    for e in _causes(exc):
        if isinstance(e, OSError) and e.errno in DISK_FULL_ERRNOS:
            full = True
            if e.filename:
                written.insert(0, Path(str(e.filename)))
        elif isinstance(e, DB_ERRORS):
            code = getattr(e, "sqlite_errorcode", None)
            full = full or code == SQLITE_FULL or "database or disk is full" in str(e)
            io_error = io_error or (code is not None and code & 0xFF == SQLITE_IOERR)
    candidates = [*written, data_dir]
    low = [p for p in candidates if (free := _free(p)) is not None and free < LOW_SPACE]
    if low:
        return low[0] if full or io_error else None
    return candidates[0] if full else None


def _say_disk_full(where: Path) -> int:
    print(
        _one_line(
            f"磁盘已满：{where} 所在的磁盘没有剩余空间，操作未完成，已保存的数据没有变化；请清理磁盘后重试 / "
            f"the disk is full: no space is left on the disk of {where}; nothing was done and "
            "nothing saved was changed; free some space and try again"
        ),
        file=sys.stderr,
    )
    return EXIT_DISK_FULL


def _run(args: argparse.Namespace, data_dir: Path) -> int:
    try:
        if args.command is None:
            sys.excepthook = _excepthook
            return _smoke_test(data_dir) if args.smoke_test else _gui(data_dir)
        return COMMANDS[args.command](args, data_dir)
    except Exception as exc:
        where = _full_disk(exc, args, data_dir)
        if where is not None:
            log.error("%s: the disk is full at %s: %s", args.command, where, exc)
            return _say_disk_full(where)
        return _refused(exc, args, data_dir)


def _refused(error: Exception, args: argparse.Namespace, data_dir: Path) -> int:
    """Refused input as one line (exit 2); anything else is raised again (main: exit 1)."""
    from sqlalchemy.exc import SQLAlchemyError

    from client.store.records import StoreError
    from forms.errors import FormDefinitionError

    try:
        raise error
    except StoreError as exc:  # refused input: unknown form, invalid rows, bad backup, ...
        log.info("%s refused: %s / %s", args.command, exc.message_zh, exc.message_en)
        details: list[str] = []
        problems = getattr(exc, "problems", None)
        if isinstance(problems, list) and len(problems) > 1:
            details = [_one_line(str(p)) for p in problems[1:MAX_DETAIL_LINES]]
            total = getattr(exc, "total", len(problems))
            if total > len(details) + 1:
                rest = total - len(details) - 1
                details.append(f"……另有 {rest} 个问题 / ... and {rest} more")
        return _fail(exc.message_zh, exc.message_en, details)
    except FormDefinitionError as exc:
        first = exc.errors[0] if exc.errors else None
        text = str(first) if first else str(exc)
        return _fail(f"表单定义有误：{text}", "a form definition is invalid")
    except (zipfile.BadZipFile, json.JSONDecodeError, UnicodeDecodeError) as exc:
        return _fail("文件无法读取", f"the file cannot be read: {exc}")
    except OSError as exc:
        where = exc.filename or ""
        return _fail(
            f"文件操作失败 {where}：{exc.strerror or exc}",
            f"file error {where}: {exc.strerror or exc}",
        )
    except (*DB_ERRORS, SQLAlchemyError) as exc:  # type: ignore[misc]  # mypy: starred except tuple
        log.exception("database error")
        reason = str(getattr(exc, "orig", None) or exc).splitlines()[0]
        return _fail(
            f"数据库错误（数据文件夹 {data_dir}）：{reason}",
            f"database error (data folder {data_dir}): {reason}",
        )


def _first_missing(folder: Path) -> Path | None:
    """The outermost of `folder` and its parents that does not exist (what making `folder` makes)."""
    missing = None
    for f in (folder, *folder.parents):
        if f.exists():
            break
        missing = f
    return missing


def _remove_log_only_folder(data_dir: Path, made_from: Path) -> None:
    """Remove `data_dir` when it holds nothing but this run's log (made by a refused command), and the
    folders made to hold it (up to `made_from`) that are empty then."""
    with contextlib.suppress(OSError):
        if {p.name for p in data_dir.iterdir()} == {"logs"}:
            shutil.rmtree(data_dir / "logs")
            data_dir.rmdir()
            for parent in data_dir.parents:
                if made_from != parent and made_from not in parent.parents:
                    break
                parent.rmdir()  # OSError when not empty: kept


def _window_open_elsewhere(data_dir: Path) -> bool:
    """A window start on a data folder whose window is open already (client/ui/single_instance.py):
    that window is asked to come to the front and the clerk told 程序已经打开; True then."""
    if not (data_dir / WINDOW_LOCK).exists():
        return False  # (Qt is not loaded for nothing)
    try:
        from client.ui.single_instance import already_open, window_open_elsewhere
    except ImportError:  # no Qt here: the window will say so itself
        return False
    if not window_open_elsewhere(data_dir):
        return False
    log.info("a window is open on %s already", data_dir)
    already_open(data_dir, show_dialog=True)
    return True


def _say_update(said: Before, data_dir: Path) -> None:
    """`sync`: one line about updates when there is something to say (client/update/words.py)."""
    from client.update.words import update_line

    try:
        line = update_line(said, data_dir, package_version())
    except Exception:  # the sync's own result stands
        log.warning("the update line could not be made", exc_info=True)
        return
    if line is not None:
        zh, en, problem = line
        print(_one_line(f"{zh} / {en}"), file=sys.stderr if problem else sys.stdout)


def _mark_first_start(args: argparse.Namespace, data_dir: Path, running: str) -> None:
    """Issue 16: the first start of a version just installed counts as good once the program has come up -
    its libraries loaded, the command parsed and, when the data folder holds a store, the store opened (and
    migrated) by this version - before the command runs. What the command then comes to (no network: exit 1;
    a mistyped file, a refused sync, the server's 426: exit 2) says nothing about the new version: it is
    kept, and its exit code is the clerk's answer (the old version does not run the command again). Only a
    start that never gets this far is rolled back (client/update/install.py). The window marks its start
    once it is shown (client/ui/app.py)."""
    from client.update.install import mark_started
    from client.update.state import PENDING_FILE, read_json, updates_dir

    if args.command is None:
        return
    pending = read_json(updates_dir(data_dir) / PENDING_FILE)
    if not isinstance(pending, dict) or pending.get("version") != running:
        return  # not a first start: nothing opened twice
    if _has_client_data(data_dir):
        from client.context import ClientContext

        try:
            ClientContext.open(data_dir).close()
        except Exception:  # the command meets it too; only its success marks the start then
            log.warning("the first start of %s could not open the store", running, exc_info=True)
            return
    mark_started(data_dir, running)


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
    except _BadArguments as exc:
        return _fail(
            f"参数错误：{argparse_zh(str(exc))}（用 {APP_NAME} --help 查看用法）",
            f"bad arguments: {exc} (see {APP_NAME} --help)",
        )
    except SystemExit as exc:  # --help, --version
        return exc.code if isinstance(exc.code, int) else EXIT_OK
    data_dir = resolve_data_dir(getattr(args, "data_dir", None))
    # A refused command (no data to export) leaves no log behind in a data folder that did not exist before
    # it: the clerk would take it for a client's data folder.
    made_from = _first_missing(data_dir)
    code = EXIT_ERROR
    handler = _setup_logging(data_dir)
    try:
        from client.update.install import apply_at_start, mark_started  # issue 16

        if args.command is None and _window_open_elsewhere(data_dir):
            return EXIT_OK  # brought to the front; nothing opened or installed under it
        said = None
        if args.command == "sync" and _has_client_data(data_dir):
            from client.update.hook import confirm_before_install
            from client.update.words import before

            said = before(data_dir, package_version())  # what the line after the sync compares with
            confirm_before_install(data_dir, running=package_version())  # still offered?
        installed = apply_at_start(
            data_dir, list(sys.argv[1:] if argv is None else argv), running=package_version()
        )
        if installed is not None:  # a staged update ran in this version's place
            return installed
        _mark_first_start(args, data_dir, package_version())
        code = _run(args, data_dir)
        if code == EXIT_OK:  # (a command that opens no store, --smoke-test)
            mark_started(data_dir, package_version())
        if said is not None:
            _say_update(said, data_dir)
        return code
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # a bug: one line for the clerk, the details in the log
        log.exception("unexpected error")
        where = f"（详见 {data_dir / 'logs' / LOG_NAME}）" if handler else ""
        where_en = f" (details in {data_dir / 'logs' / LOG_NAME})" if handler else ""
        print(
            _one_line(f"程序出错{where} / unexpected error{where_en}: {exc}"),
            file=sys.stderr,
        )
        return EXIT_ERROR
    finally:
        if handler is not None:
            logging.getLogger().removeHandler(handler)
            handler.close()  # never raises (_LogFile)
        if made_from is not None and code == EXIT_BAD_INPUT:
            _remove_log_only_folder(data_dir, made_from)


if __name__ == "__main__":
    sys.exit(main())
