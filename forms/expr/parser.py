"""Tokenizer and precedence-climbing parser for XLSForm expressions."""

from __future__ import annotations

import re
from dataclasses import dataclass

from forms.expr.ast import (
    PRECEDENCE,
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


class ExpressionSyntaxError(ValueError):
    def __init__(self, reason: str, position: int) -> None:
        super().__init__(f"{reason} (at character {position + 1})")
        self.reason = reason
        self.position = position


@dataclass(frozen=True, slots=True)
class Token:
    kind: str  # num str ref name op ( ) , . end
    text: str
    pos: int


_TOKEN = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<dotdot>\.\.)
  | (?P<num>(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)
  | (?P<str>'[^']*'|"[^"]*")
  | (?P<ref>\$\{(?P<refname>[^}]*)\})
  | (?P<name>[^\W\d][\w.:-]*)
  | (?P<op>!=|<=|>=|[=<>+\-*])
  | (?P<punct>[(),])
  | (?P<dot>\.)
    """,
    re.VERBOSE,
)

_WORD_OPERATORS = {"and", "or", "div", "mod"}


def tokenize(source: str) -> list[Token]:
    tokens: list[Token] = []
    pos = 0
    while pos < len(source):
        m = _TOKEN.match(source, pos)
        if m is None:
            if source[pos] in "'\"":
                raise ExpressionSyntaxError("unterminated string", pos)
            if source.startswith("${", pos):
                raise ExpressionSyntaxError("unterminated field reference: no closing '}'", pos)
            raise ExpressionSyntaxError(f"unexpected character {source[pos]!r}", pos)
        kind = m.lastgroup
        assert kind is not None
        if kind == "refname":  # pragma: no cover - inner group never last
            kind = "ref"
        if kind == "ref":
            name = m.group("refname").strip()
            if not re.fullmatch(r"[^\W\d][\w.-]*", name):
                raise ExpressionSyntaxError(f"invalid field reference {m.group(0)!r}", pos)
            tokens.append(Token("ref", name, pos))
        elif kind == "punct":
            tokens.append(Token(m.group(0), m.group(0), pos))
        elif kind != "ws":
            tokens.append(Token(kind, m.group(0), pos))
        pos = m.end()
    tokens.append(Token("end", "", len(source)))
    return tokens


# How deeply parentheses, function calls and unary minus may nest: far beyond any real form, and far
# within Python's recursion limit (for this parser and for what compiles and prints the tree).
MAX_NESTING = 200


class _Parser:
    def __init__(self, source: str) -> None:
        self.tokens = tokenize(source)
        self.i = 0
        self.depth = 0

    def enter(self) -> None:
        self.depth += 1
        if self.depth > MAX_NESTING:
            raise ExpressionSyntaxError(
                f"expression nested more than {MAX_NESTING} levels deep", self.tok.pos
            )

    @property
    def tok(self) -> Token:
        return self.tokens[self.i]

    def advance(self) -> Token:
        t = self.tokens[self.i]
        self.i += 1
        return t

    def expect(self, kind: str) -> Token:
        if self.tok.kind != kind:
            found = self.tok.text or "end of expression"
            raise ExpressionSyntaxError(f"expected {kind!r}, found {found!r}", self.tok.pos)
        return self.advance()

    def binary_op(self) -> str | None:
        t = self.tok
        if t.kind == "op":
            return t.text
        if t.kind == "name" and t.text in _WORD_OPERATORS:
            return t.text
        return None

    def expression(self, min_prec: int = 1) -> Expr:
        self.enter()
        left = self.unary()
        while True:
            op = self.binary_op()
            if op is None or PRECEDENCE[op] < min_prec:
                self.depth -= 1
                return left
            self.advance()
            right = self.expression(PRECEDENCE[op] + 1)
            left = Binary(op, left, right)

    def unary(self) -> Expr:
        if self.tok.kind == "op" and self.tok.text == "-":
            self.enter()
            self.advance()
            node = Neg(self.unary())
            self.depth -= 1
            return node
        return self.primary()

    def primary(self) -> Expr:
        t = self.tok
        if t.kind == "num":
            self.advance()
            return Num(float(t.text))
        if t.kind == "str":
            self.advance()
            return Str(t.text[1:-1])
        if t.kind == "ref":
            self.advance()
            return Ref(t.text)
        if t.kind == "dot":
            self.advance()
            return Current()
        if t.kind == "dotdot":
            self.advance()
            return Parent()
        if t.kind == "(":
            self.advance()
            inner = self.expression()
            self.expect(")")
            return inner
        if t.kind == "name":
            if t.text in _WORD_OPERATORS:
                raise ExpressionSyntaxError(f"operator {t.text!r} needs a left operand", t.pos)
            self.advance()
            if self.tok.kind != "(":
                return Column(t.text)
            self.advance()
            args: list[Expr] = []
            if self.tok.kind != ")":
                args.append(self.expression())
                while self.tok.kind == ",":
                    self.advance()
                    args.append(self.expression())
            self.expect(")")
            return Call(t.text, tuple(args))
        if t.kind == "end":
            raise ExpressionSyntaxError("expression ends too early", t.pos)
        raise ExpressionSyntaxError(f"unexpected {t.text!r}", t.pos)


def parse(source: str) -> Expr:
    """Parse an expression; raises ExpressionSyntaxError naming the problem and its position."""
    p = _Parser(source)
    if p.tok.kind == "end":
        raise ExpressionSyntaxError("empty expression", 0)
    node = p.expression()
    if p.tok.kind != "end":
        raise ExpressionSyntaxError(f"unexpected {p.tok.text!r}", p.tok.pos)
    return node
