"""The work behind 用U盘同步 (client.ui.usb_dialog), with no widgets: run off the GUI thread.

- load_state: what waits to be sent, how much room an export needs at most, the stick chosen last time.
- export_to: the stick checked (free space now, a small file written and removed), then export_bundle.
- import_from: import_answer, and what it changed that the clerk cares about (read before and after):
  records now returned, conflicts now open, refusals with the record they concern, new form versions, roster
  updates, and the open records to reload.
- answer_files: the bureau's answers on a stick for this school, newest first.
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
from client.store.formset import ROSTER_FORM
from client.store.models import OutboxEntry, Record, Revision, SyncRecord
from client.store.prefs import get_setting, set_setting
from client.store.todo import returned_records
from client.ui import lang
from client.ui.sync_controller import RecordChange, _changes, _record_states
from client.usb import drives as D
from client.usb.bundle import ExportResult, ImportResult, export_bundle, import_answer
from client.usb.key import usb_key
from forms import usb_bundle as U
from forms import usb_parts as P

log = logging.getLogger(__name__)

SETTING_FOLDER = "usb.last_folder"
ANSWER_TAIL = "_answer"  # an answer's name: the bundle's stem, this, then the part number if any
# Room beyond the estimate: the bundle's header, gzip's worst case on what does not compress, the filesystem.
MARGIN_BYTES = 1024 * 1024


@dataclass(frozen=True)
class UsbState:
    """What the dialog shows before anything runs."""

    enrolled: bool
    has_key: bool
    school_code: str
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


@dataclass(frozen=True)
class Snapshot:
    returned: frozenset[str]
    form_versions: frozenset[tuple[str, str]]
    roster_revisions: dict[str, int]
    unsent_records: frozenset[str]
    conflicts: frozenset[int]  # open conflict issues (what 待办 lists)


def snapshot(ctx: ClientContext) -> Snapshot:
    with ctx.store.Session() as s:
        returned = frozenset(item.record_id for item in returned_records(s))
        roster = dict(
            s.execute(
                select(SyncRecord.record_id, SyncRecord.server_revision)
                .join(Record, Record.id == SyncRecord.record_id)
                .where(Record.form_id == ROSTER_FORM)
            ).all()
        )
        unsent = frozenset(
            s.execute(
                select(OutboxEntry.record_id).where(OutboxEntry.sent_at.is_(None)).distinct()
            ).scalars()
        )
        conflicts = frozenset(i.id for i in S.open_issues(s, kind=S.IssueKind.CONFLICT))
    return Snapshot(returned, frozenset(ctx.forms.versions), roster, unsent, conflicts)


@dataclass(frozen=True)
class Refusal:
    what: str  # the record: its form and summary
    message_zh: str
    message_en: str


@dataclass
class ImportDone:
    path: Path
    result: ImportResult
    new_returns: list[str] = field(default_factory=list)  # "表单：摘要" of records now returned
    new_forms: list[str] = field(default_factory=list)  # form titles (with their version)
    roster_updates: int = 0  # teachers the bureau's roster changed or added
    conflicts: int = 0  # conflicts now open in 待办
    refusals: list[Refusal] = field(default_factory=list)
    changed: tuple[RecordChange, ...] = ()  # open records the answer changed (reload their editors)


def _describe_record(ctx: ClientContext, session: Any, record_id: str) -> str:
    row = session.get(Record, record_id)
    if row is None:
        return record_id[:8]
    try:
        title = lang.form_title(ctx.forms.get(row.form_id))
    except KeyError:
        title = row.form_id
    return f"{title}：{row.summary}" if row.summary else title


def import_from(
    ctx: ClientContext,
    path: Path,
    report: Report = lambda _s: None,
    steps: Steps | None = None,
    *,
    watched: list[str] | None = None,
) -> ImportDone:
    """import_answer, and what it changed that the clerk cares about (read before and after); `watched`:
    the records open in editors."""
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
    after = snapshot(ctx)
    acknowledged = before.unsent_records - after.unsent_records
    done = ImportDone(path, result)
    done.conflicts = len(after.conflicts - before.conflicts)
    done.changed = _changes(open_before, _record_states(ctx.store.Session, watched or []))
    done.roster_updates = sum(
        1
        for rid, rev in after.roster_revisions.items()
        if before.roster_revisions.get(rid) != rev and rid not in acknowledged
    )
    for form_id, version in sorted(after.form_versions - before.form_versions):
        try:
            title = lang.form_title(ctx.forms.get(form_id, version))
        except KeyError:
            title = form_id
        done.new_forms.append(f"{title}（{version}）")
    with ctx.store.Session() as s:
        done.new_returns = [
            _describe_record(ctx, s, rid) for rid in sorted(after.returned - before.returned)
        ]
        for r in result.rejected:
            done.refusals.append(
                Refusal(
                    _describe_record(ctx, s, str(r.get("record_id") or "")),
                    str(r.get("message_zh") or ""),
                    str(r.get("message_en") or ""),
                )
            )
    for e in result.refused_batches:
        done.refusals.append(
            Refusal("", str(e.get("message_zh") or ""), str(e.get("message_en") or ""))
        )
    remember_folder(ctx, path.parent)
    return done


@dataclass(frozen=True)
class AnswerFile:
    path: Path  # the answer's file, or one of its parts (import_answer finds the others)
    parts: int  # how many files it is in (FAT32: numbered parts below 4 GB)


def answer_files(folder: Path, school_code: str) -> list[AnswerFile]:
    """The bureau's answers on a stick for this school, newest first (the name carries the export time)."""
    try:
        found = [p for p in folder.glob(f"*{U.SUFFIX}") if p.is_file()]
    except OSError:
        return []
    by_stem: dict[str, list[Path]] = {}
    for path in found:
        stem = P.stem_of(path)
        if stem.endswith(ANSWER_TAIL):
            by_stem.setdefault(stem, []).append(path)
    if school_code:
        mine = {k: v for k, v in by_stem.items() if k.startswith(f"{school_code}_")}
        by_stem = mine or by_stem
    return [
        AnswerFile(min(by_stem[stem], key=lambda p: p.name), len(by_stem[stem]))
        for stem in sorted(by_stem, reverse=True)
    ]
