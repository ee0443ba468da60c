"""Maintenance the bureau's IT person runs by hand or from a scheduled task (cron, Windows Task Scheduler):
`sync-server clean-uploads` removes attachment uploads left unfinished (the server also does it by itself
as uploads come; see services.attachments), and files U盘数据 refused once they are REFUSED_KEEP_DAYS old.

While serving: DailyUpdateWarnings, run from the server's maintenance (serving.DoorServer.maintenance),
logs the update signatures expiring or expired and a min_client_version that locks PCs out once a day
(they are logged at the start too), so a server that runs for weeks says so in its log."""

from __future__ import annotations

import datetime as dt
import logging
import math
from pathlib import Path
from typing import Any

from sync_server.config import DEFAULTS, read_instance_file
from sync_server.dashboard.usb_receipt import REFUSED_KEEP_DAYS, remove_refused
from sync_server.db import Database
from sync_server.services.attachments import AttachmentStore


def idle_hours(value: float | None, instance: Path) -> float:
    """--older-than-hours, else partial_upload_ttl_hours of config.toml; ValueError naming the rule."""
    if value is None:
        value = float({**DEFAULTS, **read_instance_file(instance)}["PARTIAL_UPLOAD_TTL_HOURS"])
    if not math.isfinite(value) or not 0 <= value <= 100 * 365 * 24:
        raise ValueError(f"{value}")
    return value


def clean_uploads(
    db: Database, instance: Path, *, hours: float, now: dt.datetime
) -> tuple[dict[str, Any], list[str]]:
    """Remove unfinished uploads idle for `hours`, and partial files no upload knows that are as old."""
    cfg = {**DEFAULTS, **read_instance_file(instance)}
    root = Path(cfg["ATTACHMENTS_DIR"] or instance / "attachments")
    store = AttachmentStore(
        root, db.Session, db.ReadSession, max_bytes=int(cfg["MAX_ATTACHMENT_BYTES"])
    )
    cutoff = now - dt.timedelta(hours=hours)
    expired = store.expire(cutoff)
    orphans = store.remove_orphans(cutoff)
    files = expired.files + orphans.files
    freed = expired.bytes + orphans.bytes
    refused = remove_refused(instance, now=now)  # U盘数据's refused files, after REFUSED_KEEP_DAYS
    return (
        {
            "removed_uploads": expired.uploads,
            "removed_files": files,
            "removed_bytes": freed,
            "removed_usb_files": refused.files,
            "removed_usb_bytes": refused.bytes,
        },
        [
            f"已删除 {expired.uploads} 个闲置超过 {hours:g} 小时的未完成上传，"
            f"{files} 个文件，共 {freed} 字节",
            f"removed {expired.uploads} unfinished uploads idle for over {hours:g} hours: "
            f"{files} files, {freed} bytes",
            f"已删除U盘数据中超过 {REFUSED_KEEP_DAYS} 天的拒收文件 {refused.files} 个，共 {refused.bytes} 字节"
            f"（回执与答复文件保留）/ removed {refused.files} refused USB files older than "
            f"{REFUSED_KEEP_DAYS} days, {refused.bytes} bytes (receipts and answers kept)",
        ],
    )


log = logging.getLogger(__name__)

DAY = 24 * 3600.0


class DailyUpdateWarnings:
    """Called with the time (time.time()) at each maintenance of the serving loop; once `every` seconds
    have passed since the last time (the first: since the start, which logs them already), logs the
    client update warnings of sync_server.updates_api.start_warnings. Never raises."""

    def __init__(self, app: Any, *, every: float = DAY, now: float | None = None) -> None:
        import time

        self.app = app
        self.every = every
        self.due = (time.time() if now is None else now) + every

    def __call__(self, now: float) -> None:
        if now < self.due:
            return
        self.due = now + self.every
        try:
            from sync_server import updates as U
            from sync_server.updates_api import start_warnings

            with self.app.app_context():
                minimum = U.min_client_version(self.app.config)
                for zh, en in start_warnings(self.app, minimum):
                    log.warning("%s / %s", zh, en)
        except Exception:  # the serving loop goes on whatever happens here
            log.warning("the daily client update check failed", exc_info=True)
