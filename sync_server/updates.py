"""Client versions and updates on the server (issue 16, protocol revision 1.18, docs/updates.md).

- Version skew: every API answer says which protocol this server speaks (`Sync-Protocol`) and the oldest
  client it accepts (`Sync-Min-Client-Version`, config `min_client_version`). A client older than that (its
  `User-Agent: school-client/X`) is answered 426 `client_too_old`, in Chinese and English, with the update
  it is offered; only the update routes and enroll stay open to it, so it can still update itself.
- Rollout: a published release (`sync-server publish-client`) is offered to nobody (paused), to chosen
  schools (pilot) or to all; a device gets the newest release meant for it that is newer than what it runs.
- Device reports: each update check records the device's version, state and failures for the dashboard.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from packaging.version import InvalidVersion, Version
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from sync_server.config import ConfigError
from sync_server.errors import ApiError, ServiceError
from sync_server.models import ClientRelease, Device, DeviceUpdate, School
from sync_server.services.common import naive_utc

# The newest protocol revision this server implements (docs/protocol.md: 1.18 updates, 1.19 updates by USB
# stick, 1.20 batch negotiation, 1.21 an explicit "no offer" and the report's rollback fields), stated in
# Sync-Protocol; clients compare it as (major, minor) numbers.
PROTOCOL = "1.21"
PROTOCOL_HEADER = "Sync-Protocol"
MIN_CLIENT_HEADER = "Sync-Min-Client-Version"
REPORT_HEADER = "Sync-Update-Report"  # on a pull: the device's update report (compact JSON)
OFFER_HEADER = "Sync-Update-Offer"  # on a pull's answer: the version this device is offered
# 1.21: the pull's answer says `Sync-Update-Offer: none` when the server decided nothing is offered to this
# device - only to a client whose pull states `Sync-Protocol: 1.21` or later (an older client would take
# "none" for a version and ask for it at every sync).
OFFER_NONE = "none"
OFFER_NONE_SINCE = (1, 21)
# 1.21: what a report may state of a failed first start or a withdrawn release (the dashboard reads them
# instead of the client's English error line; a 1.18-1.20 client's report has none of them).
REPORT_FIELDS = ("tries", "max_tries", "kept_version", "blocked_until", "withdrawn")
CLIENT_AGENT = re.compile(r"school-client/([0-9][0-9A-Za-z.+!-]{0,48})")
STAGES = ("paused", "pilot", "all")
NEW = "new"  # published, never offered to anybody yet (a pause is someone stopping it)
OFFERED = ("pilot", "all")
STAGE_LABELS = {"paused": "已暂停", "pilot": "试点学校", "all": "全部学校", NEW: "未提供"}
STAGE_LABELS_EN = {
    "paused": "paused",
    "pilot": "pilot schools",
    "all": "all schools",
    NEW: "not offered yet",
}
PLATFORMS = ("linux", "windows")
# What a device may report (client/update/state.py has the same words).
STATES = (
    "current",
    "available",
    "downloading",
    "staged",
    "installed",
    "failed",
    "rolled_back",
)
STATE_LABELS = {
    "current": "已是最新",
    "available": "有新版本",
    "downloading": "正在下载",
    "staged": "已下载，下次启动时安装",
    "installed": "已安装新版本",
    "failed": "更新失败",
    "rolled_back": "新版本启动失败，已退回",
}


def parse_version(text: str, *, what: str = "version") -> Version:
    try:
        return Version(text)
    except InvalidVersion:
        raise ServiceError(
            "bad_version",
            f"“{text}”不是有效的版本号（如 0.2.0）",
            f"'{text}' is not a valid {what} (such as 0.2.0)",
            status=400,
            details={"version": text[:60]},
        ) from None


def client_version(user_agent: str | None) -> Version | None:
    """The version our client names in its User-Agent (every client since 1.0 sends it); None: another
    program, or a version that does not parse (such a request is not refused for its version)."""
    m = CLIENT_AGENT.search(user_agent or "")
    if m is None:
        return None
    try:
        return Version(m.group(1))
    except InvalidVersion:
        return None


def min_client_version(config: Mapping[str, Any]) -> Version | None:
    """config.toml's `min_client_version`; ConfigError (the server does not start) when it is no version."""
    raw = config.get("MIN_CLIENT_VERSION")
    if raw is None or raw == "":
        return None
    try:
        return Version(str(raw))
    except InvalidVersion:
        raise ConfigError(
            "MIN_CLIENT_VERSION", raw, ('版本号（如 "0.3.0"）', 'a version such as "0.3.0"')
        ) from None


