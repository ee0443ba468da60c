"""Every error code of the definition loader, each with the location it names."""

from __future__ import annotations

from pathlib import Path

import pytest
from openpyxl import Workbook

from forms.errors import CATALOGUE, FormDefinitionError, FormError
from forms.loader import load_yaml, load_yaml_text
from forms.xlsform import read_xlsform

HEAD = """\
settings:
  form_id: demo
  version: '1'
  title: {zh: 演示, en: Demo}
choices:
  yes_no:
    - {name: 'yes', label: {zh: 是, en: 'Yes'}}
    - {name: 'no', label: {zh: 否, en: 'No'}}
survey:
"""

SEEN: set[str] = set()


def errors_of(text: str) -> list[FormError]:
    with pytest.raises(FormDefinitionError) as info:
        load_yaml_text(text, file="demo.yaml")
    SEEN.update(e.code for e in info.value.errors)
    return info.value.errors


def one(text: str, code: str) -> FormError:
    found = [e for e in errors_of(text) if e.code == code]
    assert found, f"expected {code}"
    err = found[0]
    assert err.location.file == "demo.yaml"
    assert err.message_zh and err.message_en
    return err


def test_valid_minimal_form_loads():
    form = load_yaml_text(HEAD + "  - {type: text, name: a, label: A}\n")
    assert form.form_id == "demo"
    assert [f.name for f in form.all_fields()] == ["a"]


def test_yaml_syntax_names_line():
    err = one(HEAD + "  - {type: text, name: a\n  - oops: [\n", "yaml_syntax")
    assert err.location.line == 11


def test_bad_structure_when_not_a_mapping():
    one("- just\n- a list\n", "bad_structure")


def test_file_unreadable(tmp_path: Path):
    with pytest.raises(FormDefinitionError) as info:
        load_yaml(tmp_path / "missing.yaml")
    assert info.value.errors[0].code == "file_unreadable"
    SEEN.add("file_unreadable")


def test_missing_key_settings_and_survey():
    err = one(
        "settings: {form_id: x, title: X}\nsurvey:\n  - {type: text, name: a}\n", "missing_key"
    )
    assert err.location.column == "version"
    err = one(HEAD.replace("survey:\n", ""), "missing_key")
    assert err.location.column == "survey"


def test_unknown_key_names_line_and_column():
    err = one(HEAD + "  - {type: text, name: a, lable: A}\n", "unknown_key")
    assert err.location.line == 10
    assert err.location.column == "lable"
    assert err.location.field == "a"


def test_invalid_value():
    err = one(
        HEAD.replace("  title:", "  period: fortnightly\n  title:") + "  - {type: text, name: a}\n",
        "invalid_value",
    )
    assert err.location.column == "period"


def test_invalid_name():
    err = one(HEAD + "  - {type: text, name: 2nd}\n", "invalid_name")
    assert err.location.column == "name"
    one(HEAD + "  - {type: text, name: _hidden}\n", "invalid_name")


def test_invalid_identifier():
    """A form id or version that could not be one URL segment or file name (forms/identifiers.py)."""
    err = one(
        HEAD.replace("version: '1'", "version: '2026/1'") + "  - {type: text, name: a}\n",
        "invalid_identifier",
    )
    assert err.location.column == "version" and "2026/1" in err.message_en


def test_unknown_type():
    err = one(HEAD + "  - {type: txet, name: a}\n", "unknown_type")
    assert "txet" in err.message_en and err.location.column == "type"


def test_duplicate_name_names_both_places():
    err = one(HEAD + "  - {type: text, name: a}\n  - {type: integer, name: a}\n", "duplicate_name")
    assert err.location.line == 11
    assert "line 10" in err.message_en


def test_duplicate_choice():
    text = (
        HEAD.replace("- {name: 'no'", "- {name: 'yes'") + "  - {type: select_one yes_no, name: a}\n"
    )
    one(text, "duplicate_choice")


def test_missing_choices():
    err = one(HEAD + "  - {type: select_one colours, name: a}\n", "missing_choices")
    assert "colours" in err.message_en


def test_unknown_reference():
    one(HEAD + "  - {type: select_one_from_file pupils.csv, name: a}\n", "unknown_reference")


def test_empty_group():
    one(HEAD + "  - {type: repeat, name: r, children: []}\n", "empty_group")


def test_expression_syntax_names_column():
    err = one(HEAD + "  - {type: integer, name: a, constraint: '. > (1'}\n", "expression_syntax")
    assert err.location.column == "constraint"


