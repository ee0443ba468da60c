"""`sync-server`: run the bureau sync server and administer it.

    sync-server serve [--host 127.0.0.1] [--port 8700] [--cert cert.pem --key key.pem | --no-tls]
    sync-server make-cert --host NAME [--host 10.1.2.3] [--out DIR] [--days 3650] [--force]
    sync-server add-school --code CODE --name NAME
    sync-server enrollment-file --school CODE --out DIR [--server URL]   (offline enrollment by USB stick)
    sync-server revoke-device DEVICE_ID
    sync-server list-devices [--school CODE]
    sync-server publish-form FILE.yaml|FILE.xlsx
    sync-server withdraw-form FORM_ID VERSION
    sync-server export --form ID [--period P] OUT.xlsx
    sync-server clean-uploads [--older-than-hours H]
    sync-server add-user --username U --role admin|reviewer|viewer [--ethics] [--password-stdin]
    sync-server restore BACKUP.db [--previous-seq N] [--no-carry-over]        (SQLite; stop the server first)
    sync-server usb-import FILE.usbsync... | FOLDER  (sync by USB stick: every school bundle in a folder;
                                                  answers written beside, a 回执 each)
    sync-server restore --after-pg-restore [--previous-db URL] [--previous-seq N] [--no-carry-over]

Every command takes --db URL (default: $SYNC_SERVER_DB, else sync.db in the instance folder), --instance DIR
(default: $SYNC_SERVER_INSTANCE, else the package's instance folder) and --json (print the result as one
JSON object on the last line). The database is migrated, and on a fresh server the shipped forms are
published, before any command runs. Exit status: 0 done, 1 the database or a file could not be reached,
2 bad input (one line in Chinese and English on stderr, never a traceback).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import logging
import logging.handlers
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError, SQLAlchemyError

from forms.argparse_zh import argparse_zh
from forms.display import zone_label
from forms.os_text import en_reason, zh_reason
from sync_server.config import ConfigError, default_database_url, default_instance_path
from sync_server.db import Database, DatabaseUrlError, open_database
from sync_server.errors import ServiceError

if TYPE_CHECKING:
    from sync_server.services.check_pool import CheckPool

log = logging.getLogger(__name__)

EXIT_OK = 0
EXIT_UNAVAILABLE = 1
EXIT_BAD_INPUT = 2


class CliError(Exception):
    def __init__(self, code: str, message_zh: str, message_en: str, exit_code: int) -> None:
        super().__init__(f"{message_zh} / {message_en}")
        self.code = code
        self.message_zh = message_zh
        self.message_en = message_en
        self.exit_code = exit_code


class _HelpFormatter(argparse.HelpFormatter):
    """argparse's help with its own words Chinese first: 用法 / usage."""

    def add_usage(self, usage: Any, actions: Any, groups: Any, prefix: str | None = None) -> None:
        super().add_usage(usage, actions, groups, "用法 / usage: " if prefix is None else prefix)


