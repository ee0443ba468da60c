"""What export and import share: the workbook layout, errors, and answers <-> cell values.

Layout of an exported workbook (one form), forms.record_sheets' (the bureau's consolidated export has the
same, plus school columns and a summary sheet):

* Sheet 1 (the form's Chinese title): row 1 holds the Chinese column labels, row 2 (hidden) the machine names
  (`_uuid`, field names, `_status`, `_updated_at`); one row per record from row 3. Header rows are frozen.
  `_status` holds the window's word for the record's status (草稿, 待发送, 已送达, 已退回, 已确认): drafts are
  exported, marked 草稿, and come back as drafts. `_updated_at` is Beijing time, as its label says.
* One sheet per repeat group (titled with the group's Chinese label): `_uuid` (the record's id) and `_index`
  (the entry's position, from 1; "2.1" for a repeat inside a repeat), then the group's fields.
* A hidden sheet `_meta`: the form id and version, and which sheet holds which repeat group.

Import reads the same layout. Without the hidden names row (a sheet a clerk made by hand) the header row may hold
machine names or Chinese labels. Choices are written as their Chinese labels (select_multiple joined with "、");
roster references as the teacher's name, or "name（teacher_id）" when two teachers share a name: forms.display
(Labels, reversible: a label that would not read back is written as the choice's name); ValueCodec reads
them back.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from dataclasses import dataclass
from typing import Any

from client.store.formset import FormSet
from client.store.records import StoreError
from forms import cells
from forms.display import ID_IN_NAME_RE, MULTI_SEPARATOR, Labels
from forms.engine import ReferenceList
from forms.model import Field, FieldType, FormDef
from forms.record_sheets import (
    FIRST_DATA_ROW,
    INDEX,
    META_SHEET,
    NAMES_ROW,
    UUID,
    SheetLayout,
    sheet_layouts,
    sheet_title,
)

__all__ = [
    "FIRST_DATA_ROW",
    "INDEX",
    "META_SHEET",
    "MULTI_SEPARATOR",
    "NAMES_ROW",
    "UUID",
    "sheet_title",
]

STATUS = "_status"
UPDATED = "_updated_at"
LAYOUT_VERSION = "school-client-export/1"
# What a clerk may type between several choices in one cell (forms.display.SEPARATOR_CHARS).
SEPARATOR_RE = re.compile(r"\s*[、,，;；\n]\s*")

MAIN_RESERVED: dict[str, tuple[str, str]] = {
    UUID: ("记录编号", "record id"),
    STATUS: ("状态", "status"),
    UPDATED: ("最后修改时间（北京时间）", "last changed (Beijing time)"),
}
REPEAT_RESERVED: dict[str, tuple[str, str]] = {
    UUID: ("所属记录编号", "record id"),
    INDEX: ("序号", "entry number"),
}
# The same words as the window's (client/ui/lang.py): one word for each status.
STATUS_LABELS = {
    "draft": "草稿",
    "submitted": "待发送",
    "received": "已送达",
    "returned": "已退回",
    "accepted": "已确认",
}
STATUS_LABELS_EN = {
    "draft": "draft",
    "submitted": "waiting to be sent",
    "received": "received by the bureau",
    "returned": "returned",
    "accepted": "accepted",
}
# Words older exports wrote, still read.
_OLD_STATUS_LABELS = {"已提交": "submitted", "教育局已收到": "received"}
BEIJING = dt.timedelta(hours=8)  # the bureau's time (the _updated_at column); China has no DST


def status_from_cell(value: Any) -> str | None:
    """A status cell (a word of STATUS_LABELS, an older export's word, or the status code) -> the code."""
    if not isinstance(value, str):
        return None
    text = value.strip()
    for code, word in STATUS_LABELS.items():
        if text in (word, code, STATUS_LABELS_EN[code]):
            return code
    return _OLD_STATUS_LABELS.get(text)


class ExcelError(StoreError):
    """The file, the form or the filter cannot be used; message_zh/message_en say why."""


@dataclass(frozen=True)
class RowProblem:
    """One reason an import was refused, located by file, sheet and Excel row (or JSON index), the record's
    status and the field. The texts name fields by their labels, never by machine names."""

    file: str
    message_zh: str
    message_en: str
    sheet: str | None = None
    row: int | None = None  # Excel row number, from 1
    index: int | None = None  # position in a JSON list, from 0
    field: str | None = None  # field name (a path such as hazards[0].deadline for JSON); not shown
    label_zh: str = (
        ""  # what the texts call the field (for JSON, its place: “隐患清单”第 2 条的“整改期限”)
    )
    label_en: str = ""
    status: str | None = None  # the record's status (from the file, else the store), when known

    @property
    def text_zh(self) -> str:
        where = self.file
        if self.sheet is not None:
            where += f" 工作表“{self.sheet}”"
        if self.row is not None:
            where += f" 第 {self.row} 行"
        if self.index is not None:
            where += f" 第 {self.index + 1} 条记录"
        if self.status in STATUS_LABELS:
            where += f"（{STATUS_LABELS[self.status]}）"
        label = self.label_zh or self.field
        if label:
            where += "，" + (label if label.startswith("“") else f"“{label}”")
        return f"{where}：{self.message_zh}"

    @property
    def text_en(self) -> str:
        where = self.file
        if self.sheet is not None:
            where += f", sheet '{self.sheet}'"
        if self.row is not None:
            where += f", row {self.row}"
        if self.index is not None:
            where += f", record {self.index + 1}"
        if self.status in STATUS_LABELS_EN:
            where += f" ({STATUS_LABELS_EN[self.status]})"
        label = self.label_en or self.field
        if label:
            where += ", " + (label if label.startswith("'") else f"'{label}'")
        return f"{where}: {self.message_en}"

    def __str__(self) -> str:
        return f"{self.text_zh} / {self.text_en}"


MAX_PROBLEMS = 100  # kept with their details; all are counted


class ImportFailed(ExcelError):
    """Some rows are invalid, so nothing was imported. `problems` holds the first MAX_PROBLEMS, `total` all."""

    def __init__(self, problems: list[RowProblem], total: int) -> None:
        first = problems[0]
        more_zh = f"（共 {total} 个问题）" if total > 1 else ""
        more_en = f" ({total} problems in all)" if total > 1 else ""
        super().__init__(
            f"导入失败，未导入任何记录：{first.text_zh}{more_zh}",
            f"import failed, nothing was imported: {first.text_en}{more_en}",
        )
        self.problems = problems
        self.total = total


def get_form(forms: FormSet, form_id: str) -> FormDef:
    try:
        return forms.get(form_id)
    except KeyError:
        known = "、".join(sorted(forms.latest))
        raise ExcelError(
            f"没有表单“{form_id}”（可用：{known}）",
            f"unknown form '{form_id}' (known: {', '.join(sorted(forms.latest))})",
        ) from None


# -- sheets -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SheetSpec(SheetLayout):
    """One sheet of the layout (forms.record_sheets), with the client's reserved columns and their labels."""

    @property
    def reserved(self) -> dict[str, tuple[str, str]]:
        return REPEAT_RESERVED if self.repeat is not None else MAIN_RESERVED

    @property
    def columns(self) -> list[str]:
        """Machine names of the columns, in order."""
        names = [f.name for f in self.fields]
        if self.repeat is None:
            return [UUID, *names, STATUS, UPDATED]
        return [UUID, INDEX, *names]

    def label(self, name: str) -> tuple[str, str]:
        if name in self.reserved:
            return self.reserved[name]
        f = self.form.field(name)
        return f.label.get("zh") or f.name, f.label.get("en") or f.name


def sheet_specs(form: FormDef) -> list[SheetSpec]:
    """The record sheet first, then every repeat group (outer before inner)."""
    return [SheetSpec(x.form, x.repeat, x.chain, x.fields) for x in sheet_layouts(form)]


# -- text cells -------------------------------------------------------------------------------------

# Excel's own escape for characters XML cannot hold (and CR, which XML readers turn into LF): _xHHHH_,
# written by forms.cells (one place for every cell we write) and read back here.
xl_escape = cells.xl_escape
xl_unescape = cells.xl_unescape


# -- answers <-> cells ------------------------------------------------------------------------------

_WHOLE_RE = re.compile(r"^\s*[+-]?\d+\s*$")


def _time_text(t: dt.time) -> str:
    if t.microsecond >= 500_000:
        moment = dt.datetime.combine(dt.date(2000, 1, 1), t.replace(microsecond=0))
        t = (moment + dt.timedelta(seconds=1)).time()
    t = t.replace(microsecond=0, tzinfo=None)
    return t.isoformat(timespec="seconds" if t.second else "minutes")


class ValueCodec:
    """Stored answers <-> what a clerk sees in a cell, for one form and the school's roster. The way out is
    forms.display's (`labels`, reversible: only labels that read back); this reads them back."""

    def __init__(self, form: FormDef, roster: ReferenceList | None) -> None:
        self.form = form
        self.labels = Labels(form, roster, reversible=True)
        self._into: dict[str, dict[str, str]] = {}  # list -> text shown (or name) -> choice name
        for list_name, shown in self.labels.lists.items():
            into: dict[str, str] = {}
            for name, text in shown.items():
                into.setdefault(text, name)
            for name in shown:
                into.setdefault(name, name)
            self._into[list_name] = into
        self._ids: dict[str, str] = dict(roster.items) if roster else {}
        self._by_name: dict[str, list[str]] = {}
        for tid, name in self._ids.items():
            self._by_name.setdefault(name.strip(), []).append(tid)

    # export
    def show_choices(self, f: Field, value: Any) -> str:
        """A select answer as text: Chinese labels (roster: names), several joined with "、"."""
        return self.labels.choice(f, value)

    # import
    def read_choices(self, f: Field, text: str) -> tuple[Any, tuple[str, str] | None]:
        """Cell text -> choice name(s). Unknown text is passed on for the form engine to report."""
        text = text.strip()
        if not text:
            return None, None
        if f.type is FieldType.SELECT_ONE:
            return self._one(f, text)
        names: list[str] = []
        for token in SEPARATOR_RE.split(text):
            if not token:
                continue
            value, problem = self._one(f, token)
            if problem is not None:
                return None, problem
            if value == token and not self._known(f, token) and len(token.split()) > 1:
                # XLSForm style: choice names separated by spaces
                for part in token.split():
                    part_value, problem = self._one(f, part)
                    if problem is not None:
                        return None, problem
                    names.append(part_value)
            else:
                names.append(value)
        return list(dict.fromkeys(names)), None

    def _known(self, f: Field, token: str) -> bool:
        if f.reference is not None:
            return token in self._ids
        return f.list_name is not None and token in self._into.get(f.list_name, {})

    def _one(self, f: Field, token: str) -> tuple[str, tuple[str, str] | None]:
        if f.reference is None:
            if f.list_name is None:
                return token, None
            return self._into.get(f.list_name, {}).get(token, token), None
        m = ID_IN_NAME_RE.match(token)
        if m and m.group(2) in self._ids:
            return m.group(2), None
        if token in self._ids:
            return token, None
        ids = self._by_name.get(token, [])
        if len(ids) == 1:
            return ids[0], None
        if len(ids) > 1:
            listed = "、".join(f"{token}（{i}）" for i in sorted(ids))
            return token, (
                f"姓名“{token}”对应多名教师，请写成 {listed} 之一，或直接填写工号",
                f"the name '{token}' matches several teachers ({', '.join(sorted(ids))}); "
                f"write '{token}（teacher id）' or the teacher id instead",
            )
        return token, None

    def read_cell(self, f: Field, value: Any) -> tuple[Any, tuple[str, str] | None]:
        """An Excel cell -> the answer as stored (dates and times as ISO text, choices by name)."""
        if value is None:
            return None, None
        if isinstance(value, str):
            value = xl_unescape(value)
            if value == "":
                return None, None
        t = f.type
        if f.is_select:
            return self.read_choices(f, _plain_text(value))
        if t is FieldType.DATE:
            if isinstance(value, dt.datetime):
                return value.date().isoformat(), None
            if isinstance(value, dt.date):
                return value.isoformat(), None
            return (value.strip() if isinstance(value, str) else value), None
        if t is FieldType.TIME:
            if isinstance(value, dt.datetime):
                return _time_text(value.time()), None
            if isinstance(value, dt.time):
                return _time_text(value), None
            return (value.strip() if isinstance(value, str) else value), None
        if t is FieldType.DATETIME:
            if isinstance(value, dt.datetime | dt.date):
                return value.isoformat(), None
            return value, None
        if t in (FieldType.INTEGER, FieldType.DECIMAL):
            if isinstance(value, dt.date | dt.time):
                return value.isoformat(), None
            if t is FieldType.INTEGER and isinstance(value, str) and _WHOLE_RE.match(value):
                return int(value), None  # exactly: the export writes long whole numbers as text
            return value, None
        return _plain_text(value), None


def _plain_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dt.datetime) and value.time() == dt.time(0):
        return value.date().isoformat()
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    return str(value)


def parse_uuid(value: Any) -> str | None:
    """A record id as stored (lower-case canonical UUID text), or None if value is not one."""
    if not isinstance(value, str):
        return None
    try:
        return str(uuid.UUID(value.strip()))
    except ValueError:
        return None


def field_labels(form: FormDef, name: str) -> tuple[str, str]:
    try:
        f = form.field(name)
    except KeyError:
        return name, name
    return f.label.get("zh") or name, f.label.get("en") or name
