"""The expression language: parsing, printing, and what every function and operator computes.

Most semantics are checked by compiling an expression directly, with a resolver that hands out the
typed answers the engine would (dates as datetime.date, select_multiple as a tuple, answers gathered
across repeat instances as a Nodeset, an empty answer as ''). The empty-answer rules and date
arithmetic are also checked end to end, through a small form whose `calculate` row holds the
expression, reading the stored value from evaluate(...).data.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from pathlib import Path
from typing import Any

import pytest

from forms.engine import evaluate
from forms.errors import FormDefinitionError
from forms.expr import (
    Binary,
    Call,
    Column,
    Current,
    ExpressionSyntaxError,
    Neg,
    Num,
    Ref,
    Str,
    parse,
    to_source,
)
from forms.expr.ast import refs, walk
from forms.expr.compiler import Context, compile_expr
from forms.expr.functions import FUNCTIONS
from forms.expr.parser import MAX_NESTING
from forms.expr.values import Nodeset
from forms.loader import load_yaml_text

TODAY = dt.date(2024, 5, 10)
CST = dt.timezone(dt.timedelta(hours=8))
NOW = dt.datetime(2024, 5, 10, 9, 30, tzinfo=CST)
NAN = float("nan")
INF = float("inf")


def days(d: dt.date) -> float:
    return float((d - dt.date(1970, 1, 1)).days)


# -- helpers ------------------------------------------------------------------------------------------


def ev(
    src: str, *, current: Any = "", columns: dict[str, str] | None = None, **answers: Any
) -> Any:
    """Evaluate src; ${name} is answers[name], or the empty answer '' when not given."""

    def resolve(name: str) -> Any:
        return lambda ctx: answers.get(name, "")

    fn = compile_expr(parse(src), resolve)
    ctx = Context([], today=TODAY, now=NOW)
    ctx.current = current
    ctx.columns = columns or {}
    return fn(ctx)


def is_nan(value: Any) -> bool:
    return isinstance(value, float) and math.isnan(value)


FIELDS = """
  - {type: text, name: t, label: T}
  - {type: text, name: t2, label: T2}
  - {type: integer, name: n, label: N}
  - {type: decimal, name: x, label: X}
  - {type: date, name: d1, label: D1}
  - {type: date, name: d2, label: D2}
  - {type: time, name: tm, label: Tm}
  - {type: datetime, name: when, label: When}
  - {type: select_one abc, name: s, label: S}
  - {type: select_multiple abc, name: m, label: M}
"""
CHOICES = """
choices:
  abc:
    - {name: a, label: A}
    - {name: b, label: B}
    - {name: c, label: C}