def too_old_error(version: Version, minimum: Version, offer: Mapping[str, Any] | None) -> ApiError:
    zh = (
        f"程序版本过旧，需要更新：本机是 {version}，县教育局服务器只接受 {minimum} 及以上版本。"
        + (
            f"新版本 {offer['version']} 已可更新：程序会自动下载，下次启动时安装。"
            if offer
            else "请联系县教育局获取新版本。"
        )
        + "本机保存的数据不会丢失。"
    )
    en = (
        f"this computer's school client ({version}) is too old: the bureau server accepts {minimum} "
        "or newer. "
        + (
            f"Version {offer['version']} is offered: it downloads by itself and installs at the next start. "
            if offer
            else "Ask the bureau for a new version. "
        )
        + "Nothing saved on this computer is lost."
    )
    details: dict[str, Any] = {
        "client_version": str(version),
        "min_client_version": str(minimum),
        "protocol": PROTOCOL,
        "update": dict(offer) if offer else None,
    }
    return ApiError("client_too_old", zh, en, status=426, details=details)


# -- releases and rollout ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Offer:
    version: str
    target: str
    platform: str

    def as_json(self) -> dict[str, str]:
        return {"version": self.version, "target": self.target, "platform": self.platform}


def add_release(
    session: Session,
    *,
    version: str,
    platform: str,
    target: str,
    stage: str,
    schools: Sequence[str],
    now: dt.datetime,
) -> ClientRelease:
    """A published release. Published again (the same signed bytes: updates_repo refuses others), its
    rollout is kept as it is."""
    parse_version(version)
    schools = check_stage(session, stage, schools)
    release = session.execute(
        select(ClientRelease).where(
            ClientRelease.version == version, ClientRelease.platform == platform
        )
    ).scalar_one_or_none()
    if release is not None:
        release.target = target
        session.flush()
        return release
    at = naive_utc(now)
    release = ClientRelease(version=version, platform=platform, published_at=at)
    session.add(release)
    release.target = target
    release.stage = stage
    release.schools = sorted(set(schools))
    release.changed_at = at
    session.flush()
    return release


@dataclass(frozen=True)
class StageChange:
    release: ClientRelease
    stage_before: str
    schools_before: list[str]
    note_zh: str = ""
    note_en: str = ""


