"""What an imported bureau answer changed, said the same way by `school-client usb-import` and the GUI's
用U盘同步 (no Qt).

`snapshot` is read before and after import_answer; `summarize` compares them (records now sent, returned,
in conflict; new form versions; roster updates) so an answer imported again, or an older one after a newer
one, says it changed nothing instead of repeating its counts, and a return is named once ("教育局退回 1 条
记录") and not counted again among the updates received. `lines` gives the bilingual lines: the CLI prints
each as "中文 / English", the GUI shows the half of its language.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from client.context import ClientContext
from client.store import sync_state as S
from client.store.formset import ROSTER_FORM
from client.store.models import OutboxEntry, Record, SyncRecord
from client.store.todo import returned_records
from client.usb.bundle import ImportResult
from forms.model import FormDef

SHOWN = 5  # records named under a line; the rest are in 待办


@dataclass(frozen=True)
class Snapshot:
    returned: frozenset[str]
    form_versions: frozenset[tuple[str, str]]
    roster_revisions: dict[str, int]
    unsent_records: frozenset[str]
    unsent_changes: int
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
        changes = s.execute(
            select(func.count()).select_from(OutboxEntry).where(OutboxEntry.sent_at.is_(None))
        ).scalar_one()
        conflicts = frozenset(i.id for i in S.open_issues(s, kind=S.IssueKind.CONFLICT))
    return Snapshot(
        returned, frozenset(ctx.forms.versions), roster, unsent, int(changes), conflicts
    )


@dataclass(frozen=True)
class Refusal:
    what: str  # the record: its form and summary
    message_zh: str
    message_en: str


@dataclass(frozen=True)
class Line:
    zh: str
    en: str
    kind: str = "ok"  # "head", "ok", "item" (a record under the line before), "problem", "quiet"


@dataclass
class ImportSummary:
    path: Path
    result: ImportResult
    new_returns: list[str] = field(default_factory=list)  # "表单：摘要" of records now returned
    new_forms: list[str] = field(default_factory=list)  # form titles (with their version)
    roster_updates: int = 0  # teachers the bureau's roster changed or added
    conflicts: int = 0  # conflicts now open in 待办
    refusals: list[Refusal] = field(default_factory=list)
    sent: int | None = None  # changes now marked sent (None: the answer's count)

    @property
    def newly_sent(self) -> int:
        return self.result.acknowledged if self.sent is None else self.sent

    @property
    def other_updates(self) -> int:
        """Updates received beyond those named (returns, roster, forms, conflicts)."""
        named = (
            len(self.new_returns)
            + self.roster_updates
            + len(self.new_forms)
            + self.result.pulled_conflicts
        )
        return max(0, self.result.pulled - named)

    def changed_nothing(self) -> bool:
        r = self.result
        return not (
            self.newly_sent
            or self.new_returns
            or self.new_forms
            or self.roster_updates
            or self.conflicts
            or self.refusals
            or r.pulled
            or r.healing_started
            or r.token_rotated
            or self.update_lines()
        )

    def update_lines(self) -> list[Line]:
        """A client update the answer carried (protocol 1.19): staged, or refused (the rest imported)."""
        carried = self.result.update
        if carried is None or not (carried.staged or carried.error):
            return []
        v = carried.version
        if carried.staged:
            return [
                Line(
                    f"新版本 {v} 已收到，下次启动时安装",
                    f"new version {v} received; it installs at the next start",
                )
            ]
        return [
            Line(
                f"答复中的新版本 {v} 未通过签名核对，已拒收，不会安装（答复的其他内容已导入）：{carried.error}",
                f"the new version {v} in the answer failed verification and was refused; it will not be "
                f"installed (the rest of the answer was imported): {carried.error}",
                "problem",
            )
        ]

    def lines(self) -> list[Line]:
        name = self.path.name
        out = [Line(f"已导入教育局的答复：{name}", f"imported the bureau's answer: {name}", "head")]
        r = self.result
        if (r.imported_before or r.older) and self.changed_nothing():
            if r.imported_before:
                out.append(
                    Line(
                        "此答复已导入过，没有新的内容，本机数据没有改动。",
                        "this answer was imported before: nothing new, nothing changed.",
                    )
                )
            else:
                out.append(
                    Line(
                        "较旧的答复：没有改动（更新的答复已经导入过）。",
                        "an older answer: nothing changed (a newer answer was imported before).",
                    )
                )
            return out + self.update_lines()
        out.append(
            Line(
                f"{self.newly_sent} 条修改已送达教育局，记为已发送。",
                f"{self.newly_sent} changes reached the bureau and are marked sent.",
            )
        )
        if self.new_returns:
            n = len(self.new_returns)
            out.append(
                Line(
                    f"教育局退回 {n} 条记录，已放到“待办”，请修改后重新提交：",
                    f"the bureau returned {n} record(s); they are in To do: correct and "
                    "submit them again:",
                )
            )
            out += [Line(t, t, "item") for t in self.new_returns[:SHOWN]]
        if self.other_updates:
            n = self.other_updates
            out.append(Line(f"收到教育局的其他更新 {n} 项。", f"{n} other updates received."))
        if self.new_forms:
            forms = "、".join(self.new_forms)
            out.append(Line(f"新表单：{forms}", f"new forms: {', '.join(self.new_forms)}"))
        if self.roster_updates:
            n = self.roster_updates
            out.append(Line(f"教师名册有 {n} 人更新。", f"{n} teachers updated in the roster."))
        if self.conflicts:
            n = self.conflicts
            out.append(
                Line(
                    f"{n} 条记录与教育局的版本冲突，请到“待办”选择保留哪个版本。",
                    f"{n} records conflict with the bureau's version; choose which to keep in To do.",
                )
            )
        if r.healing_started:
            out.append(
                Line(
                    "教育局的服务器曾从备份恢复：下次导出或联网同步时，本机会重新发送服务器缺少的修改。",
                    "the bureau's server was restored from a backup: the next export or online sync "
                    "sends again what it lacks.",
                )
            )
        if r.pages_skipped and not r.pulled:
            out.append(
                Line(
                    "这个答复里的更新本机已经有了（联网同步或更新的答复带来过）。",
                    "this computer already has this answer's updates (an online sync or a newer "
                    "answer brought them).",
                    "quiet",
                )
            )
        if self.refusals:
            n = len(self.refusals)
            out.append(
                Line(
                    f"教育局拒收 {n} 条，请到“待办”查看：",
                    f"the bureau refused {n}; see To do:",
                    "problem",
                )
            )
            for refusal in self.refusals[:SHOWN]:
                what = f"{refusal.what}：" if refusal.what else ""
                en_what = f"{refusal.what}: " if refusal.what else ""
                out.append(Line(what + refusal.message_zh, en_what + refusal.message_en, "item"))
        return out + self.update_lines()


def summarize(
    ctx: ClientContext,
    summary: ImportSummary,
    before: Snapshot,
    after: Snapshot,
    *,
    title: Callable[[FormDef], str],
) -> None:
    """Fill `summary` with what changed between the snapshots; `title` names a form (in the UI language)."""
    result = summary.result
    acknowledged = before.unsent_records - after.unsent_records
    summary.sent = max(0, before.unsent_changes - after.unsent_changes)
    summary.conflicts = len(after.conflicts - before.conflicts)
    summary.roster_updates = sum(
        1
        for rid, rev in after.roster_revisions.items()
        if before.roster_revisions.get(rid) != rev and rid not in acknowledged
    )
    for form_id, version in sorted(after.form_versions - before.form_versions):
        try:
            name = title(ctx.forms.get(form_id, version))
        except KeyError:
            name = form_id
        summary.new_forms.append(f"{name}（{version}）")
    with ctx.store.Session() as s:
        summary.new_returns = [
            describe_record(ctx, s, rid, title) for rid in sorted(after.returned - before.returned)
        ]
        for r in result.rejected:
            summary.refusals.append(
                Refusal(
                    describe_record(ctx, s, str(r.get("record_id") or ""), title),
                    str(r.get("message_zh") or ""),
                    str(r.get("message_en") or ""),
                )
            )
    for e in result.refused_batches:
        summary.refusals.append(
            Refusal("", str(e.get("message_zh") or ""), str(e.get("message_en") or ""))
        )


def describe_record(
    ctx: ClientContext, session: Any, record_id: str, title: Callable[[FormDef], str]
) -> str:
    row = session.get(Record, record_id)
    if row is None:
        return record_id[:8]
    try:
        name = title(ctx.forms.get(row.form_id))
    except KeyError:
        name = row.form_id
    return f"{name}：{row.summary}" if row.summary else name


def zh_title(form: FormDef) -> str:
    return form.settings.title.get("zh")
