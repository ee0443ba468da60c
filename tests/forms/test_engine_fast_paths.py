"""The form engine's fast paths (issue 14 goal 5) give what the general rules give.

`${field} = 'text'` / `!=` compares a text or date answer at once, and two numbers or two dates compare
without the general conversion; a field whose relevance is the same expression as an earlier field's takes
that field's outcome. Each is checked against the general functions (equals, not_equals, compare) over
every kind of value an answer can hold, and end to end through a form.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

import pytest

from forms.engine import evaluate
from forms.expr import parse
from forms.expr.compiler import Compiled, Context, compile_expr
from forms.expr.values import Nodeset, compare, equals, not_equals
from forms.loader import load_yaml_text

TODAY = dt.date(2026, 11, 28)

ANSWERS: list[Any] = [
    "",
    "yes",
    "rectified",
    "2024-03-05",
    "1",
    dt.date(2024, 3, 5),
    dt.date(2024, 3, 6),
    dt.datetime(2024, 3, 5, 0, 0),
    dt.time(8, 30),
    1.0,
    0.0,
    math.nan,
    3,
    True,
    False,
    ("yes", "no"),
    Nodeset(()),
    Nodeset(("yes", "rectified")),
    Nodeset((dt.date(2024, 3, 5),)),
]
TEXTS = ["", "yes", "rectified", "2024-03-05", "2024-3-5", "1", "1.0", "true"]


def _run(source: str, value: Any) -> Any:
    def resolve(name: str) -> Compiled:
        return lambda ctx: value

    ctx = Context([], today=TODAY, now=dt.datetime(2026, 11, 28, 12, 0))
    return compile_expr(parse(source), resolve)(ctx)


@pytest.mark.parametrize("text", TEXTS)
def test_an_answer_against_text_is_what_equals_and_not_equals_say(text: str) -> None:
    for value in ANSWERS:
        assert _run(f"${{a}} = '{text}'", value) is equals(value, text), (value, text)
        assert _run(f"'{text}' = ${{a}}", value) is equals(text, value), (value, text)
        assert _run(f"${{a}} != '{text}'", value) is not_equals(value, text), (value, text)
        assert _run(f"'{text}' != ${{a}}", value) is not_equals(text, value), (value, text)


def test_two_numbers_or_two_dates_compare_as_numbers() -> None:
    values: list[Any] = [1.0, 2.0, math.nan, dt.date(2024, 3, 5), dt.date(2024, 3, 6), "1", ""]
    for a in values:
        for b in values:
            for op in ("<", "<=", ">", ">="):
                x = a.toordinal() - 719163.0 if isinstance(a, dt.date) else a
                y = b.toordinal() - 719163.0 if isinstance(b, dt.date) else b
                if isinstance(x, float) and isinstance(y, float):
                    expected = {"<": x < y, "<=": x <= y, ">": x > y, ">=": x >= y}[op]
                    assert compare(op, a, b) is expected, (op, a, b)


SHARED = """
settings: {form_id: shared, version: '1', title: {zh: 共用, en: Shared}}
survey:
  - {type: select_one s, name: status, label: {zh: 状态, en: Status}, required: true}
  - type: repeat
    name: items
    label: {zh: 条目, en: Items}
    children:
      - {type: select_one s, name: st, label: {zh: 状态, en: Status}}
      - {type: date, name: done, label: {zh: 完成, en: Done}, required: true,
         relevant: "${st} = 'closed' or ${st} = 'verified'"}
      - {type: text, name: note, label: {zh: 说明, en: Note},
         relevant: "${st} = 'closed' or ${st} = 'verified'"}
      - type: group
        name: g
        label: {zh: 组, en: Group}
        relevant: ${status} = 'closed'
        children:
          - {type: text, name: inner, label: {zh: 内, en: Inner},
             relevant: "${st} = 'closed' or ${st} = 'verified'"}
choices:
  s:
    - {name: open, label: {zh: 开, en: Open}}
    - {name: closed, label: {zh: 关, en: Closed}}
    - {name: verified, label: {zh: 验, en: Verified}}
"""


def test_a_field_with_the_same_relevance_as_an_earlier_one_follows_it_per_instance() -> None:
    form = load_yaml_text(SHARED)
    data = {
        "status": "open",
        "items": [
            {"st": "open", "done": "2026-11-01", "note": "n", "inner": "i"},
            {"st": "closed", "note": "n", "inner": "i"},
        ],
    }
    result = evaluate(form, data, today=TODAY)
    # inner is in a group that does not apply: its relevance is not borrowed from note's, its answer goes
    assert result.data["items"] == [{"st": "open"}, {"st": "closed", "note": "n"}]
    assert [(p.path, p.code) for p in result.problems] == [(("items", 1, "done"), "required")]
    assert result.is_relevant(("items", 1, "note")) and not result.is_relevant(("items", 0, "note"))