"""
MISSING = object()


def calc(expression: str, **data: Any) -> Any:
    """The stored value of a calculate row computing `expression` over the answers in data."""
    text = (
        "settings: {form_id: expr_test, version: '1', title: Expression test}\n"
        "survey:\n"
        + FIELDS
        + f"  - {{type: calculate, name: result, calculation: {json.dumps(expression)}}}\n"
        + CHOICES
    )
    form = load_yaml_text(text)
    result = evaluate(form, data, today=TODAY, now=NOW)
    assert result.problems == [], result.problems
    return result.data.get("result", MISSING)


# -- parser -------------------------------------------------------------------------------------------


def n(v: float) -> Num:
    return Num(float(v))


@pytest.mark.parametrize(
    ("src", "tree"),
    [
        # or is looser than and, on either side
        ("1 or 2 and 3", Binary("or", n(1), Binary("and", n(2), n(3)))),
        ("1 and 2 or 3", Binary("or", Binary("and", n(1), n(2)), n(3))),
        # and is looser than = and !=
        ("1 = 2 and 3 != 4", Binary("and", Binary("=", n(1), n(2)), Binary("!=", n(3), n(4)))),
        # = is looser than the relational operators
        ("1 < 2 = 3 >= 4", Binary("=", Binary("<", n(1), n(2)), Binary(">=", n(3), n(4)))),
        ("1 <= 2 != 3 > 4", Binary("!=", Binary("<=", n(1), n(2)), Binary(">", n(3), n(4)))),
        # relational is looser than + and -
        ("1 + 2 < 3 - 4", Binary("<", Binary("+", n(1), n(2)), Binary("-", n(3), n(4)))),
        # + is looser than *, div, mod
        ("1 + 2 * 3", Binary("+", n(1), Binary("*", n(2), n(3)))),
        ("1 * 2 + 3", Binary("+", Binary("*", n(1), n(2)), n(3))),
        ("1 - 6 div 3", Binary("-", n(1), Binary("div", n(6), n(3)))),
        ("7 mod 3 + 1", Binary("+", Binary("mod", n(7), n(3)), n(1))),
        # operators of one level associate to the left
        ("1 - 2 - 3", Binary("-", Binary("-", n(1), n(2)), n(3))),
        ("1 - 2 + 3", Binary("+", Binary("-", n(1), n(2)), n(3))),
        ("8 div 4 div 2", Binary("div", Binary("div", n(8), n(4)), n(2))),
        ("6 div 2 * 3", Binary("*", Binary("div", n(6), n(2)), n(3))),
        ("7 mod 4 mod 2", Binary("mod", Binary("mod", n(7), n(4)), n(2))),
        ("1 = 1 = 1", Binary("=", Binary("=", n(1), n(1)), n(1))),
        ("1 or 2 or 3", Binary("or", Binary("or", n(1), n(2)), n(3))),
        # unary minus binds tighter than anything binary
        ("-2 * 3", Binary("*", Neg(n(2)), n(3))),
        ("-2 div 2", Binary("div", Neg(n(2)), n(2))),
        ("2 * -3", Binary("*", n(2), Neg(n(3)))),
        ("1 - -1", Binary("-", n(1), Neg(n(1)))),
        ("--1", Neg(Neg(n(1)))),
        ("- ${a} mod 2", Binary("mod", Neg(Ref("a")), n(2))),
        # parentheses override
        ("(1 + 2) * 3", Binary("*", Binary("+", n(1), n(2)), n(3))),
        ("1 - (2 - 3)", Binary("-", n(1), Binary("-", n(2), n(3)))),
        ("-(1 + 2)", Neg(Binary("+", n(1), n(2)))),
        ("(1 or 2) and 3", Binary("and", Binary("or", n(1), n(2)), n(3))),
        ("((((1))))", n(1)),
    ],
)
def test_precedence_and_grouping(src: str, tree: Any) -> None:
    assert parse(src) == tree


@pytest.mark.parametrize(
    ("src", "tree"),
    [
        ("'abc'", Str("abc")),
        ('"abc"', Str("abc")),
        ("''", Str("")),
        ('""', Str("")),
        ('"it\'s"', Str("it's")),
        ("'say \"hi\"'", Str('say "hi"')),
        ("'a and b'", Str("a and b")),
        ("'${not_a_ref}'", Str("${not_a_ref}")),
        ("'中文 答案'", Str("中文 答案")),
        ("${name}", Ref("name")),
        ("${ name }", Ref("name")),
        ("${grade_1}", Ref("grade_1")),
        ("${div}", Ref("div")),
        (".", Current()),
        (". >= 5", Binary(">=", Current(), n(5))),
        ("grade", Column("grade")),
        ("grade = ${g}", Binary("=", Column("grade"), Ref("g"))),
        ("county_code != ''", Binary("!=", Column("county_code"), Str(""))),
        ("12", n(12)),
        ("1.5", n(1.5)),
        (".5", n(0.5)),
        ("3.", n(3)),
        ("today()", Call("today", ())),
        ("count-selected(${m})", Call("count-selected", (Ref("m"),))),
        (
            "concat('a', ${b}, 1 + 2)",
            Call("concat", (Str("a"), Ref("b"), Binary("+", n(1), n(2)))),
        ),
        (
            "if(${a} = 'x', round(${b}, 2), '')",
            Call(
                "if",
                (Binary("=", Ref("a"), Str("x")), Call("round", (Ref("b"), n(2))), Str("")),
            ),
        ),
        ("\t${a}\n  +\n1 ", Binary("+", Ref("a"), n(1))),
        ("${a}-1", Binary("-", Ref("a"), n(1))),
        ("1-1", Binary("-", n(1), n(1))),
        ("${a}div${b}", Binary("div", Ref("a"), Ref("b"))),
    ],
)
def test_operands(src: str, tree: Any) -> None:
    assert parse(src) == tree


@pytest.mark.parametrize(
    ("src", "reason", "position"),
    [
        ("'abc", "unterminated string", 0),
        ("1 + 'abc", "unterminated string", 4),
        ('concat("a, "b")', "unterminated string", 13),
        ("(1 + 2", "expected ')'", 6),
        ("concat('a', 'b'", "expected ')'", 15),
        ("((1)", "expected ')'", 4),
        ("1 + 2)", "unexpected ')'", 5),
        ("(1))", "unexpected ')'", 3),
        (")", "unexpected ')'", 0),
        ("1 +", "ends too early", 3),
        ("${a} and", "ends too early", 8),
        ("${a} = ", "ends too early", 7),
        ("-", "ends too early", 1),
        ("1 * * 2", "unexpected '*'", 4),
        ("", "empty expression", 0),
        ("   ", "empty expression", 0),
        ("${}", "invalid field reference", 0),
        ("1 + ${}", "invalid field reference", 4),
        ("${ }", "invalid field reference", 0),
        ("${1a}", "invalid field reference", 0),
        ("and 1", "needs a left operand", 0),
        ("1 2", "unexpected '2'", 2),
        ("concat('a',)", "unexpected ')'", 11),
        ("1 # 2", "unexpected character '#'", 2),
        ("${a", "unterminated field reference", 0),
        ("1 + ${a + 1", "unterminated field reference", 4),
        ("${a b}", "invalid field reference '${a b}'", 0),
        ("${-a}", "invalid field reference", 0),
        ("$a", "unexpected character '$'", 0),
        (". .", "unexpected '.'", 2),
    ],
)
def test_syntax_errors_name_the_problem_and_position(src: str, reason: str, position: int) -> None:
    with pytest.raises(ExpressionSyntaxError) as info:
        parse(src)
    err = info.value
    assert reason in err.reason
    assert err.position == position
    assert f"(at character {position + 1})" in str(err)
    assert isinstance(err, ValueError)


def test_nesting_beyond_the_limit_is_a_syntax_error_not_a_crash() -> None:
    for src in [
        "(" * 500 + "1" + ")" * 500,
        "-" * 1000 + "1",
        "abs(" * 500 + "1" + ")" * 500,
    ]:
        with pytest.raises(ExpressionSyntaxError, match="nested"):
            parse(src)
    # nesting up to the limit is fine: parsed, printed, compiled and run
    depth = MAX_NESTING // 2
    assert ev("(" * depth + "1 + 1" + ")" * depth) == 2.0
    assert ev("-" * depth + "1") == 1.0
    depth = MAX_NESTING - 5
    lookup = "if(${g} = 'x', 1, " * depth + "0" + ")" * depth
    assert parse(to_source(parse(lookup))) == parse(lookup)
    assert ev(lookup, g="x") == 1.0
    assert ev(lookup) == 0.0


def test_the_loader_reports_too_deep_or_accepts_very_long_expressions() -> None:
    def form(calculation: str) -> str:
        return (
            "settings: {form_id: deep, version: '1', title: Deep}\n"
            "survey:\n"
            "  - {type: integer, name: a, label: A}\n"
            f"  - {{type: calculate, name: total, calculation: {json.dumps(calculation)}}}\n"
        )

    with pytest.raises(FormDefinitionError) as info:
        load_yaml_text(form("(" * 300 + "${a}" + ")" * 300))
    assert [e.code for e in info.value.errors] == ["expression_syntax"]
    long_sum = load_yaml_text(form(" + ".join(["${a}"] * 1500)))
    assert evaluate(long_sum, {"a": 2}, today=TODAY).data["total"] == 3000


def test_long_operator_chains_parse_print_compile_and_run() -> None:
    """A sum over hundreds of fields nests as deep as it is long; nothing may hit the recursion limit."""
    count = 3000
    src = " + ".join(f"${{f{i}}}" for i in range(count))
    tree = parse(src)
    assert refs(tree) == {f"f{i}" for i in range(count)}
    assert sum(1 for _ in walk(tree)) == 2 * count - 1
    assert to_source(tree) == src
    answers: dict[str, Any] = {f"f{i}": i for i in range(count)}
    assert ev(src, **answers) == sum(range(count))
    mixed = " and ".join(f"${{f{i}}} < {i + 1}" for i in range(count))
    assert ev(mixed, **answers) is True
    assert ev(mixed, **{**answers, "f2999": 5000}) is False
    assert ev(" or ".join(["${x} = 1"] * count), x=1) is True
    assert ev(" - ".join(["1"] * 20)) == -18.0  # still left to right in the chain loop
    assert ev("0 = 0 = 1 = 1" + " = 1" * 20) is True  # (((0 = 0) = 1) = 1) ...


def test_walk_and_refs_in_document_order() -> None:
    tree = parse("if(${a} > 1, -${b}, concat(${c}, .))")
    kinds = [type(node).__name__ for node in walk(tree)]
    assert kinds == ["Call", "Binary", "Ref", "Num", "Neg", "Ref", "Call", "Ref", "Current"]
    assert refs(tree) == {"a", "b", "c"}


# -- printer ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("src", "printed"),
    [
        ("(1+2)*3", "(1 + 2) * 3"),
        ("1+(2*3)", "1 + 2 * 3"),
        ("(1-2)-3", "1 - 2 - 3"),
        ("1-(2-3)", "1 - (2 - 3)"),
        ("1-(2+3)", "1 - (2 + 3)"),
        ("(8 div 4) div 2", "8 div 4 div 2"),
        ("8 div (4 div 2)", "8 div (4 div 2)"),
        ("-(1+2)", "-(1 + 2)"),
        ("-(-1)", "--1"),
        ("(-1) * 2", "-1 * 2"),
        ("(a or b) and c", "(a or b) and c"),
        ("a or (b and c)", "a or b and c"),
        ("(1 = 2) = 3", "1 = 2 = 3"),
        ("1 = (2 = 3)", "1 = (2 = 3)"),
        ("(1 < 2) + 1", "(1 < 2) + 1"),
        ("${a}>=.", "${a} >= ."),
        ("${ a }", "${a}"),
        ('"x"', "'x'"),
        ('"it\'s"', '"it\'s"'),
        ("1.50", "1.5"),
        ("2.0", "2"),
        ("1e3", "1000"),
        ("1e20", "1e+20"),
        ("0.00001", "1e-05"),
        ("1e999", "1e999"),
        ("concat( 'a' ,${b} )", "concat('a', ${b})"),
        ("today( )", "today()"),
        ("count-selected(${m})>1", "count-selected(${m}) > 1"),
    ],
)
def test_printing_keeps_only_the_needed_parentheses(src: str, printed: str) -> None:
    tree = parse(src)
    assert to_source(tree) == printed
    assert parse(printed) == tree


def test_printer_rejects_what_has_no_literal() -> None:
    with pytest.raises(ValueError, match="both quote"):
        to_source(Str('it\'s "quoted"'))
    with pytest.raises(ValueError, match="NaN"):
        to_source(Num(NAN))


def test_the_safety_inspection_expressions_round_trip() -> None:
    srcs = [
        ". <= today()",
        "${inspection_type} = 'special'",
        ". >= ${inspection_date} and (${severity} != 'serious' or . <= ${inspection_date} + 7)",
        "${status} = 'rectified' or ${status} = 'verified'",
        "if(${status} = 'rectified' or ${status} = 'verified', 0, 1)",
        "count(${hazards})",
        "sum(${is_open})",
    ]
    for src in srcs:
        assert to_source(parse(src)) == src


# -- operators ----------------------------------------------------------------------------------------


def test_arithmetic() -> None:
    assert ev("1 + 2 * 3") == 7.0
    assert ev("(1 + 2) * 3") == 9.0
    assert ev("7 div 2") == 3.5
    assert ev("10 - 2 - 3") == 5.0
    assert ev("-${a} + 1", a=5) == -4.0
    assert ev("'3' + '4'") == 7.0
    assert ev("${a} * 2", a="2.5") == 5.0
    assert ev("true() + true()") == 2.0


def test_division_by_zero() -> None:
    assert ev("1 div 0") == INF
    assert ev("-1 div 0") == -INF
    assert ev("1 div -0") == -INF
    assert is_nan(ev("0 div 0"))
    assert is_nan(ev("${a} div 0"))  # empty answer
    assert ev("1 div 0 > 1000000") is True
    assert ev("string(1 div 0)") == "Infinity"
    assert ev("string(-1 div 0)") == "-Infinity"
    assert ev("string(0 div 0)") == "NaN"


def test_mod_truncates_like_xpath() -> None:
    assert ev("7 mod 3") == 1.0
    assert ev("-7 mod 3") == -1.0
    assert ev("7 mod -3") == 1.0
    assert ev("5.5 mod 2") == 1.5
    assert ev("6 mod 3") == 0.0
    assert is_nan(ev("5 mod 0"))
    assert is_nan(ev("(1 div 0) mod 2"))
    assert ev("5 mod (1 div 0)") == 5.0
    assert is_nan(ev("${a} mod 2"))


def test_empty_answers_in_comparisons_and_arithmetic() -> None:
    # an empty answer is '' when compared ...
    assert ev("${x} = ''") is True
    assert ev("${x} != ''") is False
    assert ev("${x} != 'a'") is True
    assert ev("${x} = 'a'") is False
    assert ev("'' = ${x}") is True
    # ... NaN in arithmetic ...
    assert is_nan(ev("${x} + 1"))
    assert is_nan(ev("1 - ${x}"))
    assert is_nan(ev("-${x}"))
    # ... and every ordering comparison with NaN is false
    for op in ("<", "<=", ">", ">="):
        assert ev(f"${{x}} {op} 5") is False
        assert ev(f"5 {op} ${{x}}") is False
        assert ev(f"${{x}} + 1 {op} 5") is False
    assert ev("${x} = 0") is False
    assert ev("${x} != 0") is True
    assert ev("0 div 0 = 0 div 0") is False
    assert ev("0 div 0 != 0 div 0") is True
    # and an answer that is not empty is not ''
    assert ev("${x} = ''", x=0) is False
    assert ev("${x} = ''", x="a") is False
    assert ev("${x} != 'a'", x="a") is False


def test_equality_converts_like_xpath() -> None:
    assert ev("'abc' = 'abc'") is True
    assert ev("'abc' = 'ABC'") is False
    assert ev("1 = '1'") is True  # a number on one side: compared as numbers
    assert ev("'1.0' = 1") is True
    assert ev("'1.0' = '1'") is False  # two strings: compared as strings
    assert ev("${n} = 3", n=3) is True
    assert ev("${n} = '3'", n=3) is True
    assert ev("true() = 'x'") is True  # a boolean on one side: compared as booleans
    assert ev("false() = ''") is True
    assert ev("true() = 1") is True
    assert ev("${m} = 'a b'", m=("a", "b")) is True  # select_multiple: its space-separated text


def test_ordering_compares_numbers() -> None:
    assert ev("2 < 10") is True
    assert ev("'2' < '10'") is True  # as numbers, not as text
    assert ev("'a' < 'b'") is False  # NaN
    assert ev("'a' >= 'a'") is False
    assert ev("1 <= 1 and 1 >= 1") is True
    assert ev("true() > false()") is True


def test_and_or_short_circuit_and_return_booleans() -> None:
    assert ev("1 and 'x'") is True
    assert ev("0 or ''") is False
    assert ev("${a} or 2", a="") is True
    assert ev("(0 div 0) and 1") is False
    assert ev("1 or regex('a', '(')") is True


def test_current_and_columns() -> None:
    assert ev(". <= 5", current=3) is True
    assert ev(". <= 5", current=7) is False
    assert ev(". = ''") is True  # nothing being checked
    assert ev("grade = ${g}", columns={"name": "x", "grade": "3"}, g=3) is True
    assert ev("grade = ${g}", columns={"name": "x", "grade": "4"}, g=3) is False
    assert ev("missing_column = ''", columns={"name": "x"}) is True


def test_huge_whole_numbers_do_not_overflow() -> None:
    huge = 10**400  # JSON holds it; it is no double
    assert ev("${n} > 1", n=huge) is True
    assert ev("${n} < 0", n=-huge) is True
    assert ev("${n} + 1", n=huge) == INF
    assert ev("boolean(${n})", n=huge) is True
    assert ev("string-length(string(${n}))", n=huge) == 401.0
    assert ev("string(${n})", n=10**5000) == "Infinity"  # beyond what Python prints as digits


# -- node-sets (answers gathered across repeat instances) ---------------------------------------------


def test_node_set_comparisons_are_existential() -> None:
    qty = Nodeset([1, 5, 3])
    assert ev("${q} = 5", q=qty) is True
    assert ev("${q} = 4", q=qty) is False
    assert ev("${q} != 5", q=qty) is True  # some item differs
    assert ev("${q} != 5", q=Nodeset([5, 5])) is False
    assert ev("${q} > 4", q=qty) is True
    assert ev("${q} > 5", q=qty) is False
    assert ev("${q} < 2", q=qty) is True
    assert ev("6 > ${q}", q=qty) is True
    assert ev("${q} = ${r}", q=qty, r=Nodeset([9, 3])) is True
    assert ev("${q} = ${r}", q=qty, r=Nodeset([9, 8])) is False
    # an empty node-set is neither equal nor unequal to anything
    empty = Nodeset()
    assert ev("${q} = ''", q=empty) is False
    assert ev("${q} != ''", q=empty) is False
    assert ev("${q} > 0", q=empty) is False
    # against a boolean, the node-set counts as its boolean: non-empty is true
    # one node beside a boolean is read as its answer, as ODK Collect does: blank is false
    assert ev("${q} = true()", q=Nodeset([""])) is False
    assert ev("${q} = true()", q=Nodeset(["x"])) is True
    assert ev("${q} = false()", q=empty) is True
    assert ev("${q} != true()", q=empty) is True
    # dates in a node-set compare with a date (with a date string: false, as in ODK Collect)
    dates = Nodeset([dt.date(2024, 1, 5), dt.date(2024, 3, 1)])
    assert ev("${q} > date('2024-02-01')", q=dates) is True
    assert ev("${q} > '2024-02-01'", q=dates) is False
    assert ev("${q} = '2024-01-05'", q=dates) is True


def test_node_set_as_a_single_value_is_its_first_item() -> None:
    qty = Nodeset([4, 5])
    assert ev("${q} + 1", q=qty) == 5.0
    assert ev("string(${q})", q=qty) == "4"
    assert is_nan(ev("${q} + 1", q=Nodeset()))
    assert ev("string(${q})", q=Nodeset()) == ""
    assert ev("boolean(${q})", q=Nodeset([""])) is False  # one blank answer, as ODK Collect
    assert ev("boolean(${q})", q=Nodeset()) is False


# -- functions ----------------------------------------------------------------------------------------


def test_every_function_is_covered_here() -> None:
    covered = {
        "selected",
        "count-selected",
        "selected-at",
        "string-length",
        "normalize-space",
        "regex",
        "contains",
        "starts-with",
        "ends-with",
        "concat",
        "join",
        "substr",
        "today",
        "now",
        "date",
        "decimal-date-time",
        "decimal-time",
        "int",
        "number",
        "string",
        "boolean",
        "round",
        "floor",
        "ceiling",
        "abs",
        "if",
        "coalesce",
        "count",
        "sum",
        "max",
        "min",
        "not",
        "true",
        "false",
    }
    # ODK's further functions are covered by the conformance corpus (tests/forms/test_conformance.py).
    corpus = (Path(__file__).parent / "conformance" / "expressions.json").read_text(
        encoding="utf-8"
    )
    covered |= {name for name in FUNCTIONS if f"{name}(" in corpus}
    assert set(FUNCTIONS) == covered


def test_selected() -> None:
    assert ev("selected(${m}, 'b')", m=("a", "b")) is True
    assert ev("selected(${m}, 'c')", m=("a", "b")) is False
    assert ev("selected(${m}, 'b')") is False  # empty
    assert ev("selected('a b c', 'c')") is True
    assert ev("selected('a bc', 'b')") is False  # whole choices only
    assert ev("selected(' a  b ', 'b')") is True
    assert ev("selected(${s}, 'a')", s="a") is True  # select_one works too
    assert ev("selected(${m}, ${v})", m=("1", "2"), v=2) is True


def test_count_selected() -> None:
    assert ev("count-selected(${m})", m=("a", "b", "c")) == 3.0
    assert ev("count-selected(${m})") == 0.0
    assert ev("count-selected('a  b ')") == 2.0
    assert ev("count-selected(${s})", s="a") == 1.0


def test_selected_at() -> None:
    assert ev("selected-at(${m}, 0)", m=("a", "b", "c")) == "a"
    assert ev("selected-at(${m}, 2)", m=("a", "b", "c")) == "c"
    assert ev("selected-at(${m}, 3)", m=("a", "b", "c")) == ""
    assert ev("selected-at(${m}, -1)", m=("a", "b", "c")) == ""
    assert ev("selected-at(${m}, 1.9)", m=("a", "b", "c")) == "b"
    assert ev("selected-at('x y', '1')") == "y"
    assert ev("selected-at(${m}, 0)") == ""
    assert ev("selected-at('', -0.5)") == ""  # no choices: an index truncated to 0 is past them too
    assert ev("selected-at('a b', ${i})") == ""  # NaN index
    assert ev("selected-at('a b', 1 div 0)") == ""
    assert ev("selected-at('a b', -1 div 0)") == ""


def test_string_length() -> None:
    assert ev("string-length('abc')") == 3.0
    assert ev("string-length('校园安全')") == 4.0
    assert ev("string-length(${t})") == 0.0
    assert ev("string-length(12.5)") == 4.0
    assert ev("string-length(${d})", d=dt.date(2024, 1, 1)) == 10.0


def test_normalize_space() -> None:
    assert ev("normalize-space('  a   b  ')") == "a b"
    assert ev("normalize-space(${t})", t="\tx\n\ny  ") == "x y"
    assert ev("normalize-space(${t})") == ""
    assert ev("normalize-space('   ')") == ""


def test_regex() -> None:
    assert ev("regex(${t}, '^[0-9]{11}$')", t="13800138000") is True
    assert ev("regex(${t}, '^[0-9]{11}$')", t="1380013800") is False
    # As ODK Collect (JavaRosa, Pattern.matches): the whole text must match (conformance corpus, regex-079)
    assert ev("regex(${t}, '[0-9]')", t="abc1") is False
    assert ev("regex(${t}, '.*[0-9]')", t="abc1") is True
    assert ev("regex(${t}, '^$')") is True
    assert ev("regex(${t}, '^.+$')") is False
    assert ev("regex(${n}, '^[0-9]+$')", n=42) is True
    assert ev("regex('中文', '^\\p{L}+$')") is False  # Python re has no \p: an invalid pattern
    # a pattern Python cannot compile is simply not matched, whatever re raises for it
    assert ev("regex('abc', '(')") is False
    assert ev("regex('aaa', 'a{99999999999}')") is False
    assert ev("regex('a', ${p})", p="(" * 5000 + "a" + ")" * 5000) is False


def test_contains_starts_with_ends_with() -> None:
    assert ev("contains('abcdef', 'cd')") is True
    assert ev("contains('abcdef', 'x')") is False
    assert ev("contains(${t}, '')") is True
    assert ev("contains(${t}, 'a')") is False
    assert ev("contains(12345, 23)") is True
    assert ev("starts-with('abc', 'ab')") is True
    assert ev("starts-with('abc', 'bc')") is False
    assert ev("starts-with(${t}, '')") is True
    assert ev("ends-with('abc', 'bc')") is True
    assert ev("ends-with('abc', 'ab')") is False
    assert ev("ends-with(${t}, 'x')") is False


def test_concat() -> None:
    assert ev("concat('a', 'b', 'c')") == "abc"
    assert ev("concat('n=', 1, ' ', true())") == "n=1 true"
    assert ev("concat(${t}, 'x')") == "x"
    assert ev("concat(${t})") == ""
    assert ev("concat(2.50, '/', 1 div 2)") == "2.5/0.5"
    assert ev("concat(${d}, 'T')", d=dt.date(2024, 5, 1)) == "2024-05-01T"
    assert ev("concat(${q}, '!')", q=Nodeset(["a", "b"])) == "ab!"  # every item of a node-set


def test_join() -> None:
    assert ev("join(', ', ${q})", q=Nodeset(["a", "b", "c"])) == "a, b, c"
    assert ev("join('-', 'x', 'y', 'z')") == "x-y-z"
    assert ev("join('-', ${q})", q=Nodeset()) == ""
    assert ev("join('', ${q}, 'z')", q=Nodeset([1, 2])) == "12z"


def test_substr() -> None:
    assert ev("substr('abcdef', 2)") == "cdef"
    assert ev("substr('abcdef', 1, 3)") == "bc"
    assert ev("substr('abcdef', 0, 0)") == ""
    assert ev("substr('abcdef', 3, 1)") == ""
    assert ev("substr('abc', 5)") == ""
    assert ev("substr('abc', 1.7)") == "bc"
    assert ev("substr('校园安全', 2)") == "安全"
    assert ev("substr(${t}, 1)") == ""
    assert ev("substr('abc', ${i})") == "abc"  # a start that is not a number is 0, as ODK Collect
    assert ev("substr('abc', 0, ${i})") == ""  # NaN end
    assert ev("substr('abc', 1 div 0)") == ""
    assert ev("substr('abc', 0, 1 div 0)") == "abc"
    assert ev("substr('abc', -1 div 0, 2)") == "ab"


def test_today_and_now() -> None:
    assert ev("today()") == TODAY
    assert ev("now()") == NOW
    assert ev("today() = '2024-05-10'") is True
    assert ev("now() > today()") is True  # half past nine in the morning
    assert calc("today()") == "2024-05-10"
    assert calc("now()") == "2024-05-10T09:30:00+08:00"
    assert calc("today() - 1") == days(TODAY) - 1


def test_date() -> None:
    assert ev("date('2024-02-29')") == dt.date(2024, 2, 29)
    assert ev("date(' 2024-02-29 ')") == dt.date(2024, 2, 29)
    assert ev("date('2023-02-29')") == ""
    assert ev("date('2024-2-9')") == dt.date(
        2024, 2, 9
    )  # unpadded parts, as ODK Collect and Enketo read it
    assert ev("date(concat('2024', '-', ${n}, '-', ${x}))", n=3.0, x=5.0) == dt.date(2024, 3, 5)
    assert ev("date('2024-2-30')") == ""
    assert ev("date('')") == ""
    assert ev("date(${t})") == ""
    assert ev("date('not a date')") == ""
    assert ev("date(0)") == dt.date(1970, 1, 1)
    assert ev("date(19723)") == dt.date(2024, 1, 1)
    assert ev("date(19723.9)") == dt.date(2024, 1, 1)
    assert ev("date(-1)") == dt.date(1969, 12, 31)
    assert ev("date('2024-05-10T23:30:00+08:00')") == dt.date(2024, 5, 10)
    assert ev("date(${w})", w=NOW) == dt.date(2024, 5, 10)
    assert ev("date(${d})", d=dt.date(2024, 1, 2)) == dt.date(2024, 1, 2)
    # the far edges of what a date can hold, and beyond
    assert ev("date(-719162)") == dt.date(1, 1, 1)
    assert ev("date(2932896)") == dt.date(9999, 12, 31)
    assert ev("date(-719163)") == ""
    assert ev("date(2932897)") == ""
    assert ev("date(-1000000)") == ""
    assert ev("date(1 div 0)") == ""
    assert ev("date(0 div 0)") == ""


def test_decimal_date_time() -> None:
    assert ev("decimal-date-time('1970-01-02')") == 1.0
    assert ev("decimal-date-time('1970-01-01T12:00:00')") == 0.5
    assert ev("decimal-date-time('1970-01-01T18:00:00+08:00')") == 0.75  # wall-clock time
    assert ev("decimal-date-time(${d})", d=dt.date(2024, 1, 1)) == 19723.0
    assert ev("decimal-date-time(${w})", w=NOW) == days(TODAY) + 9.5 / 24
    assert ev("decimal-date-time('')") == ""  # blank in, blank out, as ODK Collect
    assert is_nan(ev("decimal-date-time('yesterday')"))
    assert ev("decimal-date-time(5)") == 5.0  # a number is already days since 1970 (ODK engines)


def test_decimal_time() -> None:
    assert ev("decimal-time('06:00')") == 0.25
    assert ev("decimal-time('12:00:00')") == 0.5
    assert is_nan(ev("decimal-time('6:00')"))  # the ODK engines want HH:MM
    assert ev("decimal-time('06:00:00.000+08:00')") == 0.25  # as ODK Collect stores a time
    assert ev("decimal-time(${tm})", tm=dt.time(18, 0)) == 0.75
    assert is_nan(ev("decimal-time(${w})", w=NOW))  # a date-time is not a time (ODK engines)
    assert is_nan(ev("decimal-time('25:00')"))
    assert ev("decimal-time('')") == ""  # blank in, blank out, as ODK Collect
    assert is_nan(ev("decimal-time(3)"))


def test_int() -> None:
    assert ev("int(3.7)") == 3.0
    assert ev("int(-3.7)") == -3.0
    assert ev("int('12.9')") == 12.0
    assert is_nan(ev("int('')"))
    assert is_nan(ev("int('x')"))
    assert ev("int(1 div 0)") == INF


def test_number() -> None:
    assert ev("number('12')") == 12.0
    assert ev("number(' -1.5 ')") == -1.5
    assert ev("number('.5')") == 0.5
    assert ev("number(true())") == 1.0
    assert ev("number(false())") == 0.0
    assert is_nan(ev("number('2024-01-02')"))  # a date as text is not a number, as ODK Collect
    assert ev("number(${d})", d=dt.date(2024, 1, 2)) == 19724.0
    assert is_nan(ev("number(${tm})", tm=dt.time(6, 0)))  # a time is text to ODK: decimal-time()
    assert is_nan(ev("number('')"))
    assert is_nan(ev("number('abc')"))
    assert is_nan(ev("number('1,000')"))
    assert is_nan(ev("number(${m})", m=("1", "2")))
    # text that Python's float() would take but that is no number in a form
    for text in ("inf", "-Infinity", "nan", "NaN", "1_000", "١٢", "0x10"):
        assert is_nan(ev("number(${t})", t=text)), text
    assert ev("${t} > 100", t="Infinity") is False


def test_string() -> None:
    assert ev("string(1)") == "1"
    assert ev("string(1.0)") == "1"
    assert ev("string(-0.0)") == "0"
    assert ev("string(2.50)") == "2.5"
    assert ev("string(0.1 + 0.2)") == "0.30000000000000004"
    assert ev("string(1000000000000000)") == "1000000000000000"
    assert ev("string(1e21)") == "1000000000000000000000"
    assert ev("string(0.00001)") == "0.00001"
    assert ev("string(true())") == "true"
    assert ev("string(false())") == "false"
    assert ev("string(${t})") == ""
    assert ev("string(${d})", d=dt.date(2024, 5, 10)) == "2024-05-10"
    assert ev("string(${tm})", tm=dt.time(8, 5)) == "08:05:00.000+08:00"  # as ODK Collect stores it
    assert ev("string(${tm})", tm=dt.time(8, 5, 30)) == "08:05:30.000+08:00"
    assert ev("string(${m})", m=("a", "b")) == "a b"
    assert ev("string(${n})", n=42) == "42"
    # numbers read back as themselves
    assert ev("number(string(0.00001)) = 0.00001") is True


def test_boolean() -> None:
    assert ev("boolean('false')") is True  # any non-empty text
    assert ev("boolean('')") is False
    assert (
        ev("boolean(${t})") is False
    )  # a field is read as its answer: blank is false, as ODK Collect
    assert ev("boolean(0)") is False
    assert ev("boolean(0 div 0)") is False
    assert ev("boolean(-1)") is True
    assert ev("boolean(${d})", d=dt.date(2024, 1, 1)) is True
    assert ev("boolean(${m})", m=("a",)) is True


def test_round() -> None:
    assert ev("round(2.4)") == 2.0
    assert ev("round(2.5)") == 3.0
    assert ev("round(-2.5)") == -2.0  # a half goes up, as ODK Collect (JavaRosa) and XPath 1.0
    assert ev("round(3.14159, 2)") == 3.14
    assert ev("round(1.005, 2)") == 1.01  # decimal, not binary, halves
    assert ev("round(1234.5, -2)") == 1200.0
    assert ev("round('2.6')") == 3.0
    assert is_nan(ev("round('')"))
    assert ev("round(1.5, '')") == 2.0  # digits that are not a number count as 0, as ODK Collect
    assert ev("round(1 div 0)") == INF
    assert ev("round(1e20, 10)") == 1e20  # beyond decimal precision: unchanged
    assert ev("round(2.5, 1 div 0)") == 2.5


def test_floor_ceiling_abs() -> None:
    assert ev("floor(1.5)") == 1.0
    assert ev("floor(-1.5)") == -2.0
    assert ev("ceiling(1.2)") == 2.0
    assert ev("ceiling(-1.5)") == -1.0
    assert ev("floor(1 div 0)") == INF
    assert is_nan(ev("floor(${x})"))
    assert is_nan(ev("ceiling(${x})"))
    assert ev("abs(-3)") == 3.0
    assert ev("abs('2.5')") == 2.5
    assert is_nan(ev("abs(${x})"))


def test_if() -> None:
    assert ev("if(true(), 'a', 'b')") == "a"
    assert ev("if(${t}, 'a', 'b')") == "b"  # a blank answer is false, as ODK Collect
    assert ev("if(${t} != '', 'a', 'b')") == "b"
    assert ev("if(${t}, 'a', 'b')", t="x") == "a"
    assert ev("if(0, 1, 2)") == 2.0
    assert ev("if(${d} > date('2024-01-01'), ${d}, '')", d=dt.date(2024, 2, 1)) == dt.date(
        2024, 2, 1
    )


def test_coalesce() -> None:
    assert ev("coalesce(${t}, 'default')") == "default"
    assert ev("coalesce(${t}, 'default')", t="given") == "given"
    assert ev("coalesce(${t}, ${t2})", t2=3) == 3
    assert ev("coalesce(0, 5)") == 0.0  # zero is an answer
    assert ev("coalesce(${q}, 'x')", q=Nodeset()) == "x"


def test_count() -> None:
    assert ev("count(${q})", q=Nodeset(["a", "", "b"])) == 3.0  # instances, empty or not
    assert ev("count(${q})", q=Nodeset()) == 0.0
    assert ev("count(${t})") == 1.0  # one node, empty or not, as in ODK
    assert ev("count(${t})", t="x") == 1.0


def test_sum() -> None:
    assert ev("sum(${q})", q=Nodeset([1, 2, 3.5])) == 6.5
    assert ev("sum(${q})", q=Nodeset()) == 0.0
    assert ev("sum(${q})", q=Nodeset([1, ""])) == 1.0  # a blank answer is skipped, as ODK Collect
    assert ev("sum(${q})", q=Nodeset([0.1] * 10)) == 1.0  # exactly
    assert ev("sum(${q})", q=Nodeset(["2", "3"])) == 5.0
    assert ev("sum(${n})", n=4) == 4.0
    assert ev("sum(${q})", q=Nodeset([1e308, 1e308])) == INF
    assert is_nan(ev("sum(${q})", q=Nodeset([INF, -INF])))


def test_max_and_min() -> None:
    q = Nodeset([3, 9, -2])
    assert ev("max(${q})", q=q) == 9.0
    assert ev("min(${q})", q=q) == -2.0
    assert ev("max(1, 5, 2)") == 5.0
    assert ev("min(1, 5, 2)") == 1.0
    assert ev("max(${q}, 20)", q=q) == 20.0
    assert is_nan(ev("max(${q})", q=Nodeset()))
    assert is_nan(ev("min(${q})", q=Nodeset()))
    assert ev("max(${q})", q=Nodeset([1, ""])) == 1.0  # a blank answer is skipped, as ODK Collect
    assert ev("min(1, ${x})") == 1.0
    assert is_nan(ev("min(${q})", q=Nodeset([""])))
    assert ev("max(${d1}, ${d2})", d1=dt.date(1970, 1, 3), d2=dt.date(1970, 1, 2)) == 2.0


def test_not_true_false() -> None:
    assert ev("not(true())") is False
    assert ev("not(false())") is True
    assert ev("not(${t})") is True  # a blank answer is false, as ODK Collect
    assert ev("not(${t})", t="x") is False
    assert ev("not(string(${t}))") is True
    assert ev("not('x')") is False
    assert ev("not(0)") is True
    assert ev("true()") is True
    assert ev("false()") is False
    assert ev("true() and not(false())") is True


def test_calls_the_loader_would_reject_do_not_compile() -> None:
    def resolve(name: str) -> Any:
        return lambda ctx: ""

    with pytest.raises(ValueError, match="arguments"):
        compile_expr(parse("if(1, 2)"), resolve)
    with pytest.raises(ValueError, match="arguments"):
        compile_expr(parse("today(1)"), resolve)
    with pytest.raises(ValueError, match="unknown function"):
        compile_expr(parse("nosuch(1)"), resolve)


# -- dates and times ----------------------------------------------------------------------------------


def test_date_arithmetic_directly() -> None:
    d = dt.date(2024, 5, 10)
    assert ev("${d} + 7", d=d) == days(d) + 7
    assert ev("${d} + 7 > ${e}", d=d, e=dt.date(2024, 5, 16)) is True
    assert ev("${d} + 7 > ${e}", d=d, e=dt.date(2024, 5, 17)) is False
    assert ev("${d} + 7 = ${e}", d=d, e=dt.date(2024, 5, 17)) is True
    # a date as text is not a number, so < > against it are false, as in ODK Collect: write date('...')
    assert ev("${d} + 7 <= '2024-05-17'", d=d) is False
    assert ev("${d} + 7 <= date('2024-05-17')", d=d) is True
    assert ev("${e} - ${d}", d=d, e=dt.date(2024, 6, 9)) == 30.0
    assert ev("${e} - ${d}", d=dt.date(2023, 12, 31), e=dt.date(2024, 3, 1)) == 61.0  # leap year
    assert ev("date(${d} + 7)", d=dt.date(2024, 12, 28)) == dt.date(2025, 1, 4)
    assert ev("date(${d} - 1)", d=dt.date(2024, 3, 1)) == dt.date(2024, 2, 29)
    assert ev("today() - ${d} <= 30", d=dt.date(2024, 4, 10)) is True
    assert is_nan(ev("${d} + 7"))  # empty date


def test_comparing_a_date_with_a_date_string() -> None:
    d = dt.date(2024, 5, 10)
    assert ev("${d} = '2024-05-10'", d=d) is True
    assert ev("'2024-05-10' = ${d}", d=d) is True
    assert ev("${d} != '2024-05-11'", d=d) is True
    assert ev("${d} < '2024-06-01'", d=d) is False  # as ODK Collect: text is not a number
    assert ev("${d} < date('2024-06-01')", d=d) is True
    assert ev("${d} >= '2024-05-10'", d=d) is False
    assert ev("${d} >= date('2024-05-10')", d=d) is True
    assert ev("${d} > '2024-05-10'", d=d) is False
    assert ev("'2024-01-01' < ${d}", d=d) is False
    assert ev("${d} = ''", d=d) is False
    assert ev("${d} = 'garbage'", d=d) is False
    assert ev("${d} < 'garbage'", d=d) is False
    assert ev("${d} = today()", d=d) is True
    assert ev("${d} <= today()", d=dt.date(2024, 5, 11)) is False
    assert ev("'2024-05-02' > '2024-05-01'") is False  # two texts, not numbers: as ODK Collect


def test_times_compare_with_times_and_datetimes_with_strings() -> None:
    tm = dt.time(9, 30)
    # As in every ODK engine a time's value is the text 09:30:00.000+08:00: not a number, not '09:30'.
    assert ev("${tm} = '09:30'", tm=tm) is False
    assert ev("${tm} < '12:00'", tm=tm) is False
    assert ev("${tm} > '9:00'", tm=tm) is False
    assert ev("decimal-time(${tm}) < decimal-time('12:00')", tm=tm) is True
    # two times compare as times (as ODK Collect does)
    assert ev("${tm} < ${t2}", tm=tm, t2=dt.time(12, 0)) is True
    assert ev("${tm} = ${t2}", tm=tm, t2=dt.time(9, 30)) is True
    when = dt.datetime(2024, 5, 10, 8, 0, tzinfo=CST)
    assert ev("${w} < '2024-05-10T09:00:00+08:00'", w=when) is False  # as ODK Collect
    assert ev("${w} > '2024-05-10'", w=when) is False
    assert ev("${w} = '2024-05-10T08:00:00+08:00'", w=when) is True


def test_empty_answers_end_to_end() -> None:
    assert calc("${t} = ''") == "true"
    assert calc("${t} != 'a'") == "true"
    assert calc("${s} != 'a'") == "true"
    assert calc("${s} = 'a'") == "false"
    assert calc("${n} = ''") == "true"
    assert calc("${n} = ''", n=0) == "false"
    assert calc("${n} + 1") is MISSING  # NaN is not stored
    assert calc("${n} + 1", n=2) == 3
    assert calc("${x} * 2") is MISSING
    assert calc("${x} * 2", x="1.25") == 2.5
    assert calc("${n} > 0") == "false"
    assert calc("${n} < 0") == "false"
    assert calc("${n} = 0") == "false"
    assert calc("${d1} < today()") == "false"
    assert calc("string-length(${t})") == 0
    assert calc("concat(${t}, 'x', ${n})") == "x"
    assert calc("count-selected(${m})") == 0
    assert calc("selected(${m}, 'a')") == "false"
    assert calc("coalesce(${t}, 'none')") == "none"
    assert calc("if(${t} = '', 'empty', 'given')") == "empty"
    assert calc("${t}") is MISSING  # an empty calculation is not stored
    assert calc("not(${t})") == "true"  # a blank answer is false, as ODK Collect
    assert calc("not(${t} != '')") == "true"


def test_answers_end_to_end() -> None:
    assert calc("${n} * 2", n="21") == 42
    assert calc("${x} div 4", x=1) == 0.25
    assert calc("1 div 3") == pytest.approx(1 / 3)
    assert calc("1 div 0") is MISSING  # infinity is not stored
    assert calc("count-selected(${m})", m=["a", "c"]) == 2
    assert calc("selected(${m}, 'c')", m="a c") == "true"
    assert calc("selected-at(${m}, 1)", m=["b", "c"]) == "c"
    assert calc("${t} = 'x' and ${s} = 'b'", t="x", s="b") == "true"
    assert calc("concat(${t}, '-', ${t2})", t="a", t2="b") == "a-b"


def test_date_arithmetic_end_to_end() -> None:
    assert calc("date(${d1} + 7)", d1="2024-05-10") == "2024-05-17"
    assert calc("${d1} + 7 > ${d2}", d1="2024-05-10", d2="2024-05-16") == "true"
    assert calc("${d1} + 7 > ${d2}", d1="2024-05-10", d2="2024-05-17") == "false"
    assert calc("${d1} + 7 >= ${d2}", d1="2024-05-10", d2="2024-05-17") == "true"
    assert calc("${d2} - ${d1}", d1="2024-02-01", d2="2024-03-01") == 29
    assert calc("${d1} - ${d2}", d1="2024-02-01", d2="2024-03-01") == -29
    assert calc("${d1} = '2024-05-10'", d1="2024-05-10") == "true"
    assert calc("${d1} < '2024-05-10'", d1="2024-05-09") == "false"  # as ODK Collect
    assert calc("${d1} < date('2024-05-10')", d1="2024-05-09") == "true"
    assert calc("${d1} > '2024-05-10'", d1="2024-05-09") == "false"
    assert calc("${d1} <= today()", d1="2024-05-10") == "true"
    assert calc("${d1} <= today()", d1="2024-05-11") == "false"
    assert calc("today() - ${d1}", d1="2024-05-01") == 9
    assert calc("${d2} - ${d1}", d1="2024-05-01") is MISSING  # one date missing
    assert calc("date(${d1})", d1="2024-05-10") == "2024-05-10"
    assert calc("${tm} < '12:00'", tm="09:30") == "false"  # a time is text to ODK
    assert calc("decimal-time(${tm}) < 0.5", tm="09:30") == "true"
    assert calc("decimal-time(${tm})", tm="18:00") == 0.75
    assert calc("date(${when})", when="2024-05-10T23:00:00+08:00") == "2024-05-10"
    assert (
        calc("${when} > '2024-05-10T22:00:00+08:00'", when="2024-05-10T23:00:00+08:00") == "false"
    )


def test_a_constraint_with_date_arithmetic() -> None:
    form = load_yaml_text(
        """
