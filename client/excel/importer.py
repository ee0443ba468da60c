"""Import records from an .xlsx workbook (the export's layout, or a sheet with labels or names as headers)
or from a JSON list of records (FORMS.md "Conventions for values").

Everything is validated by the form engine and saved in ONE transaction: if any row is invalid, nothing is
imported, and ImportFailed names the file, the row (Excel row number, or JSON record), the record's status, the
field (by its label) and the problem. A row whose `_uuid` is already in the store updates that record (a new
revision) - unless it holds what the record already holds: then nothing is written, no revision, nothing queued
for the bureau, the status kept ("unchanged"). A `_uuid` that is not there creates the record with that id. A
roster row without `_uuid` updates the teacher with the same teacher_id.

Drafts come back as drafts: a row whose status column (`_status`; in JSON the key `_status`) says 草稿/draft is
saved as a draft (not checked, never sent) when its record is new or still a draft here; so a clerk's own export,
drafts and all, imports back unchanged. Any other row is submitted, as before.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import math
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from client.excel.layout import (
    FIRST_DATA_ROW,
    INDEX,
    MAX_PROBLEMS,
    META_SHEET,
    NAMES_ROW,
    STATUS,
    UPDATED,
    UUID,
    ExcelError,
    ImportFailed,
    RowProblem,
    SheetSpec,
    ValueCodec,
    field_labels,
    get_form,
    parse_uuid,
    sheet_specs,
    status_from_cell,
    xl_unescape,
)
from client.store.formset import ROSTER_FORM
from client.store.models import Record, Status
from client.store.records import (
    RecordLocked,
    StoreError,
    ValidationFailed,
    references,
    roster,
    save_record,
)
from client.store.roster import RosterIndex
from forms.engine import Problem, ReferenceList, evaluate, format_path
from forms.model import Field, FieldType, FormDef
from forms.safe_xlsx import IMPORT_LIMITS, UnsafeWorkbook, open_workbook, sheet_rows

if TYPE_CHECKING:
    from openpyxl.worksheet._read_only import ReadOnlyWorksheet

    from client.context import ClientContext

log = logging.getLogger(__name__)

Path_ = tuple[str | int, ...]


@dataclass(frozen=True)
class ImportResult:
    created: int
    updated: int
    unchanged: (
        int  # records whose data the file leaves as it is: nothing written, nothing sent again
    )
    record_ids: list[str]
    drafts: int = 0  # rows saved as (or left) drafts, among the above

    @property
    def total(self) -> int:
        return self.created + self.updated + self.unchanged


@dataclass
class _Where:
    sheet: str | None = None
    row: int | None = None
    index: int | None = None


@dataclass
class _Entry:
    """One row of a repeat group sheet, before it is put into its record."""

    where: _Where
    record_id: str
    index: tuple[int, ...] | None
    data: dict[str, Any]
    bad: set[str]


@dataclass
class _Incoming:
    """One record read from the file, and where each part of it came from."""

    record_id: str | None
    data: dict[str, Any]
    where: _Where
    parts: dict[Path_, _Where] = field(default_factory=dict)  # repeat entry path -> its row
    bad_paths: set[Path_] = field(default_factory=set)  # already reported while reading
    status: str | None = None  # the status the file gives the record (its status column)


class _Problems:
    """Every problem found, reported in file order (sheet by sheet, row by row) when the import fails."""

    KEEP = 10_000  # kept for sorting; all are counted

    def __init__(self, file: str) -> None:
        self.file = file
        self.items: list[RowProblem] = []
        self.total = 0
        self.sheets: list[str] = []  # in the order they were read

    def add(
        self,
        where: _Where,
        message: tuple[str, str],
        *,
        field_name: str | None = None,
        labels: tuple[str, str] = ("", ""),
        status: str | None = None,
    ) -> None:
        self.total += 1
        if len(self.items) < self.KEEP:
            self.items.append(
                RowProblem(
                    self.file,
                    message[0],
                    message[1],
                    sheet=where.sheet,
                    row=where.row,
                    index=where.index,
                    field=field_name,
                    label_zh=labels[0],
                    label_en=labels[1],
                    status=status,
                )
            )

    def _order(self, p: RowProblem) -> tuple[int, int, int]:
        rank = self.sheets.index(p.sheet) if p.sheet in self.sheets else len(self.sheets)
        return rank, p.row or 0, p.index if p.index is not None else -1

    def raise_if_any(self) -> None:
        if self.total:
            # sorted() is stable: the problems of one row keep the order the engine found them in
            ordered = sorted(self.items, key=self._order)
            raise ImportFailed(ordered[:MAX_PROBLEMS], self.total)


# -- reading .xlsx ----------------------------------------------------------------------------------


def _cell_text(value: Any) -> str:
    if value is None:
        return ""
    return xl_unescape(str(value)).strip()


def _empty(values: tuple[Any, ...]) -> bool:
    return all(v is None or (isinstance(v, str) and not v.strip()) for v in values)


class _Header:
    """Which field each column of a sheet holds."""

    def __init__(self, spec: SheetSpec) -> None:
        self.spec = spec
        self.names = set(spec.columns)
        self.by_label: dict[str, str | None] = {}  # None: several columns have this label
        for name in spec.columns:
            for label in {spec.label(name)[0], spec.label(name)[1]}:
                if label in self.by_label and self.by_label[label] != name:
                    self.by_label[label] = None
                else:
                    self.by_label[label] = name

    def is_names_row(self, row: tuple[Any, ...] | None) -> bool:
        if row is None:
            return False
        cells = [_cell_text(v) for v in row if _cell_text(v)]
        return bool(cells) and all(c in self.names for c in cells)

    def resolve(self, text: str) -> tuple[str | None, tuple[str, str] | None]:
        if not text:
            return None, None
        if text in self.names:
            return text, None
        if text in self.by_label:
            name = self.by_label[text]
            if name is None:
                return None, (
                    f"列标题“{text}”对应多个题目，请改用题目名称作标题",
                    f"the column title '{text}' matches several fields; use field names as titles",
                )
            return name, None
        return None, (f"无法识别的列“{text}”", f"unknown column '{text}'")


class _XlsxReader:
    def __init__(self, form: FormDef, codec: ValueCodec, problems: _Problems) -> None:
        self.form = form
        self.codec = codec
        self.problems = problems
        self.specs = sheet_specs(form)
        self.fields = {f.name: f for f in form.all_fields()}
        self.records: list[_Incoming] = []
        self.by_id: dict[str, _Incoming] = {}
        self.entries: dict[tuple[str, ...], list[_Entry]] = {}  # by repeat chain
        self.file = ""

    def read(self, path: Path) -> list[_Incoming]:
        """Every record in the workbook, read within forms.safe_xlsx.IMPORT_LIMITS (a workbook over them,
        a zip bomb or one declaring a DTD, is refused before it is parsed)."""
        self.file = str(path)
        try:
            with open_workbook(path, IMPORT_LIMITS) as wb:
                self._workbook(wb, path)
        except UnsafeWorkbook as exc:
            raise _refused(path, exc) from None
        self._attach_entries()
        return self.records

    def _rows(self, ws: ReadOnlyWorksheet) -> Iterator[tuple[Any, ...]]:
        return sheet_rows(ws, self.file, IMPORT_LIMITS)

    def _workbook(self, wb: Any, path: Path) -> None:
        meta = self._meta(wb)
        exported_form = meta.get("form_id")
        if exported_form and exported_form != self.form.form_id:
            raise ExcelError(
                f"文件 {path.name} 是表单“{exported_form}”的导出，不能导入到表单“{self.form.form_id}”",
                f"{path.name} was exported from form '{exported_form}', not '{self.form.form_id}'",
            )
        sheets = [ws for ws in wb.worksheets if ws.title != META_SHEET]
        if not sheets:
            raise ExcelError(f"文件 {path.name} 中没有工作表", f"{path.name} has no worksheets")
        self._sheet(sheets[0], self.specs[0])
        for ws in sheets[1:]:
            spec = self._repeat_spec(ws.title, meta)
            if spec is None:
                if any(not _empty(tuple(r)) for r in self._rows(ws)):
                    self.problems.add(
                        _Where(sheet=ws.title),
                        (
                            "无法识别的工作表（不是本表单的重复组）",
                            "unknown sheet (not a repeat group of this form)",
                        ),
                    )
                continue
            self._sheet(ws, spec)

    def _meta(self, wb: Any) -> dict[str, str]:
        if META_SHEET not in wb.sheetnames:
            return {}
        out: dict[str, str] = {}
        for row in self._rows(wb[META_SHEET]):
            if len(row) >= 2 and isinstance(row[0], str):
                out[row[0]] = "" if row[1] is None else str(row[1])
        return out

    def _repeat_spec(self, title: str, meta: dict[str, str]) -> SheetSpec | None:
        chain = meta.get("sheet:" + title)
        for spec in self.specs[1:]:
            if chain is not None and ".".join(spec.chain) == chain:
                return spec
        for spec in self.specs[1:]:
            assert spec.repeat is not None
            if title in (spec.title_text[:31], spec.repeat.name):
                return spec
        return None

    def _sheet(self, ws: ReadOnlyWorksheet, spec: SheetSpec) -> None:
        self.problems.sheets.append(ws.title)
        rows: Iterator[tuple[Any, ...]] = self._rows(ws)
        first = next(rows, None)
        if first is None:
            return
        header = _Header(spec)
        second = next(rows, None)
        keys: list[str | None] = []
        named = header.is_names_row(second)
        top = [_cell_text(v) for v in first]
        low = [_cell_text(v) for v in second] if named and second is not None else []
        width = max(len(top), len(low))
        seen: dict[str, int] = {}
        for col in range(width):
            from_names = col < len(low) and bool(low[col])
            text = low[col] if from_names else (top[col] if col < len(top) else "")
            key, problem = header.resolve(text)
            if problem is not None:
                row = NAMES_ROW if from_names else 1
                self.problems.add(_Where(sheet=ws.title, row=row), problem)
            if key is not None:
                if key in seen:
                    self.problems.add(
                        _Where(sheet=ws.title, row=1),
                        (f"“{text}”列出现了两次", f"the column '{text}' appears twice"),
                    )
                    key = None
                else:
                    seen[key] = col
            keys.append(key)
        if spec.repeat is not None and UUID not in seen:
            self.problems.add(
                _Where(sheet=ws.title, row=1),
                (
                    "重复组工作表缺少“所属记录编号”(_uuid) 列",
                    "a repeat group sheet needs the record id column (_uuid)",
                ),
            )
            return
        start = FIRST_DATA_ROW if named else NAMES_ROW
        data_rows: Iterator[tuple[Any, ...]] = rows
        if not named and second is not None:
            data_rows = _chain_one(second, rows)
        for number, values in enumerate(data_rows, start=start):
            if _empty(values):
                continue
            self._row(ws.title, number, values, keys, spec)

    def _row(
        self,
        sheet: str,
        number: int,
        values: tuple[Any, ...],
        keys: list[str | None],
        spec: SheetSpec,
    ) -> None:
        where = _Where(sheet=sheet, row=number)
        data: dict[str, Any] = {}
        record_id: str | None = None
        raw_index: Any = None
        status: str | None = None
        bad: set[str] = set()
        for col, value in enumerate(values):
            key = keys[col] if col < len(keys) else None
            if key is None:
                if value is not None and _cell_text(value):
                    self.problems.add(
                        where,
                        (
                            f"第 {col + 1} 列没有可识别的标题",
                            f"column {col + 1} has no known title",
                        ),
                    )
                continue
            if key == UUID:
                text = _cell_text(value)
                if text:
                    record_id = parse_uuid(text)
                    if record_id is None:
                        self.problems.add(
                            where,
                            (
                                f"记录编号“{text}”不是有效的 UUID",
                                f"'{text}' is not a valid record id (UUID)",
                            ),
                            field_name=UUID,
                        )
                        return
                continue
            if key == INDEX:
                raw_index = value
                continue
            if key == STATUS:
                status = status_from_cell(value)
                continue
            if key == UPDATED:
                continue
            f = self.fields[key]
            if f.type is FieldType.CALCULATE:
                continue
            answer, problem = self.codec.read_cell(f, value)
            if problem is not None:
                self.problems.add(
                    where,
                    problem,
                    field_name=key,
                    labels=field_labels(self.form, key),
                    status=self._status_of(record_id, spec, values, keys),
                )
                bad.add(key)
            if answer is not None:
                data[key] = answer
        if spec.repeat is None:
            incoming = _Incoming(record_id, data, where, status=status)
            incoming.bad_paths.update((name,) for name in bad)
            if record_id is not None:
                if record_id in self.by_id:
                    first = self.by_id[record_id].where.row
                    self.problems.add(
                        where,
                        (
                            f"记录编号与第 {first} 行重复",
                            f"the same record id as row {first}",
                        ),
                        field_name=UUID,
                    )
                    return
                self.by_id[record_id] = incoming
            self.records.append(incoming)
            return
        if record_id is None:
            self.problems.add(
                where, ("缺少所属记录编号", "the record id (_uuid) is missing"), field_name=UUID
            )
            return
        index = _parse_index(raw_index, len(spec.chain))
        if raw_index is not None and _cell_text(raw_index) and index is None:
            self.problems.add(
                where,
                (
                    f"序号“{_cell_text(raw_index)}”不对",
                    f"'{_cell_text(raw_index)}' is not an entry number",
                ),
                field_name=INDEX,
            )
            return
        self.entries.setdefault(spec.chain, []).append(_Entry(where, record_id, index, data, bad))

    def _status_of(
        self,
        record_id: str | None,
        spec: SheetSpec,
        values: tuple[Any, ...],
        keys: list[str | None],
    ) -> str | None:
        """The status a row's record has in the file (a repeat row: its record's, read earlier)."""
        if spec.repeat is None:
            col = keys.index(STATUS) if STATUS in keys else None
            return status_from_cell(values[col]) if col is not None and col < len(values) else None
        incoming = self.by_id.get(record_id) if record_id else None
        return incoming.status if incoming is not None else None

    def _attach_entries(self) -> None:
        """Put repeat entries into their records, ordered by _index (rows without one keep sheet order)."""
        placed: dict[
            tuple[str, tuple[str, ...], tuple[int, ...]], tuple[_Incoming, Path_, dict[str, Any]]
        ] = {}
        for chain in sorted(self.entries, key=len):
            rows = self.entries[chain]
            rows.sort(key=lambda e: (e.index is None, e.index or (), e.where.row or 0))
            for entry in rows:
                where, record_id, index = entry.where, entry.record_id, entry.index
                if len(chain) == 1:
                    incoming = self.by_id.get(record_id)
                    if incoming is None:
                        self.problems.add(
                            where,
                            (
                                f"主表中没有编号为 {record_id} 的记录",
                                f"no record {record_id} on the first sheet",
                            ),
                            field_name=UUID,
                        )
                        continue
                    container = incoming.data
                    base: Path_ = ()
                else:
                    parent = placed.get((record_id, chain[:-1], index[:-1])) if index else None
                    if parent is None:
                        self.problems.add(
                            where,
                            (
                                "找不到此条所属的上一级条目（请检查序号）",
                                "the entry this row belongs to is missing (check the entry number)",
                            ),
                            field_name=INDEX,
                        )
                        continue
                    incoming, parent_path, container = parent
                    base = parent_path
                entries = container.setdefault(chain[-1], [])
                path: Path_ = (*base, chain[-1], len(entries))
                entries.append(entry.data)
                incoming.parts[path] = where
                incoming.bad_paths.update((*path, name) for name in entry.bad)
                if index is not None:
                    placed[(record_id, chain, index)] = (incoming, path, entry.data)


def _refused(path: Path, exc: UnsafeWorkbook) -> ExcelError:
    """A workbook refused by a limit or unreadable, said as the importer says things: file, sheet, row."""
    where = exc.error.location
    at_zh = f" 工作表“{where.sheet}”" if where.sheet else ""
    at_en = f", sheet '{where.sheet}'" if where.sheet else ""
    if where.line is not None:
        at_zh += f" 第 {where.line} 行"
        at_en += f", row {where.line}"
    return ExcelError(
        f"无法导入 Excel 文件 {path.name}{at_zh}：{exc.error.message_zh}",
        f"cannot import the Excel file {path.name}{at_en}: {exc.error.message_en}",
    )


def _chain_one(
    first: tuple[Any, ...], rest: Iterator[tuple[Any, ...]]
) -> Iterator[tuple[Any, ...]]:
    yield first
    yield from rest


def _parse_index(value: Any, depth: int) -> tuple[int, ...] | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        if isinstance(value, float) and (not math.isfinite(value) or not value.is_integer()):
            return None
        parts: tuple[int, ...] = (int(value),)
    else:
        try:
            parts = tuple(int(p) for p in _cell_text(value).split("."))
        except ValueError:
            return None
    return parts if len(parts) == depth else None


# -- reading .json ----------------------------------------------------------------------------------


MAX_JSON_BYTES = 64 * 1024 * 1024  # a year of a large school's records is a few MB


def _read_json(path: Path, problems: _Problems) -> list[_Incoming]:
    if path.stat().st_size > MAX_JSON_BYTES:
        raise ExcelError(
            f"{path.name} 过大：超过 {MAX_JSON_BYTES} 字节，拒绝读取",
            f"{path.name} is too large: more than {MAX_JSON_BYTES} bytes; refused",
        )
    try:
        raw = json.loads(path.read_text(encoding="utf-8-sig"))
    except RecursionError:
        raise ExcelError(
            f"{path.name} 的 JSON 嵌套过深，拒绝读取",
            f"{path.name} nests its JSON too deeply; refused",
        ) from None
    except UnicodeDecodeError:
        raise ExcelError(
            f"{path.name} 不是 UTF-8 编码的 JSON 文件", f"{path.name} is not UTF-8 encoded JSON"
        ) from None
    except json.JSONDecodeError as exc:
        raise ExcelError(
            f"{path.name} 不是有效的 JSON：第 {exc.lineno} 行第 {exc.colno} 列：{exc.msg}",
            f"{path.name} is not valid JSON: line {exc.lineno}, column {exc.colno}: {exc.msg}",
        ) from None
    if not isinstance(raw, list):
        raise ExcelError(
            f"{path.name} 应为记录对象的 JSON 列表（[{{...}}, ...]）",
            f"{path.name} must hold a JSON list of record objects ([{{...}}, ...])",
        )
    out: list[_Incoming] = []
    seen: dict[str, int] = {}
    for i, item in enumerate(raw):
        where = _Where(index=i)
        if not isinstance(item, dict):
            problems.add(where, ("记录应为 JSON 对象", "a record must be a JSON object"))
            continue
        record_id: str | None = None
        if item.get(UUID) not in (None, ""):
            record_id = parse_uuid(item[UUID])
            if record_id is None:
                problems.add(
                    where,
                    (
                        f"记录编号“{item[UUID]}”不是有效的 UUID",
                        f"'{item[UUID]}' is not a valid record id (UUID)",
                    ),
                    field_name=UUID,
                )
                continue
            if record_id in seen:
                problems.add(
                    where,
                    (
                        f"记录编号与索引 {seen[record_id]} 的记录重复",
                        f"the same record id as record [{seen[record_id]}]",
                    ),
                    field_name=UUID,
                )
                continue
            seen[record_id] = i
        data = {k: v for k, v in item.items() if not (isinstance(k, str) and k.startswith("_"))}
        out.append(_Incoming(record_id, data, where, status=status_from_cell(item.get(STATUS))))
    return out


# -- saving -----------------------------------------------------------------------------------------


def _duplicate_teacher(
    form: FormDef, incoming: _Incoming, seen: dict[str, _Where], problems: _Problems
) -> bool:
    tid = incoming.data.get("teacher_id")
    if not isinstance(tid, str) or not tid.strip():
        return False
    first = seen.setdefault(tid.strip(), incoming.where)
    if first is incoming.where:
        return False
    at_zh = f"第 {first.row} 行" if first.row is not None else f"第 {(first.index or 0) + 1} 条记录"
    at_en = f"row {first.row}" if first.row is not None else f"record {(first.index or 0) + 1}"
    where, name, labels = _locate(form, incoming, ("teacher_id",))
    problems.add(
        where,
        (f"工号“{tid}”与{at_zh}重复", f"teacher id '{tid}' also appears in {at_en}"),
        field_name=name,
        labels=labels,
        status=incoming.status,
    )
    return True


def _place(form: FormDef, path: Path_) -> tuple[str, str]:
    """Where in a record a path leads, in words: “隐患清单”第 2 条的“整改期限” / 'Hazards' entry 2, 'Deadline'."""
    zh: list[str] = []
    en: list[str] = []
    for part in path:
        if isinstance(part, int):
            if zh:
                zh[-1] += f"第 {part + 1} 条"
                en[-1] += f" entry {part + 1}"
            continue
        label_zh, label_en = field_labels(form, part)
        zh.append(f"“{label_zh}”")
        en.append(f"'{label_en}'")
    return "的".join(zh), ", ".join(en)


def _locate(form: FormDef, incoming: _Incoming, path: Path_) -> tuple[_Where, str, tuple[str, str]]:
    """The row, field name and how to call the field of a problem at `path` inside an incoming record."""
    name = next((p for p in reversed(path) if isinstance(p, str)), "")
    labels = field_labels(form, name) if name else ("", "")
    if incoming.where.index is not None:  # JSON: the record's index and the place inside it
        return incoming.where, format_path(path), _place(form, path)
    for k in range(len(path), 0, -1):
        where = incoming.parts.get(path[:k])
        if where is not None:
            return where, name, labels
    return incoming.where, name, labels


def _known_ids(session: Session, batch: list[_Incoming]) -> set[str]:
    """Which of the batch's record ids are in the store (one query per thousand ids)."""
    wanted = [i.record_id for i in batch if i.record_id is not None]
    found: set[str] = set()
    for start in range(0, len(wanted), 1000):
        chunk = wanted[start : start + 1000]
        found.update(session.execute(select(Record.id).where(Record.id.in_(chunk))).scalars())
    return found


