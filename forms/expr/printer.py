"""AST back to expression text, with only the parentheses that are needed."""

from __future__ import annotations

import math

from forms.expr.ast import (
    PRECEDENCE,
    UNARY_PRECEDENCE,
    Binary,
    Call,
    Column,
    Current,
    Expr,
    Neg,
    Num,
    Parent,
    Ref,
    Str,
)


def _num(value: float) -> str:
    if math.isnan(value):
        raise ValueError("NaN has no literal")
    if math.isinf(value):  # what a literal such as 1e999 parses to
        return "1e999" if value > 0 else "-1e999"
    if value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return repr(value)


def _str(value: str) -> str:
    if "'" not in value:
        return f"'{value}'"
    if '"' not in value:
        return f'"{value}"'
    raise ValueError("a string literal cannot hold both quote characters")


def _prec(node: Expr) -> int:
    if isinstance(node, Binary):
        return PRECEDENCE[node.op]
    if isinstance(node, Neg):
        return UNARY_PRECEDENCE
    return UNARY_PRECEDENCE + 1


def to_source(node: Expr) -> str:
    if isinstance(node, Num):
        return _num(node.value)
    if isinstance(node, Str):
        return _str(node.value)
    if isinstance(node, Ref):
        return "${" + node.name + "}"
    if isinstance(node, Current):
        return "."
    if isinstance(node, Parent):
        return ".."
    if isinstance(node, Column):
        return node.name
    if isinstance(node, Neg):
        inner = to_source(node.operand)
        if _prec(node.operand) < UNARY_PRECEDENCE:
            inner = f"({inner})"
        return f"-{inner}"
    if isinstance(node, Binary):
        # A left-nested chain (a + b + c ...) is printed in a loop: it may be hundreds long.
        chain: list[Binary] = []
        first: Expr = node
        while isinstance(first, Binary):
            chain.append(first)
            first = first.left
        text = to_source(first)
        bound = _prec(first)
        for b in reversed(chain):
            p = PRECEDENCE[b.op]
            if bound < p:
                text = f"({text})"
            right = to_source(b.right)
            if _prec(b.right) <= p:
                right = f"({right})"
            text = f"{text} {b.op} {right}"
            bound = p
        return text
    if isinstance(node, Call):
        return f"{node.name}({', '.join(to_source(a) for a in node.args)})"
    raise TypeError(f"not an expression node: {node!r}")