def set_stage(
    session: Session,
    *,
    version: str,
    stage: str,
    schools: Sequence[str] = (),
    now: dt.datetime,
) -> list[StageChange]:
    """Change who is offered a release (every platform of that version):

    - "pilot": these schools are added to the pilot (a paused or never offered release starts a pilot of
      just these); a release offered to all stays so (refused: narrowing it is a pause, then a pilot);
    - "remove": these schools leave the pilot (none left: paused);
    - "all": every school; "paused": nobody (the pilot's list is dropped: a new pilot names its schools).
    """
    if stage not in (*STAGES, "remove"):  # (NEW is no action: a release is published so)
        raise ServiceError(
            "bad_stage",
            f"发布范围的调整“{stage[:20]}”无效（pilot、remove、all 或 paused）",
            f"'{stage[:20]}' is not one of pilot, remove, all, paused",
            status=400,
        )
    if stage == "remove":
        schools = check_stage(session, "pilot", schools)
    else:
        schools = check_stage(session, stage, schools)
    releases = list(
        session.execute(select(ClientRelease).where(ClientRelease.version == version)).scalars()
    )
    if not releases:
        raise ServiceError(
            "unknown_release",
            f"没有发布过客户端版本 {version}（先用 sync-server publish-client 发布）",
            f"no client release {version} was published (publish it with sync-server publish-client)",
            status=404,
            details={"version": version},
        )
    changes: list[StageChange] = []
    for release in releases:
        before, held = release.stage, list(release.schools or [])
        note = ("", "")
        if stage == "pilot":
            if before == "all":
                raise ServiceError(
                    "already_all",
                    f"客户端 {version} 已提供给全部学校，加入试点学校不会改变什么。要改回只给部分学校：先暂停，"
                    "再指定试点学校",
                    f"client {version} is offered to all schools already; adding pilot schools changes "
                    "nothing. To offer it to some schools only: pause it, then name the pilot schools",
                    status=409,
                    details={"version": version},
                )
            release.schools = sorted(set(schools) | (set(held) if before == "pilot" else set()))
            release.stage = "pilot"
        elif stage == "remove":
            if before != "pilot":
                raise ServiceError(
                    "not_pilot",
                    f"客户端 {version} 现在是“{stage_label(release)}”，没有试点名单可移出学校",
                    f"client {version} is not in a pilot ({before}): no pilot to remove schools from",
                    status=409,
                    details={"version": version},
                )
            absent = sorted(set(schools) - set(held))
            if absent:
                raise ServiceError(
                    "not_in_pilot",
                    f"这些学校不在客户端 {version} 的试点名单中：{'、'.join(absent)}（名单：{'、'.join(held)}）",
                    f"not in client {version}'s pilot: {', '.join(absent)} (the pilot: "
                    f"{', '.join(held)})",
                    status=400,
                    details={"schools": absent},
                )
            release.schools = sorted(set(held) - set(schools))
            if not release.schools:
                release.stage = "paused"
                note = ("试点名单已空，已暂停", "the pilot is empty now: paused")
        elif stage == "paused":
            release.stage, release.schools = "paused", []
            if before == "pilot" and held:
                note = (
                    f"原试点学校 {'、'.join(held)} 不再提供；恢复时请重新指定试点学校",
                    f"the pilot ({', '.join(held)}) is dropped; name the schools again to resume",
                )
        else:
            release.stage = "all"
        release.changed_at = naive_utc(now)
        changes.append(StageChange(release, before, held, *note))
    session.flush()
    return changes


def school_codes(session: Session, schools: Sequence[str]) -> list[str]:
    """The schools' codes as stored, from codes typed in any case (as enroll takes them); unknown ones
    refused, naming them."""
    wanted = {c.strip(): c.strip().lower() for c in schools if c.strip()}
    found = {
        code.lower(): code
        for code in session.execute(
            select(School.code).where(func.lower(School.code).in_(list(wanted.values())))
        ).scalars()
    }
    unknown = sorted(c for c, low in wanted.items() if low not in found)
    if unknown:
        raise ServiceError(
            "unknown_school",
            f"没有这些学校：{'、'.join(unknown)}",
            f"no such school: {', '.join(unknown)}",
            status=400,
            details={"schools": unknown},
        )
    return sorted({found[low] for low in wanted.values()})


def check_stage(session: Session, stage: str, schools: Sequence[str]) -> list[str]:
    """The stage checked; the pilot's school codes as stored."""
    if stage not in (*STAGES, NEW):
        raise ServiceError(
            "bad_stage",
            f"发布阶段“{stage}”无效（paused、pilot 或 all）",
            f"stage '{stage}' is not one of paused, pilot, all",
            status=400,
        )
    if stage != "pilot":
        return []
    if not [c for c in schools if c.strip()]:
        raise ServiceError(
            "no_schools",
            "请填写试点学校的代码（如 S001,S002）",
            "name the pilot schools by their codes (such as S001,S002)",
            status=400,
        )
    return school_codes(session, schools)


