"""A record's answers as the bureau reads them: Chinese labels, choices as their labels, roster ids as teacher
names, repeat groups as tables, attachments by their names; and the differences between two revisions. Each
value is shown by forms.display, as the school client shows it; which fields are shown is forms.record_sheets'
(is_shown, leaves), as in both exports.

No Flask here (the record pages and their tests use it). Field paths are those of review comments:
`inspection_date`, `hazards[0].deadline` (groups are transparent: their fields sit at the top level).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from forms.display import (
    EMPTY,
    FILE_TYPES,
    MULTI_SEPARATOR,
    FileNames,
    Labels,
    file_refs,
    label_of,
    show_value,
)
from forms.model import Field, FieldType, FormDef
from forms.record_sheets import is_shown, leaves

__all__ = [
    "EMPTY",
    "MULTI_SEPARATOR",
    "FileNames",
    "Labels",
    "file_refs",
    "label_of",
    "show_value",
]

STATUS_LABELS = {
    "received": "待审核",
    "returned": "已退回",
    "accepted": "已确认",
    "deleted": "已删除",
}
STATUS_TONES = {"received": "info", "returned": "warn", "accepted": "ok", "deleted": ""}
REVISION_KINDS = {
    "push": "学校提交",
    "delete": "学校删除",
    "return": "退回修改",
    "accept": "确认通过",
    "request": "采纳学校的修改申请",
    "resend": "服务器恢复后学校重新提交",
    "offer": "服务器恢复后由学校电脑补回",
}
GENERAL_COMMENT = "_record"


@dataclass(frozen=True, slots=True)
class FileLink:
    """An attachment of an answer: its sha256 (the link) and the name it had on the school's PC."""

    sha256: str
    name: str


@dataclass
class Answer:
    """One field's answer on the record page."""

    kind: ClassVar[str] = "answer"
    path: str
    name: str
    label: str
    type: str
    text: str  # '' when empty
    files: list[FileLink] = field(default_factory=list)
    comment: str | None = None
    multiline: bool = False

    @property
    def is_file(self) -> bool:
        return self.type in (FieldType.IMAGE.value, FieldType.FILE.value)

    @property
    def is_image(self) -> bool:
        return self.type == FieldType.IMAGE.value


@dataclass
class RepeatRow:
    index: int
    path: str  # hazards[0]
    anchor: str  # hazards-0
    cells: list[Item]
    comment: str | None = None


@dataclass
class RepeatTable:
    kind: ClassVar[str] = "repeat"
    path: str  # hazards
    name: str
    label: str
    columns: list[str]
    rows: list[RepeatRow]
    comment: str | None = None


@dataclass
class Section:
    kind: ClassVar[str] = "section"
    label: str
    items: list[Item]


Item = Answer | RepeatTable | Section


def build_items(
    form: FormDef,
    data: Mapping[str, Any],
    labels: Labels,
    comments: Mapping[str, str] | None = None,
) -> list[Item]:
    """The record's answers in form order; unknown keys (from another version) at the end."""
    comments = comments or {}
    items = _items(form.fields, data, labels, comments, prefix="")
    known = {f.name for f in form.all_fields()}
    extra = [k for k in data if k not in known and not k.startswith("_")]
    for key in extra:
        value = data[key]
        items.append(
            Answer(
                path=key,
                name=key,
                label=f"{key}（当前表单版本中没有此题）",
                type="text",
                text=show_value(Field(key, FieldType.TEXT), value, labels),
                comment=comments.get(key),
            )
        )
    return items


def _items(
    fields: tuple[Field, ...],
    data: Mapping[str, Any],
    labels: Labels,
    comments: Mapping[str, str],
    prefix: str,
) -> list[Item]:
    out: list[Item] = []
    for f in fields:
        if f.type is FieldType.GROUP:
            inner = _items(f.children, data, labels, comments, prefix)
            if inner:
                out.append(Section(label_of(f), inner))
            continue
        if not is_shown(f):
            continue
        path = f"{prefix}{f.name}"
        value = data.get(f.name)
        if f.type is FieldType.REPEAT:
            out.append(_repeat(f, value, labels, comments, path))
            continue
        out.append(_answer(f, value, labels, comments, path))
    return out


def _answer(f: Field, value: Any, labels: Labels, comments: Mapping[str, str], path: str) -> Answer:
    refs = file_refs(value) if f.type in FILE_TYPES else []
    files = [FileLink(sha, labels.files.name(sha)) for sha in refs]
    return Answer(
        path=path,
        name=f.name,
        label=label_of(f),
        type=f.type.value,
        text="" if files else show_value(f, value, labels),
        files=files,
        comment=comments.get(path),
        multiline=f.appearance == "multiline",
    )


