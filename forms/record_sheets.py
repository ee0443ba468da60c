"""The record-to-sheet layout both exports share (the clerk's and the bureau's), and its writer.

Layout of a form's records in a workbook:
* the record sheet (titled with the form's Chinese title): row 1 the Chinese column labels, row 2 (hidden) the
  machine names, one row per record from row 3; the header rows frozen. Its columns: the caller's leading
  columns (the record id; the bureau adds the school), the answers in form order (groups flattened, notes and
  helper calculations without a label left out, repeat groups on their own sheets), the trailing columns;
* one sheet per repeat group (outer before inner, titled with the group's label): the caller's leading
  columns (the record id, linking the entry to its record), `_index` (the entry's position from 1, "2.1" for
  a repeat inside a repeat), then the group's answers;
* titles are valid and unique (31 characters, none of \\ / ? * [ ] :), `_meta` and `History` kept free.

Each answer is shown as forms.display shows it to a person: choices as their labels (several joined with
"、"), roster references as teachers' names, attachments by their names (or, where the file must read back,
their sha256), a percentage as its number with a percent format; dates and times as real Excel dates and
times, numbers as numbers; every cell written by forms.safe_workbook, so text never becomes a formula.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from forms.cells import CellTooLong
from forms.display import FILE_TYPES, Labels, is_empty, label_of, number_format, show_value
from forms.model import Field, FieldType, FormDef
from forms.safe_workbook import Column, SafeSheet, SafeWorkbook, Write

UUID = "_uuid"
INDEX = "_index"
INDEX_LABEL = "序号"
META_SHEET = "_meta"
NAMES_ROW = 2  # the hidden row of machine names (1-based)
FIRST_DATA_ROW = 3

_BAD_TITLE_CHARS = re.compile(r"[\\/?*\[\]:]")
_WIDTHS = {
    FieldType.DATE: 12,
    FieldType.TIME: 8,
    FieldType.DATETIME: 20,
    FieldType.INTEGER: 10,
    FieldType.DECIMAL: 10,
    FieldType.SELECT_MULTIPLE: 24,
    FieldType.IMAGE: 20,
    FieldType.FILE: 20,
}


# -- which fields, which sheets ---------------------------------------------------------------------------


def is_shown(f: Field) -> bool:
    """Not a note, nor a helper calculation without a label (is_open: worked out again, read by nobody)."""
    return f.type is not FieldType.NOTE and not (
        f.type is FieldType.CALCULATE and not f.label.items
    )


def leaves(fields: tuple[Field, ...], *, with_repeats: bool = False) -> Iterator[Field]:
    """The answers of a level, groups flattened (repeat groups left out, or with_repeats as one each)."""
    for f in fields:
        if f.type is FieldType.GROUP:
            yield from leaves(f.children, with_repeats=with_repeats)
        elif is_shown(f) and (with_repeats or f.type is not FieldType.REPEAT):
            yield f


def repeat_groups(fields: tuple[Field, ...]) -> Iterator[Field]:
    """The repeat groups directly in a level (groups flattened)."""
    for f in fields:
        if f.type is FieldType.GROUP:
            yield from repeat_groups(f.children)
        elif f.type is FieldType.REPEAT:
            yield f


@dataclass(frozen=True)
class SheetLayout:
    """One sheet of a form's records: the record level (repeat is None) or one repeat group."""

    form: FormDef
    repeat: Field | None
    chain: tuple[str, ...]  # names of the repeat groups from the top down to this one
    fields: tuple[Field, ...]  # the answers on this sheet, in form order

    @property
    def title_text(self) -> str:
        if self.repeat is None:
            return self.form.title.get("zh") or self.form.form_id
        return label_of(self.repeat)


def sheet_layouts(form: FormDef) -> list[SheetLayout]:
    """The record sheet first, then every repeat group (outer before inner)."""
    out = [SheetLayout(form, None, (), tuple(leaves(form.fields)))]

    def visit(fields: tuple[Field, ...], chain: tuple[str, ...]) -> None:
        for rep in repeat_groups(fields):
            inner = (*chain, rep.name)
            out.append(SheetLayout(form, rep, inner, tuple(leaves(rep.children))))
            visit(rep.children, inner)

    visit(form.fields, ())
    return out


def sheet_title(text: str, used: set[str]) -> str:
    """A valid, unique worksheet title (at most 31 characters, none of \\ / ? * [ ] :); used holds the
    titles taken (lower case) and gets this one."""
    base = _BAD_TITLE_CHARS.sub("_", text).strip().strip("'") or "Sheet"
    if base.lower() in ("history", META_SHEET):
        base += "_"
    title = base[:31]
    n = 2
    while title.lower() in used:
        suffix = f"_{n}"
        title = base[: 31 - len(suffix)] + suffix
        n += 1
    used.add(title.lower())
    return title


def instances(
    data: Any, chain: Sequence[str], index: tuple[int, ...] = ()
) -> Iterator[tuple[tuple[int, ...], dict[str, Any]]]:
    """(position path from 1, entry) for every entry of the repeat at the end of chain."""
    if not isinstance(data, dict):
        return
    items = data.get(chain[0])
    if not isinstance(items, list):
        return
    for i, item in enumerate(items, start=1):
        if not isinstance(item, dict):
            continue
        if len(chain) == 1:
            yield (*index, i), item
        else:
            yield from instances(item, chain[1:], (*index, i))


def position(index: tuple[int, ...]) -> int | str:
    """An entry's place: 2, or "2.1" for the first entry of a repeat inside the second."""
    return index[0] if len(index) == 1 else ".".join(map(str, index))


# -- widths ---------------------------------------------------------------------------------------------


