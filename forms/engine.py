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
from dataclasses import dataclass
from typing import Any

from forms.coerce import TYPE_WORDS, BadValue, coerce, is_empty, to_json
from forms.expr.compiler import Compiled, Context, compile_expr
from forms.expr.functions import FUNCTIONS
from forms.expr.values import Nodeset, to_bool, to_string
from forms.graph import topological_order
from forms.loader import is_dynamic_default
from forms.model import INPUT_TYPES, Field, FieldType, FormDef

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


class Evaluation:
    """The outcome of checking one record.

    data: the record as it should be stored (types normalized, calculations filled in, answers of
    non-relevant fields removed); problems: what stops it from being submitted; relevance: whether each
    field (by path) applies, for an editor that hides what does not.
    """

    __slots__ = ("_relevance", "_root", "_run", "data", "problems")

    def __init__(
        self,
        data: dict[str, Any],
        problems: list[Problem],
        run: _Run | None = None,
        root: Scope | None = None,
    ) -> None:
        self.data = data
        self.problems = problems
        self._run = run
        self._root = root
        self._relevance: dict[Path, bool] | None = None

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def relevance(self) -> dict[Path, bool]:
        if self._relevance is None:
            self._relevance = {}
            if self._run is not None and self._root is not None:
                self._run.collect_relevance(self._run.cf.top, self._root, self._relevance)
        return self._relevance

    def is_relevant(self, path: Path) -> bool:
        """False when the field at path, or a group or repeat around it, does not apply."""
        rel = self.relevance
        for i in range(1, len(path) + 1):
            if isinstance(path[i - 1], str) and rel.get(path[:i], True) is False:
                return False
        return True


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

    __slots__ = ("bad", "path", "relevant", "values")

    def __init__(self, path: Path) -> None:
        self.path = path
        self.values: dict[str, Any] = {}
        self.relevant: dict[str, bool] = {}
        self.bad: dict[str, Any] | None = None  # answers that are not of their field's type


# -- compiling a form once --------------------------------------------------------------------------

GROUP, REPEAT, INPUT, OTHER = range(4)


@dataclass(slots=True)
class _Node:
    field: Field
    name: str
    kind: int
    repeat_path: tuple[str, ...]
    parent: _Node | None
    children: list[_Node]
    coerce: Callable[[Any], Any] | None = None
    relevant: Compiled | None = None
    calculation: Compiled | None = None
    constraint: Compiled | None = None
    required: Compiled | None = None
    required_flag: bool = False
    choice_filter: Compiled | None = None
    is_select: bool = False
    choice_names: frozenset[str] = frozenset()
    choice_columns: tuple[dict[str, str], ...] = ()
    group_parent: str | None = None  # the enclosing group whose relevance this field inherits
    needs_settling: bool = False
    # An earlier field of the same scope and group whose relevance is the same expression: this field's
    # relevance is that one's (its inputs were settled before both), not evaluated again.
    relevant_as: str | None = None
    # For a select without a roster or a choice filter: the choice names a single answer must be one of.
    plain_choices: frozenset[str] | None = None
    # A repeat: the fields of one instance by name (those in groups too), for loading answers.
    fields: dict[str, _Node] | None = None
    position: int = 0  # document order among the fields of its scope


def _coercer(ftype: FieldType) -> Callable[[Any], Any]:
    if ftype in (FieldType.TEXT, FieldType.SELECT_ONE, FieldType.IMAGE, FieldType.FILE):

        def text(value: Any) -> Any:
            if type(value) is str:
                return (value.strip() or None) if ftype is FieldType.SELECT_ONE else value
            return coerce(ftype, value)

        return text
    if ftype is FieldType.DATE:
        cache: dict[str, Any] = {}

        def date(value: Any) -> Any:
            if type(value) is str:
                hit = cache.get(value)
                if hit is None:
                    hit = coerce(ftype, value)
                    if len(cache) < 4096:
                        cache[value] = hit
                return hit
            return coerce(ftype, value)

        return date
    return lambda value: coerce(ftype, value)


