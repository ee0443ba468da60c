"""Push: a batch of record changes from one device, applied exactly once, with a result per change.

Exactly once is held by the database, not by the process:
- `applied_ops.op_id` is the primary key. Every change that was applied (or kept as a conflict) leaves its
  op id there in the same transaction, so a change seen again is answered `duplicate` (or its conflict again),
  whatever happened to the earlier answer.
- `idempotency_keys (device_id, key)` is unique. The key row is inserted first in the batch's transaction and
  filled with the answer before commit: a replay gets the stored answer, another body under the same key 422.
  On PostgreSQL two copies of one batch sent at once meet at that unique index: the second waits for the
  first's commit, fails with an IntegrityError, and is run again, now finding the stored answer.
- The batch's `changes` rows take their seq numbers last, just before commit (services.changes).
- Records are read with SELECT ... FOR UPDATE in id order (PostgreSQL), so two devices of one school changing
  one record do not both apply on the same base; a deadlock or unique violation between concurrent batches
  rolls the whole batch back and runs it again (at most RETRIES times).

Only the school of the device's token counts: a record id owned by another school is `rejected`, never
touched. Every upsert is checked by the form engine with the school's roster as the `teachers` list.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar, cast

from sqlalchemy import Table, bindparam, select, update
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from forms import json_fast
from forms.engine import Evaluation, ReferenceList, evaluate, format_path
from forms.model import Field, FieldType, FormDef
from sync_server.errors import ApiError
from sync_server.json_text import dumps
from sync_server.models import (
    AppliedOp,
    Attachment,
    Change,
    ChangeRequest,
    Conflict,
    FormVersion,
    IdempotencyKey,
    Record,
    RecordRevision,
    School,
    Status,
)
from sync_server.services.changes import (
    NewChange,
    change_request_change,
    record_payload,
    write_changes,
)
from sync_server.services.check_pool import CheckPool
from sync_server.services.common import MAX_INT32, UUID_RE, audit, is_plain_text, naive_utc
from sync_server.services.fast_insert import EMPTY_OBJECT, Dumped, insert_rows
from sync_server.services.forms import FormCache
from sync_server.services.generation import current_generation
from sync_server.services.group_commit import writer_for
from sync_server.services.roster import ROSTER_FORM, school_roster
from sync_server.services.schools import DeviceInfo

log = logging.getLogger(__name__)

RETRIES = 5
MAX_CHANGE_BYTES = 1024 * 1024  # one change's data as stored (JSON, UTF-8); config MAX_CHANGE_BYTES
UPSERT = "upsert"
DELETE = "delete"
_SHA256_RE = re.compile(r"^[0-9a-f]{64}$")
_RETRY_SQLSTATES = {"40001", "40P01"}  # serialization failure, deadlock detected


# -- the request ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ChangeIn:
    op_id: str
    record_id: str
    form_id: str
    form_version: str
    kind: str
    revision: int | None
    base_server_revision: int | None
    status: str | None
    data: dict[str, Any] | None
    saved_at: str | None
    # The change does not answer the bureau's return: the record stays returned, comments and all (1.5).
    keep_return: bool = False
    # After a restore (1.12): a change the device sends again because the restored server lost it, and a
    # record's state the device read from the server before the restore, offered back at that revision.
    resent: bool = False
    offer: bool = False


def _bad(index: int, name: str, zh: str, en: str, op_id: Any = None) -> ApiError:
    details: dict[str, Any] = {"index": index, "field": name}
    if isinstance(op_id, str):
        details["op_id"] = op_id
    return ApiError(
        "bad_change",
        f"第 {index + 1} 条变更的“{name}”{zh}",
        f"change [{index}]: '{name}' {en}",
        status=400,
        details=details,
    )


def _text(item: Mapping[str, Any], index: int, name: str, limit: int, required: bool = True) -> Any:
    value = item.get(name)
    if value is None and not required:
        return None
    # No control characters: PostgreSQL text cannot hold NUL, and ids never need them.
    if not isinstance(value, str) or not is_plain_text(value, limit):
        raise _bad(
            index,
            name,
            f"应为 1 到 {limit} 个不含控制字符的文本",
            f"must be a string of 1 to {limit} characters without control characters",
            item.get("op_id"),
        )
    return value


MAX_INT = MAX_INT32  # an INTEGER column on every database


def _int(item: Mapping[str, Any], index: int, name: str, minimum: int) -> int | None:
    value = item.get(name)
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # 3.0 is an integer to JSON Schema (and so to the OpenAPI document)
    if isinstance(value, bool) or not isinstance(value, int) or not minimum <= value <= MAX_INT:
        raise _bad(
            index,
            name,
            f"应为 {minimum} 到 {MAX_INT} 之间的整数或 null",
            f"must be an integer from {minimum} to {MAX_INT} or null",
            item.get("op_id"),
        )
    return value


def parse_batch(body: Any, *, max_changes: int) -> list[ChangeIn]:
    """The request body -> typed changes; ApiError 400 naming the first malformed field, 413 if too many."""
    if not isinstance(body, dict) or not isinstance(body.get("changes"), list):
        raise ApiError(
            "bad_request",
            "请求体应为 JSON 对象，含列表 changes",
            "the body must be a JSON object with a list 'changes'",
            status=400,
            details={"field": "changes"},
        )
    items = body["changes"]
    if len(items) > max_changes:
        raise ApiError(
            "too_many_changes",
            f"一批最多 {max_changes} 条变更，收到 {len(items)} 条",
            f"at most {max_changes} changes per batch, got {len(items)}",
            status=413,
            details={"max_changes": max_changes, "count": len(items)},
        )
    out: list[ChangeIn] = []
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            raise _bad(i, "change", "应为 JSON 对象", "must be a JSON object")
        op_id = _text(item, i, "op_id", 64)
        raw_id = _text(item, i, "record_id", 36)
        if not UUID_RE.fullmatch(raw_id):
            raise _bad(
                i,
                "record_id",
                "应为 UUID（如 3f2b8c1e-5d6a-4b7c-9e0f-1a2b3c4d5e6f）",
                "must be a UUID (8-4-4-4-12 hex digits)",
                op_id,
            )
        record_id = str(uuid.UUID(raw_id))
        form_id = _text(item, i, "form_id", 64)
        kind = item.get("kind", UPSERT)
        if kind not in (UPSERT, DELETE):
            raise _bad(i, "kind", "应为 upsert 或 delete", "must be 'upsert' or 'delete'", op_id)
        form_version = _text(item, i, "form_version", 32, required=kind == UPSERT)
        data = item.get("data")
        if kind == UPSERT and not isinstance(data, dict):
            raise _bad(i, "data", "应为 JSON 对象（题目名到答案）", "must be a JSON object", op_id)
        if kind == DELETE and data is not None and not isinstance(data, dict):
            raise _bad(i, "data", "应为 JSON 对象或省略", "must be a JSON object or omitted", op_id)
        status = item.get("status")
        if status is not None and not isinstance(status, str):
            raise _bad(i, "status", "应为文本", "must be a string", op_id)
        saved_at = item.get("saved_at")
        if saved_at is not None and not isinstance(saved_at, str):
            raise _bad(i, "saved_at", "应为 ISO 8601 时间文本", "must be an ISO 8601 string", op_id)
        flags = {}
        for flag in ("keep_return", "resent", "offer"):
            flags[flag] = item.get(flag, False)
            if not isinstance(flags[flag], bool):
                raise _bad(i, flag, "应为 true 或 false", "must be true or false", op_id)
        if flags["offer"] and (kind != UPSERT or not item.get("base_server_revision")):
            raise _bad(
                i,
                "offer",
                "只能用于带 base_server_revision 的 upsert",
                "is only for an upsert with a base_server_revision",
                op_id,
            )
        out.append(
            ChangeIn(
                op_id=op_id,
                record_id=record_id,
                form_id=form_id,
                form_version=form_version or "",
                kind=kind,
                revision=_int(item, i, "revision", 0),
                base_server_revision=_int(item, i, "base_server_revision", 0),
                status=status,
                data=data,
                saved_at=saved_at,
                keep_return=flags["keep_return"],
                resent=flags["resent"],
                offer=flags["offer"],
            )
        )
    _refuse_repeated_op_ids(out)
    return out


def _refuse_repeated_op_ids(changes: list[ChangeIn]) -> None:
    """One op id is one operation: two changes under one op id in a batch would make the second answer
    `duplicate` and its data silently lost, so the whole batch is refused, naming them."""
    counts = Counter(c.op_id for c in changes)
    repeated = sorted(op for op, n in counts.items() if n > 1)
    if repeated:
        shown = ", ".join(repeated[:10]) + (" …" if len(repeated) > 10 else "")
        raise ApiError(
            "duplicate_op_id",
            f"同一批中有多条变更使用了相同的 op_id：{shown}（每条变更应有自己的 op_id）",
            f"several changes in this batch share an op_id: {shown} (each change needs its own)",
            status=400,
            details={"op_ids": repeated[:100]},
        )


# -- the answer -------------------------------------------------------------------------------------

REASONS: dict[str, tuple[str, str]] = {
    "invalid": ("表单检查未通过", "the form engine refused the data"),
    "missing_attachments": (
        "记录引用的照片或文件尚未上传完整",
        "an attachment the record uses has not been uploaded",
    ),
    "unknown_form": ("服务器上没有该表单或版本", "the server has no such form or version"),
    "other_school": ("该记录属于其他学校", "the record belongs to another school"),
    "form_mismatch": ("记录编号已用于另一张表单", "the record id is used by another form"),
    "locked": ("教育局已确认该记录，不能再修改", "the bureau accepted (locked) this record"),
    "op_id_in_use": ("操作编号已被使用", "the op_id is already used"),
    "too_large": ("记录数据过大", "the record's data is too large"),
    "duplicate_teacher": (
        "本校名册中已有相同工号的教师",
        "the school's roster already has a teacher with this staff number",
    ),
}
# A change to an accepted record is kept as a change request (protocol revision 1.5).
REQUESTED_TEXT = (
    "教育局已确认该记录；此修改已作为修改申请交教育局处理",
    "the bureau accepted this record; the change was kept as a change request for the bureau",
)


def _rejected(
    c: ChangeIn, reason: str, *, problems: list[dict[str, str]] | None = None, **extra: Any
) -> dict[str, Any]:
    zh, en = REASONS[reason]
    out: dict[str, Any] = {
        "op_id": c.op_id,
        "result": "rejected",
        "record_id": c.record_id,
        "reason": reason,
        "message_zh": zh,
        "message_en": en,
    }
    if problems is not None:
        out["problems"] = problems
    out.update(extra)
    return out


_REC_COLUMNS = (
    "id",
    "school_id",
    "form_id",
    "form_version",
    "status",
    "server_revision",
    "last_device_id",
    "last_base_revision",
    "last_client_revision",
    "created_at",
    "updated_at",
    "review_comments",
    "data",
)


_RECORDS = cast(Table, Record.__table__)
_FORMS_SEEN = (
    "push_forms"  # session.info: (form_id, version) -> FormDef | None, for one transaction
)
_FORM_VERSIONS = cast(Table, FormVersion.__table__)
# A version's sha256 alone: its definition (several KB of YAML, as an ORM object) is read only for a version
# this process has not parsed yet (issue 14: the full row for every push was ~0.1 ms of a 6 ms push).
_FORM_SHA = select(_FORM_VERSIONS.c.sha256).where(
    _FORM_VERSIONS.c.form_id == bindparam("form_id"),
    _FORM_VERSIONS.c.version == bindparam("version"),
)


def _find_form(session: Session, forms: FormCache, form_id: str, version: str) -> FormDef | None:
    """forms.lookup(session, form_id, version), reading only the version's sha256 when its text was parsed
    here before (a published version's text never changes; its sha256 names it)."""
    sha = session.execute(_FORM_SHA, {"form_id": form_id, "version": version}).scalar()
    if sha is None:
        return None
    return forms.by_sha(str(sha)) or forms.lookup(session, form_id, version)


def _table(model: Any) -> Table:
    """A model's table: rows inserted through it skip the ORM's bulk bookkeeping (one executemany)."""
    return cast(Table, model.__table__)


@dataclass(slots=True)
class _Rec:
    """A record as the batch sees it; written with plain INSERT/UPDATE statements (no ORM unit of work)."""

    id: str
    school_id: int
    form_id: str
    form_version: str
    status: str
    server_revision: int
    last_device_id: str | None
    last_base_revision: int | None
    last_client_revision: int | None
    created_at: dt.datetime
    updated_at: dt.datetime
    review_comments: dict[str, Any]
    data: dict[str, Any]
    in_db: bool = True  # False: to be inserted
    dirty: bool = False  # changed since read or written
    data_text: Dumped | None = None  # `data` as JSON text, when the batch encoded it already

    def row(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in _REC_COLUMNS}

    def insert_row(self) -> dict[str, Any]:
        row = self.row()
        if self.data_text is not None:
            row["data"] = self.data_text
        if not self.review_comments:
            row["review_comments"] = EMPTY_OBJECT
        return row


def _server_view(rec: _Rec) -> dict[str, Any]:
    return {
        "server_revision": rec.server_revision,
        "status": rec.status,
        "form_version": rec.form_version,
        "data": rec.data,
        "review_comments": rec.review_comments,
    }


@dataclass
class PushAnswer:
    status_code: int
    body: str  # JSON text, exactly as stored for replays
    replayed: bool = False


# -- applying a batch -------------------------------------------------------------------------------


# Where a form's image and file answers are: per field, None for an image or file field, else (for a
# repeat) the places inside each instance; groups are flattened, fields without attachments left out.
_AttachmentPlan = tuple[tuple[str, "_AttachmentPlan | None"], ...]
_T = TypeVar("_T")
_PLANS: dict[int, tuple[FormDef, _AttachmentPlan]] = {}
_USES_REFERENCES: dict[int, tuple[FormDef, bool]] = {}


def _per_form(cache: dict[int, tuple[FormDef, _T]], form: FormDef, make: Callable[[], _T]) -> _T:
    """What `make` gives for this form, made once per FormDef object (a bounded cache)."""
    hit = cache.get(id(form))
    if hit is not None and hit[0] is form:
        return hit[1]
    made = make()
    if len(cache) > 256:
        cache.clear()
    cache[id(form)] = (form, made)
    return made


def _uses_references(form: FormDef) -> bool:
    """Whether a field of the form takes its choices from a reference list (the school's roster)."""

    def any_reference(fields: tuple[Field, ...]) -> bool:
        return any(f.reference is not None or any_reference(f.children) for f in fields)

    return _per_form(_USES_REFERENCES, form, lambda: any_reference(form.fields))


def _attachment_plan(form: FormDef) -> _AttachmentPlan:
    def plan(fields: tuple[Field, ...]) -> _AttachmentPlan:
        out: list[tuple[str, _AttachmentPlan | None]] = []
        for f in fields:
            if f.type is FieldType.GROUP:
                out.extend(plan(f.children))
            elif f.type is FieldType.REPEAT:
                inner = plan(f.children)
                if inner:
                    out.append((f.name, inner))
            elif f.type in (FieldType.IMAGE, FieldType.FILE):
                out.append((f.name, None))
        return tuple(out)

    return _per_form(_PLANS, form, lambda: plan(form.fields))


def attachment_refs(form: FormDef, data: Mapping[str, Any]) -> Iterator[tuple[str, Any]]:
    """(path, answer) of every image or file answer in a record, repeats included, in the form's order."""

    def walk(
        places: _AttachmentPlan, scope: Mapping[str, Any], prefix: tuple[str | int, ...]
    ) -> Iterator[tuple[str, Any]]:
        for name, inner in places:
            if inner is not None:
                items = scope.get(name)
                if isinstance(items, list):
                    for i, item in enumerate(items):
                        if isinstance(item, dict):
                            yield from walk(inner, item, (*prefix, name, i))
            else:
                value = scope.get(name)
                if value not in (None, ""):
                    yield format_path((*prefix, name)), value

    places = _attachment_plan(form)
    if places:
        yield from walk(places, data, ())


@dataclass(frozen=True, slots=True)
class _Prechecked:
    """An upsert's data through the form engine before the push's turn at the writer (services.group_commit:
    the second core, and the other threads, work while the writer writes); used only when the transaction
    finds the very same FormDef object for the change's form version."""

    form: FormDef
    evaluation: Evaluation
    text: str | None  # the checked data as JSON (None: refused by the engine)


def precheck(
    changes: list[ChangeIn],
    *,
    today: dt.date,
    local_now: dt.datetime,
    forms: FormCache,
    pool: CheckPool | None = None,
    raw: bytes | None = None,
) -> dict[int, _Prechecked]:
    """What the form engine says of each upsert whose form version `forms` has parsed (and which does not
    read the school's roster), outside any transaction; used only if the transaction finds the very same
    FormDef. The batch checks again whatever this left out. With a pool and the body's bytes,
    the engine runs in a worker process (services.check_pool)."""
    wanted: list[tuple[int, ChangeIn, FormDef]] = []
    for index, c in enumerate(changes):
        if c.kind != UPSERT:
            continue
        form = forms.by_version(c.form_id, c.form_version)
        if form is None or _uses_references(form):
            continue
        wanted.append((index, c, form))
    out: dict[int, _Prechecked] = {}

    def here(share: list[tuple[int, ChangeIn, FormDef]]) -> None:
        for _, c, form in share:
            if id(c) not in out:
                ev = evaluate(form, c.data, today=today, now=local_now)
                out[id(c)] = _Prechecked(form, ev, None if ev.problems else dumps(ev.data))

    if pool is not None and raw is not None:
        # A large batch while no other push is being checked (one school sending its backlog): this
        # process takes a share of the engine's work while the worker does the rest. In a crowd every
        # record goes to the worker: this process is the bottleneck there.
        ours = len(wanted) * 9 // 20 if len(wanted) >= SPLIT_FROM and not pool.busy else 0
        theirs, mine = wanted[: len(wanted) - ours], wanted[len(wanted) - ours :]
        texts = pool.check(
            raw,
            [(i, c.op_id, form) for i, c, form in theirs],
            today=today,
            now=local_now,
            meanwhile=(lambda: here(mine)) if mine else None,
        )
        if texts is not None:  # `mine` were checked meanwhile
            for i, c, form in theirs:
                text = texts.get(i)
                if text is not None:  # None or absent (problems, or not asked): the batch checks it
                    out[id(c)] = _Prechecked(form, Evaluation(json_fast.loads(text), []), text)
            return out
    here(wanted)  # no worker took it (whatever of it was checked meanwhile is not checked again)
    return out


SPLIT_FROM = 100  # upserts in a push from which this process checks a share itself when alone


@dataclass
class _Batch:
    session: Session
    device: DeviceInfo
    now: dt.datetime  # naive UTC
    today: dt.date
    local_now: dt.datetime
    forms: FormCache
    max_change_bytes: int = MAX_CHANGE_BYTES
    records: dict[str, _Rec] = field(default_factory=dict)
    ops: dict[str, dict[str, Any]] = field(default_factory=dict)
    form_defs: dict[tuple[str, str], FormDef | None] = field(default_factory=dict)
    roster: ReferenceList | None = None
    revisions: list[dict[str, Any]] = field(default_factory=list)
    applied_ops: list[dict[str, Any]] = field(default_factory=list)
    conflicts: list[dict[str, Any]] = field(default_factory=list)
    changes: list[NewChange] = field(default_factory=list)
    resolved: set[str] = field(default_factory=set)
    requests: list[dict[str, Any]] = field(default_factory=list)
    roster_ids: dict[str, str] | None = None  # the school's live roster: teacher_id -> record id
    # Checked data as JSON text (encoded once for its size, stored as is): id(data) -> (data, text)
    texts: dict[int, tuple[dict[str, Any], Dumped]] = field(default_factory=dict)
    prechecked: dict[int, _Prechecked] = field(default_factory=dict)  # id(change) -> its evaluation

    def text_of(self, data: dict[str, Any]) -> Dumped | None:
        found = self.texts.get(id(data))
        return found[1] if found is not None and found[0] is data else None

    def form(self, form_id: str, version: str) -> FormDef | None:
        key = (form_id, version)
        if key not in self.form_defs:
            # Shared by the pushes of one transaction (a group commit): versions are not published by pushes.
            known = self.session.info.setdefault(_FORMS_SEEN, {})
            if key not in known:
                known[key] = _find_form(self.session, self.forms, form_id, version)
            self.form_defs[key] = known[key]
        return self.form_defs[key]

    def references(self) -> dict[str, ReferenceList]:
        if self.roster is None:
            self.write_records()  # roster entries earlier in this batch count
            self.roster = school_roster(self.session, self.device.school_id)
        return {ROSTER_FORM: self.roster}

    def write_records(self) -> None:
        new = [r for r in self.records.values() if not r.in_db]
        changed = [r for r in self.records.values() if r.in_db and r.dirty]
        table = _RECORDS
        if new:
            insert_rows(self.session, table, [r.insert_row() for r in new])
        if changed:
            names = [
                n for n in _REC_COLUMNS if n not in ("id", "school_id", "form_id", "created_at")
            ]
            stmt = (
                update(table)
                .where(table.c.id == bindparam("b_id"))
                .values({n: bindparam(f"b_{n}") for n in names})
            )
            self.session.execute(
                stmt, [{f"b_{n}": getattr(r, n) for n in ("id", *names)} for r in changed]
            )
        for r in new + changed:
            r.in_db = True
            r.dirty = False

    def missing_attachments(self, form: FormDef, data: Mapping[str, Any]) -> list[dict[str, str]]:
        refs = list(attachment_refs(form, data))
        if not refs:
            return []
        wanted = {v for _, v in refs if isinstance(v, str) and _SHA256_RE.match(v)}
        have: set[str] = set()
        if wanted:
            have = set(
                self.session.execute(
                    select(Attachment.sha256).where(
                        Attachment.school_id == self.device.school_id,
                        Attachment.sha256.in_(wanted),
                        Attachment.complete.is_(True),
                    )
                ).scalars()
            )
        problems = []
        for path, value in refs:
            if not isinstance(value, str) or not _SHA256_RE.match(value):
                problems.append(
                    {
                        "path": path,
                        "code": "attachment_ref",
                        "message_zh": "照片或文件的答案应为其 sha256（64 位小写十六进制）",
                        "message_en": "an image or file answer must be its sha256 (64 lower-case hex digits)",
                    }
                )
            elif value not in have:
                problems.append(
                    {
                        "path": path,
                        "code": "attachment_missing",
                        "message_zh": f"照片或文件 {value[:12]}… 尚未上传完整",
                        "message_en": f"attachment {value[:12]}… has not been fully uploaded",
                    }
                )
        return problems

    def base_ok(self, rec: _Rec, c: ChangeIn) -> bool:
        if c.base_server_revision == rec.server_revision:
            return True
        # The current revision is this device's own earlier change, made from the same base, whose answer
        # the device never got (a lost response): the new change was made on top of it, so no conflict.
        return (
            rec.last_device_id == self.device.device_id
            and rec.last_base_revision == c.base_server_revision
            and c.revision is not None
            and rec.last_client_revision is not None
            and c.revision > rec.last_client_revision
        )

    def tombstone_version(self, c: ChangeIn) -> str | None:
        """The form version a delete of a record the server never had is stored with: the one it names, else
        the form's newest; None when the server has no such form (or version)."""
        if c.form_version:
            return c.form_version if self.form(c.form_id, c.form_version) is not None else None
        newest = self.session.execute(
            select(FormVersion.version)
            .where(FormVersion.form_id == c.form_id)
            .order_by(FormVersion.id.desc())
            .limit(1)
        ).scalar_one_or_none()
        return newest

    def check(self, c: ChangeIn, form: FormDef) -> dict[str, Any] | Evaluation:
        """An upsert's data through the form engine, the size limit and the attachment check: the
        rejection, or the evaluation to store (applied or kept as a conflict alike)."""
        pre = self.prechecked.get(id(c))
        text: str | None = None
        if pre is not None and pre.form is form:  # the same form, day and time: the same evaluation
            ev, text = pre.evaluation, pre.text
        else:
            ev = evaluate(
                form,
                c.data,
                today=self.today,
                now=self.local_now,
                # The roster is read (with this batch's records written first) only for a form using it.
                references=self.references() if _uses_references(form) else None,
            )
        if ev.problems:
            return _rejected(
                c,
                "invalid",
                problems=[
                    {
                        "path": p.path_str,
                        "code": p.code,
                        "message_zh": p.message_zh,
                        "message_en": p.message_en,
                    }
                    for p in ev.problems
                ],
            )
        if text is None:
            text = dumps(ev.data)
        size = len(text.encode("utf-8"))
        if size > self.max_change_bytes:
            return _rejected(c, "too_large", max_bytes=self.max_change_bytes, bytes=size)
        missing = self.missing_attachments(form, ev.data)
        if missing:
            return _rejected(c, "missing_attachments", problems=missing)
        self.texts[id(ev.data)] = (ev.data, Dumped(text))
        return ev

    def apply(self, c: ChangeIn) -> dict[str, Any]:
        prior = self.ops.get(c.op_id)
        if prior is not None:
            return self._again(c, prior)
        rec = self.records.get(c.record_id)
        if rec is not None and rec.school_id != self.device.school_id:
            audit(
                self.session,
                now=self.now,
                actor=f"device:{self.device.device_id}",
                action="push.other_school",
                school_id=self.device.school_id,
                object_id=c.record_id,
                details={"op_id": c.op_id},
            )
            return _rejected(c, "other_school")
        if rec is not None and rec.form_id != c.form_id:
            return _rejected(c, "form_mismatch")
        form: FormDef | None = None
        version = c.form_version
        if c.kind == UPSERT:
            form = self.form(c.form_id, c.form_version)
            if form is None:
                return _rejected(c, "unknown_form")
        elif rec is None:
            found = self.tombstone_version(c)
            if found is None:
                return _rejected(c, "unknown_form")
            version = found
        data: dict[str, Any] | None = None
        if form is not None:
            checked = self.check(c, form)
            if not isinstance(checked, Evaluation):
                return checked
            data = checked.data
        if c.offer and data is not None:
            offered = self._offer(c, rec, data, version)
            if offered is not None:
                return offered
        if rec is not None and rec.status == Status.ACCEPTED:
            return self._locked(c, rec, data)
        if rec is not None and rec.status == Status.DELETED and c.kind == DELETE:
            # Deleted on both sides: one outcome whatever the base, nothing to keep or to show.
            return self._applied(c, rec)
        if data is not None and c.form_id == ROSTER_FORM:
            other = self.roster_clash(c.record_id, data)
            if other is not None:
                return _rejected(
                    c,
                    "duplicate_teacher",
                    server={**_server_view(other), "record_id": other.id},
                    teacher_id=data.get("teacher_id"),
                )
        if rec is not None and not self.base_ok(rec, c):
            # A delete is never part of an offered (live) state: it meets the state as any change would.
            if (
                c.resent
                and c.kind == UPSERT
                and self._offered_past(rec, (c.base_server_revision or 0) + 1)
            ):
                return self._superseded(c, rec, kept=data)
            return self._conflict(c, rec, data)
        if data is None:  # a delete keeps the record's last data in its tombstone
            data = rec.data if rec is not None else {}
        return self._store(c, rec, data, version, kind="resend" if c.resent else None)

    # -- after a restore: offers and changes sent again (protocol revision 1.12) --------------------------

    def _offer(
        self, c: ChangeIn, rec: _Rec | None, data: dict[str, Any], version: str
    ) -> dict[str, Any] | None:
        """A record's state at `base_server_revision` as a PC read it before the server was restored, offered
        back because the restored server lacked it then (1.12). Taken at that revision when the server lacks
        the record, or holds only an earlier state of the same history (kept by the backup, or sent again or
        offered since); `superseded` when the server holds that very revision (of the same history) or the
        same answers. A state made anew since the restore is the usual case: a conflict for the clerk, or a
        change request for an accepted record (None: the caller's path)."""
        at = int(c.base_server_revision or 0)
        if c.form_id == ROSTER_FORM and self.roster_clash(c.record_id, data) is not None:
            return None  # refused as a second entry for the 工号, as any change would be
        if rec is None:
            return self._store(c, None, data, version, revision=at, kind="offer")
        if rec.server_revision >= at:
            if rec.data == data or self._old_line(rec.id, at):
                return self._superseded(c, rec)
        elif self._old_line(rec.id, rec.server_revision) and rec.status != Status.ACCEPTED:
            return self._store(c, rec, data, version, revision=at, kind="offer")
        if rec.status == Status.ACCEPTED:
            return None
        return self._conflict(c, rec, data)

    def _old_line(self, record_id: str, revision: int) -> bool:
        """The record's `revision` on this server belongs to its history from before the restore: kept by
        the backup (its change numbered at most the generation's floor), or sent again or offered back since
        - not made anew on the restored state, which may have taken the same number."""
        for row in self.revisions:
            if row["record_id"] == record_id and row["server_revision"] == revision:
                return row["kind"] in ("offer", "resend")
        kinds = set(
            self.session.execute(
                select(RecordRevision.kind).where(
                    RecordRevision.record_id == record_id,
                    RecordRevision.server_revision == revision,
                )
            ).scalars()
        )
        if kinds & {"offer", "resend"}:
            return True
        floor = current_generation(self.session).seq_floor
        for (payload,) in self.session.execute(
            select(Change.payload).where(
                Change.record_id == record_id, Change.seq <= floor, Change.type == "record"
            )
        ):
            try:
                if json.loads(payload).get("server_revision") == revision:
                    return True
            except (ValueError, AttributeError):
                continue
        return False

    def _offered_past(self, rec: _Rec, intended: int) -> bool:
        """A state at `intended` or later was offered back: a change sent again that made revision
        `intended` before the restore is part of that state."""
        if any(
            row["record_id"] == rec.id
            and row["kind"] == "offer"
            and row["server_revision"] >= intended
            for row in self.revisions
        ):
            return True
        return (
            self.session.execute(
                select(RecordRevision.id)
                .where(
                    RecordRevision.record_id == rec.id,
                    RecordRevision.kind == "offer",
                    RecordRevision.server_revision >= intended,
                )
                .limit(1)
            ).first()
            is not None
        )

    def _in_history(self, record_id: str, revision: int) -> bool:
        """The record's history has this revision (the offered one, or one kept from an earlier change sent
        again: of the same history, the same state)."""
        if any(
            row["record_id"] == record_id and row["server_revision"] == revision
            for row in self.revisions
        ):
            return True
        return (
            self.session.execute(
                select(RecordRevision.id)
                .where(
                    RecordRevision.record_id == record_id,
                    RecordRevision.server_revision == revision,
                )
                .limit(1)
            ).first()
            is not None
        )

    def _superseded(
        self, c: ChangeIn, rec: _Rec, *, kept: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """Nothing to apply: the server holds this change's revision or a later state that includes it. The
        answer carries that state for the device to take (1.12). A change sent again that an offered state
        includes (`kept`: its data) goes into the record's history under the revision it made, so the
        revisions before the offered one are not lost from it; the record stays as it is."""
        made = (c.base_server_revision or 0) + 1
        if kept is not None and not self._in_history(rec.id, made):
            self.revisions.append(
                {
                    "record_id": rec.id,
                    "server_revision": made,
                    "kind": "resend",
                    "status": Status.RECEIVED,
                    "form_version": c.form_version or rec.form_version,
                    "device_id": self.device.device_id,
                    "op_id": c.op_id,
                    "actor": None,
                    "created_at": self.now,
                    "review_comments": {},
                    "data": kept,
                }
            )
        answer = {
            "op_id": c.op_id,
            "result": "superseded",
            "record_id": rec.id,
            "server_revision": rec.server_revision,
            "status": rec.status,
            "server": _server_view(rec),
        }
        self._remember(c, "superseded", rec.server_revision, answer)
        return answer

    def roster_clash(self, record_id: str, data: Mapping[str, Any]) -> _Rec | None:
        """Another live roster record of the school with this teacher_id: one 工号 is one teacher, so a
        second row for it is refused (the school's PCs then merge the two, see docs/protocol.md)."""
        tid = data.get("teacher_id")
        if not isinstance(tid, str) or not tid:
            return None
        if self.roster_ids is None:
            self.write_records()
            self.roster_ids = {}
            for rid, rdata in self.session.execute(
                select(Record.id, Record.data)
                .where(
                    Record.school_id == self.device.school_id,
                    Record.form_id == ROSTER_FORM,
                    Record.status != Status.DELETED,
                )
                .order_by(Record.created_at, Record.id)
            ):
                other_tid = rdata.get("teacher_id") if isinstance(rdata, dict) else None
                if isinstance(other_tid, str) and other_tid:
                    self.roster_ids.setdefault(other_tid, rid)
        other_id = self.roster_ids.get(tid)
        if other_id is None or other_id == record_id:
            return None
        found = self.records.get(other_id)
        if found is None:
            table = _RECORDS
            row = self.session.execute(
                select(*(table.c[n] for n in _REC_COLUMNS)).where(table.c.id == other_id)
            ).one()
            found = _Rec(*row)
        return found

    def _roster_changed(
        self, before: tuple[str, str, bool] | None, after: tuple[str, str, bool] | None
    ) -> None:
        """Keep the roster read for this batch up to date with one stored entry, instead of reading the whole
        roster again for the next change (that made a batch of roster changes quadratic: 30-40 s for 200
        teachers of a school with 10,000)."""
        if self.roster is None or before == after:
            return
        items = dict(self.roster.items)
        inactive = set(self.roster.inactive)
        if before is not None:
            items.pop(before[0], None)
            inactive.discard(before[0])
        if after is not None:
            tid, name, active = after
            items[tid] = name
            if not active:
                inactive.add(tid)
        self.roster = ReferenceList(ROSTER_FORM, items, frozenset(inactive))

    def _roster_stored(self, rec: _Rec) -> None:
        if self.roster_ids is None:
            return
        tid = rec.data.get("teacher_id")
        live = tid if rec.status != Status.DELETED and isinstance(tid, str) and tid else None
        if any(t != live for t, rid in self.roster_ids.items() if rid == rec.id):
            self.roster_ids = (
                None  # a 工号 left this record: read the roster again when next needed
            )
        elif live is not None:
            self.roster_ids.setdefault(live, rec.id)

    def _locked(self, c: ChangeIn, rec: _Rec, data: dict[str, Any] | None) -> dict[str, Any]:
        """A change to a record the bureau accepted: nothing to do when it asks for what the record holds;
        else it is kept as a change request the bureau decides on, and the answer says so (rejected
        `locked`, as older clients expect, with `change_request`)."""
        if data is not None and data == rec.data and c.form_version == rec.form_version:
            return self._applied(c, rec)
        request_id = str(uuid.uuid4())
        self.requests.append(
            {
                "id": request_id,
                "record_id": rec.id,
                "school_id": rec.school_id,
                "op_id": c.op_id,
                "device_id": self.device.device_id,
                "kind": c.kind,
                "form_version": c.form_version or rec.form_version,
                "base_server_revision": c.base_server_revision,
                "server_revision": rec.server_revision,
                "status": "open",
                "created_at": self.now,
                "decided_at": None,
                "decided_by": None,
                "reason": None,
                "data": data if data is not None else {},
            }
        )
        # A change the school's PCs can pull (the one that asked does not get its echo): it numbers the
        # request in the change sequence, so a server restored from an older backup is known to lack it
        # and the PC sends it again (services.generation, client.store.healing).
        opened = change_request_change(
            school_id=rec.school_id,
            request_id=request_id,
            record_id=rec.id,
            op_id=c.op_id,
            status="open",
            reason=None,
            decided_at=self.now,
        )
        self.changes.append(replace(opened, device_id=self.device.device_id))
        audit(
            self.session,
            now=self.now,
            actor=f"device:{self.device.device_id}",
            action="record.change_request",
            school_id=rec.school_id,
            object_id=rec.id,
            details={"op_id": c.op_id, "request_id": request_id, "kind": c.kind},
        )
        answer = _rejected(
            c,
            "locked",
            server=_server_view(rec),
            change_request={"id": request_id, "status": "open"},
        )
        answer["message_zh"], answer["message_en"] = REQUESTED_TEXT
        self._remember(c, "requested", rec.server_revision, answer)
        return answer

    def _again(self, c: ChangeIn, prior: dict[str, Any]) -> dict[str, Any]:
        school, record_id, result, revision, response = (
            prior["school_id"],
            prior["record_id"],
            prior["result"],
            prior["server_revision"],
            prior["response"],
        )
        # Another school's op id, or this op id made for another record: not this operation again, and
        # answering `duplicate` would lose this change's data.
        if school != self.device.school_id or record_id != c.record_id:
            return _rejected(c, "op_id_in_use")
        if result == "applied":
            again = {
                "op_id": c.op_id,
                "result": "duplicate",
                "record_id": response.get("record_id", c.record_id),
                "server_revision": revision,
            }
            if isinstance(response.get("status"), str):
                again["status"] = response["status"]  # the status it was applied with
            return again
        if result == "requested":
            return self._request_again(c, response)
        return dict(response)

    def _request_again(self, c: ChangeIn, response: dict[str, Any]) -> dict[str, Any]:
        """The answer about a change request, with what became of the request since."""
        out = dict(response)
        found = next((r for r in self.requests if r["op_id"] == c.op_id), None)
        if found is None:
            row = self.session.execute(
                select(ChangeRequest).where(ChangeRequest.op_id == c.op_id)
            ).scalar_one_or_none()
            if row is not None:
                found = {"id": row.id, "status": row.status, "reason": row.reason}
        if found is not None:
            out["change_request"] = {
                "id": found["id"],
                "status": found["status"],
                **({"reason": found["reason"]} if found.get("reason") else {}),
            }
        return out

    def _remember(self, c: ChangeIn, result: str, revision: int, response: dict[str, Any]) -> None:
        row = {
            "op_id": c.op_id,
            "school_id": self.device.school_id,
            "device_id": self.device.device_id,
            "record_id": c.record_id,
            "result": result,
            "server_revision": revision,
            "created_at": self.now,
            "response": response,
        }
        self.ops[c.op_id] = row
        self.applied_ops.append(row)

    def _conflict(
        self, c: ChangeIn, rec: _Rec, client_data: dict[str, Any] | None
    ) -> dict[str, Any]:
        self.conflicts.append(
            {
                "record_id": rec.id,
                "school_id": rec.school_id,
                "op_id": c.op_id,
                "device_id": self.device.device_id,
                "kind": c.kind,
                "base_server_revision": c.base_server_revision,
                "client_revision": c.revision,
                "server_revision": rec.server_revision,
                "server_status": rec.status,
                "created_at": self.now,
                "resolved_at": None,
                "server_data": rec.data,
                "client_data": client_data,  # checked like any change; None for a delete
            }
        )
        answer = {
            "op_id": c.op_id,
            "result": "conflict",
            "record_id": c.record_id,
            "server_revision": rec.server_revision,
            "server": _server_view(rec),
        }
        self._remember(c, "conflict", rec.server_revision, answer)
        return answer

    def _store(
        self,
        c: ChangeIn,
        rec: _Rec | None,
        data: dict[str, Any],
        version: str,
        *,
        revision: int | None = None,
        kind: str | None = None,
    ) -> dict[str, Any]:
        status = Status.DELETED if c.kind == DELETE else Status.RECEIVED
        before = _roster_entry(rec) if rec is not None and c.form_id == ROSTER_FORM else None
        if rec is None:
            rec = _Rec(
                id=c.record_id,
                school_id=self.device.school_id,
                form_id=c.form_id,
                form_version=version,
                status=status,
                server_revision=revision or 1,
                last_device_id=None,
                last_base_revision=None,
                last_client_revision=None,
                created_at=self.now,
                updated_at=self.now,
                review_comments={},
                data=data,
                in_db=False,
                data_text=self.text_of(data),
            )
            self.records[c.record_id] = rec
        else:
            if c.base_server_revision == rec.server_revision:
                self.resolved.add(rec.id)
            if c.kind == UPSERT and c.keep_return and rec.status == Status.RETURNED:
                status = Status.RETURNED  # the return stays open, with its comments
            rec.server_revision = revision if revision is not None else rec.server_revision + 1
            rec.status = status
            rec.updated_at = self.now
            if c.kind == UPSERT:
                rec.form_version = c.form_version
                rec.data = data
                rec.data_text = self.text_of(data)
                if status != Status.RETURNED:
                    rec.review_comments = {}
        rec.last_device_id = self.device.device_id
        rec.last_base_revision = c.base_server_revision
        rec.last_client_revision = c.revision
        rec.dirty = True
        if c.form_id == ROSTER_FORM:
            self._roster_changed(before, _roster_entry(rec))
            self._roster_stored(rec)
        self.revisions.append(
            {
                "record_id": rec.id,
                "server_revision": rec.server_revision,
                "kind": kind or ("push" if c.kind == UPSERT else "delete"),
                "status": rec.status,
                "form_version": rec.form_version,
                "device_id": self.device.device_id,
                "op_id": c.op_id,
                "actor": None,
                "created_at": self.now,
                "review_comments": rec.review_comments or EMPTY_OBJECT,
                "data": rec.data_text if rec.data_text is not None else rec.data,
            }
        )
        self.changes.append(
            NewChange(
                school_id=rec.school_id,
                type="record",
                record_id=rec.id,
                device_id=self.device.device_id,
                payload=record_payload(
                    record_id=rec.id,
                    form_id=rec.form_id,
                    form_version=rec.form_version,
                    server_revision=rec.server_revision,
                    status=rec.status,
                    data=rec.data,
                    review_comments=rec.review_comments,
                    updated_at=rec.updated_at,
                ),
                data_text=rec.data_text,
            )
        )
        return self._applied(c, rec)

    def _applied(self, c: ChangeIn, rec: _Rec) -> dict[str, Any]:
        """The answer `applied` with the record's state as it now is (remembered for a replay)."""
        answer = {
            "op_id": c.op_id,
            "result": "applied",
            "record_id": rec.id,
            "server_revision": rec.server_revision,
            "status": rec.status,
        }
        self._remember(c, "applied", rec.server_revision, answer)
        return answer

    def finish(self) -> int:
        """Write what the batch made, the change rows last; returns the counter after them."""
        self.write_records()
        if self.resolved:
            self.session.execute(
                update(Conflict)
                .where(Conflict.record_id.in_(self.resolved), Conflict.resolved_at.is_(None))
                .values(resolved_at=self.now)
            )
        insert_rows(self.session, _table(RecordRevision), self.revisions)
        insert_rows(self.session, _table(Conflict), self.conflicts)
        insert_rows(self.session, _table(AppliedOp), self.applied_ops)
        insert_rows(self.session, _table(ChangeRequest), self.requests)
        return write_changes(self.session, self.changes, now=self.now)


# Statements built once (their cache keys too): built per batch they cost more than running them (issue 14).
_RECORDS_LOCKED = (
    select(*(_RECORDS.c[n] for n in _REC_COLUMNS))
    .where(_RECORDS.c.id.in_(bindparam("ids", expanding=True)))
    .order_by(_RECORDS.c.id)
    .with_for_update()
)
_APPLIED_OPS = cast(Table, AppliedOp.__table__)
_OPS_SEEN = select(
    _APPLIED_OPS.c.op_id,
    _APPLIED_OPS.c.school_id,
    _APPLIED_OPS.c.record_id,
    _APPLIED_OPS.c.result,
    _APPLIED_OPS.c.server_revision,
    _APPLIED_OPS.c.response,
).where(_APPLIED_OPS.c.op_id.in_(bindparam("ids", expanding=True)))


def apply_batch(
    session: Session,
    *,
    device: DeviceInfo,
    changes: list[ChangeIn],
    now: dt.datetime,
    today: dt.date,
    local_now: dt.datetime,
    forms: FormCache,
    max_change_bytes: int = MAX_CHANGE_BYTES,
    prechecked: dict[int, _Prechecked] | None = None,
) -> tuple[_Batch, list[dict[str, Any]]]:
    """Apply a batch inside the caller's transaction, up to writing its rows (the batch's finish(), which
    returns the cursor): the batch and each change's result. `prechecked`: from precheck(changes) with the
    same `today` and `local_now`."""
    batch = _Batch(session, device, naive_utc(now), today, local_now, forms, max_change_bytes)
    batch.prechecked = prechecked or {}
    # Lock the batch's records first (in id order, so concurrent batches cannot deadlock on them), then read
    # the op ids: on PostgreSQL that read then sees whatever a batch we waited for has committed.
    if any(c.form_id == ROSTER_FORM and c.kind == UPSERT for c in changes):
        # One 工号, one teacher: batches of one school that add roster entries take turns (PostgreSQL).
        session.execute(select(School.id).where(School.id == device.school_id).with_for_update())
    record_ids = sorted({c.record_id for c in changes})
    if record_ids:
        found = session.execute(_RECORDS_LOCKED, {"ids": record_ids}).all()
        batch.records = {row.id: _Rec(*row) for row in found}
    op_ids = sorted({c.op_id for c in changes})
    for op in session.execute(_OPS_SEEN, {"ids": op_ids}).mappings():
        batch.ops[op["op_id"]] = dict(op)
    return batch, [batch.apply(c) for c in changes]


# -- the compact answer (protocol 1.14) --------------------------------------------------------------

COMPACT_HEADER = "Sync-Push-Answer"  # a client that reads compact answers sends "compact"


def _default_status(c: ChangeIn) -> str:
    if c.kind == DELETE:
        return Status.DELETED
    return Status.RETURNED if c.keep_return else Status.RECEIVED


def _compact_one(c: ChangeIn, r: dict[str, Any]) -> dict[str, Any] | None:
    """What differs from `applied` at (base_server_revision or 0) + 1 with the change's ids (None: nothing).

    The change's `op_id` and `record_id` are never repeated; an applied result leaves out `result` and any
    field equal to its default. Expanding it back must give `r` exactly, else `r` is sent whole."""
    if r.get("op_id") != c.op_id or r.get("record_id") != c.record_id:
        return r
    rest = {k: v for k, v in r.items() if k not in ("op_id", "record_id")}
    if r.get("result") == "applied":
        default = {
            "result": "applied",
            "server_revision": (c.base_server_revision or 0) + 1,
            "status": _default_status(c),
        }
        if not all(k in r for k in default):
            return r
        rest = {k: v for k, v in rest.items() if default.get(k, _ABSENT) != v}
        rest.pop("result", None)
    return rest or None


_ABSENT = object()


def compact_answer(text: str, changes: list[ChangeIn]) -> str:
    """A push answer (as stored, the full form) in the compact form: `results` becomes `compact_results`,
    one item per change in the batch's order (see docs/protocol.md, revision 1.14). Deterministic, so a
    replayed batch still gets the same bytes."""
    body = json_fast.loads(text)  # as this server (or an older one) stored it
    results = body.get("results")
    if not isinstance(results, list) or len(results) != len(changes):
        return text
    out: dict[str, Any] = {
        "compact_results": [_compact_one(c, r) for c, r in zip(changes, results, strict=True)]
    }
    out.update((k, v) for k, v in body.items() if k != "results")
    return dumps(out)


# -- the transaction, with the idempotency key ------------------------------------------------------


def _retryable(exc: DBAPIError) -> bool:
    if isinstance(exc, IntegrityError):
        return True
    return getattr(exc.orig, "sqlstate", None) in _RETRY_SQLSTATES


# SQLite takes one writer at a time, and a writer that finds the database locked sleeps in SQLite's busy
# handler (1, 2, 5, 10 ... 100 ms) before it looks again, so under load the lock sat free while the next
# batch slept (issue 14: 300 devices at once, p95 17.9 s); then pushes took turns on a lock of this process,
# each with its own commit, and each commit waits for the disk. Now the pushes waiting for the writer are
# applied together, each in its own savepoint, under one commit (services.group_commit): one fsync for all
# of them, each answered only once that commit returned. SQLite only (group_commit.GROUPED_DIALECTS): on
# PostgreSQL each push runs at once in its own transaction (writer_for gives None), so nothing there may rely
# on the group's one-writer ordering.


def run_push(
    Session_: sessionmaker[Session],
    *,
    device: DeviceInfo,
    key: str,
    request_sha256: str,
    changes: list[ChangeIn],
    clock: Callable[[], dt.datetime],
    local_offset: dt.timedelta,
    forms: FormCache,
    max_change_bytes: int = MAX_CHANGE_BYTES,
    check_pool: CheckPool | None = None,
    raw: bytes | None = None,
) -> PushAnswer:
    """Owns the write transaction of a push: replay or refuse a known key, else apply and store the answer.
    The transaction may be shared with other pushes (group commit); this push is in a savepoint of its own.
    `check_pool` and `raw` (the body's bytes, gunzipped): the form engine's work on another core."""
    writer = writer_for(Session_)
    for attempt in range(RETRIES):
        now = clock()
        local_now = (now.astimezone(dt.UTC) + local_offset).replace(tzinfo=None)
        # The form engine's work before the writer's turn, where other threads' writes overlap it.
        checked = precheck(
            changes,
            today=local_now.date(),
            local_now=local_now,
            pool=check_pool if attempt == 0 else None,
            raw=raw,
            forms=forms,
        )

        def work(
            session: Session,
            now: dt.datetime = now,
            local_now: dt.datetime = local_now,
            checked: dict[int, _Prechecked] = checked,
        ) -> PushAnswer:
            return _push_in(
                session,
                device=device,
                key=key,
                request_sha256=request_sha256,
                changes=changes,
                now=now,
                local_now=local_now,
                forms=forms,
                max_change_bytes=max_change_bytes,
                prechecked=checked,
            )

        try:
            if writer is None:
                with Session_.begin() as session:
                    return work(session)
            return writer.run(Session_, work, weight=len(changes))
        except DBAPIError as exc:
            if not _retryable(exc) or attempt == RETRIES - 1:
                raise
            log.info("push from %s met a concurrent batch (%s); again", device.device_id, exc.orig)
    raise AssertionError("unreachable")


_KEYS = cast(Table, IdempotencyKey.__table__)
_KEY_STORED = select(_KEYS.c.request_sha256, _KEYS.c.status_code, _KEYS.c.response).where(
    _KEYS.c.device_id == bindparam("device_id"), _KEYS.c.key == bindparam("key")
)


def _push_in(
    session: Session,
    *,
    device: DeviceInfo,
    key: str,
    request_sha256: str,
    changes: list[ChangeIn],
    now: dt.datetime,
    local_now: dt.datetime,
    forms: FormCache,
    max_change_bytes: int,
    prechecked: dict[int, _Prechecked] | None = None,
) -> PushAnswer:
    """One push inside the given write transaction (or savepoint). The key's row is written last, with the
    answer: a copy of this batch in another transaction meets this one's op ids (applied_ops' primary key)
    or the key's unique index, waits for its commit, fails and is run again, then finding the answer."""
    stored = session.execute(_KEY_STORED, {"device_id": device.device_id, "key": key}).first()
    if stored is not None:
        if stored.request_sha256 != request_sha256 or stored.response is None:
            raise ApiError(
                "idempotency_key_reused",
                "同一个 Idempotency-Key 已用于内容不同的另一批变更",
                "this Idempotency-Key was already used with a different body",
                status=422,
                details={"idempotency_key": key},
            )
        return PushAnswer(stored.status_code or 200, stored.response, replayed=True)
    batch, results = apply_batch(
        session,
        device=device,
        changes=changes,
        now=now,
        today=local_now.date(),
        local_now=local_now,
        forms=forms,
        max_change_bytes=max_change_bytes,
        prechecked=prechecked,
    )
    # dumps({"results": results, "cursor": cursor}), put together around the cursor: all but the cursor is
    # made before the change counter is taken (its row stays locked until the commit; on PostgreSQL pushes
    # pass there one at a time)
    head = f'{{"results":{dumps(results)},"cursor":'
    cursor = batch.finish()
    text = f"{head}{cursor}}}"
    insert_rows(
        session,
        _KEYS,
        [
            {
                "device_id": device.device_id,
                "key": key,
                "request_sha256": request_sha256,
                "created_at": naive_utc(now),
                "status_code": 200,
                "response": text,
            }
        ],
    )
    return PushAnswer(200, text)


def _roster_entry(rec: _Rec) -> tuple[str, str, bool] | None:
    """(teacher_id, name, active) of a roster record as services.roster reads it; None when it lists none."""
    data = rec.data
    if rec.status == Status.DELETED or not isinstance(data, dict):
        return None
    tid = data.get("teacher_id")
    if not isinstance(tid, str) or not tid:
        return None
    name = data.get("name")
    return tid, name if isinstance(name, str) and name else tid, data.get("active") != "no"