def stage_label(release: ClientRelease) -> str:
    """已暂停 only for a release someone stopped; one never offered to anybody is 未提供."""
    return STAGE_LABELS.get(release.stage, release.stage)


def stage_label_en(release: ClientRelease) -> str:
    return STAGE_LABELS_EN.get(release.stage, release.stage)


def scope_text(release: ClientRelease) -> tuple[str, str]:
    """Who is offered the release now, in both languages."""
    zh, en = stage_label(release), stage_label_en(release)
    if release.stage == "pilot":
        zh += "：" + "、".join(release.schools or [])
        en += ": " + ", ".join(release.schools or [])
    return zh, en


def newest_offered(
    releases: Sequence[ClientRelease], *, school_code: str | None, platform: str | None
) -> str | None:
    """The newest release offered to a device of this school and platform (what it will be offered)."""
    best: Version | None = None
    text = None
    for release in releases:
        if platform is not None and release.platform != platform:
            continue
        if release.stage not in OFFERED:
            continue
        if release.stage == "pilot" and school_code not in (release.schools or []):
            continue
        try:
            version = Version(release.version)
        except InvalidVersion:
            continue
        if best is None or version > best:
            best, text = version, release.version
    return text


def lockout_warning(session: Session, minimum: Version | None) -> tuple[str, str] | None:
    """min_client_version above every release offered to all schools: the PCs below it can neither sync
    nor be offered a version to update to."""
    if minimum is None:
        return None
    offered: list[Version] = []
    for text in session.execute(
        select(ClientRelease.version).where(ClientRelease.stage == "all")
    ).scalars():
        try:
            offered.append(Version(text))
        except InvalidVersion:
            continue
    newest = max(offered) if offered else None
    if newest is not None and newest >= minimum:
        return None
    shown = str(newest) if newest is not None else "无"
    return (
        f"min_client_version {minimum} 高于提供给全部学校的最新版本（{shown}）：低于 {minimum} 的电脑无法同步，"
        f"也得不到可以更新到的版本。请先把 {minimum} 或更高的版本发布到全部学校，或调低 min_client_version",
        f"min_client_version {minimum} is above the newest release offered to all schools "
        f"({newest if newest is not None else 'none'}): PCs below {minimum} cannot sync and are offered "
        f"nothing to update to. Offer {minimum} or newer to all schools first, or lower "
        "min_client_version",
    )


def below_minimum(version: str | None, minimum: Version | None) -> bool:
    if minimum is None or not version:
        return False
    try:
        return Version(version) < minimum
    except InvalidVersion:
        return False