class CompiledForm:
    def __init__(self, form: FormDef) -> None:
        self.form = form
        self.nodes: dict[str, _Node] = {}
        self.top = [self._index(f, (), None) for f in form.fields]
        self.top_fields = _fields_by_name(self.top)
        for node in self.nodes.values():
            self._compile(node)
        for node in self.nodes.values():
            node.needs_settling = self._needs_settling(node)
        default = form.settings.default_language
        self.choice_labels = {
            node.name: {
                c.name: c.label.get(default) for c in form.choice_list(node.field.list_name).choices
            }
            for node in self.nodes.values()
            if node.field.list_name is not None
        }
        self.order = [self.nodes[n] for n in topological_order(form)]
        self.settle_order = [n for n in self.order if n.needs_settling]
        self._share_relevance()

    def _share_relevance(self) -> None:
        first: dict[tuple[Any, ...], str] = {}
        for node in self.settle_order:
            if node.field.relevant is None:
                continue
            key = (node.repeat_path, node.group_parent, node.field.relevant.tree)
            node.relevant_as = first.setdefault(key, node.name)
            if node.relevant_as == node.name:
                node.relevant_as = None

    def _index(self, f: Field, repeat_path: tuple[str, ...], parent: _Node | None) -> _Node:
        if f.type is FieldType.GROUP:
            kind = GROUP
        elif f.type is FieldType.REPEAT:
            kind = REPEAT
        elif f.type in INPUT_TYPES:
            kind = INPUT
        else:
            kind = OTHER
        node = _Node(f, f.name, kind, repeat_path, parent, [])
        if kind == INPUT:
            node.coerce = _coercer(f.type)
        if parent is not None and parent.kind == GROUP:
            node.group_parent = parent.name
        self.nodes[f.name] = node
        inner = (*repeat_path, f.name) if kind == REPEAT else repeat_path
        node.children = [self._index(child, inner, node) for child in f.children]
        if kind == REPEAT:
            node.fields = _fields_by_name(node.children)
        return node

    def _needs_settling(self, node: _Node) -> bool:
        """Whether relevance or a calculation can change this field's answer."""
        n: _Node | None = node
        while n is not None:
            if n.relevant is not None or n.calculation is not None:
                return True
            n = n.parent if n.parent is not None and n.parent.kind == GROUP else None
        return False

    def _resolver(self, chain: tuple[str, ...]) -> Callable[[str], Compiled]:
        def resolve(name: str) -> Compiled:
            if name.startswith("/"):  # from the top of the record (indexed-repeat)
                return self._resolver(())(name[1:])
            target = self.nodes[name]
            path = target.repeat_path
            k = 0
            while k < len(path) and k < len(chain) and path[k] == chain[k]:
                k += 1
            is_repeat = target.kind == REPEAT
            if k == len(path):
                if is_repeat:
                    return lambda ctx: Nodeset(ctx.scopes[k].values.get(name) or ())

                def answer(ctx: Context) -> Any:
                    value = ctx.scopes[k].values.get(name)
                    return "" if value is None else value

                return answer
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
        if isinstance(f.required, bool):
            node.required_flag = f.required
        else:
            node.required = compile_expr(f.required.tree, resolve)
        if f.choice_filter is not None:
            node.choice_filter = compile_expr(f.choice_filter.tree, resolve)
        node.is_select = f.is_select
        if (
            f.is_select
            and f.reference is None
            and f.choice_filter is None
            and f.list_name is not None
        ):
            node.plain_choices = frozenset(
                c.name for c in self.form.choice_list(f.list_name).choices
            )
        if f.list_name is not None:
            choices = self.form.choice_list(f.list_name).choices
            node.choice_names = frozenset(c.name for c in choices)
            node.choice_columns = tuple({"name": c.name, **dict(c.extra)} for c in choices)


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
        self.ctx.choice_labels = cf.choice_labels
        self.references = references
        self.problems: list[Problem] = []
        self._chains: dict[tuple[str, ...], list[list[Scope]]] = {}

    # building the working tree from stored answers
    def load(self, data: Mapping[str, Any], fields: dict[str, _Node], scope: Scope) -> None:
        """Fill scope from data, given the fields of the scope by name (CompiledForm.top_fields, or a
        repeat's fields). A key that is no field and does not start with `_` is an unknown_field problem,
        after the problems of the repeats' instances, which are loaded in the form's order."""
        values = scope.values
        unknown: list[Any] = []
        repeats: list[tuple[_Node, Any]] = []
        for key, raw in data.items():
            node = fields.get(key)
            if node is None:
                if not isinstance(key, str) or not key.startswith("_"):
                    unknown.append(key)
                continue
            kind = node.kind
            if kind == INPUT:
                if raw is None or raw == "" or raw == []:
                    continue
                try:
                    value = node.coerce(raw)  # type: ignore[misc]
                except BadValue:
                    if scope.bad is None:
                        scope.bad = {}
                    scope.bad[key] = raw
                    continue
                if value is not None:
                    values[key] = value
            elif kind == REPEAT:
                repeats.append((node, raw))
        if len(repeats) > 1:
            repeats.sort(key=lambda pair: pair[0].position)
        for node, raw in repeats:
            self._load_repeat(node, raw, scope)
        for key in unknown:
            self.problems.append(_problem((*scope.path, str(key)), "unknown_field", None, name=key))

    def _load_repeat(self, node: _Node, raw: Any, scope: Scope) -> None:
        name = node.name
        instances: list[Scope] = []
        if isinstance(raw, list):
            fields = node.fields or {}
            for i, item in enumerate(raw):
                inst = Scope((*scope.path, name, i))
                if isinstance(item, Mapping):
                    self.load(item, fields, inst)
                else:
                    inst.bad = {"": item}
                instances.append(inst)
        elif not is_empty(raw):
            if scope.bad is None:
                scope.bad = {}
            scope.bad[name] = raw
        scope.values[name] = instances

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
        for node in self.cf.settle_order:
            name = node.name
            group_parent = node.group_parent
            relevant = node.relevant
            relevant_as = node.relevant_as
            calculation = node.calculation
            for chain in self.chains(node.repeat_path, root):
                scope = chain[-1]
                ctx.scopes = chain
                if relevant_as is not None:
                    rel = scope.relevant.get(relevant_as, True)
                else:
                    rel = True if group_parent is None else scope.relevant.get(group_parent, True)
                    if rel and relevant is not None:
                        rel = to_bool(relevant(ctx))
                if not rel:
                    scope.relevant[name] = False
                    if name in scope.values:
                        scope.values[name] = [] if node.kind == REPEAT else None
                elif calculation is not None:
                    scope.values[name] = calculation(ctx)

    # checks in document order
    def check(self, nodes: list[_Node], chain: list[Scope]) -> None:
        scope = chain[-1]
        values = scope.values
        relevant = scope.relevant
        bad = scope.bad
        ctx = self.ctx
        for node in nodes:
            name = node.name
            if relevant and not relevant.get(name, True):
                continue
            kind = node.kind
            if kind == INPUT:
                if bad is not None and name in bad:
                    self.problems.append(
                        _problem((*scope.path, name), "type", node.field, value=_show(bad[name]))
                    )
                    continue
                value = values.get(name)
                if value is None:
                    if node.required is not None:
                        ctx.scopes = chain
                        required = to_bool(node.required(ctx))
                    else:
                        required = node.required_flag
                    if required:
                        self.problems.append(_problem((*scope.path, name), "required", node.field))
                    continue
                if node.is_select:
                    plain = node.plain_choices
                    if plain is not None and type(value) is str:
                        if value not in plain:
                            self.problems.append(
                                _problem((*scope.path, name), "choice", node.field, value=value)
                            )
                            continue
                    elif not self._choices_ok(node, value, scope, chain):
                        continue
                if node.constraint is not None:
                    ctx.scopes = chain
                    ctx.current = value
                    ok = to_bool(node.constraint(ctx))
                    ctx.current = ""
                    if not ok:
                        self.problems.append(
                            _problem((*scope.path, name), "constraint", node.field)
                        )
            elif kind == GROUP:
                self.check(node.children, chain)
            elif kind == REPEAT:
                f = node.field
                path = (*scope.path, name)
                if bad is not None and name in bad:
                    self.problems.append(_problem(path, "type", f, value=_show(bad[name])))
                    continue
                instances: list[Scope] = values.get(name) or []
                if f.min_count is not None and len(instances) < f.min_count:
                    self.problems.append(_problem(path, "repeat_min", f, count=f.min_count))
                if f.max_count is not None and len(instances) > f.max_count:
                    self.problems.append(_problem(path, "repeat_max", f, count=f.max_count))
                for inst in instances:
                    if inst.bad is not None and "" in inst.bad:
                        self.problems.append(
                            _problem(inst.path, "type", f, value=_show(inst.bad[""]))
                        )
                        continue
                    self.check(node.children, [*chain, inst])

    def _choices_ok(self, node: _Node, value: Any, scope: Scope, chain: list[Scope]) -> bool:
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
            ctx.scopes = chain
            for choice_cols in node.choice_columns:
                ctx.columns = choice_cols
                if to_bool(node.choice_filter(ctx)):
                    allowed.add(choice_cols["name"])
            ctx.columns = {}
        else:
            allowed = node.choice_names
        for v in values:
            if v not in allowed:
                self.problems.append(_problem((*scope.path, f.name), "choice", f, value=v))
                return False
        return True

    def collect_relevance(self, nodes: list[_Node], scope: Scope, out: dict[Path, bool]) -> None:
        for node in nodes:
            rel = scope.relevant.get(node.name, True)
            out[(*scope.path, node.name)] = rel
            if not rel:
                continue
            if node.kind == GROUP:
                self.collect_relevance(node.children, scope, out)
            elif node.kind == REPEAT:
                for inst in scope.values.get(node.name) or ():
                    self.collect_relevance(node.children, inst, out)


