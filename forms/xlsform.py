"""XLSForm workbooks (survey / choices / settings sheets) <-> the raw stage and the typed model.

Lossless for everything our format holds: yaml -> xlsx -> yaml -> xlsx gives identical workbooks.
Real XLSForms made for ODK or KoboToolbox import when they use what we support; anything else is an
error naming sheet, row, column and the feature, and nothing is written.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

from forms.cells import SafeCells
from forms.errors import FormDefinitionError, FormError, Location
from forms.identifiers import FORM_ID
from forms.loader import DEFAULT_REFERENCES, NAME_RE, build_form
from forms.model import Field, FormDef
from forms.safe_xlsx import XLSFORM_LIMITS, open_workbook, sheet_rows
from forms.serialize import flag_value, type_text
from forms.yaml_io import LOC

# Multilingual columns: base name -> the model attribute it fills.
TEXT_COLUMNS = ("label", "hint", "required_message", "constraint_message")
PLAIN_COLUMNS = (
    "required",
    "constraint",
    "relevant",
    "calculation",
    "default",
    "choice_filter",
    "appearance",
    "read_only",
    "min_count",
    "max_count",
)
COLUMN_ALIASES = {
    "constraint message": "constraint_message",
    "jr:constraintmsg": "constraint_message",
    "required message": "required_message",
    "jr:requiredmsg": "required_message",
    "choice filter": "choice_filter",
    "read only": "read_only",
    "readonly": "read_only",
    "list name": "list_name",
    "form title": "form_title",
    "form id": "form_id",
    "default language": "default_language",
    "repeat count": "repeat_count",
    "instance name": "instance_name",
    "requiredmsg": "required_message",
    "constraintmsg": "constraint_message",
}
# Older XLSForms spell some columns as the XForm attribute they become (pyxform reads these too).
for _sep in ("::", ":"):
    COLUMN_ALIASES.update(
        {
            f"bind{_sep}relevant": "relevant",
            f"bind{_sep}constraint": "constraint",
            f"bind{_sep}required": "required",
            f"bind{_sep}calculate": "calculation",
            f"bind{_sep}readonly": "read_only",
            f"bind{_sep}jr:constraintmsg": "constraint_message",
            f"bind{_sep}jr:requiredmsg": "required_message",
            f"control{_sep}appearance": "appearance",
        }
    )
# Columns that change what a form collects or how: we hold none of them, so they must not be dropped.
UNSUPPORTED_COLUMNS = {
    "parameters": "parameters",
    "trigger": "trigger",
    "bind": "bind:: attributes",
    "body": "body:: attributes",
    "instance": "instance:: attributes",
    "guidance_hint": "guidance_hint",
    "label_field": "label_field",
}
# Media shown with a question or a choice: we show none, and what is collected does not change, so the
# column is ignored with a warning.
MEDIA_COLUMNS = frozenset({"media", "image", "big-image", "audio", "video"})
# Language names that XLSForm authors write in column headers (`label:English`, `label::Chinese`).
LANGUAGE_NAMES = {
    "english": "en",
    "chinese": "zh",
    "中文": "zh",
    "汉语": "zh",
    "英文": "en",
    "英语": "en",
    "french": "fr",
    "français": "fr",
    "spanish": "es",
    "español": "es",
    "portuguese": "pt",
    "arabic": "ar",
    "russian": "ru",
    "swahili": "sw",
    "hindi": "hi",
    "tibetan": "bo",
    "uyghur": "ug",
    "mongolian": "mn",
}
_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
ACKNOWLEDGE_LIST = "acknowledge"
# Columns whose text may hold ${name} references (renamed along with a field).
_REF_COLUMNS = (
    "relevant",
    "constraint",
    "calculation",
    "choice_filter",
    "required",
    "default",
    "read_only",
)
# Metadata rows ODK fills in by itself; our records carry their own timestamps and device, so they are dropped.
METADATA_TYPES = frozenset(
    {
        "start",
        "end",
        "today",
        "deviceid",
        "subscriberid",
        "simserial",
        "phonenumber",
        "username",
        "email",
        "audit",
        "start-geopoint",
        "background-geopoint",
    }
)
SUPPORTED_SETTINGS = frozenset(
    {
        "form_id",
        "version",
        "form_title",
        "period",
        "period_field",
        "sensitive",
        "default_language",
        "reference_value",
        "reference_label",
    }
)
SUPPORTED_SUFFIXES = (".xlsx", ".xlsm", ".xls", ".csv")
_LANG_IN_PARENS = re.compile(r"\(([A-Za-z]{2,3}(?:[-_][A-Za-z0-9]+)?)\)\s*$")


@dataclass
class XlsformResult:
    form: FormDef
    warnings: list[str] = field(default_factory=list)


# -- writing ----------------------------------------------------------------------------------------


def _survey_rows(fields: Iterable[Field]) -> list[Field | str]:
    rows: list[Field | str] = []
    for f in fields:
        rows.append(f)
        if f.children:
            rows.extend(_survey_rows(f.children))
            rows.append(f"end_{f.type.value}")
    return rows


def _cell_of(f: Field, column: str, lang: str | None) -> Any:
    if lang is not None:
        text = getattr(f, column)
        return text.get(lang, fallback=False) or None
    if column in ("required", "read_only"):
        value = flag_value(getattr(f, column))
        return "yes" if value is True else (None if value is False else value)
    if column == "constraint" and f.constraint is None:
        return repeat_bounds_constraint(f)
    if column in ("constraint", "relevant", "calculation", "choice_filter"):
        expr = getattr(f, column)
        return expr.source if expr is not None else None
    return getattr(f, column)


def repeat_bounds_constraint(f: Field) -> str | None:
    """ODK has no min_count/max_count: a repeat's bounds are also written as the equivalent constraint on
    the repeat row (pyxform puts it on the repeat's bind), so the meaning travels into the XForm. Our own
    min_count/max_count columns stay beside it; on import a constraint equal to this text is folded back."""
    parts = []
    if f.min_count is not None:
        parts.append(f"count(${{{f.name}}}) >= {f.min_count}")
    if f.max_count is not None:
        parts.append(f"count(${{{f.name}}}) <= {f.max_count}")
    return " and ".join(parts) or None


_BOUND_RE = re.compile(r"count\(\$\{(?P<name>[^}]+)\}\)\s*(?P<op>>=|<=)\s*(?P<n>\d+)")


def parse_repeat_bounds(name: str, constraint: str) -> dict[str, str] | None:
    """min_count/max_count from a repeat constraint of the form written by repeat_bounds_constraint
    (`count(${r}) >= 1`, `... and count(${r}) <= 5`); None when it says anything else."""
    out: dict[str, str] = {}
    for part in re.split(r"\s+and\s+", constraint.strip()):
        m = _BOUND_RE.fullmatch(part.strip())
        if m is None or m["name"] != name:
            return None
        key = "min_count" if m["op"] == ">=" else "max_count"
        if key in out:
            return None
        out[key] = m["n"]
    return out or None


def export_warnings(form: FormDef) -> list[str]:
    """What ODK Collect / Kobo will not do as we do: said aloud by `to-xlsform`, never dropped silently."""
    out = []
    for f in _survey_rows(form.fields):
        if isinstance(f, Field) and (bounds := repeat_bounds_constraint(f)) is not None:
            out.append(
                f"重复组“{f.name}”的数量限制写成了约束 `{bounds}`（另保留 min_count/max_count 列）；"
                f"ODK Collect 与 Kobo 不强制重复组的约束 / repeat '{f.name}': its bounds are written as the "
                f"constraint `{bounds}` (min_count/max_count columns kept too); ODK Collect and Kobo do not "
                f"enforce a constraint on a repeat"
            )
    return out


def _write_sheet(wb: Workbook, title: str, header: list[str], rows: list[list[Any]]) -> None:
    """Every cell through forms.cells: a label or expression starting with "=" stays text."""
    ws = wb.create_sheet(title)
    cells = SafeCells(ws, too_long="raise", escape=False)
    bold = Font(bold=True)
    ws.append([cells.header(h, font=bold) for h in header])
    for row in rows:
        ws.append(cells.row(row))
    ws.freeze_panes = "A2"
    for i, name in enumerate(header, start=1):
        longest = max([len(str(name)), *(len(str(r[i - 1])) for r in rows if r[i - 1] is not None)])
        ws.column_dimensions[get_column_letter(i)].width = min(max(10, longest * 1.3), 60)


def to_workbook(form: FormDef) -> Workbook:
    langs = form.languages()
    default = form.settings.default_language
    survey = _survey_rows(form.fields)
    fields = [r for r in survey if isinstance(r, Field)]
    columns: list[tuple[str, str | None]] = [("type", None), ("name", None)]
    for base in TEXT_COLUMNS:
        for lang in langs:
            if base == "label" or any(getattr(f, base).get(lang, fallback=False) for f in fields):
                columns.append((base, lang))
    for base in PLAIN_COLUMNS:
        if any(_cell_of(f, base, None) is not None for f in fields):
            columns.append((base, None))
    header = [base if lang is None else f"{base}::{lang}" for base, lang in columns]
    rows: list[list[Any]] = []
    for r in survey:
        if isinstance(r, str):
            rows.append([r, *([None] * (len(columns) - 1))])
            continue
        row: list[Any] = [type_text(r, xlsform=True), r.name]
        row.extend(_cell_of(r, base, lang) for base, lang in columns[2:])
        rows.append(row)

    wb = Workbook()
    wb.remove(wb.active)
    _write_sheet(wb, "survey", header, rows)

    extra_cols = sorted({k for cl in form.choices for c in cl.choices for k, _ in c.extra})
    choice_langs = [
        lang
        for lang in langs
        if any(c.label.get(lang, fallback=False) for cl in form.choices for c in cl.choices)
    ]
    choice_header = ["list_name", "name", *(f"label::{lang}" for lang in choice_langs), *extra_cols]
    choice_rows = [
        [
            cl.name,
            c.name,
            *(c.label.get(lang, fallback=False) or None for lang in choice_langs),
            *(c.column(k) or None for k in extra_cols),
        ]
        for cl in form.choices
        for c in cl.choices
    ]
    _write_sheet(wb, "choices", choice_header, choice_rows)

    s = form.settings
    settings: list[tuple[str, Any]] = [
        ("form_id", s.form_id),
        ("version", s.version),
        ("form_title", s.title.get(default, fallback=False) or None),
    ]
    # pyxform's form_title is one string (a `form_title::en` column crashes it): the other languages'
    # titles go in `form_title_<lang>` columns, which pyxform ignores and we read back.
    settings += [
        (f"form_title_{lang}", s.title.get(lang, fallback=False) or None)
        for lang in langs
        if lang != default and s.title.get(lang, fallback=False)
    ]
    settings += [
        ("default_language", default),
        ("period", s.period.value),
        ("period_field", s.period_field),
        ("sensitive", "yes" if s.sensitive else "no"),
        ("reference_value", s.reference_value),
        ("reference_label", s.reference_label),
    ]
    settings = [(k, v) for k, v in settings if v is not None]
    _write_sheet(wb, "settings", [k for k, _ in settings], [[v for _, v in settings]])
    return wb


def write_xlsform(form: FormDef, path: Path | str) -> None:
    """Write atomically: a temporary file renamed over the target, so a failure leaves nothing half-written."""
    target = Path(path)
    tmp = target.with_name(target.name + ".tmp")
    wb = to_workbook(form)
    # A fixed creation time keeps workbooks of the same form comparable part by part (openpyxl
    # always stamps `modified` with the time of saving).
    wb.properties.created = dt.datetime(2000, 1, 1)
    wb.save(tmp)
    tmp.replace(target)


# -- reading ----------------------------------------------------------------------------------------


def _cell_text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    text = str(value).strip()
    return text or None


def language_code(name: str) -> str:
    """`en`, `English`, `English (en)`, `Chinese` -> a language code where one is known; else the name."""
    name = name.strip()
    m = _LANG_IN_PARENS.search(name)
    if m:
        return m.group(1)
    return LANGUAGE_NAMES.get(name.lower(), name)


def _split_header(raw: Any, default_lang: str) -> tuple[str, str | None] | None:
    """A header -> (column, language). Text and media columns take a language after `::` or, as many
    workbooks write it, a single `:` (`label:English`); `jr:constraintMsg` is an alias, not a language."""
    text = _cell_text(raw)
    if text is None:
        return None
    lowered = text.strip().lower()
    if lowered in COLUMN_ALIASES:
        return COLUMN_ALIASES[lowered], (
            default_lang if COLUMN_ALIASES[lowered] in (*TEXT_COLUMNS, "form_title") else None
        )
    if "::" in text:
        base, _, lang = text.partition("::")
    else:
        base, _, lang = text.partition(":")
        probe = COLUMN_ALIASES.get(base.strip().lower(), base.strip().lower()).replace(" ", "_")
        if probe not in (*TEXT_COLUMNS, "form_title", *MEDIA_COLUMNS):
            base, lang = text, ""
    base = base.strip().lower()
    base = COLUMN_ALIASES.get(base, base).replace(" ", "_")
    if base in (*TEXT_COLUMNS, "form_title"):
        return base, (language_code(lang) if lang.strip() else default_lang)
    if base in MEDIA_COLUMNS or base.startswith("media::"):
        return "media:" + base, None
    if lang:
        return base + "::" + lang.strip(), None
    return base, None


@dataclass
class _Sheet:
    title: str
    rows: list[tuple[Any, ...]]


class _Reader:
    def __init__(self, path: Path, references: frozenset[str]) -> None:
        self.path = path
        self.file = str(path)
        self.references = references
        self.errors: list[FormError] = []
        self.warnings: list[str] = []
        self.media_warned: set[tuple[str, str]] = set()
        self.acknowledge = False
        self.other_lists: set[str] = set()

    def media(self, sheet: str, column: str) -> None:
        if (sheet, column) not in self.media_warned:
            self.media_warned.add((sheet, column))
            self.warnings.append(
                f"{self.file}: 工作表 {sheet} 的媒体列“{column}”已忽略（不显示图片、音频、视频）/ "
                f"sheet {sheet}: media column '{column}' ignored (images, audio and video are not shown)"
            )

    def error(self, code: str, loc: Location, **params: object) -> None:
        self.errors.append(FormError.make(code, loc, **params))

    def rows(self, ws: _Sheet) -> tuple[list[Any], list[tuple[int, list[Any]]]]:
        all_rows = ws.rows
        if not all_rows:
            return [], []
        header = list(all_rows[0])
        body = [
            (i, list(r))
            for i, r in enumerate(all_rows[1:], start=2)
            if any(_cell_text(c) is not None for c in r)
        ]
        return header, body

    def unsupported_column(self, base: str) -> str | None:
        root = base.split("::")[0].split(":")[0]
        if root in UNSUPPORTED_COLUMNS:
            return UNSUPPORTED_COLUMNS[root]
        return None

    def settings(self, ws: _Sheet | None, detected_lang: str) -> dict[str, Any]:
        raw: dict[str, Any] = {}
        stem = re.sub(r"[^A-Za-z0-9_]", "_", self.path.stem).strip("_") or "form"
        if not NAME_RE.match(stem):
            stem = "form_" + stem
        stem = stem[: FORM_ID.max_length]
        if ws is None:
            self.warnings.append(
                f"{self.file}: 没有 settings 工作表，表单编号取文件名“{stem}”，版本为 1 / "
                f"no settings sheet: form_id taken from the file name '{stem}', version 1"
            )
            raw.update(form_id=stem, version="1", title={detected_lang: stem})
            raw["default_language"] = detected_lang
            raw[LOC] = Location(file=self.file, sheet="settings")
            return raw
        header, body = self.rows(ws)
        loc = Location(file=self.file, sheet=ws.title, line=2)
        values = body[0][1] if body else []
        cells = {}
        for col, h in enumerate(header):
            name = _cell_text(h)
            value = _cell_text(values[col]) if col < len(values) else None
            if name is not None and value is not None:
                cells[name] = value
        if "default_language" in cells:
            cells["default_language"] = language_code(cells["default_language"])
        default_lang = cells.get("default_language", detected_lang)
        raw["default_language"] = default_lang
        title: dict[str, str] = {}
        for name, value in cells.items():
            split = _split_header(name, default_lang)
            assert split is not None
            base, lang = split
            if base == "form_title":
                title[lang or default_lang] = value
            elif base == "title":
                title[default_lang] = value
            elif base.startswith("form_title_") and len(base) > len("form_title_"):
                title[base.removeprefix("form_title_")] = value
            elif base in SUPPORTED_SETTINGS:
                raw[base] = value
            elif base == "instance_name":
                self.warnings.append(
                    f"{loc}: settings 的 instance_name 已忽略（记录按表单与上报周期命名）/ settings "
                    f"instance_name ignored (records are named by their form and period)"
                )
            elif base in (
                "style",
                "public_key",
                "submission_url",
                "allow_choice_duplicates",
                "namespaces",
                "auto_send",
                "auto_delete",
                "clean_text_values",
            ):
                self.error(
                    "unsupported_feature", loc.with_(column=name), feature=f"settings {name}"
                )
            else:
                self.error("unknown_key", loc.with_(column=name), key=name)
        raw.setdefault("form_id", stem)
        if "version" not in raw:
            raw["version"] = "1"
            self.warnings.append(
                f"{self.file}: settings 中没有 version，取 1 / no version in settings: using 1"
            )
        raw["title"] = title or {default_lang: raw["form_id"]}
        raw[LOC] = loc
        return raw

    def choices(self, ws: _Sheet | None, default_lang: str) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if ws is None:
            return out
        header, body = self.rows(ws)
        cols = [_split_header(h, default_lang) for h in header]
        out[LOC] = Location(file=self.file, sheet=ws.title, line=1)
        for line, row in body:
            loc = Location(file=self.file, sheet=ws.title, line=line)
            item: dict[str, Any] = {LOC: loc}
            list_name = None
            for col, value in zip(cols, row, strict=False):
                text = _cell_text(value)
                if col is None or text is None:
                    continue
                base, lang = col
                if base.startswith("$") or base.startswith("_"):
                    continue
                if base.startswith("media:"):
                    self.media(ws.title, base.removeprefix("media:"))
                elif base == "list_name":
                    list_name = text
                elif base == "label":
                    item.setdefault("label", {})[lang] = text
                elif base in ("hint", "required_message", "constraint_message"):
                    self.error("unknown_key", loc.with_(column=base), key=base)
                elif (feature := self.unsupported_column(base)) is not None:
                    self.error("unsupported_feature", loc.with_(column=base), feature=feature)
                else:
                    item[base] = text
            if list_name is None:
                self.error("missing_key", loc.with_(column="list_name"), key="list_name")
                continue
            out.setdefault(list_name, []).append(item)
        return out

    def survey(self, ws: _Sheet, default_lang: str) -> list[Any]:
        header, body = self.rows(ws)
        cols = [_split_header(h, default_lang) for h in header]
        top: list[Any] = []
        stack: list[tuple[str, dict[str, Any], Location]] = []  # (kind, row, where it began)
        for line, values in body:
            loc = Location(file=self.file, sheet=ws.title, line=line)
            row: dict[str, Any] = {LOC: loc}
            for col, value in zip(cols, values, strict=False):
                text = _cell_text(value)
                if col is None or text is None:
                    continue
                base, lang = col
                if base.startswith("$") or base.startswith("_"):
                    continue
                if base.startswith("media:"):
                    self.media(ws.title, base.removeprefix("media:"))
                elif base in TEXT_COLUMNS:
                    row.setdefault(base, {})[lang] = text
                elif base in ("type", "name", "repeat_count", *PLAIN_COLUMNS):
                    row[base] = text
                elif (feature := self.unsupported_column(base)) is not None:
                    self.error("unsupported_feature", loc.with_(column=base), feature=feature)
                else:
                    self.error("unknown_key", loc.with_(column=base), key=base)
            type_raw = _normal_type(row.get("type", ""))
            if type_raw:
                row["type"] = type_raw
            kind = " ".join(type_raw.lower().split()).replace(" ", "_")
            if "repeat_count" in row:
                self.repeat_count(row, kind, loc)
            container = stack[-1][1]["children"] if stack else top
            if kind == "begin_repeat" and "constraint" in row:
                self.repeat_bounds(row, loc)
            if kind in ("begin_group", "begin_repeat"):
                row["children"] = []
                container.append(row)
                stack.append((kind.removeprefix("begin_"), row, loc))
            elif kind in ("end_group", "end_repeat"):
                which = kind.removeprefix("end_")
                if not stack or stack[-1][0] != which:
                    opened = f"{stack[-1][0]} at row {stack[-1][2].line}" if stack else "nothing"
                    self.error(
                        "unmatched_group",
                        loc.with_(column="type"),
                        reason=f"{type_raw} closes {opened}",
                    )
                else:
                    stack.pop()
            elif kind == "acknowledge":
                row["type"] = f"select_one {ACKNOWLEDGE_LIST}"
                self.acknowledge = True
                self.warnings.append(
                    f"{loc}: acknowledge 题改为只有一个选项“OK”（确认）的单选题 / acknowledge row "
                    f"becomes a select_one with the single choice 'OK'"
                )
                container.append(row)
            elif (
                (words := type_raw.split())[-1:] == ["or_other"]
                and len(words) == 3
                and words[0].lower() in ("select_one", "select_multiple")
            ):
                self.or_other(row, words, loc, container, default_lang)
            elif kind in METADATA_TYPES:
                self.warnings.append(
                    f"{loc}: 元数据题“{type_raw}”已忽略（系统自动记录时间与设备）/ "
                    f"metadata row '{type_raw}' dropped (records carry their own times and device)"
                )
            elif self.unsupported_type(type_raw, loc):
                continue
            else:
                container.append(row)
        for kind, _, where in stack:
            self.error(
                "unmatched_group",
                where.with_(column="type"),
                reason=f"begin_{kind} has no end_{kind}",
            )
        return top

    def or_other(
        self, row: dict[str, Any], words: list[str], loc: Location, container: list[Any], lang: str
    ) -> None:
        """`select_one X or_other`, as ODK builds it: the list gains a choice `other`, and a text question
        `<name>_other` follows, asked when `other` is chosen. Said in a warning."""
        head, list_name = words[0].lower(), words[1]
        name = str(row.get("name", ""))
        row["type"] = f"{head} {list_name}"
        self.other_lists.add(list_name)
        container.append(row)
        container.append(
            {
                LOC: loc,
                "type": "text",
                "name": f"{name}_other",
                "label": {lang: "请注明其他" if lang == "zh" else "Specify other."},
                "relevant": f"selected(${{{name}}}, 'other')",
            }
        )
        self.warnings.append(
            f"{loc}: or_other：选项列表“{list_name}”加上“other”（其他），并在其后加文字题“{name}_other” / "
            f"or_other: list '{list_name}' gains the choice 'other' and the text question '{name}_other' "
            f"follows (asked when 'other' is chosen), as ODK builds it"
        )

    def rename_fields(self, top: list[Any]) -> None:
        """Names ODK allows and we do not (`hh-size`, `_note`): renamed to `hh_size`, `note`, every
        `${...}` to them rewritten, and a warning for each."""
        rows: list[dict[str, Any]] = []

        def collect(items: list[Any]) -> None:
            for r in items:
                rows.append(r)
                collect(r.get("children", []))

        collect(top)
        names = {str(r.get("name")) for r in rows if r.get("name")}
        renames: dict[str, str] = {}
        for r in rows:
            name = str(r.get("name") or "")
            if (
                not name
                or NAME_RE.match(name)
                or not re.fullmatch(r"[A-Za-z_][\w.-]*", name, re.ASCII)
            ):
                continue
            base = re.sub(r"[.-]", "_", name).lstrip("_") or "field"
            if not base[0].isalpha():
                base = "f_" + base
            new, n = base, 2
            while new in names:
                new, n = f"{base}_{n}", n + 1
            names.add(new)
            renames[name] = new
            r["name"] = new
            self.warnings.append(
                f"{r[LOC]}: 名称“{name}”改为“{new}”（只用字母、数字和下划线，字母开头），引用一并改写 / "
                f"name '{name}' renamed '{new}' (letters, digits and '_', starting with a letter); "
                f"references rewritten"
            )
        if not renames:
            return
        pattern = re.compile(r"\$\{\s*(" + "|".join(map(re.escape, renames)) + r")\s*\}")

        def fix(text: str) -> str:
            return pattern.sub(lambda m: "${" + renames[m.group(1)] + "}", text)

        for r in rows:
            for key in _REF_COLUMNS:
                if isinstance(r.get(key), str):
                    r[key] = fix(r[key])
            for key in TEXT_COLUMNS:
                if isinstance(r.get(key), dict):
                    r[key] = {k: fix(v) for k, v in r[key].items()}

    def repeat_count(self, row: dict[str, Any], kind: str, loc: Location) -> None:
        """A fixed repeat_count N is min_count = max_count = N; one computed from answers we cannot hold."""
        count = row.pop("repeat_count")
        if kind != "begin_repeat":
            self.error("unknown_key", loc.with_(column="repeat_count"), key="repeat_count")
        elif not re.fullmatch(r"\d+", count):
            self.error(
                "unsupported_feature",
                loc.with_(column="repeat_count"),
                feature="repeat_count computed from answers (only a fixed number)",
            )
        else:
            for key in ("min_count", "max_count"):
                if row.get(key) not in (None, count):
                    self.error(
                        "invalid_value",
                        loc.with_(column=key),
                        key=key,
                        value=row[key],
                        reason=f"repeat_count says {count} / 与 repeat_count {count} 不一致",
                    )
                row[key] = count

    def repeat_bounds(self, row: dict[str, Any], loc: Location) -> None:
        """A repeat's `count(${r}) >= N` constraint (ours, or an ODK author's) is its min_count/max_count."""
        bounds = parse_repeat_bounds(str(row.get("name", "")), row["constraint"])
        if bounds is None:
            self.error(
                "unsupported_feature",
                loc.with_(column="constraint"),
                feature="constraint on a repeat other than count(${repeat}) >= N / <= M",
            )
            del row["constraint"]
            return
        for key, value in bounds.items():
            if row.get(key) not in (None, value):
                self.error(
                    "invalid_value",
                    loc.with_(column=key),
                    key=key,
                    value=row[key],
                    reason=f"the repeat's constraint says {value} / 与重复组约束中的 {value} 不一致",
                )
            row[key] = value
        del row["constraint"]

    def unsupported_type(self, type_raw: str, loc: Location) -> bool:
        words = type_raw.split()
        if not words:
            return False
        head = words[0].lower()
        feature = None
        if head in ("select_one", "select_multiple") and len(words) > 2:
            feature = f"type '{type_raw}' (or_other)"
        elif head in ("select_one_from_file", "select_multiple_from_file") and len(words) == 2:
            if words[1].rsplit(".", 1)[0] not in self.references:
                feature = f"type '{type_raw}' (external choice file; only the teacher roster is supported)"
        elif head in (
            "geopoint",
            "geotrace",
            "geoshape",
            "audio",
            "video",
            "barcode",
            "range",
            "rank",
            "trigger",
            "hidden",
            "xml-external",
            "csv-external",
            "background-audio",
            "select_one_external",
            "select_multiple_external",
            "begin_loop",
            "begin loop",
            "osm",
            "signature",
            "start-geopoint",
        ):
            feature = f"type '{type_raw}'"
        if feature is not None:
            self.error("unsupported_feature", loc.with_(column="type"), feature=feature)
            return True
        return False


def survey_ws_loc(path: Path) -> Location:
    return Location(file=str(path), sheet="choices")


def _find_sheet(sheets: list[_Sheet], name: str) -> _Sheet | None:
    for ws in sheets:
        if ws.title.strip().lower() == name:
            return ws
    return None


def _normal_type(text: str) -> str:
    """`select one colors`, `select one from colors` (older XLSForms) -> `select_one colors` (and the multiple
    and from-file forms), as pyxform reads them."""
    return re.sub(
        r"^\s*select[\s_]+(one|multiple)(?:[\s_]+(from[\s_]+file|from))?(?=\s)",
        lambda m: (
            "select_" + m.group(1) + ("_from_file" if (m.group(2) or "").endswith("file") else "")
        ),
        text,
        flags=re.IGNORECASE,
    ).strip()


def _xlsx_sheets(path: Path) -> list[_Sheet]:
    with open_workbook(path, XLSFORM_LIMITS) as wb:
        return [
            _Sheet(str(ws.title), list(sheet_rows(ws, str(path), XLSFORM_LIMITS)))
            for ws in wb.worksheets
            if str(ws.title).strip().lower() in ("survey", "choices", "settings")
        ]


MAX_XLS_BYTES = 16 * 1024 * 1024
MAX_CSV_BYTES = 4 * 1024 * 1024


def _unreadable(path: Path, reason: object) -> FormDefinitionError:
    return FormDefinitionError(
        [FormError.make("xlsx_unreadable", Location(file=str(path)), reason=reason)]
    )


def _limited_rows(path: Path, title: str, rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """The safety limits of an .xlsx, for the rows of an .xls or .csv sheet (trailing empty rows dropped)."""
    while rows and all(_cell_text(c) is None for c in rows[-1]):
        rows.pop()
    if len(rows) > XLSFORM_LIMITS.max_rows:
        raise FormDefinitionError(
            [
                FormError.make(
                    "xlsx_too_many_rows",
                    Location(file=str(path), sheet=title),
                    sheet=title,
                    limit=XLSFORM_LIMITS.max_rows,
                )
            ]
        )
    return [tuple(r[: XLSFORM_LIMITS.max_columns]) for r in rows]


def _xls_sheets(path: Path) -> list[_Sheet]:
    """A legacy Excel 97-2003 workbook, read with xlrd (what pyxform uses for .xls)."""
    import xlrd

    if path.stat().st_size > MAX_XLS_BYTES:
        raise FormDefinitionError(
            [
                FormError.make(
                    "file_too_large",
                    Location(file=str(path)),
                    size=path.stat().st_size,
                    limit=MAX_XLS_BYTES,
                )
            ]
        )
    try:
        book = xlrd.open_workbook(str(path), on_demand=True)
    except Exception as exc:  # xlrd raises many kinds on a damaged file
        raise _unreadable(path, f"{type(exc).__name__}: {exc}") from None
    try:
        out = []
        for name in book.sheet_names():
            if name.strip().lower() not in ("survey", "choices", "settings"):
                continue
            sheet = book.sheet_by_name(name)
            if sheet.nrows > XLSFORM_LIMITS.max_rows * 2:
                _limited_rows(path, name, [("x",)] * (XLSFORM_LIMITS.max_rows + 1))
            rows = [tuple(sheet.row_values(i)) for i in range(sheet.nrows)]
            out.append(_Sheet(name, _limited_rows(path, name, rows)))
        return out
    except FormDefinitionError:
        raise
    except Exception as exc:
        raise _unreadable(path, f"{type(exc).__name__}: {exc}") from None
    finally:
        book.release_resources()


def _csv_sheets(path: Path) -> list[_Sheet]:
    """pyxform's CSV XLSForm: a row whose first cell names a sheet (survey, choices, settings) starts it;
    the rows below, first cell empty, are that sheet's rows (its header first, or on the naming row)."""
    if path.stat().st_size > MAX_CSV_BYTES:
        raise FormDefinitionError(
            [
                FormError.make(
                    "file_too_large",
                    Location(file=str(path)),
                    size=path.stat().st_size,
                    limit=MAX_CSV_BYTES,
                )
            ]
        )
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise _unreadable(path, exc) from None
    sheets: dict[str, _Sheet] = {}
    current: _Sheet | None = None
    for row in csv.reader(io.StringIO(text)):
        if not row:
            continue
        if row[0].strip():
            name = row[0].strip()
            current = sheets.setdefault(name.lower(), _Sheet(name, []))
            if any(c.strip() for c in row[1:]):
                current.rows.append(tuple(row[1:]))
        elif current is not None:
            current.rows.append(tuple(row[1:]))
    return [_Sheet(s.title, _limited_rows(path, s.title, s.rows)) for s in sheets.values()]


