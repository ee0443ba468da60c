"""`sync-server` commands of the client update channel (docs/updates.md):

make-update-keys --out DIR                 the four roles' signing keys, into a folder kept offline
publish-client DIR_OR_ARCHIVE --keys DIR   sign a release into the repository (offered to nobody yet,
               [--schools S1,S2 | --all]   or to these schools, or to all)
rollout VERSION --schools S1,S2 | --all | --pause
refresh-update-metadata --keys DIR         new snapshot and timestamp (7-day expiry; a scheduled task)
rotate-update-key ROLE --keys DIR --new-keys DIR
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sync_server import updates as U
from sync_server.updates_repo import ARCHIVE_SUFFIXES, ROLES, Repository, make_keys

if TYPE_CHECKING:
    from sync_server.cli import Context, Result

EXIT_BAD_INPUT = 2
DIST_INFO = re.compile(r"school_data-([^-/\\]+)\.dist-info$")


def _bad(code: str, zh: str, en: str) -> Exception:
    from sync_server.cli import CliError

    return CliError(code, zh, en, EXIT_BAD_INPUT)


def _repository(ctx: Context) -> Repository:
    from sync_server.config import build_config

    if getattr(ctx.args, "repo", None):
        return Repository(Path(ctx.args.repo))
    configured = build_config(ctx.instance, None).get("UPDATES_DIR")
    return Repository(Path(str(configured)) if configured else ctx.instance / "updates")


def _now() -> Any:
    from sync_server.config import system_clock

    return system_clock()


def _schools(text: str | None) -> list[str]:
    return [s.strip() for s in (text or "").replace("，", ",").split(",") if s.strip()]


def _stage(args: argparse.Namespace) -> tuple[str, list[str]]:
    if getattr(args, "pause", False):
        return "paused", []
    if args.all:
        return "all", []
    if args.schools:
        return "pilot", _schools(args.schools)
    return "paused", []


def _detect_version(source: Path) -> str | None:
    """The version a bundle folder carries (its school_data-X.dist-info, as `--version` reads it)."""
    if not source.is_dir():
        m = re.search(r"school-client-(\d[^/\\]*?)(\.tar\.gz|\.tgz|\.zip)$", source.name)
        return m.group(1) if m else None
    for path in sorted(source.glob("*/school_data-*.dist-info")) + sorted(
        source.glob("school_data-*.dist-info")
    ):
        m = DIST_INFO.search(path.name)
        if m:
            return m.group(1)
    return None


def _detect_platform(source: Path) -> str:
    if source.is_dir():
        return "windows" if (source / "school-client.exe").is_file() else "linux"
    return "windows" if source.name.lower().endswith(".zip") else "linux"


def cmd_make_update_keys(ctx: Context) -> Result:
    out = Path(ctx.args.out)
    ids = make_keys(out, force=ctx.args.force)
    lines = [
        f"已生成更新签名密钥 / update signing keys made in {out}",
        *(f"  {role}: {keyid[:16]}…" for role, keyid in ids.items()),
        "请把这个文件夹保存在离线的U盘上，不要放在服务器上 / keep this folder offline (a USB stick), "
        "not on the server",
    ]
    return {"keys": str(out), "keyids": ids}, lines


def cmd_publish_client(ctx: Context) -> Result:
    source = Path(ctx.args.source)
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
    version = ctx.args.version or _detect_version(source)
    if not version:
        raise _bad(
            "no_version",
            f"无法从 {source} 读出版本号，请用 --version 指定",
            f"cannot read the version from {source}; give it with --version",
        )
    U.parse_version(version)
    platform = ctx.args.platform or _detect_platform(source)
    stage, schools = _stage(ctx.args)
    keys = Path(ctx.args.keys)
    db = ctx.open()
    try:
        with db.Session.begin() as session:
            U.check_stage(session, stage, schools)  # before anything is signed
        published = _repository(ctx).publish(
            keys, source, version=version, platform=platform, now=_now()
        )
        with db.Session.begin() as session:
            U.add_release(
                session,
                version=version,
                platform=platform,
                target=published.target,
                stage=stage,
                schools=schools,
                now=_now(),
            )
    finally:
        db.close()
    lines = [
        f"已发布客户端 / client published: {version} ({platform}), {published.length} 字节 bytes, "
        f"sha256 {published.sha256[:16]}…",
        f"发布范围 / offered to: {U.STAGE_LABELS[stage]}"
        + (f" {'、'.join(schools)}" if schools else "")
        + (" / " + stage),
    ]
    if stage == "paused":
        lines.append(
            "尚未向任何学校提供；用 sync-server rollout 指定试点学校或全部学校 / offered to nobody yet: "
            "use sync-server rollout"
        )
    return {
        "version": version,
        "platform": platform,
        "target": published.target,
        "length": published.length,
        "sha256": published.sha256,
        "stage": stage,
        "schools": schools,
    }, lines


def cmd_rollout(ctx: Context) -> Result:
    stage, schools = _stage(ctx.args)
    if not (ctx.args.pause or ctx.args.all or ctx.args.schools):
        raise _bad(
            "no_stage",
            "请指定 --schools S001,S002、--all 或 --pause",
            "give --schools S001,S002, --all or --pause",
        )
    db = ctx.open()
    try:
        with db.Session.begin() as session:
            releases = U.set_stage(
                session, version=ctx.args.version, stage=stage, schools=schools, now=_now()
            )
            held = sorted({s for r in releases for s in (r.schools or [])})
    finally:
        db.close()
    line = f"客户端 {ctx.args.version}：{U.STAGE_LABELS[stage]}" + (
        f"（{'、'.join(held)}）" if stage == "pilot" else ""
    )
    return {"version": ctx.args.version, "stage": stage, "schools": held}, [
        f"{line} / client {ctx.args.version}: {stage}"
    ]


def cmd_refresh_update_metadata(ctx: Context) -> Result:
    version = _repository(ctx).refresh(Path(ctx.args.keys), now=_now())
    return {"timestamp_version": version}, [
        f"已更新快照与时间戳签名 / snapshot and timestamp signed again (timestamp {version})"
    ]


def cmd_rotate_update_key(ctx: Context) -> Result:
    version = _repository(ctx).rotate_key(
        Path(ctx.args.keys), ctx.args.role, Path(ctx.args.new_keys), now=_now()
    )
    return {"role": ctx.args.role, "root_version": version}, [
        f"已更换 {ctx.args.role} 密钥，新的根元数据版本 {version} / the {ctx.args.role} key was "
        f"replaced; root version {version}"
    ]


def add_commands(sub: Any, common: argparse.ArgumentParser) -> None:
    """The update commands, added to `sync-server`'s subparsers."""
    repo_help = "the update repository folder (default: updates_dir in config.toml, else <instance>/updates)"

    p = sub.add_parser(
        "make-update-keys",
        parents=[common],
        help="make the update channel's signing keys (keep the folder offline)",
    )
    p.add_argument("--out", required=True, metavar="DIR")
    p.add_argument("--force", action="store_true", help="replace keys already in the folder")
    p.set_defaults(func=cmd_make_update_keys)

    def stage_options(p: argparse.ArgumentParser) -> Any:
        group = p.add_mutually_exclusive_group()
        group.add_argument("--schools", metavar="S001,S002", help="offer it to these schools first")
        group.add_argument("--all", action="store_true", help="offer it to every school")
        return group

    p = sub.add_parser(
        "publish-client",
        parents=[common],
        help="sign a client release (bundle folder or archive) into the update repository",
    )
    p.add_argument("source", metavar="DIR_OR_ARCHIVE")
    p.add_argument("--keys", required=True, metavar="DIR", help="the offline signing keys")
    p.add_argument("--version", help="default: read from the bundle")
    p.add_argument("--platform", choices=list(U.PLATFORMS))
    p.add_argument("--repo", metavar="DIR", help=repo_help)
    stage_options(p)
    p.set_defaults(func=cmd_publish_client)

    p = sub.add_parser(
        "rollout", parents=[common], help="offer a published client to schools, to all, or pause it"
    )
    p.add_argument("version", metavar="VERSION")
    stage_options(p).add_argument("--pause", action="store_true", help="offer it to nobody for now")
    p.set_defaults(func=cmd_rollout)

    p = sub.add_parser(
        "refresh-update-metadata",
        parents=[common],
        help="sign the update repository's snapshot and timestamp again (they expire in 7 days)",
    )
    p.add_argument("--keys", required=True, metavar="DIR", help="holds snapshot.key, timestamp.key")
    p.add_argument("--repo", metavar="DIR", help=repo_help)
    p.set_defaults(func=cmd_refresh_update_metadata)

    p = sub.add_parser(
        "rotate-update-key",
        parents=[common],
        help="replace one role's signing key (a new root version, signed with the old root key)",
    )
    p.add_argument("role", choices=list(ROLES))
    p.add_argument("--keys", required=True, metavar="DIR", help="the current keys (root.key)")
    p.add_argument("--new-keys", required=True, metavar="DIR", help="holds the role's new key")
    p.add_argument("--repo", metavar="DIR", help=repo_help)
    p.set_defaults(func=cmd_rotate_update_key)
