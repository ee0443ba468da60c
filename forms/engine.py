"""The form engine: one function checks a record against its form, on the client and on the server.

    evaluate(form, data, today=...) -> Evaluation(data, problems, relevance)
    validate(form, data, today=...) -> list[Problem]

It coerces answers to their types, settles relevance and calculations in dependency order (clearing the answers
of fields that are not relevant), then checks types, required-when-relevant, choices (roster included),
constraints and repeat counts. It never raises on any JSON input.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from forms.coerce import TYPE_WORDS, BadValue, coerce, is_empty, to_json
from forms.expr.compiler import Compiled, Context, compile_expr
from forms.expr.values import Nodeset, to_bool, to_string
from forms.graph import topological_order
from forms.model import Choice, Field, FieldType, FormDef

Path = tuple[str | int, ...]


@dataclass(frozen=True, slots=True)
class ReferenceList:
    """A list such as the school's teacher roster: value -> label, and which values are inactive."""

    name: str
    items: Mapping[str, str]
    inactive: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class Problem:
    path: Path
    code: str  # not_an_object unknown_field type required choice constraint repeat_min repeat_max
    message_zh: str
    message_en: str

    @property
    def path_str(self) -> str:
        return format_path(self.path)

    def __str__(self) -> str:
        return f"{self.path_str}: [{self.code}] {self.message_zh} / {self.message_en}"


@dataclass(slots=True)
class Evaluation:
    data: dict[str, Any]
    problems: list[Problem]
    relevance: dict[Path, bool] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.problems


def format_path(path: Path) -> str:
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + part
    return out


class Scope:
    """One level of a record: the top level, or one instance of a repeat."""

    __slots__ = ("path", "relevant", "values")

    def __init__(self, path: Path) -> None:
        self.path = path
        self.values: dict[str, Any] = {}
        self.relevant: dict[str, bool] = {}


# -- compiling a form once --------------------------------------------------------------------------


@dataclass(slots=True)
class _Node:
    field: Field
    repeat_path: tuple[str, ...]
    parent: _Node | None
    relevant: Compiled | None = None
    calculation: Compiled | None = None
    constraint: Compiled | None = None
    required: Compiled | None = None
    choice_filter: Compiled | None = None
    choices: tuple[Choice, ...] = ()
    choice_names: frozenset[str] = frozenset()
    choice_columns: tuple[dict[str, str], ...] = ()


class CompiledForm:
    def __init__(self, form: FormDef) -> None:
        self.form = form
        self.nodes: dict[str, _Node] = {}
        for f in form.fields:
            self._index(f, (), None)
        for node in self.nodes.values():
            self._compile(node)
        self.order = [self.nodes[n] for n in topological_order(form)]

    def _index(self, f: Field, repeat_path: tuple[str, ...], parent: _Node | None) -> None:
        node = _Node(f, repeat_path, parent)
        self.nodes[f.name] = node
        inner = (*repeat_path, f.name) if f.type is FieldType.REPEAT else repeat_path
        for child in f.children:
            self._index(child, inner, node)

    def _resolver(self, chain: tuple[str, ...]) -> Callable[[str], Compiled]:
        def resolve(name: str) -> Compiled:
            target = self.nodes[name]
            path = target.repeat_path
            k = 0
            while k < len(path) and k < len(chain) and path[k] == chain[k]:
                k += 1
            is_repeat = target.field.type is FieldType.REPEAT
            if k == len(path):
                if is_repeat:
                    return lambda ctx: Nodeset(ctx.scopes[k].values.get(name) or ())
                return lambda ctx: _answer(ctx.scopes[k].values.get(name))
            descend = path[k:]

            def gather(ctx: Context) -> Nodeset:
                scopes = [ctx.scopes[k]]
                for rname in descend:
                    scopes = [inst for s in scopes for inst in (s.values.get(rname) or ())]
                if is_repeat:
                    return Nodeset(inst for s in scopes for inst in (s.values.get(name) or ()))
                return Nodeset(_answer(s.values.get(name)) for s in scopes)

            return gather

        return resolve

    def _compile(self, node: _Node) -> None:
        f = node.field
        resolve = self._resolver(node.repeat_path)
        if f.relevant is not None:
            node.relevant = compile_expr(f.relevant.tree, resolve)
        if f.calculation is not None:
            node.calculation = compile_expr(f.calculation.tree, resolve)
        if f.constraint is not None:
            node.constraint = compile_expr(f.constraint.tree, resolve)
        if not isinstance(f.required, bool):
            node.required = compile_expr(f.required.tree, resolve)
        if f.choice_filter is not None:
            node.choice_filter = compile_expr(f.choice_filter.tree, resolve)
        if f.list_name is not None:
            node.choices = self.form.choice_list(f.list_name).choices
            node.choice_names = frozenset(c.name for c in node.choices)
            node.choice_columns = tuple({"name": c.name, **dict(c.extra)} for c in node.choices)