# What the errors a PC reports mean, and what the bureau should do (the raw text stays beside it).
_ERRORS: tuple[tuple[re.Pattern[str], str, str], ...] = (
    (
        re.compile(r"ExpiredMetadataError.*\b(timestamp|snapshot)\b", re.I),
        "更新签名已过期（快照/时间戳每 7 天要重新签名）：请在教育局服务器上运行 sync-server "
        "refresh-update-metadata --keys 密钥文件夹，并检查每周的定时任务",
        "the update signatures expired (snapshot/timestamp must be signed again every 7 days): run "
        "sync-server refresh-update-metadata --keys KEYS on the bureau server and check the weekly task",
    ),
    (
        re.compile(r"ExpiredMetadataError.*\b(root|targets)\b", re.I),
        "更新仓库的根/目标元数据已过期（有效期 1 年）：插上密钥U盘，运行 sync-server "
        "refresh-update-metadata --keys U盘密钥文件夹 --offline-roles",
        "the repository's root/targets metadata expired (1 year): with the key stick, run sync-server "
        "refresh-update-metadata --keys KEYS --offline-roles",
    ),
    (
        re.compile(r"UnsignedMetadataError.*\broot was signed", re.I),
        "这台电脑信任的更新根不是本服务器的（安装包旁的 update-root.json 来自另一个服务器或测试仓库），"
        "或更换 root 密钥时出了错：请给这台电脑重新安装带本服务器 1.root.json 的安装包",
        "this PC trusts another repository's root (update-root.json beside the program comes from another "
        "server), or a root rotation went wrong: reinstall it with this server's 1.root.json",
    ),
    (
        re.compile(r"UnsignedMetadataError", re.I),
        "元数据不是用根元数据要求的密钥签的：发布或刷新时用了错误或过期的密钥文件夹（更换密钥后没有换上新的？）。"
        "用正确的密钥运行 sync-server refresh-update-metadata",
        "metadata signed with keys the root does not name: a wrong or stale key folder was used (a new "
        "key not copied after a rotation?). Run sync-server refresh-update-metadata with the right keys",
    ),
    (
        re.compile(r"LengthOrHashMismatchError|DownloadLengthMismatchError", re.I),
        "下载的发布包与签名不符（服务器上的文件被改动或损坏）：用同一个程序包再运行一次 sync-server "
        "publish-client 可以恢复它；原版本照常运行",
        "the downloaded archive does not match its signature (the file on the server was changed or "
        "damaged): run sync-server publish-client again with the same bundle to restore it",
    ),
    (
        re.compile(r"BadVersionNumberError|version.*must be", re.I),
        "服务器上的更新仓库比这台电脑见过的旧（被换成了旧的副本？）：恢复最新的 updates 文件夹，或运行 "
        "sync-server refresh-update-metadata",
        "the server's repository is older than one this PC saw (an old copy put back?): restore the "
        "newest updates folder, or run sync-server refresh-update-metadata",
    ),
    (
        re.compile(r"failed its first start|\bnot installed:", re.I),
        "新版本在这台电脑上没能完成第一次启动（程序没有起来：缺少文件或库、崩溃，或数据库升级失败），已自动"
        "换回原版本；断网、命令写错或服务器拒绝同步不会造成退回。请看这台电脑数据文件夹里的日志；是程序包的"
        "问题就修好后发布更高的版本号",
        "the new version did not come up at its first start on this PC (a missing file or library, a "
        "crash, a failed database upgrade) and the old version was put back; being offline, a mistyped "
        "command or a refused sync never cause this. Check the log in the PC's data folder; if the "
        "bundle is at fault, publish a higher version",
    ),
    (
        re.compile(r"DownloadError|ConnectionError|Timeout|timed out", re.I),
        "下载中断（网络问题）：下次同步时会接着下载，不需要处理",
        "the download was cut (network): it goes on at the next sync; nothing to do",
    ),
    (
        re.compile(r"No space|ENOSPC|磁盘", re.I),
        "学校电脑的磁盘空间不足：请学校清理磁盘",
        "the school PC's disk is full: ask the school to free space",
    ),
)


def explain_error(raw: str | None) -> tuple[str, str] | None:
    """A reported update error's meaning and the bureau's action (Chinese, English); None: unknown."""
    if not raw:
        return None
    for pattern, zh, en in _ERRORS:
        if pattern.search(raw):
            return zh, en
    return None


# How a school PC retries a version that failed its first start (client/update/retry.py, the same numbers):
# it waits in the PC's staged folder and is tried at the next starts, MAX_START_TRIES in all, then blocked
# there for BLOCK_DAYS, then tried once more; a newer version is never held back by that block.
MAX_START_TRIES = 3
BLOCK_DAYS = 7
_FIRST_START = re.compile(
    r"^(?P<version>\S+) failed its first start \(exit code (?P<code>-?\d+)\); (?P<kept>\S+) kept"
    r"(?:; (?:try (?P<try>\d+) of (?P<of>\d+)|tried (?P<tried>\d+) times))?",
)
_GIVEN_UP = re.compile(r"^(?P<version>\S+) not installed: ")


@dataclass(frozen=True)
class StartFailure:
    """What a PC's report says of a version that did not come up here."""

    version: str  # the version that failed
    kept: str | None  # the version the PC runs instead
    tries: int | None  # failed first starts so far (None: a client from before the retries)
    blocked: bool  # not tried at the next start (for BLOCK_DAYS), or never again by an older client


