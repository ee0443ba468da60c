"""The documented safe syntax of form ids, versions and school codes (forms/identifiers.py), checked on import
of a form from YAML and from an XLSForm workbook, with an error that names the field and the rule."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from openpyxl import Workbook

from forms.catalog import DEFINITIONS_DIR, definition_files
from forms.errors import FormDefinitionError
from forms.identifiers import (
    FIELD_NAME,
    FORM_ID,
    FORM_VERSION,
    SCHOOL_CODE,
    IdentifierError,
    quote_segment,
)
from forms.loader import NAME_RE, load_yaml, load_yaml_text
from forms.xlsform import read_xlsform

FORM = """\
settings:
  form_id: {form_id}
  version: {version}
  title: {{zh: 演示, en: Demo}}
survey:
  - {{type: text, name: a, label: A}}
"""

GOOD_VERSIONS = ["1", "2026.1", "2026-11", "v3", "2026_autumn", "3.0.1-rc1", "A" * 32]
BAD_VERSIONS = [
    "2026/1",  # a path separator: the version became two URL segments, every pull stopped (issue 9)
    "2026\\1",
    "2026%2F1",
    "2026 1",
    "=1+1",  # a live formula in the _meta sheet of an export
    "+1",
    "-1",
    "@1",
    ".1",
    "..",
    "_1",
    "1?x",
    "1#x",
    "1&x",
    "2026年",
    "２０２６",  # full-width digits are not ASCII
    "1\x00",
    "A" * 33,
]


@pytest.mark.parametrize("version", GOOD_VERSIONS)
def test_good_versions_load(version: str):
    form = load_yaml_text(FORM.format(form_id="demo", version=f"'{version}'"))
    assert form.version == version
    assert FORM_VERSION.is_valid(version)


@pytest.mark.parametrize("version", BAD_VERSIONS)
def test_bad_versions_are_refused_naming_the_field_and_the_rule(version: str):
    assert not FORM_VERSION.is_valid(version)
    quoted = version.replace("\\", "\\\\").replace("\x00", "\\0")
    with pytest.raises(FormDefinitionError) as info:
        load_yaml_text(FORM.format(form_id="demo", version=f'"{quoted}"'), file="demo.yaml")
    errors = [e for e in info.value.errors if e.code == "invalid_identifier"]
    assert errors, info.value.errors
    err = errors[0]
    assert err.location.file == "demo.yaml" and err.location.column == "version"
    assert "版本号（version）" in err.message_zh and "斜杠" in err.message_zh
    assert err.message_en.startswith("invalid version '") and "no slash" in err.message_en


@pytest.mark.parametrize(
    "form_id", ["2nd", "_x", "demo form", "demo/x", "demo.x", "表单", "=x", "a" * 65]
)
def test_bad_form_ids_are_refused(form_id: str):
    with pytest.raises(FormDefinitionError) as info:
        load_yaml_text(FORM.format(form_id=f"'{form_id}'", version="'1'"), file="demo.yaml")
    err = next(e for e in info.value.errors if e.code == "invalid_identifier")
    assert err.location.column == "form_id"
    assert "表单编号（form_id）" in err.message_zh and "invalid form_id" in err.message_en


def test_good_form_ids_load():
    for form_id in ("demo", "Demo-2", "safety_inspection", "a" * 64):
        assert load_yaml_text(FORM.format(form_id=form_id, version="'1'")).form_id == form_id


def test_a_bad_version_in_an_xlsform_names_the_settings_cell(tmp_path: Path):
    wb = Workbook()
    survey = wb.active
    assert survey is not None
    survey.title = "survey"
    survey.append(["type", "name", "label"])
    survey.append(["text", "a", "A"])
    settings_ws = wb.create_sheet("settings")
    settings_ws.append(["form_id", "version", "form_title"])
    settings_ws.append(["demo", "2026/1", "演示"])
    path = tmp_path / "demo.xlsx"
    wb.save(path)
    with pytest.raises(FormDefinitionError) as info:
        read_xlsform(path)
    err = next(e for e in info.value.errors if e.code == "invalid_identifier")
    assert err.location.sheet == "settings" and err.location.column == "version"
    assert err.location.line == 2 and "2026/1" in err.message_zh


def test_an_xlsform_without_settings_takes_a_form_id_that_fits(tmp_path: Path):
    """The form id taken from a long file name is cut to the rule's 64 characters, not refused."""
    wb = Workbook()
    survey = wb.active
    assert survey is not None
    survey.title = "survey"
    survey.append(["type", "name", "label"])
    survey.append(["text", "a", "A"])
    path = tmp_path / ("学校" + "x" * 80 + ".xlsx")
    wb.save(path)
    form = read_xlsform(path).form
    assert FORM_ID.is_valid(form.form_id) and len(form.form_id) == 64


def test_the_shipped_forms_follow_the_rules():
    for path in definition_files(DEFINITIONS_DIR):
        form = load_yaml(path)
        assert FORM_ID.is_valid(form.form_id) and FORM_VERSION.is_valid(form.version)


def test_school_codes():
    for good in ("S001", "430521-01", "a_b", "9" * 32):
        assert SCHOOL_CODE.check(good) == good
    for bad in ("", "-S1", "S 1", "S/1", "学校", "S1\n", "x" * 33, 42, None):
        with pytest.raises(IdentifierError) as info:
            SCHOOL_CODE.check(bad)
        assert "学校代码（school_code）" in info.value.message_zh
        assert "invalid school_code" in info.value.message_en


def test_field_names_match_the_loader():
    for name in ("a", "hazard_count", "A1", "_a", "1a", "a-b", "a.b", "名", "a b"):
        assert FIELD_NAME.is_valid(name) == bool(NAME_RE.match(name)), name


def test_an_error_shows_control_characters_and_cuts_long_values():
    err = FORM_VERSION.problem("1\x00" + "9" * 200)
    assert err is not None
    assert "\\x00" in err.message_en and "…" in err.message_en and len(err.message_en) < 400


@settings(max_examples=300, deadline=None)
@given(st.text(min_size=1, max_size=40))
def test_a_quoted_segment_is_one_segment_and_comes_back(value: str):
    segment = quote_segment(value)
    assert "/" not in segment and "?" not in segment and "#" not in segment
    assert segment not in (".", "..")
    assert unquote(segment) == value


def test_dot_segments_are_encoded():
    assert quote_segment(".") == "%2E" and quote_segment("..") == "%2E%2E"
    assert quote_segment("1.0") == "1.0" and quote_segment("2026/1") == "2026%2F1"


@settings(max_examples=300, deadline=None)
@given(st.from_regex(FORM_VERSION.pattern, fullmatch=True))
def test_valid_versions_need_no_quoting(value: str):
    if len(value) <= 32:
        assert quote_segment(value) == value