def _answer(value: Any) -> Any:
    if value is None:
        return ""
    return value


_CACHE: dict[int, tuple[FormDef, CompiledForm]] = {}


def compiled(form: FormDef) -> CompiledForm:
    """The compiled form, made once per FormDef object."""
    hit = _CACHE.get(id(form))
    if hit is not None and hit[0] is form:
        return hit[1]
    if len(_CACHE) > 256:
        _CACHE.clear()
    result = CompiledForm(form)
    _CACHE[id(form)] = (form, result)
    return result


# -- messages ---------------------------------------------------------------------------------------


def _label(f: Field) -> tuple[str, str]:
    return f.label.get("zh") or f.name, f.label.get("en") or f.name


def _problem(path: Path, code: str, f: Field | None, **extra: Any) -> Problem:
    zh_l, en_l = _label(f) if f is not None else ("", "")
    value = extra.get("value", "")
    if code == "required":
        zh = f.required_message.get("zh", False) if f else ""
        en = f.required_message.get("en", False) if f else ""
        return Problem(path, code, zh or f"“{zh_l}”为必填项", en or f"'{en_l}' is required")
    if code == "constraint":
        zh = f.constraint_message.get("zh", False) if f else ""
        en = f.constraint_message.get("en", False) if f else ""
        return Problem(
            path, code, zh or f"“{zh_l}”的值不符合要求", en or f"'{en_l}' is not an allowed value"
        )
    if code == "type":
        assert f is not None
        tzh, ten = TYPE_WORDS.get(f.type, ("正确格式", "the right kind of value"))
        return Problem(
            path,
            code,
            f"“{zh_l}”应为{tzh}，收到“{value}”",
            f"'{en_l}' must be {ten}, got {value!r}",
        )
    if code == "choice":
        return Problem(
            path, code, f"“{zh_l}”没有选项“{value}”", f"'{value}' is not a choice of '{en_l}'"
        )
    if code == "repeat_min":
        n = extra["count"]
        return Problem(
            path, code, f"“{zh_l}”至少需要 {n} 条", f"'{en_l}' needs at least {n} entries"
        )
    if code == "repeat_max":
        n = extra["count"]
        return Problem(path, code, f"“{zh_l}”最多 {n} 条", f"'{en_l}' allows at most {n} entries")
    if code == "unknown_field":
        name = extra["name"]
        return Problem(path, code, f"表单中没有题目“{name}”", f"the form has no field '{name}'")
    return Problem(
        path,
        "not_an_object",
        "记录应为 JSON 对象（字段名到值的映射）",
        "a record must be a JSON object of answers by field name",
    )


# -- evaluation -------------------------------------------------------------------------------------


