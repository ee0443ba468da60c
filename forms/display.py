"""How an answer is shown to a person: the one place the clerk's editor, the clerk's export, the bureau's
dashboard and the consolidated export ask.

* labels: a field's Chinese label, else its name; a choice's Chinese label, else its name; a roster id as the
  teacher's name (with the 工号 when two teachers share a name). The clerk's export, which must read back
  (`reversible`), writes a choice's name where its label is shared or holds a separator, and the 工号 alone
  where a name could not be matched again;
* numbers without a trailing ".0" and without float noise; a calculate with `appearance: percent` as a
  percentage with one decimal (0.9333 -> 93.3%), written to Excel as the number with the PERCENT_FORMAT;
* dates as 2026-11-28, date-times as 2026-11-28 14:05, yes/no as 是/否, several choices joined with "、";
* attachments by their original file names (`FileNames`: sha256 -> name, from the store that holds them).

No Qt, SQLAlchemy or Flask here (forms/ is the shared domain).
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from forms.engine import ReferenceList
from forms.model import Field, FieldType, FormDef

MULTI_SEPARATOR = "、"
# What a clerk may type between several choices in one cell (an import splits on these).
SEPARATOR_CHARS = "、,，;；\n\r"
ID_IN_NAME_RE = re.compile(r"^(.*?)\s*[（(]\s*([A-Za-z0-9_-]+)\s*[）)]$")  # 张伟（T004）
EMPTY = "—"
PERCENT = (
    "percent"  # the appearance (XLSForm's appearance column) of a calculate shown as a percentage
)
PERCENT_FORMAT = "0.0%"  # its Excel number format
PERCENT_APPEARANCE_TYPES = frozenset({FieldType.CALCULATE})
FILE_TYPES = frozenset({FieldType.IMAGE, FieldType.FILE})
SHA256_RE = re.compile(r"^[0-9a-f]{64}$")
_DECIMALS = 10  # digits after the point a shown number keeps (no 0.30000000000000004)


# -- appearances --------------------------------------------------------------------------------------


def appearances(f: Field) -> frozenset[str]:
    """The field's appearance words (XLSForm separates them with spaces, e.g. "minimal percent")."""
    return frozenset((f.appearance or "").lower().split())


def is_percent(f: Field) -> bool:
    return f.type in PERCENT_APPEARANCE_TYPES and PERCENT in appearances(f)


def number_format(f: Field) -> str | None:
    """The Excel number format of the field's cells (None: the default one for its type)."""
    return PERCENT_FORMAT if is_percent(f) else None


# -- labels -------------------------------------------------------------------------------------------


def label_of(f: Field) -> str:
    return f.label.get("zh") or f.name


def form_title(form: FormDef) -> str:
    return form.title.get("zh") or form.form_id


def reads_back(text: str) -> bool:
    """Text an import can match again: not blank, no outer spaces, no separator."""
    return bool(text) and text == text.strip() and not any(c in text for c in SEPARATOR_CHARS)


def roster_names(items: Mapping[str, str], *, reversible: bool = False) -> dict[str, str]:
    """Teacher id -> the name shown: the name, or 名字（工号） when two teachers share it. reversible: also
    名字（工号） for a name that is some teacher's id or looks like 名字（工号）, and the 工号 alone for a name
    that would not read back."""
    counts: dict[str, int] = {}
    for name in items.values():
        key = name.strip() if reversible else name
        counts[key] = counts.get(key, 0) + 1
    if not reversible:
        return {
            tid: name if counts[name] == 1 else f"{name}（{tid}）" for tid, name in items.items()
        }
    out: dict[str, str] = {}
    for tid, name in items.items():
        if not reads_back(name):
            out[tid] = tid
        elif counts[name] == 1 and name not in items and not ID_IN_NAME_RE.match(name):
            out[tid] = name
        else:
            out[tid] = f"{name}（{tid}）"
    return out


def choice_labels(choices: Any, *, reversible: bool = False) -> dict[str, str]:
    """Choice name -> the text shown: its Chinese label, else its name. reversible: the name also where
    the label is shared by another choice of the list or would not read back."""
    if not reversible:
        return {c.name: c.label.get("zh") or c.name for c in choices}
    counts: dict[str, int] = {}
    for c in choices:
        counts[c.label.zh] = counts.get(c.label.zh, 0) + 1
    return {
        c.name: c.label.zh if reads_back(c.label.zh) and counts[c.label.zh] == 1 else c.name
        for c in choices
    }


class FileNames:
    """sha256 -> the file's original name, for the attachments of one school (or one PC)."""

    def __init__(self, names: Mapping[str, str] | None = None) -> None:
        self.names = dict(names or {})

    def name(self, sha256: str) -> str:
        """The original name, else 附件（a short hash）for a file whose name never reached us."""
        return self.names.get(sha256) or f"附件 {sha256[:8]}"


