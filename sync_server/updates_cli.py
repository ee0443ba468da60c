"""`sync-server` commands of the client update channel (docs/updates.md):

make-update-keys --out DIR [--passphrase]   the four roles' signing keys, into a folder kept offline
publish-client DIR_OR_ARCHIVE --keys DIR    check the bundle, sign it into the repository (offered to
               [--schools S1,S2 | --all]    nobody yet, or to these schools, or to all), check the result
               [--sign-only --repo DIR]     as a PC would; --sign-only: no database (an offline PC)
install-update-repo DIR [--keys DIR]        on the server: put a repository signed elsewhere in place
rollout VERSION --schools S1,S2 | --remove-schools S1 | --all | --pause
list-releases                               the releases, who is offered each, the signatures' expiry
retire-release VERSION --keys DIR           an old release out of the signed targets and off the disk
refresh-update-metadata --keys DIR          new snapshot and timestamp (7-day expiry; a scheduled task);
               [--create] [--offline-roles] a new repository; root and targets signed again too
rotate-update-key ROLE --keys DIR --new-keys DIR
"""

from __future__ import annotations

import argparse
import getpass
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from sync_server import updates as U
from sync_server.models import ClientRelease
from sync_server.updates_repo import (
    ARCHIVE_SUFFIXES,
    KEY_SUFFIX,
    ROLES,
    Repository,
    make_keys,
    prepare_release,
)

if TYPE_CHECKING:
    from sync_server.cli import Context, Result

EXIT_BAD_INPUT = 2
ROLE_ZH = {"root": "根", "targets": "目标", "snapshot": "快照", "timestamp": "时间戳"}


def _bad(code: str, zh: str, en: str) -> Exception:
    from sync_server.cli import CliError

    return CliError(code, zh, en, EXIT_BAD_INPUT)


def _repository(ctx: Context) -> Repository:
    from sync_server.config import read_instance_file

    if getattr(ctx.args, "repo", None):
        return Repository(Path(ctx.args.repo))
    # config.toml's updates_dir (read as build_config reads it, without making a secret key here)
    configured = read_instance_file(ctx.instance).get("UPDATES_DIR")
    return Repository(Path(str(configured)) if configured else ctx.instance / "updates")


def _missing_database(ctx: Context) -> Path | None:
    """The SQLite file the command would use, when it does not exist (opening it would make an empty
    one: on an offline PC, a stray database the server never sees)."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        url = make_url(ctx.db_url)
    except ArgumentError:
        return None  # Context.open says what is wrong with it
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return None
    path = Path(url.database)
    return None if path.exists() else path


def _require_database(ctx: Context) -> None:
    """Refused (exit 2) before anything is signed or written when there is no server database here."""
    path = _missing_database(ctx)
    if path is None:
        return
    raise _bad(
        "no_database",
        f"这里没有服务器数据库（{path} 不存在），不会新建一个：登记版本、调整提供范围要在教育局服务器上做。"
        "在离线电脑上签名请用 sync-server publish-client 程序文件夹 --keys 密钥文件夹 --repo U盘上的仓库 "
        "--sign-only，再在服务器上运行 sync-server install-update-repo U盘上的仓库 和 rollout；在服务器上"
        "请检查 --instance/--db（或环境变量 SYNC_SERVER_INSTANCE、SYNC_SERVER_DB）是否指向服务器的数据",
        f"there is no server database here ({path} does not exist), and none is made: releases are "
        "registered and offered on the bureau server. To sign on an offline PC use sync-server "
        "publish-client BUNDLE --keys KEYS --repo STICK_COPY --sign-only, then on the server sync-server "
        "install-update-repo STICK_COPY and rollout; on the server, check that --instance/--db (or "
        "SYNC_SERVER_INSTANCE, SYNC_SERVER_DB) name the server's data",
    )


def _open(ctx: Context) -> Any:
    _require_database(ctx)
    return ctx.open()


def _now() -> Any:
    from sync_server.config import system_clock

    return system_clock()


def _actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except Exception:  # no user name (a service account without one)
        return "cli"


def _audit(session: Any, action: str, version: str, details: dict[str, Any]) -> None:
    from sync_server.services.common import audit

    audit(session, now=_now(), actor=_actor(), action=action, object_id=version, details=details)


def _schools(text: str | None) -> list[str]:
    return [s.strip() for s in (text or "").replace("，", ",").split(",") if s.strip()]


def _stage(args: argparse.Namespace) -> tuple[str, list[str]]:
    if getattr(args, "pause", False):
        return "paused", []
    if args.all:
        return "all", []
    if args.schools:
        return "pilot", _schools(args.schools)
    if getattr(args, "remove_schools", None):
        return "remove", _schools(args.remove_schools)
    return U.NEW, []


def expiry_lines(repo: Repository) -> list[str]:
    """The signatures' expiry, with a warning before and after (also printed by serve at start)."""
    from sync_server.updates import expiry_warnings

    lines = []
    for zh, en in expiry_warnings(repo, _now()):
        lines.append(f"警告：{zh} / warning: {en}")
    return lines