def stated_protocol(text: str | None) -> tuple[int, int] | None:
    """A revision such as "1.21" as (major, minor) numbers; None: none stated, or not a revision."""
    try:
        major, minor = (int(part) for part in (text or "").strip().split(".")[:2])
    except ValueError:
        return None
    return major, minor


def _stated_failure(u: DeviceUpdate) -> StartFailure | None:
    """A failed first start from the report's fields (1.21): tries, kept_version, blocked_until."""
    fields = u.report_fields if isinstance(u.report_fields, dict) else {}
    tries, kept = fields.get("tries"), fields.get("kept_version")
    if not isinstance(tries, int) and not kept:
        return (
            None  # not a failed first start (a refused download, a withdrawal), or an older client
        )
    if not u.target_version:
        return None
    blocked = (
        bool(fields.get("blocked_until")) or u.state == "failed"
    )  # failed: given up (install.py)
    of = fields.get("max_tries")
    if isinstance(tries, int) and isinstance(of, int) and tries >= of:
        blocked = True
    shown = tries if isinstance(tries, int) and tries > 0 else None
    return StartFailure(u.target_version, str(kept) if kept else u.app_version, shown, blocked)


def start_failure(u: DeviceUpdate | None) -> StartFailure | None:
    """The failed first start a device reports: from the report's fields (1.21), else - a 1.18-1.20
    client - from its state and the client's own error line."""
    if u is None or u.state not in ("rolled_back", "failed"):
        return None
    stated = _stated_failure(u)
    if stated is not None:
        return stated
    if not u.last_error:
        return None
    m = _FIRST_START.match(u.last_error)
    if m is not None:
        if m.group("try"):
            tries = int(m.group("try"))
            blocked = tries >= int(m.group("of"))
        elif m.group("tried"):
            tries, blocked = int(m.group("tried")), True
        else:  # the first start's rule before the retries: one failure, not taken again
            tries, blocked = None, True
        return StartFailure(m.group("version"), m.group("kept"), tries, blocked)
    m = _GIVEN_UP.match(u.last_error)
    if m is not None:  # the runner could not install it (client/update/install.py _give_up)
        return StartFailure(m.group("version"), u.app_version, None, True)
    return None


def state_text(u: DeviceUpdate) -> tuple[str, str]:
    """The update state as the dashboard shows it: a rollback names the version that failed and the one
    kept (the report's target_version is the one that failed)."""
    failure = start_failure(u)
    if u.state == "rolled_back":
        failed = failure.version if failure else u.target_version
        kept = (failure.kept if failure else None) or u.app_version
        return (
            f"新版本 {failed} 启动失败，仍在用 {kept}"
            if failed
            else f"新版本启动失败，仍在用 {kept}",
            f"{failed or 'the new version'} failed to start; {kept} kept",
        )
    if u.target_version and withdrawn(u):
        v = u.target_version
        return (
            f"新版本 {v} 已撤回（县教育局暂停或不再提供给本校），已下载的没有安装，仍在用 {u.app_version}",
            f"{v} withdrawn (paused, or no longer offered to this school): not installed; "
            f"{u.app_version} kept",
        )
    label = STATE_LABELS.get(u.state, u.state)
    return (f"{label} {u.target_version}" if u.target_version else label), u.state


_WITHDRAWN = re.compile(r"^(?P<version>\S+) withdrawn: ")


def withdrawn(u: DeviceUpdate) -> bool:
    """The device dropped its staged target_version before installing it (the server stopped offering
    it): the report's field (1.21), else the client's error line (1.18-1.20)."""
    if u.state != "current" or not u.target_version:
        return False
    fields = u.report_fields if isinstance(u.report_fields, dict) else None
    if fields:
        return fields.get("withdrawn") is True
    m = _WITHDRAWN.match(u.last_error or "")
    return m is not None and m.group("version") == u.target_version