class Labels:
    """Choice names -> Chinese labels of one form; roster ids -> names of one school's teachers; sha256 ->
    the names of that school's attachments. reversible: only what an import reads back (the clerk's export)."""

    def __init__(
        self,
        form: FormDef,
        roster: ReferenceList | Mapping[str, str] | None = None,
        files: FileNames | None = None,
        *,
        reversible: bool = False,
    ) -> None:
        self.reversible = reversible
        self.lists = {
            cl.name: choice_labels(cl.choices, reversible=reversible) for cl in form.choices
        }
        self.set_roster(roster)
        self.files = files or FileNames()

    def set_roster(self, roster: ReferenceList | Mapping[str, str] | None) -> None:
        items = roster.items if isinstance(roster, ReferenceList) else roster
        self.roster = roster_names(items or {}, reversible=self.reversible)

    def choice(self, f: Field, value: Any) -> str:
        if value is None or value == "" or value == []:
            return ""
        if isinstance(value, str) and f.type is FieldType.SELECT_MULTIPLE:
            names: list[Any] = value.split()
        elif isinstance(value, list):
            names = value
        else:
            names = [value]
        if f.reference is not None:
            shown = [self.roster.get(str(v), str(v)) for v in names]
        else:
            table = self.lists.get(f.list_name or "", {})
            shown = [table.get(str(v), str(v)) for v in names]
        return MULTI_SEPARATOR.join(shown)

    def list_label(self, list_name: str, name: str | None) -> str:
        if not name:
            return ""
        return self.lists.get(list_name, {}).get(name, name)


# -- values -------------------------------------------------------------------------------------------


def is_empty(value: Any) -> bool:
    return value is None or value == "" or value == []


def show_number(value: int | float) -> str:
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, int):
        return str(value)
    if not math.isfinite(value):
        return str(value)
    rounded = round(value, _DECIMALS)
    if rounded.is_integer() and abs(rounded) < 2**53:
        return str(int(rounded))
    text = format(Decimal(repr(rounded)), "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            return None
    return None


def show_percent(value: Any) -> str:
    """A fraction as a percentage with one decimal: 0.9333 -> 93.3%, 1 -> 100.0%."""
    number = _number(value)
    if number is None or not math.isfinite(number):
        return "" if is_empty(value) else str(value)
    return f"{number * 100:.1f}%"


def show_date(value: Any) -> str:
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    return "" if is_empty(value) else str(value)


def show_datetime(value: Any) -> str:
    """2026-11-28 14:05 (an ISO text or a datetime; the time as written, no zone conversion)."""
    moment = value
    if isinstance(value, str):
        try:
            moment = dt.datetime.fromisoformat(value)
        except ValueError:
            return value
    if isinstance(moment, dt.datetime):
        return moment.strftime("%Y-%m-%d %H:%M")
    return "" if is_empty(value) else str(value)


def zone_label(utc_offset: dt.timedelta) -> str:
    """How a time zone is named next to a time: 北京时间 for UTC+8, else UTC+9, UTC-3:30."""
    minutes = round(utc_offset.total_seconds() / 60)
    if minutes == 8 * 60:
        return "北京时间"
    sign = "+" if minutes >= 0 else "-"
    hours, rest = divmod(abs(minutes), 60)
    return f"UTC{sign}{hours}" + (f":{rest:02d}" if rest else "")


def show_value(
    f: Field, value: Any, labels: Labels | None = None, files: FileNames | None = None
) -> str:
    """One answer as a person reads it ('' when empty)."""
    if is_empty(value):
        return ""
    if f.is_select:
        return (labels or _NO_LABELS).choice(f, value)
    if f.type in FILE_TYPES:
        refs = file_refs(value)
        if refs:
            names = files or (labels.files if labels is not None else FileNames())
            return MULTI_SEPARATOR.join(names.name(r) for r in refs)
    if is_percent(f):
        return show_percent(value)
    if f.type is FieldType.DATETIME:
        return show_datetime(value)
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, int | float):
        return show_number(value)
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return MULTI_SEPARATOR.join(
            show_value(Field(f.name, FieldType.TEXT), v, labels, files) for v in value
        )
    return json.dumps(value, ensure_ascii=False)


def file_refs(value: Any) -> list[str]:
    """The sha256 values of an image/file answer (a string, or a list of them)."""
    items = value if isinstance(value, list) else [value]
    return [v for v in items if isinstance(v, str) and SHA256_RE.match(v)]


class _NoLabels(Labels):
    def __init__(self) -> None:
        self.reversible = False
        self.lists = {}
        self.roster = {}
        self.files = FileNames()


_NO_LABELS = _NoLabels()