def _show(value: Any) -> str:
    text = to_string(value) if not isinstance(value, dict | list) else repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _noon(day: dt.date) -> dt.datetime:
    try:
        return dt.datetime.combine(day, dt.time(12, 0)).astimezone()
    except (OverflowError, ValueError):  # a date at the very end of the calendar
        return dt.datetime.combine(day, dt.time(12, 0), tzinfo=dt.UTC)


def _fields_by_name(nodes: list[_Node]) -> dict[str, _Node]:
    fields = {}
    for position, node in enumerate(_walk_groups(nodes)):
        node.position = position
        fields[node.name] = node
    return fields


def _walk_groups(nodes: list[_Node]) -> Iterator[_Node]:
    for n in nodes:
        yield n
        if n.kind == GROUP:
            yield from _walk_groups(n.children)


def _dump(nodes: list[_Node], scope: Scope, out: dict[str, Any]) -> None:
    values = scope.values
    for node in nodes:
        kind = node.kind
        if kind == GROUP:
            _dump(node.children, scope, out)
            continue
        v = values.get(node.name)
        if v is None:
            continue
        if kind == REPEAT:
            if v:
                items = []
                for inst in v:
                    item: dict[str, Any] = {}
                    _dump(node.children, inst, item)
                    items.append(item)
                out[node.name] = items
        elif type(v) is str:
            if v:
                out[node.name] = v
        elif type(v) is dt.date:
            out[node.name] = v.isoformat()
        elif node.field.type is not FieldType.NOTE:
            j = to_json(v)
            if j is not None:
                out[node.name] = j


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
        now = _noon(today)
    cf = compiled(form)
    if not isinstance(data, Mapping):
        return Evaluation({}, [_problem((), "not_an_object", None)])
    run = _Run(cf, today, now, references)
    root = Scope(())
    run.load(data, cf.top_fields, root)
    run.settle(root)
    run.check(cf.top, [root])
    out: dict[str, Any] = {
        k: v for k, v in data.items() if isinstance(k, str) and k.startswith("_")
    }
    _dump(cf.top, root, out)
    return Evaluation(out, run.problems, run, root)


