"""Compile an expression tree into nested Python closures.

Closures are several times faster than walking the tree on every evaluation, and, unlike eval(), they can
only do what the nodes describe.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable
from typing import Any

from forms.expr.ast import Binary, Call, Column, Current, Expr, Neg, Num, Parent, Ref, Str
from forms.expr.functions import FUNCTIONS
from forms.expr.values import (
    NAN,
    Nodeset,
    compare,
    equals,
    not_equals,
    parse_date,
    to_bool,
    to_number,
)


class Context:
    """What an expression sees while it runs: the record's scopes, the current answer, the clock."""

    __slots__ = ("choice_labels", "columns", "current", "now", "scopes", "today")

    def __init__(self, scopes: list[Any], *, today: dt.date, now: dt.datetime) -> None:
        self.scopes = scopes  # root scope first, then the enclosing repeat instances
        self.current: Any = ""
        self.today = today
        self.now = now
        self.columns: dict[str, Any] = {}
        self.choice_labels: dict[str, dict[str, str]] = {}

    @property
    def position(self) -> float:
        """position(..): the 1-based index of the repeat instance being evaluated."""
        if len(self.scopes) > 1:
            path = getattr(self.scopes[-1], "path", ())
            if path and isinstance(path[-1], int):
                return float(path[-1] + 1)
        return 1.0


Compiled = Callable[[Context], Any]
RefResolver = Callable[[str], Compiled]


# A field reference is a node: as a boolean (and, or, not(), boolean(), if()), beside a boolean in `=` or
# `!=`, and in count(), it is the node-set of that one node - counted even when the answer is empty. As a
# boolean, one node is read as its answer, as ODK Collect (JavaRosa) does: a blank answer is false (to_bool).
# (Gathered across repeat instances it is already a Nodeset.)
_NODE_ARGUMENTS = frozenset({"count", "boolean", "not"})


def _is_node(node: Expr) -> bool:
    return isinstance(node, Ref | Current)


def _as_node(compiled: Compiled) -> Compiled:
    def node(ctx: Context) -> Any:
        v = compiled(ctx)
        return v if isinstance(v, Nodeset) else Nodeset((v,))

    return node


# Operators whose result is always a boolean: as a condition it needs no to_bool().
_BOOLEAN_OPERATORS = frozenset({"and", "or", "=", "!=", "<", "<=", ">", ">="})


def _truth(node: Expr, resolve: RefResolver) -> Callable[[Context], bool]:
    compiled = compile_expr(node, resolve)
    if _is_node(node):
        as_node = _as_node(compiled)
        return lambda ctx: to_bool(as_node(ctx))
    if isinstance(node, Binary) and node.op in _BOOLEAN_OPERATORS:
        return compiled
    return lambda ctx: to_bool(compiled(ctx))


def _arith(op: str, x: float, y: float) -> float:
    if op == "+":
        return x + y
    if op == "-":
        return x - y
    if op == "*":
        return x * y
    if op == "div":
        if y == 0:
            if x == 0 or math.isnan(x):
                return NAN
            return math.copysign(math.inf, x) * (math.copysign(1, y))
        return x / y
    if y == 0 or math.isinf(x):
        return NAN
    return math.fmod(x, y)


def compile_expr(node: Expr, resolve: RefResolver) -> Compiled:
    """The closure computing `node`; ValueError for a call to an unknown function or with the wrong
    number of arguments (the loader reports both, so a loaded form never has them)."""
    if isinstance(node, Num):
        v = node.value
        return lambda ctx: v
    if isinstance(node, Str):
        s = node.value
        return lambda ctx: s
    if isinstance(node, Ref):
        return resolve(node.name)
    if isinstance(node, Current):
        return lambda ctx: ctx.current
    if isinstance(node, Parent):
        return lambda ctx: ""
    if isinstance(node, Column):
        name = node.name
        return lambda ctx: ctx.columns.get(name, "")
    if isinstance(node, Neg):
        inner = compile_expr(node.operand, resolve)
        return lambda ctx: -to_number(inner(ctx))
    if isinstance(node, Binary):
        return _compile_binary(node, resolve)
    if isinstance(node, Call):
        return _compile_call(node, resolve)
    raise TypeError(f"not an expression node: {node!r}")


# Short chains compile to nested closures (the fastest); longer ones to one loop.
_NESTED_CLOSURES_UP_TO = 16


def _spine(node: Binary) -> tuple[Expr, list[Binary]]:
    """A chain such as a + b - c + d ... as its first operand and its operators, innermost first.

    Long chains (a sum of hundreds of fields) nest to the left as deep as they are long; compiling and
    running them in a loop rather than by recursion keeps Python's recursion limit out of the way.
    """
    chain: list[Binary] = []
    cur: Expr = node
    while isinstance(cur, Binary):
        chain.append(cur)
        cur = cur.left
    chain.reverse()
    return cur, chain


def _operator(op: str) -> Callable[[Any, Any], Any]:
    if op == "=":
        return equals
    if op == "!=":
        return not_equals
    if op in ("<", "<=", ">", ">="):
        return lambda a, b: compare(op, a, b)
    return lambda a, b: _arith(op, to_number(a), to_number(b))


