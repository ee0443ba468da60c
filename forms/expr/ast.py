"""Expression syntax tree."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Num:
    value: float


@dataclass(frozen=True, slots=True)
class Str:
    value: str


@dataclass(frozen=True, slots=True)
class Ref:
    """`${name}`: another field's answer."""

    name: str


@dataclass(frozen=True, slots=True)
class Current:
    """`.`: the answer being checked (in a constraint)."""


@dataclass(frozen=True, slots=True)
class Parent:
    """`..`: the enclosing repeat instance, as in ODK's `position(..)`."""


@dataclass(frozen=True, slots=True)
class Column:
    """A bare name: a column of the choice being filtered (only in choice_filter)."""

    name: str


@dataclass(frozen=True, slots=True)
class Neg:
    operand: Expr


@dataclass(frozen=True, slots=True)
class Binary:
    op: str  # or and = != < <= > >= + - * div mod
    left: Expr
    right: Expr


@dataclass(frozen=True, slots=True)
class Call:
    name: str
    args: tuple[Expr, ...]


Expr = Num | Str | Ref | Current | Parent | Column | Neg | Binary | Call

# Binding strength of binary operators, loosest first (XPath 1.0).
PRECEDENCE: dict[str, int] = {
    "or": 1,
    "and": 2,
    "=": 3,
    "!=": 3,
    "<": 4,
    "<=": 4,
    ">": 4,
    ">=": 4,
    "+": 5,
    "-": 5,
    "*": 6,
    "div": 6,
    "mod": 6,
}
UNARY_PRECEDENCE = 7


def walk(node: Expr) -> Iterator[Expr]:
    """Every node of the tree, parents before children, left to right (without recursion, so that a
    chain of hundreds of operators is fine)."""
    stack: list[Expr] = [node]
    while stack:
        n = stack.pop()
        yield n
        if isinstance(n, Neg):
            stack.append(n.operand)
        elif isinstance(n, Binary):
            stack.append(n.right)
            stack.append(n.left)
        elif isinstance(n, Call):
            stack.extend(reversed(n.args))


def refs(node: Expr) -> set[str]:
    return {n.name for n in walk(node) if isinstance(n, Ref)}