def _valid_until(repo: Repository) -> str:
    shown = [f"{e.role} {e.expires:%Y-%m-%d %H:%M} UTC" for e in repo.expiries(_now())]
    return "签名有效期至 / signatures valid until: " + "; ".join(shown)


def cmd_make_update_keys(ctx: Context) -> Result:
    out = Path(ctx.args.out)
    passphrase = None
    if ctx.args.passphrase:
        import os
        import sys

        from sync_server.updates_repo import PASSPHRASE_ENV

        passphrase = os.environ.get(PASSPHRASE_ENV)
        if not passphrase:
            if not sys.stdin.isatty():
                raise _bad(
                    "no_terminal",
                    f"无法提示输入口令：请在终端中运行，或设置环境变量 {PASSPHRASE_ENV}",
                    f"cannot prompt for the passphrase: run in a terminal, or set {PASSPHRASE_ENV}",
                )
            passphrase = getpass.getpass("口令 / passphrase: ")
            if passphrase != getpass.getpass("再输入一次 / again: "):
                raise _bad(
                    "passphrase_mismatch", "两次输入的口令不一致", "the two passphrases differ"
                )
        if len(passphrase) < 8:
            raise _bad(
                "short_passphrase",
                "口令至少需要 8 个字符",
                "the passphrase needs at least 8 characters",
            )
    ids = make_keys(out, force=ctx.args.force, passphrase=passphrase)
    lines = [
        f"已生成更新签名密钥 / update signing keys made in {out}",
        *(f"  {role}: {keyid[:16]}…" for role, keyid in ids.items()),
        "请把这个文件夹保存在离线的U盘上，不要放在服务器上 / keep this folder offline (a USB stick), "
        "not on the server",
    ]
    if passphrase:
        lines.append(
            "root.key 和 targets.key 有口令保护；签名时会询问口令 / root.key and targets.key are "
            "protected by the passphrase; signing asks for it"
        )
    return {"keys": str(out), "keyids": ids, "encrypted": bool(passphrase)}, lines


