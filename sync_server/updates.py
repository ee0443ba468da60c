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
from sqlalchemy import select
from sqlalchemy.orm import Session

from sync_server.config import ConfigError
from sync_server.errors import ApiError, ServiceError
from sync_server.models import ClientRelease, Device, DeviceUpdate, School
from sync_server.services.common import naive_utc

PROTOCOL = "1.18"  # the newest protocol revision this server speaks (docs/protocol.md)
PROTOCOL_HEADER = "Sync-Protocol"
MIN_CLIENT_HEADER = "Sync-Min-Client-Version"
REPORT_HEADER = "Sync-Update-Report"  # on a pull: the device's update report (compact JSON)
OFFER_HEADER = "Sync-Update-Offer"  # on a pull's answer: the version this device is offered
CLIENT_AGENT = re.compile(r"school-client/([0-9][0-9A-Za-z.+!-]{0,48})")
STAGES = ("paused", "pilot", "all")
STAGE_LABELS = {"paused": "已暂停", "pilot": "试点学校", "all": "全部学校"}
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
    """A published release (or the same version published again: its target and stage replaced)."""
    parse_version(version)
    check_stage(session, stage, schools)
    release = session.execute(
        select(ClientRelease).where(
            ClientRelease.version == version, ClientRelease.platform == platform
        )
    ).scalar_one_or_none()
    if release is None:
        release = ClientRelease(version=version, platform=platform, published_at=naive_utc(now))
        session.add(release)
    release.target = target
    release.stage = stage
    release.schools = sorted(set(schools))
    release.changed_at = naive_utc(now)
    session.flush()
    return release


def set_stage(
    session: Session,
    *,
    version: str,
    stage: str,
    schools: Sequence[str] = (),
    now: dt.datetime,
) -> list[ClientRelease]:
    """Pause a release, give it to chosen schools (added to those it has), or to all (every platform)."""
    check_stage(session, stage, schools)
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
    for release in releases:
        if stage == "pilot":
            release.schools = sorted(set(release.schools or []) | set(schools))
        release.stage = stage
        release.changed_at = naive_utc(now)
    session.flush()
    return releases


def check_stage(session: Session, stage: str, schools: Sequence[str]) -> None:
    if stage not in STAGES:
        raise ServiceError(
            "bad_stage",
            f"发布阶段“{stage}”无效（paused、pilot 或 all）",
            f"stage '{stage}' is not one of paused, pilot, all",
            status=400,
        )
    if stage == "pilot":
        if not schools:
            raise ServiceError(
                "no_schools",
                "试点发布须指定学校代码（--schools S001,S002）",
                "a pilot release needs school codes (--schools S001,S002)",
                status=400,
            )
        known = set(
            session.execute(select(School.code).where(School.code.in_(list(schools)))).scalars()
        )
        unknown = sorted(set(schools) - known)
        if unknown:
            raise ServiceError(
                "unknown_school",
                f"没有这些学校：{'、'.join(unknown)}",
                f"no such school: {', '.join(unknown)}",
                status=400,
                details={"schools": unknown},
            )


def offer_for(
    session: Session, *, running: Version, platform: str, school_code: str | None
) -> Offer | None:
    """The newest release offered to this device that is newer than what it runs."""
    best: tuple[Version, ClientRelease] | None = None
    for release in session.execute(
        select(ClientRelease).where(
            ClientRelease.platform == platform, ClientRelease.stage != "paused"
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
) -> None:
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
    device = session.get(Device, device_id)
    if device is not None:
        device.app_version = app_version[:50]