def validate(
    form: FormDef,
    data: Any,
    *,
    today: dt.date,
    now: dt.datetime | None = None,
    references: Mapping[str, ReferenceList] | None = None,
) -> list[Problem]:
    return evaluate(form, data, today=today, now=now, references=references).problems


def _default(form: FormDef, f: Field, today: dt.date | None) -> Any:
    """A field's default as stored, or None. A default such as `today()` is computed (ODK does the same)."""
    if f.default is None:
        return None
    value: Any = f.default
    if is_dynamic_default(f.default):
        day = today or dt.date.today()
        try:
            value = evaluate_expression(form, {}, f.default, today=day)
        except (ValueError, KeyError):
            return None
        if f.type is FieldType.DATE and isinstance(value, float):  # today() - 1: days since 1970
            value = FUNCTIONS["date"].impl(None, [value])  # type: ignore[arg-type]
        value = to_json(value)
        if value is None:
            return None
    try:
        return to_json(coerce(f.type, value))
    except BadValue:
        return None


def new_record(form: FormDef, *, today: dt.date | None = None) -> dict[str, Any]:
    """A blank record with the form's defaults filled in (repeats start empty); `today` for a default
    such as today() (the machine's date when not given)."""
    out: dict[str, Any] = {}
    for f in _leaves(form.fields):
        value = _default(form, f, today)
        if value is not None:
            out[f.name] = value
    return out


def new_repeat_instance(
    form: FormDef, repeat: str, *, today: dt.date | None = None
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for f in _leaves(form.field(repeat).children):
        value = _default(form, f, today)
        if value is not None:
            out[f.name] = value
    return out


def _leaves(fields: tuple[Field, ...]) -> Iterator[Field]:
    for f in fields:
        if f.type is FieldType.GROUP:
            yield from _leaves(f.children)
        elif f.type is not FieldType.REPEAT:
            yield f


def evaluate_expression(
    form: FormDef,
    data: Mapping[str, Any],
    source: str,
    *,
    today: dt.date,
    now: dt.datetime | None = None,
    repeat: tuple[tuple[str, int], ...] = (),
    current: str | None = None,
) -> Any:
    """What `source` computes over a record, as a calculation would see it: at the top level, or in the
    repeat instance `repeat` ((name, 0-based index) from the outside in), with `.` the answer of the field
    `current`. Raises ExpressionSyntaxError or ValueError (unknown function, wrong arity) for a bad
    expression, KeyError for an unknown field or repeat instance. Used by the conformance suite."""
    from forms.expr.parser import parse

    cf = compiled(form)
    run = _Run(cf, today, now or _noon(today), None)
    root = Scope(())
    run.load(data, cf.top_fields, root)
    run.settle(root)
    chain = [root]
    for name, index in repeat:
        chain.append(chain[-1].values[name][index])
    fn = compile_expr(parse(source), cf._resolver(tuple(name for name, _ in repeat)))
    ctx = run.ctx
    ctx.scopes = chain
    if current is not None:
        ctx.current = _answer(chain[-1].values.get(current))
    return fn(ctx)