def cmd_publish_client(ctx: Context) -> Result:
    args = ctx.args
    source = Path(args.source)
    if not source.exists():
        raise _bad(
            "no_source",
            f"找不到要发布的程序文件夹或压缩包：{source}",
            f"the folder or archive to publish does not exist: {source}",
        )
    if source.is_file() and not source.name.lower().endswith(ARCHIVE_SUFFIXES):
        raise _bad(
            "bad_source",
            f"{source} 不是程序文件夹，也不是 .tar.gz 或 .zip 压缩包",
            f"{source} is neither a bundle folder nor a .tar.gz or .zip archive",
        )
    if args.version:
        U.parse_version(args.version)
    stage, schools = _stage(args)
    if args.sign_only and (args.schools or args.all):
        raise _bad(
            "sign_only_stage",
            "--sign-only 不连接数据库，不能同时指定 --schools/--all：在服务器上 install-update-repo 之后再用 "
            "sync-server rollout",
            "--sign-only uses no database, so it takes no --schools/--all: after install-update-repo on "
            "the server, use sync-server rollout",
        )
    keys = Path(args.keys)
    if not args.sign_only:
        _require_database(ctx)  # before anything is signed
    repo = _repository(ctx)
    db = None if args.sign_only else _open(ctx)
    try:
        if db is not None:
            with db.Session.begin() as session:
                schools = U.check_stage(session, stage, schools)  # before anything is signed
        with tempfile.TemporaryDirectory(prefix="publish-") as work:
            release = prepare_release(
                source, Path(work), version=args.version, platform=args.platform
            )
            published = repo.publish(keys, release, now=_now())
        row = None
        if db is not None:
            with db.Session.begin() as session:
                row = U.add_release(
                    session,
                    version=published.version,
                    platform=published.platform,
                    target=published.target,
                    stage=stage,
                    schools=schools,
                    now=_now(),
                )
                if not published.unchanged:
                    _audit(
                        session,
                        "client.publish",
                        published.version,
                        {
                            "platform": published.platform,
                            "sha256": published.sha256,
                            "stage": stage,
                            "schools": schools,
                        },
                    )
                scope = U.scope_text(row)
                stage, schools = row.stage, list(row.schools or [])
    finally:
        if db is not None:
            db.close()
    version, platform = published.version, published.platform
    if published.unchanged:
        lines = [
            f"客户端 {version}（{platform}）已发布过，内容相同，未改动 / client {version} ({platform}) "
            f"was published before with the same content: unchanged (sha256 {published.sha256[:16]}…)"
        ]
        if published.restored:
            lines.append(
                "服务器上的发布包被改动过或缺失，已恢复为签名时的内容 / the archive on the server was "
                "changed or missing: put back as signed"
            )
        if args.schools or args.all:
            lines.append(
                "发布范围没有改变；要调整请用 sync-server rollout / the rollout is kept; change it with "
                "sync-server rollout"
            )
    else:
        lines = [
            f"已发布客户端 / client published: {version} ({platform}), {published.length} 字节 bytes, "
            f"sha256 {published.sha256[:16]}…",
            "已按学校电脑的方式核对签名 / checked as a school PC checks it (python-tuf)",
        ]
    if row is not None:
        lines.append(f"发布范围 / offered to: {scope[0]} / {scope[1]}")
        if stage == U.NEW and not published.unchanged:
            lines.append(
                "尚未向任何学校提供；用 sync-server rollout 指定试点学校或全部学校 / offered to nobody "
                "yet: use sync-server rollout"
            )
    else:
        lines.append(
            f"只签名，未登记：把 {repo.folder} 复制到服务器上，运行 sync-server install-update-repo，再用 "
            f"rollout 提供给学校 / signed only: copy {repo.folder} to the server, run sync-server "
            "install-update-repo, then rollout"
        )
    lines.append(_valid_until(repo))
    lines += expiry_lines(repo)
    return {
        "version": version,
        "platform": platform,
        "target": published.target,
        "length": published.length,
        "sha256": published.sha256,
        "unchanged": published.unchanged,
        "stage": stage if row is not None else None,
        "schools": schools if row is not None else [],
    }, lines


def cmd_install_update_repo(ctx: Context) -> Result:
    source = Repository(Path(ctx.args.source))
    _require_database(ctx)
    repo = _repository(ctx)
    retire = _schools(ctx.args.retire)  # (versions, comma-separated as school codes are)
    for version in retire:
        U.parse_version(version)
    db = ctx.open()
    registered = []
    retired: list[str] = []
    try:
        if retire:
            with db.ReadSession.begin() as session:
                for version in retire:
                    _refuse_offered(session, version)
        added = repo.install_from(
            source,
            keys=Path(ctx.args.keys) if ctx.args.keys else None,
            now=_now(),
            retire=retire,
            retired=retired,
        )
        with db.Session.begin() as session:
            for version in retire:
                rows = list(
                    session.execute(
                        select(ClientRelease).where(ClientRelease.version == version)
                    ).scalars()
                )
                for row in rows:
                    session.delete(row)
                _audit(
                    session,
                    "client.retire",
                    version,
                    {
                        "targets": [n for n in retired if f"-{version}." in n],
                        "platforms": sorted(r.platform for r in rows),
                        "source": str(source.folder),
                    },
                )
            for version, platform, target in repo.releases():
                known = session.execute(
                    select(ClientRelease).where(
                        ClientRelease.version == version, ClientRelease.platform == platform
                    )
                ).scalar_one_or_none()
                if known is None:
                    U.add_release(
                        session,
                        version=version,
                        platform=platform,
                        target=target,
                        stage=U.NEW,
                        schools=[],
                        now=_now(),
                    )
                    registered.append({"version": version, "platform": platform})
            _audit(
                session,
                "client.install_repo",
                ",".join(r["version"] for r in registered) or "-",
                {"source": str(source.folder), "releases": registered},
            )
    finally:
        db.close()
    lines = [
        f"已把 {source.folder} 的更新仓库放到服务器上（{repo.folder}），并按学校电脑的方式核对 / the "
        f"repository in {source.folder} is in place on the server ({repo.folder}), checked as a PC "
        "checks it",
    ]
    lines += [
        f"新版本 / new release: {r['version']} ({r['platform']}) — 尚未提供，用 sync-server rollout "
        "提供给学校 / not offered yet: use sync-server rollout"
        for r in registered
    ] or ["没有新的版本 / no new release"]
    lines += [f"已停用 / retired: {name}" for name in retired]
    lines.append(_valid_until(repo))
    lines += expiry_lines(repo)
    return {
        "added": [list(a) for a in added],
        "registered": registered,
        "retired": retired,
    }, lines