def display_width(text: str) -> int:
    """Columns a text takes on screen (a Chinese character two)."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def column_width(label: str, wanted: float = 16) -> float:
    """Wide enough for the label and for what the column holds, at most 60."""
    return float(min(max(display_width(label) + 2, wanted), 60))


def field_column(f: Field) -> Column:
    wanted = 40 if f.appearance == "multiline" else _WIDTHS.get(f.type, 16)
    label = label_of(f)
    return Column(f.name, label, column_width(label, wanted))


# -- writing records ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Fixed:
    """A column the exporter fills itself (the record id, the school, the status): `write` is the name of
    the SafeSheet method that writes its value ("text", "any" or "stamp")."""

    column: Column
    write: str = "text"


def answer_writer(
    f: Field, sheet: SafeSheet, labels: Labels, *, files_by_name: bool, datetimes: bool
) -> Write:
    """How one field's answers are written: shown as forms.display shows them, typed as Excel types them.
    files_by_name=False writes an attachment's sha256 (what reads back); datetimes=False keeps a date-time
    as its ISO text (lossless; Excel has no time zones)."""
    if f.is_select or (files_by_name and f.type in FILE_TYPES):
        text = sheet.text

        def shown(r: int, c: int, v: Any) -> None:
            if not is_empty(v):
                text(r, c, show_value(f, v, labels))

        return shown
    fmt = number_format(f)
    if fmt is not None:
        styled = sheet.styled
        return lambda r, c, v: styled(r, c, v, fmt)
    if f.type in (FieldType.INTEGER, FieldType.DECIMAL):
        return sheet.number
    if f.type is FieldType.DATE:
        return sheet.date
    if f.type is FieldType.TIME:
        return sheet.time
    if f.type is FieldType.DATETIME and datetimes:
        return sheet.datetime
    return sheet.any


class _Target:
    """One sheet being written: its layout, and per column how a value is written."""

    def __init__(
        self,
        book: SafeWorkbook,
        layout: SheetLayout,
        title: str,
        fixed: Sequence[Fixed],
        trailing: Sequence[Fixed],
        labels: Labels,
        files_by_name: bool,
        datetimes: bool,
    ) -> None:
        self.layout = layout
        self.title = title
        if layout.repeat is not None:
            fixed = [*fixed, Fixed(Column(INDEX, INDEX_LABEL, 6.0), "any")]
        columns = [
            *(x.column for x in fixed),
            *(field_column(f) for f in layout.fields),
            *(x.column for x in trailing),
        ]
        self.sheet = book.add_sheet(title, columns, names_row=True)
        sheet = self.sheet
        self.lead: list[Write] = [getattr(sheet, x.write) for x in fixed]
        self.answers: list[tuple[int, str, Write]] = [
            (
                len(fixed) + i,
                f.name,
                answer_writer(f, sheet, labels, files_by_name=files_by_name, datetimes=datetimes),
            )
            for i, f in enumerate(layout.fields)
        ]
        first = len(fixed) + len(layout.fields)
        self.trail: list[tuple[int, Write]] = [
            (first + i, getattr(sheet, x.write)) for i, x in enumerate(trailing)
        ]

    def write(self, lead: Sequence[Any], data: Mapping[str, Any], trail: Sequence[Any]) -> None:
        r = self.sheet.next_row()
        for c, (write, value) in enumerate(zip(self.lead, lead, strict=True)):
            if value is not None:
                write(r, c, value)
        get = data.get
        try:
            for c, name, write in self.answers:
                value = get(name)
                if value is not None:
                    write(r, c, value)
        except CellTooLong as exc:
            exc.field = name
            raise
        for (c, write), value in zip(self.trail, trail, strict=True):
            if value is not None:
                write(r, c, value)


class RecordSheets:
    """A form's records written into a SafeWorkbook in the layout above.

    record_fixed / trailing: the record sheet's leading and trailing columns (filled by the caller, per
    record); entry_fixed: a repeat sheet's leading columns (before `_index`). used: titles already taken."""

    def __init__(
        self,
        book: SafeWorkbook,
        form: FormDef,
        labels: Labels,
        *,
        record_fixed: Sequence[Fixed],
        trailing: Sequence[Fixed],
        entry_fixed: Sequence[Fixed],
        used: set[str],
        files_by_name: bool = True,
        datetimes: bool = True,
    ) -> None:
        layouts = sheet_layouts(form)
        self.targets = [
            _Target(
                book,
                layout,
                sheet_title(layout.title_text, used),
                entry_fixed if layout.repeat is not None else record_fixed,
                () if layout.repeat is not None else trailing,
                labels,
                files_by_name,
                datetimes,
            )
            for layout in layouts
        ]
        self.main, self.repeats = self.targets[0], self.targets[1:]

    @property
    def titles(self) -> list[str]:
        return [t.title for t in self.targets]

    def meta_rows(self) -> list[tuple[str, str]]:
        """sheet:<title> -> the repeat chain it holds ("" for the record sheet), for `_meta`."""
        return [("sheet:" + t.title, ".".join(t.layout.chain)) for t in self.targets]

    def write(
        self,
        data: Any,
        fixed: Sequence[Any],
        trailing: Sequence[Any],
        entry_fixed: Sequence[Any],
        *,
        on_too_long: Callable[[CellTooLong], Exception] | None = None,
    ) -> None:
        """One record: its row on the record sheet, and a row per entry of every repeat group."""
        answers = data if isinstance(data, dict) else {}
        try:
            self.main.write(fixed, answers, trailing)
            for target in self.repeats:
                for index, item in instances(answers, target.layout.chain):
                    target.write((*entry_fixed, position(index)), item, ())
        except CellTooLong as exc:
            if on_too_long is None:
                raise
            raise on_too_long(exc) from None