class _Run:
    def __init__(
        self,
        cf: CompiledForm,
        today: dt.date,
        now: dt.datetime,
        references: Mapping[str, ReferenceList] | None,
    ) -> None:
        self.cf = cf
        self.ctx = Context([], today=today, now=now)
        self.references = references
        self.bad: dict[Path, Any] = {}  # answers that are not of their field's type
        self.problems: list[Problem] = []
        self.relevance: dict[Path, bool] = {}
        self._chains: dict[tuple[str, ...], list[list[Scope]]] = {}

    # building the working tree from stored answers
    def load(self, data: Mapping[str, Any], fields: tuple[Field, ...], scope: Scope) -> None:
        known: set[str] = set()
        self._load_fields(data, fields, scope, known)
        for key in data:
            if not isinstance(key, str) or (key not in known and not key.startswith("_")):
                self.problems.append(
                    _problem((*scope.path, str(key)), "unknown_field", None, name=key)
                )

    def _load_fields(
        self, data: Mapping[str, Any], fields: tuple[Field, ...], scope: Scope, known: set[str]
    ) -> None:
        for f in fields:
            if f.type is FieldType.GROUP:
                known.add(f.name)
                self._load_fields(data, f.children, scope, known)
                continue
            known.add(f.name)
            raw = data.get(f.name)
            if f.type is FieldType.REPEAT:
                instances: list[Scope] = []
                if isinstance(raw, list):
                    for i, item in enumerate(raw):
                        inst = Scope((*scope.path, f.name, i))
                        if isinstance(item, Mapping):
                            self.load(item, f.children, inst)
                        else:
                            self.bad[inst.path] = item
                        instances.append(inst)
                elif not is_empty(raw):
                    self.bad[(*scope.path, f.name)] = raw
                scope.values[f.name] = instances
            elif f.type in (FieldType.NOTE, FieldType.CALCULATE):
                continue
            else:
                try:
                    value = coerce(f.type, raw)
                except BadValue:
                    self.bad[(*scope.path, f.name)] = raw
                    value = None
                if value is not None:
                    scope.values[f.name] = value

    def chains(self, repeat_path: tuple[str, ...], root: Scope) -> list[list[Scope]]:
        found = self._chains.get(repeat_path)
        if found is None:
            if not repeat_path:
                found = [[root]]
            else:
                found = [
                    [*chain, inst]
                    for chain in self.chains(repeat_path[:-1], root)
                    for inst in (chain[-1].values.get(repeat_path[-1]) or ())
                ]
            self._chains[repeat_path] = found
        return found

    def settle(self, root: Scope) -> None:
        ctx = self.ctx
        for node in self.cf.order:
            name = node.field.name
            parent = node.parent
            group_parent = parent is not None and parent.field.type is FieldType.GROUP
            for chain in self.chains(node.repeat_path, root):
                scope = chain[-1]
                ctx.scopes = chain
                rel = not group_parent or scope.relevant.get(parent.field.name, True)  # type: ignore[union-attr]
                if rel and node.relevant is not None:
                    rel = to_bool(node.relevant(ctx))
                scope.relevant[name] = rel
                if not rel:
                    if name in scope.values:
                        scope.values[name] = [] if node.field.type is FieldType.REPEAT else None
                elif node.calculation is not None:
                    scope.values[name] = node.calculation(ctx)

    # checks in document order
    def check(self, fields: tuple[Field, ...], chain: list[Scope]) -> None:
        scope = chain[-1]
        ctx = self.ctx
        for f in fields:
            path = (*scope.path, f.name)
            rel = scope.relevant.get(f.name, True)
            self.relevance[path] = rel
            if not rel:
                continue
            if f.type is FieldType.GROUP:
                self.check(f.children, chain)
                continue
            node = self.cf.nodes[f.name]
            if f.type is FieldType.REPEAT:
                if path in self.bad:
                    self.problems.append(_problem(path, "type", f, value=_show(self.bad[path])))
                    continue
                instances: list[Scope] = scope.values.get(f.name) or []
                ctx.scopes = chain
                if f.min_count is not None and len(instances) < f.min_count:
                    self.problems.append(_problem(path, "repeat_min", f, count=f.min_count))
                if f.max_count is not None and len(instances) > f.max_count:
                    self.problems.append(_problem(path, "repeat_max", f, count=f.max_count))
                for inst in instances:
                    if inst.path in self.bad:
                        self.problems.append(
                            _problem(inst.path, "type", f, value=_show(self.bad[inst.path]))
                        )
                        continue
                    self.check(f.children, [*chain, inst])
                continue
            if f.type in (FieldType.NOTE, FieldType.CALCULATE):
                continue
            ctx.scopes = chain
            value = scope.values.get(f.name)
            if path in self.bad:
                self.problems.append(_problem(path, "type", f, value=_show(self.bad[path])))
                continue
            if value is None:
                required = node.required(ctx) if node.required is not None else f.required
                if to_bool(required):
                    self.problems.append(_problem(path, "required", f))
                continue
            if f.is_select and not self._choices_ok(node, value, path):
                continue
            if node.constraint is not None:
                ctx.current = value
                ok = to_bool(node.constraint(ctx))
                ctx.current = ""
                if not ok:
                    self.problems.append(_problem(path, "constraint", f))

    def _choices_ok(self, node: _Node, value: Any, path: Path) -> bool:
        values = value if isinstance(value, tuple) else (value,)
        f = node.field
        if f.reference is not None:
            if self.references is None:
                return True
            ref = self.references.get(f.reference)
            allowed: Any = ref.items if ref is not None else {}
        elif node.choice_filter is not None:
            allowed = set()
            ctx = self.ctx
            for choice_cols in node.choice_columns:
                ctx.columns = choice_cols
                if to_bool(node.choice_filter(ctx)):
                    allowed.add(choice_cols["name"])
            ctx.columns = {}
        else:
            allowed = node.choice_names
        for v in values:
            if v not in allowed:
                self.problems.append(_problem(path, "choice", f, value=v))
                return False
        return True