def _compile_binary(node: Binary, resolve: RefResolver) -> Compiled:
    first, chain = _spine(node)
    if len(chain) > _NESTED_CLOSURES_UP_TO:
        return _compile_chain(first, chain, resolve)
    op = node.op
    if op in ("and", "or"):
        lt, rt = _truth(node.left, resolve), _truth(node.right, resolve)
        if op == "and":
            return lambda ctx: lt(ctx) and rt(ctx)
        return lambda ctx: lt(ctx) or rt(ctx)
    left = compile_expr(node.left, resolve)
    right = compile_expr(node.right, resolve)
    if op in ("=", "!=") and (
        (isinstance(node.left, Ref) and isinstance(node.right, Str))
        or (isinstance(node.left, Str) and isinstance(node.right, Ref))
    ):
        return _answer_against_text(op, left if isinstance(node.left, Ref) else right, node)
    if op in ("=", "!=") and (_is_node(node.left) or _is_node(node.right)):
        return _node_comparison(
            _operator(op), left, right, _is_node(node.left), _is_node(node.right)
        )
    if op == "=":
        return lambda ctx: equals(left(ctx), right(ctx))
    if op == "!=":
        return lambda ctx: not_equals(left(ctx), right(ctx))
    if op in ("<", "<=", ">", ">="):
        return lambda ctx: compare(op, left(ctx), right(ctx))
    return lambda ctx: _arith(op, to_number(left(ctx)), to_number(right(ctx)))


def _answer_against_text(op: str, answer: Compiled, node: Binary) -> Compiled:
    """`${field} = 'text'` (or `!=`, either side), the most common condition in a form: a text answer is
    compared as text at once; any other value (a number, a date, answers across repeat instances) as
    equals()/not_equals() would (what _node_comparison does when neither side is a boolean)."""
    literal = node.right if isinstance(node.right, Str) else node.left
    assert isinstance(literal, Str)
    text = literal.value
    text_first = isinstance(node.left, Str)
    text_date = parse_date(text)  # a date answer against a date written as text compares as dates
    if op == "=":

        def same(ctx: Context) -> bool:
            v = answer(ctx)
            if type(v) is str:
                return v == text
            if type(v) is dt.date:
                return v == text_date if text_date is not None else v.isoformat() == text
            return equals(text, v) if text_first else equals(v, text)

        return same

    def differs(ctx: Context) -> bool:
        v = answer(ctx)
        if type(v) is str:
            return v != text
        if type(v) is dt.date:
            return v != text_date if text_date is not None else v.isoformat() != text
        return not_equals(text, v) if text_first else not_equals(v, text)

    return differs


def _node_comparison(
    apply: Callable[[Any, Any], Any], left: Compiled, right: Compiled, lnode: bool, rnode: bool
) -> Compiled:
    """`=`/`!=` with a field reference: beside a boolean the reference is its answer's boolean, as in ODK
    Collect (a blank answer is false; XPath 1.0 and the web engines: the node, true). (`<` and
    the like turn both sides into numbers, as the ODK engines do.)"""

    def run(ctx: Context) -> Any:
        a, b = left(ctx), right(ctx)
        if isinstance(b, bool) and lnode and not isinstance(a, Nodeset):
            a = to_bool(a)
        elif isinstance(a, bool) and rnode and not isinstance(b, Nodeset):
            b = to_bool(b)
        return apply(a, b)

    return run


def _compile_chain(first: Expr, chain: list[Binary], resolve: RefResolver) -> Compiled:
    start = compile_expr(first, resolve)
    if _is_node(first) and chain[0].op in ("and", "or"):
        start = _as_node(start)
    steps = [
        (
            b.op,
            _operator(b.op),
            _as_node(compile_expr(b.right, resolve))
            if b.op in ("and", "or") and _is_node(b.right)
            else compile_expr(b.right, resolve),
        )
        for b in chain
    ]

    def run(ctx: Context) -> Any:
        value = start(ctx)
        for op, apply, right in steps:
            if op == "and":
                value = to_bool(value) and to_bool(right(ctx))
            elif op == "or":
                value = to_bool(value) or to_bool(right(ctx))
            else:
                value = apply(value, right(ctx))
        return value

    return run


def _compile_call(node: Call, resolve: RefResolver) -> Compiled:
    function = FUNCTIONS.get(node.name)
    if function is None:
        raise ValueError(f"unknown function {node.name}()")
    given = len(node.args)
    if given < function.min_args or (function.max_args is not None and given > function.max_args):
        raise ValueError(f"{node.name}() takes {function.arity_text()} arguments, {given} given")
    args = [compile_expr(a, resolve) for a in node.args]
    if node.name in _NODE_ARGUMENTS:
        args = [_as_node(c) if _is_node(a) else c for a, c in zip(node.args, args, strict=True)]
    if node.name == "indexed-repeat" and isinstance(node.args[0], Ref):
        # The field across all the repeat's instances, wherever the call is (a leading "/" asks the
        # resolver for the whole record, as pyxform writes an absolute path there).
        args[0] = resolve("/" + node.args[0].name)
    if node.name == "if":
        cond = _truth(node.args[0], resolve)
        _, then, other = args
        return lambda ctx: then(ctx) if cond(ctx) else other(ctx)
    if node.name == "once":
        return args[0]
    fn = function.impl
    if not args:
        return lambda ctx: fn(ctx, [])
    if len(args) == 1:
        (a0,) = args
        return lambda ctx: fn(ctx, [a0(ctx)])
    return lambda ctx: fn(ctx, [a(ctx) for a in args])