def test_unknown_field_reference():
    err = one(HEAD + "  - {type: integer, name: a, relevant: '${b} = 1'}\n", "unknown_field")
    assert err.location.column == "relevant" and "${b}" in err.message_en


def test_unknown_function():
    err = one(HEAD + "  - {type: text, name: a, constraint: 'pulldata(.)'}\n", "unknown_function")
    assert "pulldata" in err.message_en


def test_function_arity():
    one(HEAD + "  - {type: text, name: a, constraint: 'contains(.)'}\n", "function_arity")


def test_bad_regex():
    one(HEAD + "  - {type: text, name: a, constraint: \"regex(., '[a-')\"}\n", "bad_regex")


def test_current_outside_constraint():
    one(HEAD + "  - {type: text, name: a, relevant: \". = 'x'\"}\n", "current_outside_constraint")


def test_column_outside_choice_filter():
    one(
        HEAD + "  - {type: text, name: a, relevant: \"colour = 'x'\"}\n",
        "column_outside_choice_filter",
    )


def test_calculation_cycle():
    err = one(
        HEAD + "  - {type: calculate, name: a, calculation: '${b} + 1'}\n"
        "  - {type: calculate, name: b, calculation: '${a} + 1'}\n",
        "calculation_cycle",
    )
    assert "a -> b -> a" in err.message_en


def test_relevance_cycle_is_a_cycle_too():
    one(HEAD + "  - {type: text, name: a, relevant: \"${a} = 'x'\"}\n", "calculation_cycle")


def test_all_errors_are_reported_together():
    codes = {
        e.code
        for e in errors_of(
            HEAD + "  - {type: txet, name: a}\n  - {type: text, name: a, relevant: 'x('}\n"
        )
    }
    assert {"unknown_type", "duplicate_name", "expression_syntax"} <= codes


def _workbook(path: Path, sheets: dict[str, list[list[object]]]) -> Path:
    wb = Workbook()
    wb.remove(wb.active)
    for title, rows in sheets.items():
        ws = wb.create_sheet(title)
        for row in rows:
            ws.append(row)
    wb.save(path)
    return path


def xlsx_errors(path: Path) -> list[FormError]:
    with pytest.raises(FormDefinitionError) as info:
        read_xlsform(path)
    SEEN.update(e.code for e in info.value.errors)
    return info.value.errors


def test_xlsx_unreadable(tmp_path: Path):
    bad = tmp_path / "bad.xlsx"
    bad.write_bytes(b"this is not a zip file")
    assert xlsx_errors(bad)[0].code == "xlsx_unreadable"


def test_missing_sheet(tmp_path: Path):
    path = _workbook(tmp_path / "f.xlsx", {"choices": [["list_name", "name", "label"]]})
    err = xlsx_errors(path)[0]
    assert err.code == "missing_sheet" and "survey" in err.message_en


def test_unsupported_feature_names_sheet_row_column(tmp_path: Path):
    path = _workbook(
        tmp_path / "f.xlsx",
        {"survey": [["type", "name", "label"], ["text", "a", "A"], ["geopoint", "where", "Where"]]},
    )
    err = xlsx_errors(path)[0]
    assert err.code == "unsupported_feature"
    assert (err.location.sheet, err.location.line, err.location.column) == ("survey", 3, "type")
    assert "geopoint" in err.message_en


def test_unmatched_group(tmp_path: Path):
    path = _workbook(
        tmp_path / "f.xlsx",
        {
            "survey": [
                ["type", "name", "label"],
                ["begin group", "g", "G"],
                ["text", "a", "A"],
                ["end repeat", None, None],
            ]
        },
    )
    codes = [e.code for e in xlsx_errors(path)]
    assert "unmatched_group" in codes


# The limits on hostile files have tests of their own (test_yaml_limits.py, test_xlsx_limits.py).
LIMIT_CODES = frozenset(
    {
        "file_too_large",
        "yaml_too_big",
        "yaml_too_many_aliases",
        "yaml_too_deep",
        "yaml_recursive",
        "xlsx_too_many_parts",
        "xlsx_total_too_large",
        "xlsx_too_large",
        "xlsx_ratio",
        "xlsx_too_many_tags",
        "xlsx_dtd",
        "xlsx_encoding",
        "xlsx_long_text",
        "xlsx_too_many_rows",
        "xlsx_too_many_columns",
    }
)


def test_every_catalogue_code_is_exercised():
    """Runs last in this module: each code above must have been produced by a test."""
    assert set(CATALOGUE) - SEEN - LIMIT_CODES == set()