def cmd_rollout(ctx: Context) -> Result:
    args = ctx.args
    stage, schools = _stage(args)
    if not (args.pause or args.all or args.schools or args.remove_schools):
        raise _bad(
            "no_stage",
            "请指定 --schools S001,S002（加入试点）、--remove-schools S001（移出试点）、--all（全部学校）"
            "或 --pause（暂停）",
            "give --schools S001,S002 (add to the pilot), --remove-schools S001 (take out of it), "
            "--all (every school) or --pause",
        )
    db = _open(ctx)
    try:
        with db.Session.begin() as session:
            changes = U.set_stage(
                session, version=args.version, stage=stage, schools=schools, now=_now()
            )
            _audit(
                session,
                "client.rollout",
                args.version,
                {"stage": stage, "schools": U.school_codes(session, schools) if schools else []},
            )
            lines = []
            for change in changes:
                zh, en = U.scope_text(change.release)
                lines.append(
                    f"客户端 {args.version}（{change.release.platform}）：{zh} / client "
                    f"{args.version} ({change.release.platform}): {en}"
                )
                if change.note_zh:
                    lines.append(f"  {change.note_zh} / {change.note_en}")
            result = {
                "version": args.version,
                "stage": changes[0].release.stage,
                "schools": sorted({s for c in changes for s in (c.release.schools or [])}),
            }
    finally:
        db.close()
    return result, lines


def cmd_list_releases(ctx: Context) -> Result:
    _require_database(ctx)
    repo = _repository(ctx)
    db = _open(ctx)
    try:
        with db.ReadSession.begin() as session:
            rows = list(session.execute(select(ClientRelease)).scalars())
            rows.sort(key=lambda r: (U.version_key(r.version), r.platform), reverse=True)
            out = []
            lines = []
            for r in rows:
                zh, en = U.scope_text(r)
                out.append(
                    {
                        "version": r.version,
                        "platform": r.platform,
                        "stage": r.stage,
                        "schools": list(r.schools or []),
                        "target": r.target,
                    }
                )
                lines.append(f"{r.version}  {r.platform}  {zh} / {en}")
    finally:
        db.close()
    if not lines:
        lines = ["还没有发布过客户端版本 / no client release yet"]
    if repo.exists():
        lines.append(_valid_until(repo))
        lines += expiry_lines(repo)
    return {"releases": out}, lines


def _refuse_offered(session: Any, version: str) -> list[ClientRelease]:
    """The release's rows; refused (exit 2) while it is offered to any school."""
    rows = list(
        session.execute(select(ClientRelease).where(ClientRelease.version == version)).scalars()
    )
    offered = [r for r in rows if r.stage in U.OFFERED]
    if offered:
        zh, en = U.scope_text(offered[0])
        raise _bad(
            "release_offered",
            f"客户端 {version} 现在提供给{zh}，不能停用：先运行 sync-server rollout {version} --pause，"
            "确认学校电脑已更新到更高的版本，再停用",
            f"client {version} is offered to {en}; it cannot be retired: run sync-server "
            f"rollout {version} --pause first and make sure the PCs moved to a higher version",
        )
    return rows


def _retire_sign_only(ctx: Context, version: str) -> Result:
    """On the offline PC: retired in the stick's copy only (no database); install-update-repo --retire
    on the server checks that it is offered to nobody and takes it out there."""
    if not ctx.args.repo:
        raise _bad(
            "sign_only_repo",
            "--sign-only 要和 --repo U盘上的仓库 一起用",
            "--sign-only goes with --repo STICK_COPY",
        )
    repo = _repository(ctx)
    retired = repo.retire(Path(ctx.args.keys), version, now=_now())
    if not retired:
        raise _bad(
            "unknown_release",
            f"{repo.folder} 的仓库里没有客户端版本 {version}",
            f"the repository in {repo.folder} holds no client release {version}",
        )
    return {"version": version, "retired": retired, "sign_only": True}, [
        f"已在 {repo.folder} 中停用 {version}（只签名）：带回服务器运行 sync-server install-update-repo "
        f"{repo.folder} --retire {version} / {version} retired in {repo.folder} (signed only): on the "
        f"server run sync-server install-update-repo {repo.folder} --retire {version}",
        *(f"  {name}" for name in retired),
    ]