def _without_calculations(fields: tuple[Field, ...], data: Any) -> Any:
    """A record's answers without calculated values (a draft keeps whatever the editor last worked out;
    the file's calculated columns are not read back)."""
    if not isinstance(data, dict):
        return data
    out = dict(data)
    for f in fields:
        if f.type is FieldType.CALCULATE:
            out.pop(f.name, None)
        elif f.type is FieldType.GROUP:
            out = _without_calculations(f.children, out)
        elif f.type is FieldType.REPEAT and isinstance(out.get(f.name), list):
            out[f.name] = [_without_calculations(f.children, item) for item in out[f.name]]
    return out


def _unchanged(
    form: FormDef,
    existing: Record,
    data: dict[str, Any],
    submit: bool,
    today: dt.date,
    refs: Mapping[str, ReferenceList],
) -> bool:
    """Would saving `data` leave the record as it is (same answers, and a draft stays a draft)?"""
    if existing.form_id != form.form_id or (submit and existing.status == Status.DRAFT):
        return False
    if submit:
        return evaluate(form, data, today=today, references=refs).data == existing.data
    as_stored = json.loads(json.dumps(data, default=str))
    same: bool = _without_calculations(form.fields, as_stored) == _without_calculations(
        form.fields, existing.data
    )
    return same