def blocked_until(u: DeviceUpdate | None) -> dt.datetime | None:
    """Until when (naive UTC) the device does not take the version that failed its first start there, as
    its report states (1.21 `blocked_until`); None: not stated (not blocked, or an older client)."""
    fields = u.report_fields if u is not None and isinstance(u.report_fields, dict) else {}
    text = fields.get("blocked_until")
    if not isinstance(text, str) or start_failure(u) is None:
        return None
    try:
        return naive_utc(dt.datetime.fromisoformat(text))
    except ValueError:
        return None


def first_start_explained(failure: StartFailure) -> tuple[str, str]:
    """What a failed first start means now, and what the bureau can do, as the client retries it."""
    v, kept = failure.version, failure.kept or "原版本"
    why_zh = "（程序没有起来：缺少文件或库、崩溃，或数据库升级失败；断网、命令写错或服务器拒绝同步不会造成退回）"
    why_en = (
        " (the program did not come up: a missing file or library, a crash, a failed database upgrade; "
        "being offline, a mistyped command or a refused sync never cause this)"
    )
    todo_zh = "请看这台电脑数据文件夹里的日志；是程序包的问题就修好后发布更高的版本号（更高的版本不受这次失败影响）"
    todo_en = (
        "check the log in the PC's data folder; if the bundle is at fault, publish a higher version "
        "(a higher version is not held back by this)"
    )
    if failure.tries is not None and not failure.blocked:
        nxt = failure.tries + 1
        return (
            f"新版本 {v} 在这台电脑上没能完成第一次启动{why_zh}，已自动换回 {kept}。下次启动时再试 {v}"
            f"（第 {nxt} 次，共 {MAX_START_TRIES} 次）；{MAX_START_TRIES} 次都失败就在这台电脑上暂停安装 {v}，"
            f"{BLOCK_DAYS} 天后再试一次。{todo_zh}",
            f"{v} did not come up at its first start on this PC{why_en}; {kept} was put back. It is "
            f"tried again at the next start (try {nxt} of {MAX_START_TRIES}); after {MAX_START_TRIES} "
            f"failed tries this PC stops taking {v} for {BLOCK_DAYS} days, then tries it once more. "
            f"{todo_en[0].upper()}{todo_en[1:]}",
        )
    if failure.tries is not None:
        return (
            f"新版本 {v} 在这台电脑上 {failure.tries} 次都没能完成第一次启动{why_zh}，仍在用 {kept}。这台电脑"
            f"暂停安装 {v}，{BLOCK_DAYS} 天后再试一次。{todo_zh}",
            f"{v} did not come up at any of its {failure.tries} first starts on this PC{why_en}; it runs "
            f"{kept}. This PC does not take {v} for {BLOCK_DAYS} days, then tries it once more. "
            f"{todo_en[0].upper()}{todo_en[1:]}",
        )
    return (
        f"新版本 {v} 没能在这台电脑上安装或完成第一次启动，仍在用 {kept}。这台电脑暂停安装 {v}（较早的客户端"
        f"不再试；新的客户端 {BLOCK_DAYS} 天后再试一次）。{todo_zh}",
        f"{v} could not be installed or did not come up at its first start on this PC; it runs {kept}. "
        f"This PC does not take {v} now (an older client never again; a newer one tries once more "
        f"after {BLOCK_DAYS} days). {todo_en[0].upper()}{todo_en[1:]}",
    )


def explain_report(u: DeviceUpdate | None) -> tuple[str, str] | None:
    """A device's reported error explained: a failed first start with its retries, else explain_error."""
    if u is None:
        return None
    failure = start_failure(u)
    if failure is not None:
        return first_start_explained(failure)
    return explain_error(u.last_error)


def offer_note(u: DeviceUpdate | None, newest: str | None, running: str | None) -> tuple[str, str]:
    """Beside the version a device runs: ("offer", X) - it will take X (可更新到); ("retry", X) - X failed
    here and is tried again at the next start; ("blocked", X) - X failed here and is not taken for now;
    ("", "") - nothing to say."""
    if not newest or newest == running:
        return "", ""
    failure = start_failure(u)
    if failure is not None and failure.version == newest:
        return ("blocked" if failure.blocked else "retry"), newest
    return "offer", newest