def _sheets(path: Path) -> list[_Sheet]:
    suffix = path.suffix.lower()
    if suffix == ".xls":
        return _xls_sheets(path)
    if suffix == ".csv":
        return _csv_sheets(path)
    return _xlsx_sheets(path)


def _detect_language(sheets: list[_Sheet]) -> str:
    """The language of unsuffixed text columns when settings give no default_language: zh when their text
    holds Chinese characters, else en."""
    for ws in sheets:
        if ws.title.strip().lower() not in ("survey", "choices") or not ws.rows:
            continue
        columns = [
            i
            for i, h in enumerate(ws.rows[0])
            if (split := _split_header(h, "?")) is not None and split[1] == "?"
        ]
        for row in ws.rows[1:]:
            for i in columns:
                if i < len(row) and (text := _cell_text(row[i])) and _CJK.search(text):
                    return "zh"
    return "en"


def _has_unsuffixed_text(sheets: list[_Sheet]) -> bool:
    for ws in sheets:
        if (
            ws.title.strip().lower() in ("survey", "choices")
            and ws.rows
            and any((sp := _split_header(h, "?")) is not None and sp[1] == "?" for h in ws.rows[0])
        ):
            return True
    return False


def read_raw(
    path: Path | str, *, references: Iterable[str] = DEFAULT_REFERENCES
) -> tuple[dict[str, Any], list[str]]:
    """The raw stage of an XLSForm (.xlsx within XLSFORM_LIMITS, refused before it is parsed when over
    them: forms.safe_xlsx; or .xls, or pyxform's .csv)."""
    path = Path(path)
    reader = _Reader(path, frozenset(references))
    sheets = _sheets(path)
    survey_ws = _find_sheet(sheets, "survey")
    if survey_ws is None:
        raise FormDefinitionError(
            [FormError.make("missing_sheet", Location(file=str(path)), sheet="survey")]
        )
    settings_ws = _find_sheet(sheets, "settings")
    detected = _detect_language(sheets)
    settings = reader.settings(settings_ws, detected)
    lang = str(settings.get("default_language", detected))
    given = settings_ws is not None and any(
        (sp := _split_header(h, "")) is not None and sp[0] == "default_language"
        for h in (settings_ws.rows[0] if settings_ws.rows else ())
    )
    if not given and _has_unsuffixed_text(sheets):
        reader.warnings.append(
            f"{path}: settings 中没有 default_language，未注明语言的文字列按内容定为 {lang} "
            f"（{'含' if lang == 'zh' else '不含'}汉字）；如不对，请在 settings 中写 default_language / "
            f"no default_language in settings: text columns without a language are taken as '{lang}' "
            f"(they {'hold' if lang == 'zh' else 'hold no'} Chinese characters); set default_language "
            f"if that is wrong"
        )
    survey = reader.survey(survey_ws, lang)
    reader.rename_fields(survey)
    choices = reader.choices(_find_sheet(sheets, "choices"), lang)
    for list_name in sorted(reader.other_lists & set(choices)):
        items = choices[list_name]
        if not any(str(c.get("name")) == "other" for c in items):
            items.append(
                {
                    "name": "other",
                    "label": {lang: "其他" if lang == "zh" else "Other"},
                    LOC: survey_ws_loc(path),
                }
            )
    if reader.acknowledge and ACKNOWLEDGE_LIST not in choices:
        choices[ACKNOWLEDGE_LIST] = [
            {
                "name": "OK",
                "label": {lang: "确认" if lang == "zh" else "OK"},
                LOC: survey_ws_loc(path),
            }
        ]
    raw = {
        "settings": settings,
        "survey": survey,
        "choices": choices,
        LOC: Location(file=str(path)),
    }
    if reader.errors:
        raise FormDefinitionError(reader.errors)
    return raw, reader.warnings


def read_xlsform(
    path: Path | str, *, references: Iterable[str] = DEFAULT_REFERENCES
) -> XlsformResult:
    """Read an XLSForm workbook; FormDefinitionError lists every problem with sheet, row and column."""
    raw, warnings = read_raw(path, references=references)
    if not [k for k in raw["choices"] if k != LOC]:
        raw["choices"] = None
    form = build_form(raw, file=str(path), references=references)
    return XlsformResult(form, warnings)
