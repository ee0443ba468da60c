"""The work behind 用U盘同步 (client.ui.usb_dialog), with no widgets: run off the GUI thread.

- load_state: what waits to be sent, how much room an export needs at most, the stick chosen last time.
- export_to: the stick checked (free space now, a small file written and removed), then export_bundle.
- import_from: import_answer, and what it changed that the clerk cares about (client.usb.import_summary,
  as the CLI says it), the open records to reload, and the files on the stick it finished (removed when
  asked).
- answer_files: the bureau's answers on a stick for this computer, newest first, whatever their name.

Export and import hold the data folder's sync lock (client/sync/lock.py): while `school-client sync` (or a
USB command) runs on the folder they raise SyncBusy, said in the dialog like any refusal. The window's own
online syncs are kept apart in-process by SyncController.hold().
"""

from __future__ import annotations

import errno
import logging
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from client.context import ClientContext
from client.store import sync_state as S
from client.store.models import OutboxEntry, Revision
from client.store.prefs import get_setting, set_setting
from client.ui import lang
from client.ui.sync_controller import RecordChange, _changes, _record_states
from client.usb import drives as D
from client.usb.bundle import ExportResult, export_bundle, import_answer
from client.usb.import_summary import ImportSummary, snapshot, summarize
from client.usb.import_summary import Refusal as Refusal  # re-exported for the dialog and tests
from client.usb.key import usb_key
from client.usb.stick_files import AnswerFile, done_files, remove
from client.usb.stick_files import answer_files as stick_answer_files
from forms import usb_parts as P

log = logging.getLogger(__name__)

SETTING_FOLDER = "usb.last_folder"
# Room beyond the estimate: the bundle's header, gzip's worst case on what does not compress, the filesystem.
MARGIN_BYTES = 1024 * 1024


@dataclass(frozen=True)
class UsbState:
    """What the dialog shows before anything runs."""

    enrolled: bool
    has_key: bool
    school_code: str
    device_id: str
    pending: int  # changes not yet sent
    attachments: int  # photos and files those changes need that the bureau lacks
    needed: int  # bytes the export needs on the stick, at most
    last_folder: str | None


def needed_bytes(session: Any) -> tuple[int, int]:
    """(bytes an export needs at most, attachments it carries): every unsent change's JSON as UTF-8 (3 bytes
    per character at most) and the attachments' bytes in base64, before gzip shrinks them."""
    chars, changes = session.execute(
        select(func.coalesce(func.sum(func.length(Revision.data)), 0), func.count())
        .select_from(OutboxEntry)
        .join(
            Revision,
            (Revision.record_id == OutboxEntry.record_id)
            & (Revision.revision == OutboxEntry.revision),
        )
        .where(OutboxEntry.sent_at.is_(None))
    ).one()
    attachments, _, _ = S.pending_attachments(session)
    photo_bytes = sum(a.size for a in attachments)
    return (
        int(chars) * 3 + int(changes) * 512 + photo_bytes * 4 // 3 + MARGIN_BYTES,
        len(attachments),
    )


def load_state(ctx: ClientContext) -> UsbState:
    with ctx.store.Session() as s:
        enrollment = S.get_enrollment(s)
        needed, attachments = needed_bytes(s)
        return UsbState(
            enrolled=enrollment is not None,
            has_key=usb_key(s) is not None,
            school_code=enrollment.school_code if enrollment is not None else "",
            device_id=enrollment.device_id if enrollment is not None else "",
            pending=S.pending_count(s),
            attachments=attachments,
            needed=needed,
            last_folder=get_setting(s, SETTING_FOLDER),
        )


def remember_folder(ctx: ClientContext, folder: Path) -> None:
    with ctx.store.Session.begin() as s:
        set_setting(s, SETTING_FOLDER, str(folder))


Report = Callable[[str], None]  # a phase: "check", "write", "read"
Steps = Callable[
    [int, int], None
]  # (done, total) batches and attachments written, or answers applied


def export_to(
    ctx: ClientContext,
    drive: D.Drive,
    report: Report = lambda _s: None,
    steps: Steps | None = None,
    *,
    part_bytes: int = P.DEFAULT_PART_BYTES,
) -> ExportResult:
    """Check the stick (free space now, a file written and removed), then export_bundle onto it."""
    from client.sync.lock import hold_sync

    with hold_sync(
        ctx.store.data_dir, by="window", what="usb-export"
    ):  # SyncBusy: another process syncs
        return _export_to(ctx, drive, report, steps, part_bytes=part_bytes)


def _export_to(
    ctx: ClientContext, drive: D.Drive, report: Report, steps: Steps | None, *, part_bytes: int
) -> ExportResult:
    folder = drive.path
    report("check")
    try:
        free = shutil.disk_usage(folder).free
    except OSError as exc:
        raise D.os_error(exc, folder, writing=True) from None
    with ctx.store.Session() as s:
        needed, _ = needed_bytes(s)
    problem = D.room_problem(replace(drive, free=free), needed)
    if problem is not None:
        raise problem
    D.probe_writable(folder)
    report("write")
    try:
        done = export_bundle(ctx, folder, progress=steps, part_bytes=part_bytes)
    except OSError as exc:
        raise D.os_error(exc, folder, writing=True) from None
    remember_folder(ctx, folder)
    return done


@dataclass
class ImportDone(ImportSummary):
    """What the answer changed (client.usb.import_summary), and the open records to reload."""

    changed: tuple[RecordChange, ...] = ()  # open records the answer changed (reload their editors)
    done_files: list[Path] = field(
        default_factory=list
    )  # answer and bundle now finished, on the stick
    removed: list[Path] = field(default_factory=list)  # those removed from the stick


def import_from(
    ctx: ClientContext,
    path: Path,
    report: Report = lambda _s: None,
    steps: Steps | None = None,
    *,
    watched: list[str] | None = None,
    remove_done: bool = False,
) -> ImportDone:
    """import_answer, and what it changed that the clerk cares about (read before and after); `watched`:
    the records open in editors; `remove_done`: remove the answer and the bundle it answers from the stick
    once imported."""
    from client.sync.lock import hold_sync

    with hold_sync(
        ctx.store.data_dir, by="window", what="usb-import"
    ):  # SyncBusy: another process syncs
        return _import_from(ctx, path, report, steps, watched=watched, remove_done=remove_done)


def _import_from(
    ctx: ClientContext,
    path: Path,
    report: Report,
    steps: Steps | None,
    *,
    watched: list[str] | None,
    remove_done: bool,
) -> ImportDone:
    report("read")
    if not path.is_file():  # the stick was pulled out since the answer was listed
        raise D.os_error(
            FileNotFoundError(errno.ENOENT, "no such file"), path.parent, writing=False
        )
    before = snapshot(ctx)
    open_before = _record_states(ctx.store.Session, watched or [])
    try:
        result = import_answer(ctx, path, progress=steps)
    except OSError as exc:
        raise D.os_error(exc, path.parent, writing=False) from None
    done = ImportDone(path, result)
    summarize(ctx, done, before, snapshot(ctx), title=lang.form_title)
    done.changed = _changes(open_before, _record_states(ctx.store.Session, watched or []))
    done.done_files = done_files(result.header, result.paths or [path])
    if remove_done:
        done.removed = remove(done.done_files)
    remember_folder(ctx, path.parent)
    return done


def answer_files(folder: Path, school_code: str, device_id: str = "") -> list[AnswerFile]:
    """The bureau's answers on a stick for this computer, newest first (told by their header)."""
    return stick_answer_files(folder, school_code, device_id)