class _Parser(argparse.ArgumentParser):
    """Help Chinese first (headings, -h) and errors in both languages (CliError, exit 2)."""

    def __init__(self, *args: Any, add_help: bool = True, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", _HelpFormatter)
        kwargs["add_help"] = False  # ours below, in both languages
        parents = kwargs.pop("parents", [])
        super().__init__(*args, **kwargs)
        self._positionals.title = "参数 / arguments"
        self._optionals.title = "选项 / options"
        if add_help:
            self.add_argument(
                "-h",
                "--help",
                action="help",
                default=argparse.SUPPRESS,
                help="显示本帮助并退出 / show this help and exit",
            )
        # The parents' options join the groups of the same (now Chinese-first) titles, as argparse does.
        for parent in parents:
            self._add_container_actions(parent)
            self._defaults.update(parent._defaults)

    def error(self, message: str) -> NoReturn:
        raise CliError(
            "bad_arguments",
            f"参数错误：{argparse_zh(message)}（用 {self.prog} --help 查看用法）",
            f"bad arguments: {message} (see {self.prog} --help)",
            EXIT_BAD_INPUT,
        )


@dataclass
class Context:
    args: argparse.Namespace
    instance: Path
    db_url: str

    def open(self) -> Database:
        from sync_server.app import prepare_database
        from sync_server.config import system_clock

        try:
            db = open_database(self.db_url)
        except DatabaseUrlError as exc:
            raise CliError(
                "bad_db_url", f"数据库地址无效：{exc}", f"bad database URL: {exc}", EXIT_BAD_INPUT
            ) from None
        try:
            prepare_database(db, migrate=True, publish_forms=True, now=system_clock())
        except OperationalError as exc:
            db.close()
            raise CliError(
                "db_unavailable",
                f"无法连接数据库 {_safe_url(self.db_url)}：{_first_line(exc.orig)}",
                f"cannot reach the database {_safe_url(self.db_url)}: {_first_line(exc.orig)}",
                EXIT_UNAVAILABLE,
            ) from None
        return db


def _first_line(exc: object) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def _safe_url(url: str) -> str:
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "<bad url>"


# -- commands ---------------------------------------------------------------------------------------

Result = tuple[dict[str, Any], list[str]]  # (the JSON result, lines for people)


def cmd_add_school(ctx: Context) -> Result:
    from sync_server.config import build_config, system_clock
    from sync_server.services.schools import add_school

    config = build_config(ctx.instance, None)
    secret = str(config["SECRET_KEY"])  # the code's hash is keyed with it
    db = ctx.open()
    try:
        with db.Session.begin() as session:
            sc = add_school(
                session, code=ctx.args.code, name=ctx.args.name, now=system_clock(), secret=secret
            )
    finally:
        db.close()
    expires = sc.expires_at.replace(microsecond=0).isoformat() + "Z"
    offset = dt.timedelta(hours=float(config["UTC_OFFSET_HOURS"]))  # shown in the bureau's time
    shown = f"{sc.expires_at.replace(tzinfo=None) + offset:%Y-%m-%d %H:%M}（{zone_label(offset)}）"
    what = "已添加学校" if sc.created else "学校已存在，已发放新的登记码"
    what_en = "school added" if sc.created else "school exists; a fresh code was issued"
    fingerprint = _served_fingerprint(ctx.instance)
    lines = [
        f"{what} / {what_en}: {sc.school_code} {sc.school_name}",
        f"登记码 / enrollment code: {sc.enrollment_code}",
        f"有效期至 / valid until: {shown}（一次性 / single use）",
    ]
    if fingerprint:
        lines.append(f"服务器证书指纹 / server certificate fingerprint (SHA-256): {fingerprint}")
    return (
        {
            "school_code": sc.school_code,
            "school_name": sc.school_name,
            "enrollment_code": sc.enrollment_code,
            "expires_at": expires,
            "created": sc.created,
            "fingerprint": fingerprint,
        },
        lines,
    )


def _served_fingerprint(instance: Path) -> str | None:
    """The fingerprint the schools pin (sync_server.tls.served_fingerprint), or None."""
    from sync_server.config import read_instance_file
    from sync_server.tls import served_fingerprint

    return served_fingerprint(read_instance_file(instance), instance)


def _tls_files(ctx: Context) -> tuple[Path, Path] | None:
    """The certificate and key `serve` uses: --cert/--key, else tls_cert/tls_key in config.toml, else
    <instance>/tls/cert.pem and key.pem when both exist; None: plain HTTP (--no-tls, or none found)."""
    from sync_server.config import read_instance_file
    from sync_server.tls import default_paths

    args = ctx.args
    if args.no_tls:
        if args.cert or args.key:
            raise CliError(
                "bad_arguments",
                "--no-tls 不能与 --cert/--key 同时使用",
                "--no-tls goes without --cert/--key",
                EXIT_BAD_INPUT,
            )
        return None
    if bool(args.cert) != bool(args.key):
        raise CliError(
            "bad_arguments",
            "--cert 和 --key 需要一起给出（证书和它的私钥）",
            "--cert and --key go together (the certificate and its key)",
            EXIT_BAD_INPUT,
        )
    if args.cert:
        return Path(args.cert), Path(args.key)
    cfg = read_instance_file(ctx.instance)
    if bool(cfg.get("TLS_CERT")) != bool(cfg.get("TLS_KEY")):
        raise CliError(
            "bad_config",
            f"{ctx.instance / 'config.toml'} 中 tls_cert 和 tls_key 需要一起设置（证书和它的私钥）",
            f"tls_cert and tls_key go together in {ctx.instance / 'config.toml'} (the certificate "
            "and its key)",
            EXIT_BAD_INPUT,
        )
    if cfg.get("TLS_CERT"):
        return Path(str(cfg["TLS_CERT"])), Path(str(cfg["TLS_KEY"]))
    cert, key = default_paths(ctx.instance)
    return (cert, key) if cert.is_file() and key.is_file() else None


def cmd_make_cert(ctx: Context) -> Result:
    from sync_server.tls import TlsError, default_paths, make_certificate

    args = ctx.args
    cert, key = default_paths(Path(args.out) if args.out else ctx.instance)
    if args.out:
        cert, key = Path(args.out) / cert.name, Path(args.out) / key.name
    try:
        made = make_certificate(args.host, cert, key, days=args.days, overwrite=args.force)
    except TlsError as exc:
        raise CliError(exc.code, exc.message_zh, exc.message_en, EXIT_BAD_INPUT) from None
    until = made.not_after.date().isoformat()
    return (
        {
            "cert": str(made.cert_path),
            "key": str(made.key_path),
            "fingerprint": made.fingerprint,
            "hosts": list(made.hosts),
            "not_after": until,
        },
        [
            f"已生成自签名证书 / self-signed certificate made: {made.cert_path}（{', '.join(made.hosts)}，"
            f"有效至 / valid until {until}）",
            f"私钥 / key: {made.key_path}（仅本账户可读，勿外传 / owner-only, never share it）",
            f"证书指纹 / fingerprint (SHA-256): {made.fingerprint}",
            "把指纹写入学校的 school-client.ini（[server] fingerprint = ...），登记单和 add-school 也会显示它 / "
            "put the fingerprint in the schools' school-client.ini ([server] fingerprint = ...); code "
            "slips and add-school show it too",
        ],
    )


def cmd_revoke_device(ctx: Context) -> Result:
    from sync_server.config import system_clock
    from sync_server.services.schools import revoke_device

    db = ctx.open()
    try:
        with db.Session.begin() as session:
            info = revoke_device(session, ctx.args.device_id, now=system_clock())
    finally:
        db.close()
    revoked = info.revoked_at.replace(microsecond=0).isoformat() + "Z" if info.revoked_at else None
    return (
        {
            "device_id": info.device_id,
            "school_code": info.school_code,
            "name": info.name,
            "revoked_at": revoked,
        },
        [f"已撤销设备 / device revoked: {info.device_id} ({info.school_code} {info.name})"],
    )


def cmd_list_devices(ctx: Context) -> Result:
    from sqlalchemy import select

    from sync_server.models import Device, DeviceUpdate, School
    from sync_server.services.common import iso
    from sync_server.services.schools import list_devices

    db = ctx.open()
    try:
        with db.ReadSession.begin() as session:
            devices = list_devices(session, school_code=ctx.args.school)
            # Each device's last update report, as the 客户端更新 page reads it.
            stmt = select(DeviceUpdate)
            if ctx.args.school is not None:
                stmt = (
                    stmt.join(Device, Device.id == DeviceUpdate.device_id)
                    .join(School, School.id == Device.school_id)
                    .where(School.code == ctx.args.school)
                )
            updates = {u.device_id: _device_update(u) for u in session.execute(stmt).scalars()}
    finally:
        db.close()
    rows = [
        {
            "device_id": d.device_id,
            "school_code": d.school_code,
            "name": d.name,
            "app_version": d.app_version,
            "created_at": iso(d.created_at),
            "last_seen_at": iso(d.last_seen_at),
            "revoked_at": iso(d.revoked_at),
            "update": updates.get(d.device_id),  # None: it never reported (before 1.18)
        }
        for d in devices
    ]
    lines = [
        f"{r['device_id']}  {r['school_code']}  {r['name']}  "
        f"{'已撤销 revoked' if r['revoked_at'] else '有效 active'}  {r['last_seen_at'] or '-'}  "
        f"版本 version {r['app_version'] or '-'}  更新 update: "
        + _update_words(updates.get(str(r["device_id"])))
        for r in rows
    ] or ["没有设备 / no devices"]
    return {"devices": rows}, lines


def _device_update(u: Any) -> dict[str, Any]:
    """A device's stored update report (a models.DeviceUpdate) as list-devices shows it: the words of
    客户端更新, and a failed first start's tries and block from the report's fields (1.21) or line."""
    from sync_server import updates as U
    from sync_server.services.common import iso

    zh, en = U.state_text(u)
    failure = U.start_failure(u)
    until = U.blocked_until(u)
    return {
        "state": u.state,
        "target_version": u.target_version,
        "failures": u.failures,
        "checked_at": iso(u.checked_at),
        "tries": failure.tries if failure else None,
        "blocked": failure.blocked if failure else False,
        "blocked_until": iso(until),
        "text_zh": zh,
        "text_en": en,
    }


def _update_words(update: dict[str, Any] | None) -> str:
    if update is None:
        return "从未报告 / never reported"
    zh, en = update["text_zh"], update["text_en"]
    if update["tries"] is not None and not update["blocked"]:
        zh += f"（已试 {update['tries']} 次）"
        en += f" (tried {update['tries']} times)"
    elif update["blocked"]:
        until = update["blocked_until"]
        zh += f"，暂停安装{f'到 {until}' if until else ''}"
        en += f", not taken{f' until {until}' if until else ''}"
    return f"{zh} / {en}  ({update['checked_at']})"


def cmd_publish_form(ctx: Context) -> Result:
    from sync_server.config import system_clock
    from sync_server.services.forms import publish_form, read_form_file

    form = read_form_file(Path(ctx.args.file))
    db = ctx.open()
    try:
        with db.Session.begin() as session:
            pub = publish_form(session, form, now=system_clock())
    finally:
        db.close()
    if pub.published:
        line = f"已发布 / published: {pub.form_id} {pub.version} ({pub.title_zh})"
    else:
        line = f"该版本已发布，内容相同，未作改动 / already published, unchanged: {pub.form_id} {pub.version}"
    return (
        {
            "form_id": pub.form_id,
            "version": pub.version,
            "sha256": pub.sha256,
            "title_zh": pub.title_zh,
            "published": pub.published,
        },
        [line],
    )


def cmd_withdraw_form(ctx: Context) -> Result:
    from sync_server.config import system_clock
    from sync_server.services.common import iso
    from sync_server.services.forms import withdraw_form

    db = ctx.open()
    try:
        with db.Session.begin() as session:
            w = withdraw_form(session, ctx.args.form_id, ctx.args.version, now=system_clock())
    finally:
        db.close()
    if w.withdrawn:
        line = f"已撤回 / withdrawn: {w.form_id} {w.version} ({w.title_zh})"
    else:
        line = f"该版本早已撤回，未作改动 / already withdrawn, unchanged: {w.form_id} {w.version}"
    now_offered = (
        f"学校新建记录改用版本 / new records now use version: {w.current}"
        if w.current
        else "此表单已没有可用版本，学校不能新建此表单的记录 / no version of this form is offered now"
    )
    return (
        {
            "form_id": w.form_id,
            "version": w.version,
            "withdrawn": w.withdrawn,
            "withdrawn_at": iso(w.withdrawn_at),
            "current": w.current,
        },
        [line, now_offered],
    )


def cmd_clean_uploads(ctx: Context) -> Result:
    from sync_server.config import system_clock
    from sync_server.maintenance import clean_uploads, idle_hours

    try:
        hours = idle_hours(ctx.args.older_than_hours, ctx.instance)
    except ValueError as exc:
        raise CliError(
            "bad_arguments",
            f"--older-than-hours 应为 0 到 876000 之间的小时数，收到 {exc}",
            f"--older-than-hours must be a number of hours from 0 to 876000, got {exc}",
            EXIT_BAD_INPUT,
        ) from None
    db = ctx.open()
    try:
        return clean_uploads(db, ctx.instance, hours=hours, now=system_clock())
    finally:
        db.close()


def cmd_export(ctx: Context) -> Result:
    from sync_server.config import system_clock
    from sync_server.export import export_form
    from sync_server.services.common import audit

    db = ctx.open()
    try:
        now = system_clock()
        result = export_form(
            db.ReadSession, ctx.args.form, Path(ctx.args.out), now=now, period=ctx.args.period
        )
        with db.Session.begin() as session:  # every export is logged (some forms are sensitive)
            audit(
                session,
                now=now,
                actor="cli",
                action="form.export",
                object_id=result.form_id,
                details={
                    "records": result.records,
                    "path": str(result.path),
                    "period": result.period,
                    **({"sensitive": True} if result.sensitive else {}),
                },
            )
    finally:
        db.close()
    return (
        {
            "form_id": result.form_id,
            "version": result.version,
            "path": str(result.path),
            "records": result.records,
            "schools": result.schools,
            "sheets": result.sheets,
            "period": result.period,
        },
        [
            f"已导出 {result.records} 条记录（{result.schools} 所学校）到 {result.path}",
            f"exported {result.records} records of {result.schools} schools to {result.path}",
        ],
    )


def _read_password(args: argparse.Namespace) -> str:
    """One line from stdin (--password-stdin), or typed twice at a prompt that does not echo."""
    if args.password_stdin:
        line = sys.stdin.readline()
        return line.rstrip("\r\n")
    import getpass

    if not sys.stdin.isatty():
        raise CliError(
            "no_terminal",
            "无法提示输入密码：请在终端中运行，或用 --password-stdin 从标准输入读入密码",
            "cannot prompt for a password: run in a terminal, or use --password-stdin",
            EXIT_BAD_INPUT,
        )
    first = getpass.getpass("密码 / password: ")
    second = getpass.getpass("再输入一次 / again: ")
    if first != second:
        raise CliError(
            "password_mismatch",
            "两次输入的密码不一致",
            "the two passwords differ",
            EXIT_BAD_INPUT,
        )
    return first


def cmd_add_user(ctx: Context) -> Result:
    from sync_server.config import system_clock
    from sync_server.services.users import add_user, check_new_password

    password = _read_password(ctx.args)
    check_new_password(password)  # before opening the database: a short password costs nothing
    db = ctx.open()
    try:
        with db.Session.begin() as session:
            user = add_user(
                session,
                username=ctx.args.username,
                password=password,
                role=ctx.args.role,
                can_view_sensitive=ctx.args.ethics,
                now=system_clock(),
            )
    finally:
        db.close()
    zh = {"admin": "管理员", "reviewer": "审核员", "viewer": "查看员"}[user.role]
    if user.can_view_sensitive:
        zh += "，可查看师德与控辍记录"
    en = user.role + (
        ", may see teacher-ethics and dropout records" if user.can_view_sensitive else ""
    )
    return (
        {"username": user.username, "role": user.role, "ethics": user.can_view_sensitive},
        [f"已添加用户 {user.username}（{zh}） / user added: {user.username} ({en})"],
    )


def cmd_restore(ctx: Context) -> Result:
    """Put a backup back (SQLite), or mark a database restored by other means; either way a new server
    generation, so that devices send again what the backup lacks and read their data again."""
    from sync_server.config import system_clock
    from sync_server.restore import (
        RestoreError,
        carry_over_identities,
        check_backup,
        counter_of,
        mark_restored,
        previous_counter,
        restore_sqlite_file,
        sqlite_path,
    )
    from sync_server.services.common import iso

    args = ctx.args
    given = args.previous_seq
    if given is not None and not 0 <= given <= 2**62:
        raise CliError(
            "bad_arguments",
            "--previous-seq 应为 0 到 2^62 之间的整数",
            "--previous-seq must be an integer from 0 to 2^62",
            EXIT_BAD_INPUT,
        )
    if bool(args.backup) == bool(args.after_pg_restore):
        raise CliError(
            "bad_arguments",
            "请给出备份文件（SQLite），或用 --after-pg-restore（数据库已用 pg_restore 等方式恢复），二者选一",
            "give a backup file (SQLite) or --after-pg-restore (the database was already restored, "
            "e.g. by pg_restore), not both",
            EXIT_BAD_INPUT,
        )
    if args.previous_db and args.backup:
        raise CliError(
            "bad_arguments",
            "--previous-db 只与 --after-pg-restore 一起使用（SQLite 的原数据库由本命令另存并读取）",
            "--previous-db goes with --after-pg-restore (for SQLite this command keeps and reads the "
            "previous database itself)",
            EXIT_BAD_INPUT,
        )
    now = system_clock()
    saved = None
    previous_db: str | None = args.previous_db
    details: dict[str, Any] = {}
    try:
        if args.backup:
            path = sqlite_path(ctx.db_url)
            if path is None:
                raise CliError(
                    "not_sqlite",
                    "restore 备份文件只用于 SQLite 数据库；PostgreSQL 请先用 pg_restore 恢复，"
                    "再运行 sync-server restore --after-pg-restore（见 docs/deployment.md）",
                    "restore BACKUP is for an SQLite database; for PostgreSQL run pg_restore, then "
                    "sync-server restore --after-pg-restore (see docs/deployment.md)",
                    EXIT_BAD_INPUT,
                )
            from sync_server.serving_lock import is_served

            if is_served(path):
                raise CliError(
                    "server_running",
                    f"同步服务器正在使用数据库 {path}：请先停止服务器（Ctrl+C 或停止 Windows 服务），再恢复",
                    f"a running sync server holds the database {path}: stop it first (Ctrl+C, or stop "
                    "the Windows service), then restore",
                    EXIT_UNAVAILABLE,
                )
            backup = Path(args.backup)
            check_backup(backup)
            found = previous_counter(path)
            given = max(x for x in (given, found, 0) if x is not None)
            saved = restore_sqlite_file(path, backup, saved_dir=ctx.instance / "backups", now=now)
            details = {"backup": str(backup.resolve())}
            if saved is not None and saved.suffix == ".db":
                previous_db = f"sqlite:///{saved}"
        else:
            details = {"after": "pg_restore"}
            if previous_db:
                found = counter_of(previous_db)
                given = max(x for x in (given, found, 0) if x is not None)
        db = ctx.open()  # migrates the restored database to this version's schema
        try:
            carried = None
            if previous_db and not args.no_carry_over:
                carried = carry_over_identities(previous_db, db)
                details["carried_over"] = (
                    {"added": carried.added, "updated": carried.updated} if carried else None
                )
            outcome = mark_restored(
                db, now=now, previous_seq=given or None, details=details, saved_as=saved
            )
        finally:
            db.close()
    except RestoreError as exc:
        raise CliError(exc.code, exc.message_zh, exc.message_en, EXIT_BAD_INPUT) from None
    lines = []
    if args.backup:
        lines.append(f"已从 {args.backup} 恢复数据库 / restored the database from {args.backup}")
    if saved is not None:
        lines.append(f"原数据库另存为 / the previous database was saved as: {saved}")
    backup_time = iso(outcome.backup_time) or "-"
    lines += [
        f"新的服务器代次 / new server generation: {outcome.generation}",
        f"备份含变更 1–{outcome.held_through}（最新一条的时间 {backup_time}）/ the backup holds "
        f"changes 1–{outcome.held_through} (the newest made at {backup_time})",
        f"新的变更从 {outcome.counter + 1} 号起编 / new changes are numbered from {outcome.counter + 1}",
        "各校电脑下次同步时自动重新发送服务器缺少的记录并重新读取本校数据，无需人工处理；"
        "进度见管理后台“概览” / at their next sync the schools' computers send again what the server "
        "lacks and read their data again by themselves; the dashboard overview shows the progress",
        "备份之后教育局所做的审核（退回、确认）已丢失，请重新处理 / reviews made after the backup "
        "(returns, accepts) are lost: make them again",
    ]
    if carried is not None:
        added = "，".join(f"{t} {n}" for t, n in carried.added.items() if n) or "无"
        updated = "，".join(f"{t} {n}" for t, n in carried.updated.items() if n) or "无"
        lines.append(
            f"从原数据库带回备份之后的学校、账号、登记码和电脑：新增 {added}；更新 {updated} / "
            f"carried over from the previous database (schools, accounts, codes, devices): added "
            f"{added if added != '无' else 'none'}; updated {updated if updated != '无' else 'none'}"
        )
    elif previous_db is None and not args.no_carry_over:
        lines.append(
            "原数据库无法读取：备份之后登记的电脑需要重新登记 / the previous database cannot be read: "
            "computers enrolled after the backup must enroll again"
        )
    if outcome.previous_seq is None:
        lines.append(
            "原数据库的变更序号未知：旧版客户端要等服务器的序号超过它们的游标后才收到新变更 / the previous "
            "database's counter is unknown: older clients see new changes only once the counter "
            "passes their cursor (give --previous-seq N if you know it)"
        )
    return (
        {
            "generation": outcome.generation,
            "parent": outcome.parent,
            "held_through": outcome.held_through,
            "counter": outcome.counter,
            "previous_seq": outcome.previous_seq,
            "backup_time": iso(outcome.backup_time),
            "saved_as": str(saved) if saved else None,
        },
        lines,
    )


def cmd_usb_import(ctx: Context) -> Result:
    """Sync by USB stick (issue 13): each bundle applied as its pushes, an answer written beside it, a
    回执 printed; exit 2 when any was refused (the others are imported all the same)."""
    from sync_server.usb import import_paths, scan_folder

    paths: list[Path] = []
    found: list[str] = []  # a line per folder given: what it held
    for given in (Path(f) for f in ctx.args.files):
        if not given.is_dir():
            paths.append(given)  # a file (or a missing one: its 回执 says so)
            continue
        try:
            scan = scan_folder(given)
        except OSError as exc:
            raise CliError(
                "bad_folder",
                f"无法读取文件夹 {given}：{zh_reason(exc)}",
                f"cannot read the folder {given}: {en_reason(exc)}",
                EXIT_BAD_INPUT,
            ) from None
        if not scan.bundles:
            raise CliError(
                "no_bundles",
                f"文件夹 {given} 里没有U盘同步文件（学校电脑“导出到U盘”写出的 .usbsync 文件）"
                + (f"，只有 {len(scan.answers)} 个发回学校的回复文件" if scan.answers else ""),
                f"no USB sync file from a school in the folder {given}"
                + (
                    f" (only {len(scan.answers)} answer file(s) for schools)"
                    if scan.answers
                    else ""
                ),
                EXIT_BAD_INPUT,
            )
        skipped_zh = [f"{len(scan.answers)} 个回复文件"] if scan.answers else []
        skipped_en = [f"{len(scan.answers)} answer file(s)"] if scan.answers else []
        if scan.others:
            skipped_zh.append(f"{scan.others} 个其他文件")
            skipped_en.append(f"{scan.others} other file(s)")
        found.append(
            f"文件夹 {given}：{len(scan.bundles)} 个学校的同步文件"
            + (f"（跳过 {'、'.join(skipped_zh)}）" if skipped_zh else "")
            + f" / folder {given}: {len(scan.bundles)} school bundle(s)"
            + (f" (skipped {', '.join(skipped_en)})" if skipped_en else "")
        )
        paths += scan.bundles
    for line in found:
        print(line, flush=True)
    results = import_paths(
        ctx.instance,
        ctx.db_url,
        paths,
        include_update=not getattr(ctx.args, "no_update", False),
    )
    lines = [line for r in results for line in r.receipt_lines()]
    refused = [r for r in results if r.error is not None]
    if refused:
        _emit(ctx.args, {"bundles": [r.as_json() for r in results]}, lines)
        raise CliError(
            "usb_refused",
            f"{len(refused)} 个U盘同步文件被拒收（原因见上面的回执）",
            f"{len(refused)} USB sync file(s) refused (see the receipts above)",
            EXIT_BAD_INPUT,
        )
    return {"bundles": [r.as_json() for r in results]}, lines


def cmd_enrollment_file(ctx: Context) -> Result:
    """Enrollment by file (protocol 1.15): a school's next device as a file on a stick, and its code."""
    from sync_server.enrollment_files import write_into

    written, path, fingerprint = write_into(
        ctx.instance,
        ctx.db_url,
        school_code=ctx.args.school,
        folder=Path(ctx.args.out),
        server_url=ctx.args.server,
    )
    lines = [
        f"已写入登记文件 / enrollment file written: {path}",
        f"学校 / school: {written.school_code} {written.school_name}",
        f"设备编号（文件遗失时用 revoke-device 作废）/ device id (revoke-device it if the file is lost): "
        f"{written.device_id}",
        f"登记码（打开文件时输入，只显示这一次）/ code (typed when opening the file, shown once): "
        f"{written.code}",
    ]
    if fingerprint:
        lines.append(f"服务器证书指纹 / server certificate fingerprint (SHA-256): {fingerprint}")
    result = {
        "path": str(path),
        "code": written.code,
        "file_id": written.file_id,
        "device_id": written.device_id,
        "school_code": written.school_code,
        "fingerprint": fingerprint,
    }
    return result, lines


def cmd_serve(ctx: Context) -> Result:
    from sync_server.app import create_app
    from sync_server.serving import create_server

    files = _tls_files(ctx)  # a certificate that cannot be used stops here, before anything starts
    tls = None
    fingerprint = None
    if files is not None:
        from sync_server.tls import TlsError, fingerprint_of_file, server_context

        try:
            tls = server_context(*files)
            fingerprint = fingerprint_of_file(files[0])
        except TlsError as exc:
            raise CliError(exc.code, exc.message_zh, exc.message_en, EXIT_BAD_INPUT) from None
    _log_to_file(ctx.instance)
    held = _hold_database(ctx.db_url)
    try:
        app = create_app(
            {
                "DATABASE_URL": ctx.db_url,
                "INSTANCE_PATH": str(ctx.instance),
                "TLS_CERT": str(files[0]) if files else "",  # the fingerprint on code slips
            }
        )
    except DatabaseUrlError as exc:
        raise CliError(
            "bad_db_url", f"数据库地址无效：{exc}", f"bad database URL: {exc}", EXIT_BAD_INPUT
        ) from None
    except OperationalError as exc:
        raise CliError(
            "db_unavailable",
            f"无法连接数据库 {_safe_url(ctx.db_url)}：{_first_line(exc.orig)}",
            f"cannot reach the database {_safe_url(ctx.db_url)}: {_first_line(exc.orig)}",
            EXIT_UNAVAILABLE,
        ) from None
    workers = _check_workers(app.config)  # a bad setting stops here, before the port is taken
    try:
        server = create_server(
            app, host=ctx.args.host, port=ctx.args.port, threads=ctx.args.threads, tls=tls
        )
    except ValueError as exc:  # waitress: a host it cannot resolve
        raise CliError(
            "bad_host",
            f"无法在 {ctx.args.host}:{ctx.args.port} 上监听：地址无效（{exc}）",
            f"cannot listen on {ctx.args.host}:{ctx.args.port}: {exc}",
            EXIT_BAD_INPUT,
        ) from None
    except OSError as exc:
        raise CliError(
            "cannot_listen",
            f"无法在 {ctx.args.host}:{ctx.args.port} 上监听：{exc.strerror or exc}",
            f"cannot listen on {ctx.args.host}:{ctx.args.port}: {exc.strerror or exc}",
            EXIT_UNAVAILABLE,
        ) from None
    port = int(getattr(server, "effective_port", ctx.args.port))
    url = f"{'https' if tls else 'http'}://{ctx.args.host}:{port}"
    started = {
        "url": url,
        "db": _safe_url(ctx.db_url),
        "instance": str(ctx.instance),
        "fingerprint": fingerprint,
    }
    said = [f"同步服务器已启动 / sync server listening on {url}"]
    if fingerprint:
        said.append(f"证书指纹 / certificate fingerprint (SHA-256): {fingerprint}")
    pool = None
    try:
        pool = _start_check_pool(app, workers)
        _settle_garbage_collector()
        _emit(ctx.args, started, said)
        server.run()
    except KeyboardInterrupt:
        pass
    finally:
        server.close()
        if pool is not None:
            pool.close()
        app.extensions["sync_server"].db.close()
        if held is not None:
            held.release()
    return {"url": url, "stopped": True}, ["同步服务器已停止 / sync server stopped"]


def _settle_garbage_collector() -> None:
    """What the server holds from its start (modules, SQLAlchemy's and Flask's objects, parsed forms) is
    put out of the collector's reach (gc.freeze), and young objects are collected less often: a push of
    1,000 records made a full collection that walked all of it - 70 ms of a 120 ms push (issue 14).
    Measured: 200-change batches 6,600-7,070 against 5,550-6,110 records/s; one school's sync of 2,000
    records 0.42-0.47 against 0.51-0.53 s."""
    import gc

    gc.collect()
    gc.freeze()
    gc.set_threshold(10_000, 50, 100)


def _check_workers(cfg: dict[str, Any]) -> int:
    """How many form check worker processes to start (SERVE_CHECK_WORKERS; None: by the machine's cores)."""
    import os

    from sync_server.config import whole_number
    from sync_server.services.check_pool import default_workers

    if cfg.get("SERVE_CHECK_WORKERS") is None:
        return default_workers(os.cpu_count())
    return whole_number(cfg, "SERVE_CHECK_WORKERS", minimum=0)


def _start_check_pool(app: Any, workers: int) -> CheckPool | None:
    """The form engine's worker processes for pushes (services/check_pool.py), or None. A machine that
    cannot start them serves anyway: pushes are then checked in this process."""
    from sync_server.services.check_pool import CheckPool

    if not workers:
        return None
    state = app.extensions["sync_server"]
    try:
        pool = CheckPool(workers, state.forms.source)
    except Exception as exc:  # the serving process checks pushes itself
        log.warning("cannot start the form check workers (%s); pushes are checked here", exc)
        return None
    state.check_pool = pool
    return pool


def _hold_database(db_url: str) -> Any:
    """Hold an SQLite database while serving it (sync_server.serving_lock): restore and a second server
    refuse it meanwhile. None for PostgreSQL."""
    from sync_server.restore import sqlite_path
    from sync_server.serving_lock import DatabaseServed, hold

    path = sqlite_path(db_url)
    if path is None:
        return None
    from sync_server.private_files import private_dir

    private_dir(path.parent)
    try:
        return hold(path)
    except DatabaseServed:
        raise CliError(
            "already_serving",
            f"另一个同步服务器正在使用数据库 {path}；同一数据库只能由一个服务器使用",
            f"another sync server is serving the database {path}; one database, one server",
            EXIT_UNAVAILABLE,
        ) from None


def _log_to_file(instance: Path) -> None:
    from sync_server.private_files import PrivateRotatingFileHandler, private_dir

    folder = private_dir(instance / "logs")
    handler = PrivateRotatingFileHandler(  # owner-only files (issue 12.5)
        folder / "sync-server.log", maxBytes=5 * 1024 * 1024, backupCount=5, encoding="utf-8"
    )
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.setLevel(logging.INFO)
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(logging.INFO)


# -- the parser -------------------------------------------------------------------------------------

Command = Callable[[Context], Result]


def _port(text: str) -> int:
    """A TCP port; anything else stops the parse (the system would take a larger number modulo 65536)."""
    try:
        port = int(text)
    except ValueError:
        port = -1
    if not 0 <= port <= 65535:
        raise CliError(
            "bad_port",
            f"参数 --port：“{text}”不是 0 到 65535 之间的端口号",
            f"argument --port: '{text}' is not a port from 0 to 65535",
            EXIT_BAD_INPUT,
        )
    return port


def build_parser() -> argparse.ArgumentParser:
    common = _Parser(add_help=False)
    common.add_argument(
        "--db",
        metavar="URL",
        help="数据库地址：sqlite:///路径/sync.db 或 postgresql+psycopg://用户@主机/库名（默认：环境变量 "
        "$SYNC_SERVER_DB，否则实例文件夹里的 sync.db） / sqlite:///path/sync.db or "
        "postgresql+psycopg://user@host/db (default: $SYNC_SERVER_DB, else sync.db in the instance folder)",
    )
    common.add_argument(
        "--instance",
        metavar="DIR",
        help="实例文件夹（配置、密钥、文件；默认：$SYNC_SERVER_INSTANCE） / the instance folder "
        "(config, key, files; default: $SYNC_SERVER_INSTANCE)",
    )
    common.add_argument(
        "--json",
        action="store_true",
        help="最后一行输出一个 JSON 对象（供脚本读取） / print the result as one JSON object on the last line",
    )
    parser = _Parser(prog="sync-server", description="县教育局同步服务器 · the bureau sync server")
    sub = parser.add_subparsers(
        dest="command",
        required=True,
        parser_class=_Parser,
        title="命令 / commands",
        metavar="command",  # argparse_zh says 命令 in an error
        help="每个命令的说明：sync-server 命令 --help / each command's help: sync-server COMMAND --help",
    )

    p = sub.add_parser(
        "serve",
        parents=[common],
        help="运行同步服务器（学校电脑的接口和教育局网页） / serve the device API and the dashboard (waitress)",
    )
    p.add_argument(
        "--host",
        default="127.0.0.1",
        help="监听的地址（默认 127.0.0.1；0.0.0.0：所有网卡） / the address to listen on "
        "(default 127.0.0.1; 0.0.0.0: every interface)",
    )
    p.add_argument(
        "--port",
        type=_port,
        default=8700,
        help="端口，0 到 65535（默认 8700；0：任一空闲端口） / port, 0 to 65535 (default 8700; 0: any free port)",
    )
    p.add_argument(
        "--threads",
        type=int,
        help="工作线程数（默认：config.toml 的 serve_threads，否则 8） / worker threads "
        "(default: serve_threads in config.toml, else 8)",
    )
    p.add_argument(
        "--cert",
        metavar="FILE",
        help="用这个证书提供 HTTPS（PEM；默认：config.toml 的 tls_cert，否则实例文件夹里的 "
        "tls/cert.pem，如果有） / serve HTTPS with this certificate (PEM; default: tls_cert in "
        "config.toml, else tls/cert.pem in the instance folder when it exists)",
    )
    p.add_argument(
        "--key", metavar="FILE", help="证书的私钥（PEM） / the certificate's private key (PEM)"
    )
    p.add_argument(
        "--no-tls",
        action="store_true",
        help="即使有证书也用普通 HTTP（在本机 nginx 之后） / plain HTTP even when a certificate "
        "exists (behind nginx on 127.0.0.1)",
    )
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser(
        "make-cert",
        parents=[common],
        help="为本服务器生成自签名证书并显示其指纹 / make a self-signed certificate for this server "
        "and print its fingerprint",
    )
    p.add_argument(
        "--host",
        action="append",
        required=True,
        metavar="NAME",
        help="学校访问服务器用的域名或 IP 地址（可重复给出多个） / a name or IP address the schools "
        "use to reach the server (repeat for several)",
    )
    p.add_argument(
        "--out",
        metavar="DIR",
        help="cert.pem 和 key.pem 写到这里（默认：<实例文件夹>/tls） / write cert.pem and key.pem "
        "here (default: <instance>/tls)",
    )
    p.add_argument(
        "--days",
        type=int,
        default=3650,
        help="有效天数（默认 3650） / valid this many days (default 3650)",
    )
    p.add_argument(
        "--force",
        action="store_true",
        help="替换已有的证书（已登记的学校需要拿到新指纹） / replace an existing certificate "
        "(enrolled schools must get the new fingerprint)",
    )
    p.set_defaults(func=cmd_make_cert)

    p = sub.add_parser(
        "add-school",
        parents=[common],
        help="添加学校，或为已有学校重新生成登记码 / add a school, or issue a new enrollment code",
    )
    p.add_argument("--code", required=True, help="学校代码，如 S001 / the school's code, e.g. S001")
    p.add_argument("--name", required=True, help="学校名称，如 城关镇中心小学 / the school's name")
    p.set_defaults(func=cmd_add_school)

    p = sub.add_parser(
        "enrollment-file",
        parents=[common],
        help="为没有网络的学校写登记文件（放在U盘上），并显示登记码 / write an enrollment file for a "
        "school with no link (USB stick); prints its code",
    )
    p.add_argument("--school", required=True, metavar="CODE", help="学校代码 / the school's code")
    p.add_argument(
        "--out",
        required=True,
        metavar="DIR",
        help="写到这个文件夹（U盘） / into this folder (the stick)",
    )
    p.add_argument(
        "--server",
        metavar="URL",
        help="学校电脑访问服务器的地址（默认 public_url） / the address school computers use (public_url)",
    )
    p.set_defaults(func=cmd_enrollment_file)

    p = sub.add_parser(
        "revoke-device",
        parents=[common],
        help="作废一台电脑的登记（丢失、更换时） / revoke a device's token (lost or replaced)",
    )
    p.add_argument(
        "device_id", help="设备编号（见 list-devices） / the device id (see list-devices)"
    )
    p.set_defaults(func=cmd_revoke_device)

    p = sub.add_parser(
        "list-devices", parents=[common], help="列出已登记的电脑 / list enrolled devices"
    )
    p.add_argument("--school", metavar="CODE", help="只列这所学校的 / only this school's")
    p.set_defaults(func=cmd_list_devices)

    p = sub.add_parser(
        "publish-form",
        parents=[common],
        help="发布一个表单版本（.yaml/.xlsx） / publish a form version (.yaml/.xlsx)",
    )
    p.add_argument("file", help="表单定义文件 / the form definition file")
    p.set_defaults(func=cmd_publish_form)

    p = sub.add_parser(
        "withdraw-form",
        parents=[common],
        help="撤回一个表单版本：不再提供给学校（已有记录保留） / withdraw a form version: no longer "
        "offered to schools (its records are kept)",
    )
    p.add_argument(
        "form_id", metavar="FORM_ID", help="表单编号，如 safety_inspection / the form id"
    )
    p.add_argument("version", metavar="VERSION", help="版本，如 2026.1 / the version, e.g. 2026.1")
    p.set_defaults(func=cmd_withdraw_form)

    p = sub.add_parser(
        "clean-uploads",
        parents=[common],
        help="清理没有传完的附件上传（也可由定时任务运行） / remove attachment uploads left "
        "unfinished (run it from a scheduled task too)",
    )
    p.add_argument(
        "--older-than-hours",
        type=float,
        metavar="H",
        help="闲置超过这么多小时（默认：config.toml 的 partial_upload_ttl_hours，否则 72） / idle "
        "this long (default: partial_upload_ttl_hours in config.toml, else 72)",
    )
    p.set_defaults(func=cmd_clean_uploads)

    p = sub.add_parser(
        "export",
        parents=[common],
        help="把一个表单的记录导出为汇总表（.xlsx） / export a form's records to .xlsx",
    )
    p.add_argument(
        "--form", required=True, metavar="ID", help="表单编号，如 safety_inspection / the form id"
    )
    p.add_argument(
        "--period",
        metavar="P",
        help="只导出这个报送周期，如 2026-11、2026-W48、2026-autumn / only this reporting period, "
        "e.g. 2026-11, 2026-W48, 2026-autumn",
    )
    p.add_argument(
        "out", metavar="OUT.xlsx", help="写入的文件（.xlsx） / the file to write (.xlsx)"
    )
    p.set_defaults(func=cmd_export)

    p = sub.add_parser(
        "add-user",
        parents=[common],
        help="添加教育局网页的工作人员账号 / add a dashboard staff account",
    )
    p.add_argument("--username", required=True, help="登录名 / the sign-in name")
    p.add_argument(
        "--role",
        required=True,
        choices=["admin", "reviewer", "viewer"],
        help="角色：admin 管理员、reviewer 审核、viewer 只读 / the role: admin, reviewer or viewer",
    )
    p.add_argument(
        "--ethics",
        action="store_true",
        help="可以查看师德和控辍保学记录（敏感表单） / may see teacher-ethics and dropout records "
        "(sensitive forms)",
    )
    p.add_argument(
        "--password-stdin",
        action="store_true",
        help="从标准输入读一行作为密码 / read the password as one line from stdin",
    )
    p.set_defaults(func=cmd_add_user)

    p = sub.add_parser(
        "restore",
        parents=[common],
        help="恢复数据库备份（SQLite；先停止服务器），或标记已用 pg_restore 恢复：之后各电脑自动补齐 / "
        "put a backup of the database back (SQLite; stop the server first), or mark one restored "
        "by pg_restore: devices then heal by themselves",
    )
    p.add_argument(
        "backup",
        nargs="?",
        metavar="BACKUP.db",
        help="sync.db 的 SQLite 备份文件 / an SQLite backup of sync.db",
    )
    p.add_argument(
        "--after-pg-restore",
        action="store_true",
        help="数据库里已经是备份的内容（pg_restore，或手工放回的文件） / the database already holds "
        "the backup (pg_restore, or a file put back by hand)",
    )
    p.add_argument(
        "--previous-seq",
        type=int,
        metavar="N",
        help="丢失的数据库的变更计数（知道时；SQLite 自动读取） / the change counter of the lost "
        "database, when known (SQLite: read from it)",
    )
    p.add_argument(
        "--previous-db",
        metavar="URL",
        help="与 --after-pg-restore 一起：被替换的数据库（还能连上时，接过它的计数、学校、账号和电脑） / "
        "with --after-pg-restore: the replaced database, if it still answers (its counter, "
        "schools, accounts and devices are taken over)",
    )
    p.add_argument(
        "--no-carry-over",
        action="store_true",
        help="学校、账号、登记码和电脑都按备份里的保留 / keep the backup's schools, accounts, codes "
        "and devices as they were",
    )
    p.set_defaults(func=cmd_restore)

    p = sub.add_parser(
        "usb-import",
        parents=[common],
        help="导入学校的U盘同步文件（文件或整个U盘文件夹），答复写在旁边 / import schools' USB sync "
        "bundles (files or a whole stick folder), answers written beside",
    )
    p.add_argument(
        "files",
        nargs="+",
        metavar="FILE_OR_FOLDER",
        help="同步文件，或U盘文件夹（导入其中每个学校的文件） / bundle files, or a stick folder "
        "(every school bundle in it)",
    )
    p.add_argument(
        "--no-update",
        action="store_true",
        help="答复里不放客户端更新 / leave the client update offered to a PC out of its answer "
        "(protocol 1.19)",
    )
    p.set_defaults(func=cmd_usb_import)

    from sync_server.updates_cli import add_commands as add_update_commands

    add_update_commands(sub, common)  # issue 16: the client update channel (docs/updates.md)
    return parser


def _emit(args: argparse.Namespace | None, result: dict[str, Any], lines: list[str]) -> None:
    for line in lines:
        print(line, flush=True)
    if args is not None and getattr(args, "json", False):
        print(json.dumps(result, ensure_ascii=False), flush=True)


def _fail(
    args: argparse.Namespace | None, code: str, zh: str, en: str, details: Any = None
) -> None:
    print(f"错误：{zh} / error: {en}", file=sys.stderr, flush=True)
    if args is not None and getattr(args, "json", False):
        body = {
            "error": {"code": code, "message_zh": zh, "message_en": en, "details": details or {}}
        }
        print(json.dumps(body, ensure_ascii=False), flush=True)


class _ConsoleHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to sys.stderr as it is when a line is logged (as logging.lastResort does), not to the stream
    of the first call: main() may run again in one process (tests) with stderr replaced meanwhile."""

    @property
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, _value: Any) -> None:
        pass


def _configure_console_logging() -> None:
    root = logging.getLogger()
    if any(getattr(h, "_sync_server_console", False) for h in root.handlers):
        return
    handler = _ConsoleHandler()
    handler._sync_server_console = True  # type: ignore[attr-defined]
    handler.setLevel(logging.WARNING)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    root.addHandler(handler)


def _utf8_console() -> None:
    """Chinese output on a Windows console with a legacy code page, instead of an encoding error."""
    for stream in (sys.stdout, sys.stderr):
        encoding = (getattr(stream, "encoding", None) or "").lower().replace("-", "")
        reconfigure = getattr(stream, "reconfigure", None)
        if encoding != "utf8" and reconfigure is not None:
            with contextlib.suppress(ValueError, OSError):
                reconfigure(encoding="utf-8", errors="replace")


def main(argv: list[str] | None = None) -> int:
    _utf8_console()
    _configure_console_logging()
    args: argparse.Namespace | None = None
    try:
        args = build_parser().parse_args(argv)
        instance = Path(args.instance) if args.instance else default_instance_path()
        db_url = args.db or default_database_url(instance)
        func: Command = args.func
        result, lines = func(Context(args, instance, db_url))
    except CliError as exc:
        _fail(args, exc.code, exc.message_zh, exc.message_en)
        return exc.exit_code
    except ConfigError as exc:
        _fail(args, "bad_config", exc.message_zh, exc.message_en)
        return EXIT_BAD_INPUT
    except ServiceError as exc:
        _fail(args, exc.code, exc.message_zh, exc.message_en, exc.details)
        for extra in exc.details.get("errors", [])[1:]:
            print(
                f"  {extra['location']}: {extra['message_zh']} / {extra['message_en']}",
                file=sys.stderr,
            )
        return EXIT_UNAVAILABLE if exc.status >= 500 else EXIT_BAD_INPUT
    except OperationalError as exc:
        _fail(
            args,
            "db_unavailable",
            f"数据库无法使用：{_first_line(exc.orig)}",
            f"the database cannot be used: {_first_line(exc.orig)}",
        )
        return EXIT_UNAVAILABLE
    except SQLAlchemyError as exc:
        log.debug("database error", exc_info=True)
        _fail(
            args,
            "db_error",
            f"数据库错误：{_first_line(exc)}",
            f"database error: {_first_line(exc)}",
        )
        return EXIT_UNAVAILABLE
    except OSError as exc:
        where = f"（{exc.filename}）" if exc.filename else ""
        _fail(
            args,
            "os_error",
            f"文件或网络错误{where}：{zh_reason(exc)}",
            f"file or network error: {exc}",
        )
        return EXIT_UNAVAILABLE
    _emit(args, result, lines)
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