def offer_for(
    session: Session, *, running: Version, platform: str, school_code: str | None
) -> Offer | None:
    """The newest release offered to this device that is newer than what it runs."""
    best: tuple[Version, ClientRelease] | None = None
    for release in session.execute(
        select(ClientRelease).where(
            ClientRelease.platform == platform, ClientRelease.stage.in_(OFFERED)
        )
    ).scalars():
        if release.stage == "pilot" and school_code not in (release.schools or []):
            continue
        version = Version(release.version)
        if version > running and (best is None or version > best[0]):
            best = (version, release)
    if best is None:
        return None
    return Offer(best[1].version, best[1].target, best[1].platform)


def school_code_of(session: Session, device_id: str) -> str | None:
    return session.execute(
        select(School.code)
        .join(Device, Device.school_id == School.id)
        .where(Device.id == device_id)
    ).scalar_one_or_none()


def record_report(
    session: Session,
    *,
    device_id: str,
    app_version: str,
    platform: str,
    state: str,
    target_version: str | None,
    failures: int,
    error: str | None,
    now: dt.datetime,
    fields: Mapping[str, Any] | None = None,
) -> None:
    """The device's latest report (a check's, a pull's, a USB bundle's); `fields`: its 1.21 facts of a
    failed first start or a withdrawal (REPORT_FIELDS, checked by updates_api._report)."""
    row = session.get(DeviceUpdate, device_id)
    if row is None:
        row = DeviceUpdate(device_id=device_id)
        session.add(row)
    row.app_version = app_version[:50]
    row.platform = platform
    row.checked_at = naive_utc(now)
    row.state = state
    row.target_version = target_version[:50] if target_version else None
    row.failures = failures
    row.last_error = error[:500] if error else None
    kept = {k: fields[k] for k in REPORT_FIELDS if fields and fields.get(k) is not None}
    row.report_fields = kept or None
    device = session.get(Device, device_id)
    if device is not None:
        device.app_version = app_version[:50]


def version_key(text: str) -> tuple[int, Version | str]:
    try:
        return (1, Version(text))
    except InvalidVersion:
        return (0, text)


ROLE_ZH = {"root": "根", "targets": "目标", "snapshot": "快照", "timestamp": "时间戳"}


def expiry_warnings(repo: Any, now: dt.datetime) -> list[tuple[str, str]]:
    """The repository's signatures that have expired or expire soon (updates_repo.EXPIRY_WARNING), with
    what to run: every PC's update check fails once one has expired (syncing goes on)."""
    out: list[tuple[str, str]] = []
    for e in repo.expiries(now):
        if not (e.expired or e.soon):
            continue
        when = f"{e.expires:%Y-%m-%d %H:%M} UTC"
        if e.role in ("snapshot", "timestamp"):
            todo_zh = "运行 sync-server refresh-update-metadata --keys 密钥文件夹（每周的定时任务是否停了？）"
            todo_en = (
                "run sync-server refresh-update-metadata --keys KEYS (has the weekly task stopped?)"
            )
        else:
            todo_zh = "插上密钥U盘运行 sync-server refresh-update-metadata --keys U盘密钥文件夹 --offline-roles"
            todo_en = "with the key stick, run sync-server refresh-update-metadata --keys KEYS --offline-roles"
        if e.expired:
            out.append(
                (
                    f"更新签名（{e.role} {ROLE_ZH[e.role]}）已于 {when} 过期：学校电脑都无法更新。请{todo_zh}",
                    f"the update signature ({e.role}) expired at {when}: no PC can update. Please "
                    f"{todo_en}",
                )
            )
        else:
            out.append(
                (
                    f"更新签名（{e.role} {ROLE_ZH[e.role]}）将于 {when} 过期。请在此之前{todo_zh}",
                    f"the update signature ({e.role}) expires at {when}. Before then, {todo_en}",
                )
            )
    return out
