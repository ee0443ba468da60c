"""The raw dict stage -> the typed model, collecting every error with its location.

Both readers (YAML and XLSForm) produce the same raw shape:
    {"settings": {...}, "survey": [row, ...], "choices": {list_name: [choice, ...]}}
where every dict carries its Location under LOC and a group/repeat row holds its rows under "children".
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from forms.errors import FormDefinitionError, FormError, Location
from forms.expr.ast import Call, Column, Current, Expr, Ref, Str, walk
from forms.expr.functions import FUNCTIONS, compile_regex
from forms.expr.parser import ExpressionSyntaxError, parse
from forms.graph import find_cycle
from forms.identifiers import FORM_ID, FORM_VERSION, error_params
from forms.model import (
    Choice,
    ChoiceList,
    Expression,
    Field,
    FieldType,
    FormDef,
    Period,
    Settings,
)
from forms.text import Text
from forms.yaml_io import LOC, read_yaml

NAME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
# A default such as `today()` or `${other} + 1` is computed when a record starts, not kept as text (pyxform
# tells them apart the same way: a field reference or a function call).
_DYNAMIC_DEFAULT = re.compile(r"\$\{|[A-Za-z][\w:-]*\s*\(")


def is_dynamic_default(text: str) -> bool:
    return _DYNAMIC_DEFAULT.search(text) is not None


DEFAULT_REFERENCES: frozenset[str] = frozenset({"teachers"})

TEXT_KEYS = ("label", "hint", "required_message", "constraint_message")
EXPR_KEYS = ("constraint", "relevant", "calculation", "choice_filter")
FLAG_KEYS = ("required", "read_only")
FIELD_KEYS = frozenset(
    {
        "type",
        "name",
        *TEXT_KEYS,
        *EXPR_KEYS,
        *FLAG_KEYS,
        "default",
        "appearance",
        "children",
        "min_count",
        "max_count",
    }
)
SETTINGS_KEYS = frozenset(
    {
        "form_id",
        "version",
        "title",
        "period",
        "period_field",
        "sensitive",
        "default_language",
        "reference_value",
        "reference_label",
    }
)
TOP_KEYS = frozenset({"settings", "survey", "choices"})
TYPE_ALIASES = {
    "begin_group": FieldType.GROUP,
    "begin group": FieldType.GROUP,
    "begin_repeat": FieldType.REPEAT,
    "begin repeat": FieldType.REPEAT,
    "datetime": FieldType.DATETIME,
}
TRUE_WORDS = frozenset({"yes", "true", "true()", "1"})
FALSE_WORDS = frozenset({"no", "false", "false()", "0", ""})


def _loc(raw: Mapping[str, Any], default: Location) -> Location:
    loc = raw.get(LOC)
    return loc if isinstance(loc, Location) else default


def _keys(raw: Mapping[str, Any]) -> Iterable[str]:
    return (k for k in raw if k != LOC)


class _Builder:
    def __init__(self, file: str, references: frozenset[str]) -> None:
        self.file = file
        self.references = references
        self.errors: list[FormError] = []
        self.root = Location(file=file)
        self.default_language = "zh"
        self.check_identifiers = True  # False: a definition published before forms/identifiers.py
        self.names: dict[str, Location] = {}
        # (field location, column, parsed tree, field name) for the checks that need all names
        self.expressions: list[tuple[Location, str, Expr, str]] = []

    def error(self, code: str, loc: Location, **params: object) -> None:
        self.errors.append(FormError.make(code, loc, **params))

    # -- pieces -------------------------------------------------------------------------------
    def text(self, value: Any, loc: Location, key: str) -> Text:
        if value is None or value == "":
            return Text()
        if isinstance(value, str | int | float) and not isinstance(value, bool):
            return Text.of({self.default_language: str(value)})
        if isinstance(value, Mapping):
            out: dict[str, str] = {}
            for lang in _keys(value):
                v = value[lang]
                if not isinstance(lang, str) or not isinstance(v, str | int | float | type(None)):
                    self.error(
                        "invalid_value",
                        loc.with_(column=key),
                        key=key,
                        value=v,
                        reason="expected text per language / 每种语言应为文字",
                    )
                    continue
                if v is not None:
                    out[lang] = str(v)
            return Text.of(out)
        self.error(
            "invalid_value",
            loc.with_(column=key),
            key=key,
            value=value,
            reason="expected text / 应为文字",
        )
        return Text()

    def expression(self, value: Any, loc: Location, key: str, field: str) -> Expression | None:
        if value is None or (isinstance(value, str) and not value.strip()):
            return None
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            self.error(
                "invalid_value",
                loc.with_(column=key),
                key=key,
                value=value,
                reason="expected an expression / 应为表达式",
            )
            return None
        source = str(value)
        try:
            tree = parse(source)
        except ExpressionSyntaxError as exc:
            self.error("expression_syntax", loc.with_(column=key), reason=f"{exc} in {source!r}")
            return None
        self.expressions.append((loc.with_(column=key), key, tree, field))
        return Expression(source, tree)

    def flag(self, value: Any, loc: Location, key: str, field: str) -> bool | Expression:
        if value is None or isinstance(value, bool):
            return bool(value)
        if isinstance(value, str) and value.strip().lower() in TRUE_WORDS:
            return True
        if isinstance(value, str) and value.strip().lower() in FALSE_WORDS:
            return False
        expr = self.expression(value, loc, key, field)
        return expr if expr is not None else False

    def count(self, value: Any, loc: Location, key: str) -> int | None:
        if value is None or value == "":
            return None
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            self.error(
                "invalid_value",
                loc.with_(column=key),
                key=key,
                value=value,
                reason="expected a whole number / 应为整数",
            )
            return None
        try:
            number = int(str(value).strip().removesuffix(".0"))
        except ValueError:
            number = -1
        if number < 0:
            self.error(
                "invalid_value",
                loc.with_(column=key),
                key=key,
                value=value,
                reason="expected a whole number >= 0 / 应为不小于 0 的整数",
            )
            return None
        return number

    # -- settings ----------------------------------------------------------------------------
    def settings(self, raw: Any) -> Settings | None:
        if not isinstance(raw, Mapping):
            self.error("missing_key", self.root, key="settings")
            return None
        loc = _loc(raw, self.root)
        for key in _keys(raw):
            if key not in SETTINGS_KEYS:
                self.error("unknown_key", loc.with_(column=key), key=key)
        lang = raw.get("default_language") or "zh"
        self.default_language = str(lang)
        values: dict[str, str] = {}
        for key in ("form_id", "version"):
            v = raw.get(key)
            if v is None or str(v).strip() == "" or isinstance(v, bool | Mapping | list):
                self.error("missing_key", loc.with_(column=key), key=key)
            else:
                values[key] = str(v).strip()
        for key, rule in (("form_id", FORM_ID), ("version", FORM_VERSION)):
            if key in values and self.check_identifiers and not rule.is_valid(values[key]):
                self.error(
                    "invalid_identifier", loc.with_(column=key), **error_params(rule, values[key])
                )
        title = self.text(raw.get("title"), loc, "title")
        if not title:
            self.error("missing_key", loc.with_(column="title"), key="title")
        period_raw = str(raw.get("period") or "none").strip()
        try:
            period = Period(period_raw)
        except ValueError:
            self.error(
                "invalid_value",
                loc.with_(column="period"),
                key="period",
                value=period_raw,
                reason="one of / 应为 " + ", ".join(p.value for p in Period),
            )
            period = Period.NONE
        sensitive = self.flag(raw.get("sensitive"), loc, "sensitive", "")
        if not isinstance(sensitive, bool):
            self.error(
                "invalid_value",
                loc.with_(column="sensitive"),
                key="sensitive",
                value=raw.get("sensitive"),
                reason="yes or no / 应为 yes 或 no",
            )
            sensitive = False

        def opt(key: str) -> str | None:
            v = raw.get(key)
            return str(v).strip() if v not in (None, "") else None

        if "form_id" not in values or "version" not in values:
            return None
        return Settings(
            form_id=values["form_id"],
            version=values["version"],
            title=title,
            period=period,
            period_field=opt("period_field"),
            sensitive=sensitive,
            default_language=self.default_language,
            reference_value=opt("reference_value"),
            reference_label=opt("reference_label"),
        )

    # -- choices -----------------------------------------------------------------------------
    def choices(self, raw: Any) -> tuple[ChoiceList, ...]:
        if raw is None:
            return ()
        if not isinstance(raw, Mapping):
            self.error(
                "bad_structure",
                self.root,
                reason="choices must map list names to lists / choices 应为选项列表的映射",
            )
            return ()
        loc = _loc(raw, self.root)
        lists: list[ChoiceList] = []
        for list_name in _keys(raw):
            items = raw[list_name]
            if not NAME_RE.match(str(list_name)):
                self.error("invalid_name", loc, name=list_name)
            if not isinstance(items, list) or not items:
                self.error(
                    "bad_structure",
                    loc.with_(column=str(list_name)),
                    reason=f"choice list {list_name!r} must be a non-empty list",
                )
                continue
            seen: set[str] = set()
            out: list[Choice] = []
            for item in items:
                if not isinstance(item, Mapping):
                    self.error(
                        "bad_structure", loc, reason=f"a choice of {list_name!r} is not a mapping"
                    )
                    continue
                iloc = _loc(item, loc)
                name = item.get("name")
                if name is None or str(name).strip() == "" or isinstance(name, bool):
                    self.error("missing_key", iloc.with_(column="name"), key="name")
                    continue
                name = str(name).strip()
                if name in seen:
                    self.error(
                        "duplicate_choice", iloc.with_(column="name"), list=list_name, name=name
                    )
                seen.add(name)
                if " " in name:
                    self.error(
                        "invalid_value",
                        iloc.with_(column="name"),
                        key="name",
                        value=name,
                        reason="a choice name cannot hold spaces / 选项名称不能含空格",
                    )
                extra = tuple(
                    sorted(
                        (str(k), str(v))
                        for k, v in item.items()
                        if k not in (LOC, "name", "label") and v not in (None, "")
                    )
                )
                out.append(Choice(name, self.text(item.get("label"), iloc, "label"), extra))
            lists.append(ChoiceList(str(list_name), tuple(out)))
        return tuple(lists)

    # -- survey ------------------------------------------------------------------------------
    def field_type(
        self, raw: Any, loc: Location
    ) -> tuple[FieldType, str | None, str | None] | None:
        if not isinstance(raw, str) or not raw.strip():
            self.error("missing_key", loc.with_(column="type"), key="type")
            return None
        words = raw.strip().split()
        head = words[0].lower() if words[0] != "dateTime" else "datetime"
        joined = " ".join(w.lower() for w in words)
        if joined in TYPE_ALIASES:
            return TYPE_ALIASES[joined], None, None
        if head in ("select_one", "select_multiple"):
            if len(words) != 2:
                self.error("unknown_type", loc.with_(column="type"), type=raw)
                return None
            return FieldType(head), words[1], None
        if head in ("select_one_from_file", "select_multiple_from_file"):
            if len(words) != 2:
                self.error("unknown_type", loc.with_(column="type"), type=raw)
                return None
            ref = words[1].rsplit(".", 1)[0]
            if ref not in self.references:
                self.error("unknown_reference", loc.with_(column="type"), list=words[1])
                return None
            return FieldType(head.removesuffix("_from_file")), None, ref
        if len(words) == 1:
            try:
                return FieldType(head), None, None
            except ValueError:
                pass
        self.error("unknown_type", loc.with_(column="type"), type=raw)
        return None

    def row(self, raw: Any, parent: Location, repeat_depth: int) -> Field | None:
        if not isinstance(raw, Mapping):
            self.error(
                "bad_structure", parent, reason="each survey row must be a mapping / 每一行应为映射"
            )
            return None
        loc = _loc(raw, parent)
        name = raw.get("name")
        if name is None or str(name).strip() == "":
            self.error("missing_key", loc.with_(column="name"), key="name")
            name = ""
        name = str(name).strip()
        loc = loc.with_(field=name or None)
        for key in _keys(raw):
            if key not in FIELD_KEYS:
                self.error("unknown_key", loc.with_(column=key), key=key)
        if name:
            if not NAME_RE.match(name):
                self.error("invalid_name", loc.with_(column="name"), name=name)
            elif name in self.names:
                self.error(
                    "duplicate_name", loc.with_(column="name"), name=name, first=self.names[name]
                )
            else:
                self.names[name] = loc
        typed = self.field_type(raw.get("type"), loc)
        if typed is None:
            return None
        ftype, list_name, reference = typed
        children: tuple[Field, ...] = ()
        raw_children = raw.get("children")
        if ftype in (FieldType.GROUP, FieldType.REPEAT):
            if not isinstance(raw_children, list) or not raw_children:
                self.error("empty_group", loc, name=name)
            else:
                depth = repeat_depth + (ftype is FieldType.REPEAT)
                built = [self.row(c, loc, depth) for c in raw_children]
                children = tuple(c for c in built if c is not None)
        elif raw_children is not None:
            self.error(
                "invalid_value",
                loc.with_(column="children"),
                key="children",
                value="...",
                reason="only group and repeat rows hold children / 只有组和重复组可以包含题目",
            )
        if ftype is FieldType.CALCULATE and raw.get("calculation") in (None, ""):
            self.error("missing_key", loc.with_(column="calculation"), key="calculation")
        appearance = raw.get("appearance")
        if ftype is not FieldType.CALCULATE and "percent" in str(appearance or "").lower().split():
            self.error(
                "invalid_value",
                loc.with_(column="appearance"),
                key="appearance",
                value=appearance,
                reason="only a calculate can be shown as a percent / 只有计算题可以显示为百分比",
            )
        if ftype is not FieldType.REPEAT:
            for key in ("min_count", "max_count"):
                if raw.get(key) not in (None, ""):
                    self.error(
                        "invalid_value",
                        loc.with_(column=key),
                        key=key,
                        value=raw[key],
                        reason="only a repeat has a count / 只有重复组可以设置数量",
                    )
        min_count = self.count(raw.get("min_count"), loc, "min_count")
        max_count = self.count(raw.get("max_count"), loc, "max_count")
        if min_count is not None and max_count is not None and min_count > max_count:
            self.error(
                "invalid_value",
                loc.with_(column="max_count"),
                key="max_count",
                value=max_count,
                reason="max_count is below min_count / 最大数量小于最小数量",
            )
        default = raw.get("default")
        if isinstance(default, list):
            default = " ".join(str(d) for d in default)
        if isinstance(default, str) and is_dynamic_default(default):
            self.expression(default, loc, "default", name)  # checked like any expression
        return Field(
            name=name,
            type=ftype,
            label=self.text(raw.get("label"), loc, "label"),
            hint=self.text(raw.get("hint"), loc, "hint"),
            required=self.flag(raw.get("required"), loc, "required", name),
            required_message=self.text(raw.get("required_message"), loc, "required_message"),
            constraint=self.expression(raw.get("constraint"), loc, "constraint", name),
            constraint_message=self.text(raw.get("constraint_message"), loc, "constraint_message"),
            relevant=self.expression(raw.get("relevant"), loc, "relevant", name),
            calculation=self.expression(raw.get("calculation"), loc, "calculation", name),
            default=None if default in (None, "") else str(default),
            choice_filter=self.expression(raw.get("choice_filter"), loc, "choice_filter", name),
            appearance=None if raw.get("appearance") in (None, "") else str(raw["appearance"]),
            read_only=self.flag(raw.get("read_only"), loc, "read_only", name),
            list_name=list_name,
            reference=reference,
            children=children,
            min_count=min_count,
            max_count=max_count,
            location=loc,
        )

    # -- cross checks ------------------------------------------------------------------------
    def check_expressions(self) -> None:
        for loc, column, tree, _field in self.expressions:
            for node in walk(tree):
                if isinstance(node, Ref) and node.name not in self.names:
                    self.error("unknown_field", loc, name=node.name)
                elif isinstance(node, Current) and column != "constraint":
                    self.error("current_outside_constraint", loc)
                elif isinstance(node, Column) and column != "choice_filter":
                    self.error("column_outside_choice_filter", loc, name=node.name)
                elif isinstance(node, Call):
                    fn = FUNCTIONS.get(node.name)
                    if fn is None:
                        self.error("unknown_function", loc, name=node.name)
                        continue
                    given = len(node.args)
                    if given < fn.min_args or (fn.max_args is not None and given > fn.max_args):
                        self.error(
                            "function_arity",
                            loc,
                            name=node.name,
                            expected=fn.arity_text(),
                            given=given,
                        )
                    elif node.name == "regex" and isinstance(node.args[1], Str):
                        try:
                            compile_regex(node.args[1].value)
                        except re.error as exc:
                            self.error("bad_regex", loc, reason=f"{exc} in {node.args[1].value!r}")

    def check_fields(self, form: FormDef) -> None:
        list_names = {c.name for c in form.choices}
        by_name = {f.name: f for f in form.all_fields()}
        for f in by_name.values():
            if f.list_name is not None and f.list_name not in list_names:
                self.error("missing_choices", f.location.with_(column="type"), list=f.list_name)
        s = form.settings
        for key in ("period_field", "reference_value", "reference_label"):
            value = getattr(s, key)
            if value is not None and value not in by_name:
                self.error("unknown_field", self.root.with_(column=key, sheet=None), name=value)
        if s.period is not Period.NONE and s.period_field is None:
            self.error("missing_key", self.root.with_(column="period_field"), key="period_field")
        cycle = find_cycle(form)
        if cycle:
            first = by_name[cycle[0]]
            self.error("calculation_cycle", first.location, cycle=" -> ".join(cycle))


def build_form(
    raw: Mapping[str, Any],
    *,
    file: str = "",
    references: Iterable[str] = DEFAULT_REFERENCES,
    check_identifiers: bool = True,
) -> FormDef:
    """The raw stage -> FormDef, or FormDefinitionError listing every problem found.

    check_identifiers=False only for definitions already published (see forms/identifiers.py)."""
    b = _Builder(file, frozenset(references))
    b.check_identifiers = check_identifiers
    b.root = _loc(raw, Location(file=file))
    for key in _keys(raw):
        if key not in TOP_KEYS:
            b.error("unknown_key", b.root.with_(column=key), key=key)
    settings = b.settings(raw.get("settings"))
    choices = b.choices(raw.get("choices"))
    survey = raw.get("survey")
    fields: list[Field] = []
    if not isinstance(survey, list) or not survey:
        b.error("missing_key", b.root.with_(column="survey"), key="survey")
    else:
        for row in survey:
            f = b.row(row, b.root, 0)
            if f is not None:
                fields.append(f)
    b.check_expressions()
    if b.errors or settings is None:
        raise FormDefinitionError(b.errors)
    form = FormDef(settings=settings, fields=tuple(fields), choices=choices, source=file)
    b.check_fields(form)
    if b.errors:
        raise FormDefinitionError(b.errors)
    return form


def load_yaml(path: Path | str, *, references: Iterable[str] = DEFAULT_REFERENCES) -> FormDef:
    return build_form(read_yaml(path), file=str(path), references=references)


def load_yaml_text(
    text: str,
    *,
    file: str = "<text>",
    references: Iterable[str] = DEFAULT_REFERENCES,
    check_identifiers: bool = True,
) -> FormDef:
    return build_form(
        read_yaml(file, text=text),
        file=file,
        references=references,
        check_identifiers=check_identifiers,
    )
