"""学籍号 follows the national rule (issue 11): 19 characters, a letter G, L or J and 18 digits (the last may
be X), e.g. G110101201501011234; "12345" is refused with a message that says what a 学籍号 looks like."""

from __future__ import annotations

import pytest

from forms.engine import evaluate
from tests.client import FORMS, RECORDS, TODAY

FORM = FORMS.get("dropout_followup")


def problems(student_no: str) -> list[str]:
    data = dict(RECORDS["dropout_followup"][0], student_no=student_no)
    found = evaluate(FORM, data, today=TODAY).problems
    return [p.message_zh for p in found if p.path == ("student_no",)]


@pytest.mark.parametrize(
    "number",
    ["G110101201501011234", "G11010120150101123X", "L110101201501010012", "J810000201401015678"],
)
def test_real_student_numbers_pass(number: str):
    assert problems(number) == []


@pytest.mark.parametrize(
    "number",
    [
        "12345",
        "G1101012015010112",
        "110101201501011234",
        "G110101201501011234\n",
        "G 110101201501011234",
        "A110101201501011234",
    ],
)
def test_other_text_is_refused_saying_what_a_number_looks_like(number: str):
    [message] = problems(number)
    assert "19" in message and "G110101201501011234" in message