def _repeat(
    f: Field, value: Any, labels: Labels, comments: Mapping[str, str], path: str
) -> RepeatTable:
    columns = list(leaves(f.children, with_repeats=True))  # an inner repeat: one column
    rows: list[RepeatRow] = []
    if isinstance(value, list):
        for i, item in enumerate(value):
            if not isinstance(item, Mapping):
                continue
            row_path = f"{path}[{i}]"
            cells: list[Item] = []
            for col in columns:
                cell_path = f"{row_path}.{col.name}"
                if col.type is FieldType.REPEAT:
                    cells.append(_repeat(col, item.get(col.name), labels, comments, cell_path))
                else:
                    cells.append(_answer(col, item.get(col.name), labels, comments, cell_path))
            rows.append(
                RepeatRow(
                    index=i,
                    path=row_path,
                    anchor=row_path.replace("[", "-").replace("]", "").replace(".", "-"),
                    cells=cells,
                    comment=comments.get(row_path),
                )
            )
    return RepeatTable(
        path=path,
        name=f.name,
        label=label_of(f),
        columns=[label_of(c) for c in columns],
        rows=rows,
        comment=comments.get(path),
    )


# -- field paths, for the return form and the differences -----------------------------------------------


@dataclass(frozen=True, slots=True)
class PathValue:
    path: str
    label: str  # 隐患清单 第1条 · 整改期限
    text: str
    field: Field


def flatten(form: FormDef, data: Mapping[str, Any], labels: Labels) -> list[PathValue]:
    """Every answer of the record as (path, label path, shown text), in form order."""
    out: list[PathValue] = []
    _flatten(form.fields, data, labels, "", "", out)
    return out


def _flatten(
    fields: tuple[Field, ...],
    data: Mapping[str, Any],
    labels: Labels,
    prefix: str,
    label_prefix: str,
    out: list[PathValue],
) -> None:
    for f in fields:
        if f.type is FieldType.GROUP:
            _flatten(f.children, data, labels, prefix, label_prefix, out)
            continue
        if f.type is FieldType.NOTE:
            continue
        value = data.get(f.name)
        path = f"{prefix}{f.name}"
        label = f"{label_prefix}{label_of(f)}"
        if f.type is FieldType.REPEAT:
            items = value if isinstance(value, list) else []
            for i, item in enumerate(items):
                if isinstance(item, Mapping):
                    _flatten(
                        f.children,
                        item,
                        labels,
                        f"{path}[{i}].",
                        f"{label} 第{i + 1}条 · ",
                        out,
                    )
            continue
        out.append(PathValue(path, label, show_value(f, value, labels), f))


@dataclass(frozen=True, slots=True)
class CommentTarget:
    """A place the reviewer may comment on: a field of the record, or a whole repeat entry."""

    path: str
    label: str
    text: str
    entry: bool = False  # a whole repeat entry (hazards[0]) rather than one field


def comment_targets(form: FormDef, data: Mapping[str, Any], labels: Labels) -> list[CommentTarget]:
    """The fields a clerk can change (no calculations), with each repeat entry before its fields."""
    out: list[CommentTarget] = []
    seen_entries: set[str] = set()
    for pv in flatten(form, data, labels):
        if pv.field.type is FieldType.CALCULATE:
            continue
        entry = pv.path.rsplit(".", 1)[0] if "." in pv.path else None
        if entry is not None and entry not in seen_entries:
            seen_entries.add(entry)
            out.append(CommentTarget(entry, pv.label.rsplit(" · ", 1)[0] + "（整条）", "", True))
        out.append(CommentTarget(pv.path, pv.label, pv.text))
    return out


@dataclass(frozen=True, slots=True)
class Difference:
    path: str
    label: str
    old: str
    new: str


def differences(
    form: FormDef,
    old: Mapping[str, Any] | None,
    new: Mapping[str, Any] | None,
    labels: Labels,
) -> list[Difference]:
    """Fields whose shown value differs between two revisions (an added or removed answer included)."""
    before = {pv.path: pv for pv in flatten(form, old or {}, labels)}
    after = {pv.path: pv for pv in flatten(form, new or {}, labels)}
    out: list[Difference] = []
    for path in [*after, *(p for p in before if p not in after)]:
        a = before.get(path)
        b = after.get(path)
        old_text = a.text if a else ""
        new_text = b.text if b else ""
        if old_text != new_text:
            label = (b or a).label  # type: ignore[union-attr]
            out.append(Difference(path, label, old_text, new_text))
    return out