def _show(value: Any) -> str:
    text = to_string(value) if not isinstance(value, dict | list) else repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _dump(fields: tuple[Field, ...], scope: Scope, out: dict[str, Any]) -> None:
    for f in fields:
        if f.type is FieldType.GROUP:
            _dump(f.children, scope, out)
        elif f.type is FieldType.REPEAT:
            instances = scope.values.get(f.name)
            if instances:
                items = []
                for inst in instances:
                    item: dict[str, Any] = {}
                    _dump(f.children, inst, item)
                    items.append(item)
                out[f.name] = items
        elif f.type is not FieldType.NOTE:
            v = to_json(scope.values.get(f.name))
            if v is not None:
                out[f.name] = v


def evaluate(
    form: FormDef,
    data: Any,
    *,
    today: dt.date,
    now: dt.datetime | None = None,
    references: Mapping[str, ReferenceList] | None = None,
) -> Evaluation:
    """Check a record; `data` may be anything JSON can hold. `references=None` skips roster checks."""
    if now is None:
        now = dt.datetime.combine(today, dt.time(12, 0)).astimezone()
    run = _Run(compiled(form), today, now, references)
    if not isinstance(data, Mapping):
        return Evaluation({}, [_problem((), "not_an_object", None)])
    root = Scope(())
    run.load(data, form.fields, root)
    run.settle(root)
    run.check(form.fields, [root])
    out: dict[str, Any] = {
        k: v for k, v in data.items() if isinstance(k, str) and k.startswith("_")
    }
    _dump(form.fields, root, out)
    return Evaluation(out, run.problems, run.relevance)


def validate(
    form: FormDef,
    data: Any,
    *,
    today: dt.date,
    now: dt.datetime | None = None,
    references: Mapping[str, ReferenceList] | None = None,
) -> list[Problem]:
    return evaluate(form, data, today=today, now=now, references=references).problems


def new_record(form: FormDef) -> dict[str, Any]:
    """A blank record with the form's defaults filled in (repeats start empty)."""
    out: dict[str, Any] = {}
    for f in _leaves(form.fields):
        if f.default is not None:
            try:
                value = coerce(f.type, f.default)
            except BadValue:
                continue
            out[f.name] = to_json(value)
    return out


def new_repeat_instance(form: FormDef, repeat: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for f in _leaves(form.field(repeat).children):
        if f.default is not None:
            try:
                out[f.name] = to_json(coerce(f.type, f.default))
            except BadValue:
                continue
    return out


def _leaves(fields: tuple[Field, ...]) -> Iterator[Field]:
    for f in fields:
        if f.type is FieldType.GROUP:
            yield from _leaves(f.children)
        elif f.type is not FieldType.REPEAT:
            yield f