def _save_all(
    session: Session, ctx: ClientContext, form: FormDef, batch: list[_Incoming], problems: _Problems
) -> ImportResult:
    """Every row through save_record, with what each save would otherwise read again and again (the
    roster as a reference list, the roster's staff numbers) read once: linear in the rows. A row that
    changes nothing is not saved."""
    today, now = ctx.clock.today(), ctx.clock.now()
    created = updated = unchanged = drafts = 0
    ids: list[str] = []
    teacher_rows: dict[str, _Where] = {}
    known = _known_ids(session, batch)
    index = RosterIndex(session) if form.form_id == ROSTER_FORM else None
    refs = references(session)  # an import into another form does not change the roster
    roster_refs = index is not None and any(f.reference == ROSTER_FORM for f in form.all_fields())
    for incoming in batch:
        record_id = incoming.record_id
        if index is not None and _duplicate_teacher(form, incoming, teacher_rows, problems):
            continue
        if record_id is None and index is not None:
            record_id = index.record_of(incoming.data.get("teacher_id"))
            if record_id is not None:
                known.add(record_id)
        existing = session.get(Record, record_id) if record_id in known else None
        status = incoming.status or (existing.status if existing is not None else None)
        submit = incoming.status != Status.DRAFT or (
            existing is not None and existing.status != Status.DRAFT
        )
        if existing is not None and not existing.deleted:
            now_refs = index.references() if index is not None and roster_refs else refs
            if _unchanged(form, existing, incoming.data, submit, today, now_refs):
                unchanged += 1
                drafts += existing.status == Status.DRAFT
                ids.append(existing.id)
                continue
            if existing.status == Status.ACCEPTED:
                locked = RecordLocked()
                problems.add(
                    incoming.where,
                    (
                        f"{locked.message_zh}（导入不能修改已确认的记录）",
                        f"{locked.message_en} (an import cannot change it)",
                    ),
                    status=existing.status,
                )
                continue
        try:
            result = save_record(
                session,
                form=form,
                data=incoming.data,
                record_id=record_id,
                submit=submit,
                today=today,
                now=now,
                refs=refs,
                roster_index=index,
            )
        except ValidationFailed as exc:
            _add_validation(form, incoming, exc.problems, problems, status)
            continue
        except StoreError as exc:  # a locked, deleted or other form's record, a teacher id in use
            problems.add(incoming.where, (exc.message_zh, exc.message_en), status=status)
            continue
        ids.append(result.record_id)
        drafts += result.status == Status.DRAFT
        if existing is None:
            created += 1
        else:
            updated += 1
    return ImportResult(created, updated, unchanged, ids, drafts)