settings: {form_id: deadline, version: '1', title: Deadline}
survey:
  - {type: date, name: found, label: Found}
  - type: date
    name: deadline
    label: Deadline
    constraint: . >= ${found} and . <= ${found} + 7
"""
    )
    ok = {"found": "2024-05-10", "deadline": "2024-05-17"}
    assert evaluate(form, ok, today=TODAY).problems == []
    for late_or_early in ("2024-05-18", "2024-05-09"):
        problems = evaluate(form, {**ok, "deadline": late_or_early}, today=TODAY).problems
        assert [(p.path, p.code) for p in problems] == [(("deadline",), "constraint")]
    # with no `found` date, the comparisons are false: the deadline cannot be checked, so it fails
    problems = evaluate(form, {"deadline": "2024-05-17"}, today=TODAY).problems
    assert [p.code for p in problems] == ["constraint"]


def test_a_regex_the_loader_must_reject_without_crashing() -> None:
    for pattern in ("(", "a{99999999999}"):
        text = f"""
settings: {{form_id: rx, version: '1', title: Rx}}
survey:
  - {{type: text, name: phone, label: Phone, constraint: "regex(., '{pattern}')"}}
"""
        with pytest.raises(FormDefinitionError) as info:
            load_yaml_text(text)
        assert [e.code for e in info.value.errors] == ["bad_regex"]


def test_uuid_lengths_are_bounded() -> None:
    assert len(ev("uuid()")) == 36
    assert len(ev("uuid(12)")) == 12
    assert ev("uuid(1e9)") == ""  # not a billion random characters
    assert ev("uuid(-1)") == ""