def cmd_retire_release(ctx: Context) -> Result:
    """An old release out of the repository: no longer offered, its archive gone from the signed targets
    and the disk (refused while it is offered to any school), audited."""
    version = ctx.args.version
    U.parse_version(version)
    if ctx.args.sign_only:
        return _retire_sign_only(ctx, version)
    _require_database(ctx)
    repo = _repository(ctx)
    db = _open(ctx)
    try:
        with db.ReadSession.begin() as session:
            rows = _refuse_offered(session, version)
        if not rows and not any(v == version for v, _p, _t in repo.releases()):
            raise _bad(
                "unknown_release",
                f"没有发布过客户端版本 {version}（sync-server list-releases 列出已发布的版本）",
                f"no client release {version} was published (sync-server list-releases lists them)",
            )
        retired = repo.retire(Path(ctx.args.keys), version, now=_now())
        with db.Session.begin() as session:
            for row in session.execute(
                select(ClientRelease).where(ClientRelease.version == version)
            ).scalars():
                session.delete(row)
            _audit(
                session,
                "client.retire",
                version,
                {"targets": retired, "platforms": sorted(r.platform for r in rows)},
            )
    finally:
        db.close()
    lines = [
        f"已停用客户端 {version}：不再提供，发布包已从更新仓库删除 / client {version} retired: offered to "
        "nobody, its archive removed from the repository",
        *(f"  {name}" for name in retired),
        _valid_until(repo) if repo.exists() else "",
    ]
    return {"version": version, "retired": retired}, [line for line in lines if line]


def cmd_refresh_update_metadata(ctx: Context) -> Result:
    repo = _repository(ctx)
    keys = Path(ctx.args.keys)
    if ctx.args.create:
        if repo.exists():
            raise _bad(
                "repository_exists",
                f"{repo.folder} 里已有更新仓库，不会重建（重建后已安装的客户端都不再信任它）",
                f"{repo.folder} holds an update repository already; not made again (installed clients "
                "would no longer trust it)",
            )
        repo.create(keys, now=_now())
        root = repo.metadata / "1.root.json"
        return {"created": True, "root": str(root)}, [
            f"已建立更新仓库 / update repository made: {repo.folder}",
            f"打包客户端前把 {root} 复制为 packaging/update-root.json / before building the client, "
            f"copy {root} to packaging/update-root.json",
            _valid_until(repo),
        ]
    version = repo.refresh(keys, now=_now(), offline=ctx.args.offline_roles)
    what = "根、目标、快照与时间戳" if ctx.args.offline_roles else "快照与时间戳"
    what_en = (
        "root, targets, snapshot and timestamp"
        if ctx.args.offline_roles
        else ("snapshot and timestamp")
    )
    return {"timestamp_version": version}, [
        f"已更新{what}签名，并已按学校电脑的方式核对 / {what_en} signed again and checked as a school "
        f"PC checks them (timestamp {version})",
        _valid_until(repo),
        *expiry_lines(repo),
    ]


def cmd_rotate_update_key(ctx: Context) -> Result:
    role = ctx.args.role
    keys, new_keys = Path(ctx.args.keys), Path(ctx.args.new_keys)
    version = _repository(ctx).rotate_key(keys, role, new_keys, now=_now())
    old = keys / f"{role}{KEY_SUFFIX}"
    shutil.copyfile(new_keys / f"{role}{KEY_SUFFIX}", old)  # copyfile keeps the owner-only mode
    lines = [
        f"已更换 {role}（{ROLE_ZH[role]}）密钥，新的根元数据版本 {version}，并已按学校电脑的方式核对 / the "
        f"{role} key was replaced; root version {version}, checked as a school PC checks it",
        f"新的 {role}.key 已写入 {keys}（旧密钥已作废）；请删除 {new_keys} 里其余不用的密钥 / the new "
        f"{role}.key is now in {keys} (the old key is void); delete the other keys in {new_keys}",
    ]
    if role in ("snapshot", "timestamp"):
        lines.append(
            f"服务器上如另存有 {role}.key（每周的定时任务用），也要换成新的 / replace any copy of "
            f"{role}.key kept on the server for the weekly task too"
        )
    return {"role": role, "root_version": version}, lines