def _add_validation(
    form: FormDef,
    incoming: _Incoming,
    found: list[Problem],
    problems: _Problems,
    status: str | None,
) -> None:
    for p in found:
        if p.path in incoming.bad_paths:
            continue  # already reported more precisely while reading the cell
        where, name, labels = _locate(form, incoming, p.path)
        problems.add(
            where,
            (p.message_zh, p.message_en),
            field_name=name or None,
            labels=labels,
            status=status,
        )


def import_file(ctx: ClientContext, form_id: str, path: str | os.PathLike[str]) -> ImportResult:
    """Import every record in an .xlsx or .json file into the form, all or nothing.

    Raises ExcelError for an unknown form or an unreadable file, and ImportFailed (an ExcelError, so a
    StoreError, with message_zh/message_en and .problems) when any row is invalid; nothing is saved then.
    Images and files are referenced by sha256 and must already be in the data folder to be shown.
    """
    form = get_form(ctx.forms, form_id)
    source = Path(path)
    if not source.is_file():
        raise ExcelError(f"找不到文件 {source}", f"file not found: {source}")
    suffix = source.suffix.lower()
    if suffix not in (".xlsx", ".json"):
        raise ExcelError(
            f"只能导入 .xlsx 或 .json 文件：{source.name}",
            f"only .xlsx and .json files can be imported: {source.name}",
        )
    problems = _Problems(source.name)
    if suffix == ".json":
        batch = _read_json(source, problems)
    else:
        with ctx.store.Session() as s:
            codec = ValueCodec(form, roster(s))
        reader = _XlsxReader(form, codec, problems)
        batch = reader.read(source)
    with ctx.store.Session.begin() as session:
        result = _save_all(session, ctx, form, batch, problems)
        problems.raise_if_any()  # inside the transaction: nothing is kept
    log.info(
        "imported %s into %s: %d new, %d updated, %d unchanged, %d drafts",
        source.name,
        form_id,
        result.created,
        result.updated,
        result.unchanged,
        result.drafts,
    )
    return result
