"""XLSForm expressions: parsed once into an AST, printed back, compiled to closures (never Python eval)."""

from forms.expr.ast import Binary, Call, Column, Current, Expr, Neg, Num, Ref, Str
from forms.expr.parser import ExpressionSyntaxError, parse
from forms.expr.printer import to_source

__all__ = [
    "Binary",
    "Call",
    "Column",
    "Current",
    "Expr",
    "ExpressionSyntaxError",
    "Neg",
    "Num",
    "Ref",
    "Str",
    "parse",
    "to_source",
]