def add_commands(sub: Any, common: argparse.ArgumentParser) -> None:
    """The update commands, added to `sync-server`'s subparsers."""
    repo_help = (
        "更新仓库文件夹（默认：config.toml 的 updates_dir，否则 <instance>/updates） / the update "
        "repository folder (default: updates_dir in config.toml, else <instance>/updates)"
    )
    keys_help = "签名密钥文件夹（离线U盘） / the signing key folder (the offline USB stick)"

    p = sub.add_parser(
        "make-update-keys",
        parents=[common],
        help="生成客户端更新的签名密钥（文件夹离线保存） / make the update channel's signing keys "
        "(keep the folder offline)",
    )
    p.add_argument("--out", required=True, metavar="DIR", help="写入这个文件夹 / into this folder")
    p.add_argument(
        "--force",
        action="store_true",
        help="覆盖文件夹里已有的密钥 / replace keys already in the folder",
    )
    p.add_argument(
        "--passphrase",
        action="store_true",
        help="root.key 和 targets.key 用口令保护（会询问） / protect root.key and targets.key with "
        "a passphrase (asked for)",
    )
    p.set_defaults(func=cmd_make_update_keys)

    def stage_options(p: argparse.ArgumentParser) -> Any:
        group = p.add_mutually_exclusive_group()
        group.add_argument(
            "--schools",
            metavar="S001,S002",
            help="加入试点：提供给这些学校 / add these schools to the pilot",
        )
        group.add_argument(
            "--all", action="store_true", help="提供给全部学校 / offer it to every school"
        )
        return group

    p = sub.add_parser(
        "publish-client",
        parents=[common],
        help="核对并签名发布一个客户端版本（程序文件夹或压缩包） / check and sign a client release "
        "(bundle folder or archive) into the update repository",
    )
    p.add_argument(
        "source",
        metavar="DIR_OR_ARCHIVE",
        help="PyInstaller 打包得到的 dist/school-client，或它的 .zip/.tar.gz / dist/school-client "
        "as PyInstaller made it, or a .zip/.tar.gz of it",
    )
    p.add_argument("--keys", required=True, metavar="DIR", help=keys_help)
    p.add_argument(
        "--version",
        help="核对用：必须与程序包里的版本一致（默认从程序包读取） / a check: must equal the bundle's "
        "own version (read from the bundle by default)",
    )
    p.add_argument(
        "--platform",
        choices=list(U.PLATFORMS),
        help="核对用：默认按 school-client.exe 判断 / a check: by default school-client.exe means windows",
    )
    p.add_argument("--repo", metavar="DIR", help=repo_help)
    p.add_argument(
        "--sign-only",
        action="store_true",
        help="只签名写入仓库，不连接数据库（在离线电脑上；之后在服务器上运行 install-update-repo） / "
        "sign into the repository only, no database (on an offline PC; then install-update-repo on "
        "the server)",
    )
    stage_options(p)
    p.set_defaults(func=cmd_publish_client)

    p = sub.add_parser(
        "install-update-repo",
        parents=[common],
        help="把在离线电脑上签好的更新仓库放到服务器上（核对后） / put a repository signed on an "
        "offline PC in place on the server (checked first)",
    )
    p.add_argument(
        "source",
        metavar="DIR",
        help="签好的仓库文件夹：metadata/，和 targets/ 里新签名的发布包（服务器已有的不用带） / the "
        "signed repository folder: metadata/, and the newly signed archives in targets/ (not those "
        "the server holds)",
    )
    p.add_argument(
        "--keys",
        metavar="DIR",
        help="有 snapshot.key、timestamp.key 的文件夹：服务器在签名之后又刷新过时用来重新签名 / a folder "
        "with snapshot.key and timestamp.key, to sign them again when the server refreshed meanwhile",
    )
    p.add_argument(
        "--retire",
        metavar="0.2.0,0.2.1",
        help="U盘上的仓库在离线电脑上停用了这些版本（retire-release --sign-only）：服务器上也停用 / "
        "versions retired on the offline PC (retire-release --sign-only): retire them here too",
    )
    p.add_argument("--repo", metavar="DIR", help=repo_help)
    p.set_defaults(func=cmd_install_update_repo)

    p = sub.add_parser(
        "rollout",
        parents=[common],
        help="调整已发布版本的提供范围：加入/移出试点学校、全部学校、暂停 / change who is offered a "
        "published client: add/remove pilot schools, all, pause",
    )
    p.add_argument("version", metavar="VERSION", help="版本号 / the version, e.g. 0.3.0")
    group = stage_options(p)
    group.add_argument(
        "--remove-schools",
        metavar="S001",
        help="移出试点：不再提供给这些学校 / take these schools out of the pilot",
    )
    group.add_argument(
        "--pause",
        action="store_true",
        help="暂停：不再提供给任何学校（试点名单清空） / offer it to nobody (the pilot list is dropped)",
    )
    p.set_defaults(func=cmd_rollout)

    p = sub.add_parser(
        "list-releases",
        parents=[common],
        help="列出已发布的客户端版本、提供范围和签名有效期 / list client releases, who is offered "
        "each, and when the signatures expire",
    )
    p.add_argument("--repo", metavar="DIR", help=repo_help)
    p.set_defaults(func=cmd_list_releases)

    p = sub.add_parser(
        "retire-release",
        parents=[common],
        help="停用一个旧版本：不再提供，发布包从更新仓库（签名的目标和磁盘）删除；提供给学校时拒绝 / retire "
        "an old release: offered to nobody, its archive removed from the signed targets and the disk "
        "(refused while offered to any school)",
    )
    p.add_argument("version", metavar="VERSION", help="版本号 / the version, e.g. 0.3.0")
    p.add_argument(
        "--keys",
        required=True,
        metavar="DIR",
        help="有 targets.key、snapshot.key、timestamp.key 的文件夹（离线U盘） / holds targets.key, "
        "snapshot.key, timestamp.key (the offline stick)",
    )
    p.add_argument("--repo", metavar="DIR", help=repo_help)
    p.add_argument(
        "--sign-only",
        action="store_true",
        help="只在 --repo 的仓库里停用并签名，不连接数据库（离线电脑；之后在服务器上 install-update-repo "
        "--retire） / retire in the --repo copy only, no database (an offline PC; then "
        "install-update-repo --retire on the server)",
    )
    p.set_defaults(func=cmd_retire_release)

    p = sub.add_parser(
        "refresh-update-metadata",
        parents=[common],
        help="重新签名更新仓库的快照和时间戳（7 天过期；每周的定时任务） / sign the update "
        "repository's snapshot and timestamp again (they expire in 7 days; a weekly task)",
    )
    p.add_argument(
        "--keys",
        required=True,
        metavar="DIR",
        help="有 snapshot.key、timestamp.key 的文件夹 / holds snapshot.key, timestamp.key",
    )
    p.add_argument(
        "--create",
        action="store_true",
        help="建立新的空仓库（要四个密钥），得到打包用的 1.root.json / make a new, empty repository "
        "(all four keys) and its 1.root.json for the installer",
    )
    p.add_argument(
        "--offline-roles",
        action="store_true",
        help="根和目标元数据也重新签名（再有效 1 年；要 root.key 和 targets.key） / sign root and "
        "targets again too (a year more; needs root.key and targets.key)",
    )
    p.add_argument("--repo", metavar="DIR", help=repo_help)
    p.set_defaults(func=cmd_refresh_update_metadata)

    p = sub.add_parser(
        "rotate-update-key",
        parents=[common],
        help="更换一个角色的签名密钥（新的根元数据，用旧 root 密钥签名） / replace one role's signing "
        "key (a new root version, signed with the old root key)",
    )
    p.add_argument(
        "role", choices=list(ROLES), help="角色：root、targets、snapshot 或 timestamp / the role"
    )
    p.add_argument(
        "--keys",
        required=True,
        metavar="DIR",
        help="现在的密钥文件夹（要 root.key；新密钥会写入这里） / the current keys (root.key; the new "
        "key is written here)",
    )
    p.add_argument(
        "--new-keys",
        required=True,
        metavar="DIR",
        help="make-update-keys 新生成的文件夹（取其中该角色的密钥） / a folder make-update-keys made "
        "(its key for the role is taken)",
    )
    p.add_argument("--repo", metavar="DIR", help=repo_help)
    p.set_defaults(func=cmd_rotate_update_key)
