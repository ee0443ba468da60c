"""Expressions answer as the ODK reference engines do: the committed corpus (tests/forms/conformance/
expressions.json, made by scripts/odk_conformance/generate.py with ODK Web Forms', Enketo's and ODK Collect's
(JavaRosa) engines) replayed through our engine. Neither node nor Java is needed here.

    .venv/bin/python -m tests.forms.test_conformance      # agreement rate and the cases that differ
"""

from __future__ import annotations

import datetime as dt
import json
import math
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from forms.engine import evaluate_expression
from forms.expr.parser import ExpressionSyntaxError
from forms.expr.values import parse_datetime, to_string
from forms.loader import load_yaml_text
from forms.model import FormDef

CORPUS = Path(__file__).parent / "conformance" / "expressions.json"
CST = dt.timezone(dt.timedelta(hours=8))


@cache
def corpus() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(CORPUS.read_text(encoding="utf-8"))
    return data


@cache
def form() -> FormDef:
    return load_yaml_text(corpus()["form"])


def ours(case: dict[str, Any]) -> dict[str, str]:
    now = dt.datetime.now(CST)
    repeat = () if case["repeat"] is None else (("r", case["repeat"]),)
    try:
        value = evaluate_expression(
            form(),
            corpus()["records"][case["record"]],
            case["expr"],
            today=now.date(),
            now=now,
            repeat=repeat,
            current=case["current"],
        )
    except (ExpressionSyntaxError, ValueError, KeyError) as exc:
        return {"error": str(exc)}
    return {"value": to_string(value)}


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _instant(text: str) -> dt.datetime | None:
    t = parse_datetime(text)
    if t is None:
        return None
    return t if t.tzinfo is not None else t.replace(tzinfo=CST)


def same(got: dict[str, str], expected: dict[str, str]) -> bool:
    """Equal answers; numbers within rounding, date-times as instants. A case both references refuse
    (an error, or 'Invalid Date') is met by our error or our empty answer."""
    if "error" in expected:
        return "error" in got or got.get("value") == ""
    if "error" in got:
        return False
    a, b = got["value"], expected["value"]
    if a == b:
        return True
    x, y = _number(a), _number(b)
    if x is not None and y is not None:
        return math.isclose(x, y, rel_tol=1e-9, abs_tol=1e-12) or (math.isnan(x) and math.isnan(y))
    p, q = _instant(a), _instant(b)
    return p is not None and q is not None and p == q


def cases() -> list[dict[str, Any]]:
    return list(corpus()["cases"])


def test_corpus_is_large_and_covers_every_group() -> None:
    groups = {c["id"].split("-")[0] for c in cases()}
    assert len(cases()) >= 600
    assert {
        "arith",
        "compare",
        "boolean",
        "convert",
        "math",
        "string",
        "regex",
        "date",
        "format",
        "select",
        "repeat",
        "other",
        "current",
    } <= groups


GROUPS = sorted({c["id"].split("-")[0] for c in cases()})


@pytest.mark.parametrize("group", GROUPS)
def test_expressions_answer_as_the_references(group: str) -> None:
    """One test per group of cases (a case each would cost seconds in pytest overhead alone)."""
    wrong = []
    for case in cases():
        if case["id"].split("-")[0] != group:
            continue
        got = ours(case)
        if case["expected"] is None:  # uuid(), random(): only that it runs
            if "error" in got:
                wrong.append(f"{case['id']} {case['expr']}: {got}")
        elif not same(got, case["expected"]):
            wrong.append(
                f"{case['id']} {case['expr']}: ours {got}, expected {case['expected']} ({case['source']})"
            )
    assert not wrong, "\n".join(wrong)


def test_where_odk_collect_differs_we_follow_it_or_say_why() -> None:
    """JavaRosa (ODK Collect) answered every case; a followed case expects Collect's answer (or, where
    Collect refuses, says why), and every other case where Collect differs carries its reason."""
    assert all("javarosa" in c for c in cases())
    followed = [c for c in cases() if "web_expected" in c]
    assert len(followed) >= 60
    for c in followed:
        assert c["source"].startswith("divergence: "), c["id"]
        assert "error" in c["javarosa"] or same(c["expected"], c["javarosa"]), c["id"]
    silent = [
        c["id"]
        for c in cases()
        if c["expected"] is not None
        and "web_expected" not in c
        and "javarosa_note" not in c
        and not same(c["javarosa"], c["expected"])
        and not same(c.get("javarosa_utc", c["javarosa"]), c["expected"])
        and not ("error" in c["expected"] and "error" in c["javarosa"])
    ]
    assert not silent


def agreement() -> tuple[int, int, list[tuple[dict[str, Any], dict[str, str]]]]:
    checked = [c for c in cases() if c["expected"] is not None]
    wrong = [(c, g) for c in checked if not same(g := ours(c), c["expected"])]
    return len(checked) - len(wrong), len(checked), wrong


if __name__ == "__main__":
    ok, total, wrong = agreement()
    for c, g in wrong:
        print(f"{c['id']:12} {c['expr'][:70]:70} ours={g} expected={c['expected']} ({c['source']})")
    print(f"agreement: {ok}/{total} = {ok / total:.1%}")
