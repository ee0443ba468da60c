"""The typed model -> the raw dict stage (the inverse of the loader), and -> YAML text."""

from __future__ import annotations

from typing import Any

from forms.model import Expression, Field, FieldType, FormDef
from forms.text import DEFAULT_LANGUAGE, Text
from forms.yaml_io import dump_yaml


def type_text(f: Field, *, xlsform: bool = False) -> str:
    if f.reference is not None:
        return f"{f.type.value}_from_file {f.reference}.csv"
    if f.list_name is not None:
        return f"{f.type.value} {f.list_name}"
    if xlsform:
        if f.type is FieldType.DATETIME:
            return "dateTime"
        if f.type in (FieldType.GROUP, FieldType.REPEAT):
            return f"begin_{f.type.value}"
    return f.type.value


def flag_value(value: bool | Expression) -> bool | str:
    return value.source if isinstance(value, Expression) else value


def _text(t: Text) -> dict[str, str]:
    """Chinese first, then the other languages in order: the way a person reads the file."""
    items = t.as_dict()
    return dict(sorted(items.items(), key=lambda kv: (kv[0] != DEFAULT_LANGUAGE, kv[0])))


def field_to_raw(f: Field) -> dict[str, Any]:
    out: dict[str, Any] = {"type": type_text(f), "name": f.name}
    if f.label:
        out["label"] = _text(f.label)
    if f.hint:
        out["hint"] = _text(f.hint)
    if f.required is not False:
        out["required"] = flag_value(f.required)
    if f.required_message:
        out["required_message"] = _text(f.required_message)
    if f.constraint is not None:
        out["constraint"] = f.constraint.source
    if f.constraint_message:
        out["constraint_message"] = _text(f.constraint_message)
    for key in ("relevant", "calculation", "choice_filter"):
        expr: Expression | None = getattr(f, key)
        if expr is not None:
            out[key] = expr.source
    if f.default is not None:
        out["default"] = f.default
    if f.appearance is not None:
        out["appearance"] = f.appearance
    if f.read_only is not False:
        out["read_only"] = flag_value(f.read_only)
    if f.min_count is not None:
        out["min_count"] = f.min_count
    if f.max_count is not None:
        out["max_count"] = f.max_count
    if f.children:
        out["children"] = [field_to_raw(c) for c in f.children]
    return out


def form_to_raw(form: FormDef) -> dict[str, Any]:
    s = form.settings
    settings: dict[str, Any] = {
        "form_id": s.form_id,
        "version": s.version,
        "title": _text(s.title),
        "period": s.period.value,
    }
    if s.period_field is not None:
        settings["period_field"] = s.period_field
    settings["sensitive"] = s.sensitive
    settings["default_language"] = s.default_language
    if s.reference_value is not None:
        settings["reference_value"] = s.reference_value
    if s.reference_label is not None:
        settings["reference_label"] = s.reference_label
    choices: dict[str, Any] = {}
    for cl in form.choices:
        items = []
        for c in cl.choices:
            item: dict[str, Any] = {"name": c.name, "label": _text(c.label)}
            item.update(dict(c.extra))
            items.append(item)
        choices[cl.name] = items
    out: dict[str, Any] = {"settings": settings, "survey": [field_to_raw(f) for f in form.fields]}
    if choices:
        out["choices"] = choices
    return out


def to_yaml(form: FormDef) -> str:
    header = f"# {form.title.zh} — {form.title.en}\n" if form.title.en else f"# {form.title.zh}\n"
    return header + dump_yaml(form_to_raw(form))
