"""XLSForm in and out: lossless round trips of our forms, real ODK/Kobo workbooks, unsupported features."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest
from openpyxl import Workbook, load_workbook

from forms.catalog import DEFINITIONS_DIR, definition_files
from forms.errors import FormDefinitionError
from forms.loader import load_yaml, load_yaml_text
from forms.serialize import to_yaml
from forms.xlsform import read_xlsform, write_xlsform

FORM_FILES = definition_files(DEFINITIONS_DIR)


def workbook_parts(path: Path) -> dict[str, bytes]:
    """Every part of the .xlsx package except the save timestamp."""
    with zipfile.ZipFile(path) as z:
        return {n: z.read(n) for n in z.namelist() if n != "docProps/core.xml"}


def test_all_six_definitions_are_present():
    ids = {load_yaml(p).form_id for p in FORM_FILES}
    assert ids == {
        "safety_inspection",
        "teacher_ethics",
        "after_school_service",
        "dropout_followup",
        "school_conditions",
        "teachers",
    }


@pytest.mark.parametrize("path", FORM_FILES, ids=lambda p: p.stem)
def test_yaml_xlsx_yaml_xlsx_is_identical(path: Path, tmp_path: Path):
    form = load_yaml(path)
    first = tmp_path / "first.xlsx"
    write_xlsform(form, first)
    back = read_xlsform(first)
    assert back.warnings == []
    assert back.form == form
    yaml_again = tmp_path / "again.yaml"
    yaml_again.write_text(to_yaml(back.form), encoding="utf-8")
    reloaded = load_yaml(yaml_again)
    assert reloaded == form
    second = tmp_path / "second.xlsx"
    write_xlsform(reloaded, second)
    assert workbook_parts(first) == workbook_parts(second)


def test_workbook_layout_is_xlsform(tmp_path: Path):
    form = load_yaml(DEFINITIONS_DIR / "safety_inspection.yaml")
    out = tmp_path / "s.xlsx"
    write_xlsform(form, out)
    wb = load_workbook(out)
    assert wb.sheetnames == ["survey", "choices", "settings"]
    survey = [[c.value for c in row] for row in wb["survey"].iter_rows()]
    header = survey[0]
    assert header[:4] == ["type", "name", "label::zh", "label::en"]
    types = [r[0] for r in survey[1:]]
    assert "begin_repeat" in types and "end_repeat" in types
    assert types.index("begin_repeat") < types.index("end_repeat")
    row = survey[1 + types.index("select_one inspection_type")]
    assert row[header.index("label::zh")] == "排查类型"
    settings = {
        c.value: wb["settings"].cell(2, i + 1).value for i, c in enumerate(wb["settings"][1])
    }
    assert settings["form_id"] == "safety_inspection"
    assert settings["form_title"] == "校园安全隐患排查整治记录"
    assert wb["survey"].freeze_panes == "A2"


def _kobo_workbook(path: Path, extra_rows: list[list[object]] | None = None) -> Path:
    """An XLSForm as KoboToolbox exports it: language names in labels, spaces in types, internal columns."""
    wb = Workbook()
    ws = wb.active
    ws.title = "survey"
    ws.append(
        [
            "type",
            "name",
            "label::Chinese (zh)",
            "label::English (en)",
            "required",
            "relevant",
            "constraint",
            "constraint_message::English (en)",
            "$kuid",
            "calculation",
            "repeat_count",
        ]
    )
    rows: list[list[object]] = [
        ["start", "start", None, None, None, None, None, None, "k1", None, None],
        ["end", "end", None, None, None, None, None, None, "k2", None, None],
        ["begin group", "household", "家庭", "Household", None, None, None, None, "k3", None, None],
        [
            "select_one yn",
            "visited",
            "是否家访",
            "Home visit?",
            "true",
            None,
            None,
            None,
            "k4",
            None,
            None,
        ],
        [
            "integer",
            "children",
            "子女数",
            "Children",
            "yes",
            "${visited}='yes'",
            ". >= 0 and . < 20",
            "0-19",
            "k5",
            None,
            None,
        ],
        ["end group", None, None, None, None, None, None, None, "k6", None, None],
        ["begin repeat", "kids", "子女", "Children", None, None, None, None, "k7", None, None],
        ["text", "kid_name", "姓名", "Name", "true", None, None, None, "k8", None, None],
        ["dateTime", "seen_at", "见面时间", "Seen at", None, None, None, None, "k9", None, None],
        ["end repeat", None, None, None, None, None, None, None, "k10", None, None],
        ["calculate", "n_kids", None, None, None, None, None, None, "k11", "count(${kids})", None],
        *(extra_rows or []),
    ]
    for r in rows:
        ws.append(r)
    ch = wb.create_sheet("choices")
    ch.append(["list_name", "name", "label::Chinese (zh)", "label::English (en)", "$kuid"])
    ch.append(["yn", "yes", "是", "Yes", "c1"])
    ch.append(["yn", "no", "否", "No", "c2"])
    st = wb.create_sheet("settings")
    st.append(["form_title", "form_id", "version", "default_language"])
    st.append(["家访记录", "home_visit", 2023010101, "zh"])
    wb.save(path)
    return path


def test_real_kobo_xlsform_imports(tmp_path: Path):
    result = read_xlsform(_kobo_workbook(tmp_path / "kobo.xlsx"))
    form = result.form
    assert form.form_id == "home_visit" and form.version == "2023010101"
    assert form.title.zh == "家访记录"
    assert [f.name for f in form.all_fields()] == [
        "household",
        "visited",
        "children",
        "kids",
        "kid_name",
        "seen_at",
        "n_kids",
    ]
    assert form.field("children").label.en == "Children"
    assert form.field("children").constraint_message.en == "0-19"
    assert form.field("seen_at").type == "datetime"
    assert form.field("visited").required is True
    # the two metadata rows are dropped with a warning each, naming their rows
    assert len(result.warnings) == 2 and "row 2" in result.warnings[0]


def test_repeat_count_from_answers_is_an_error_and_nothing_written(tmp_path: Path):
    src = _kobo_workbook(
        tmp_path / "kobo.xlsx",
        [
            [
                "begin repeat",
                "visits",
                "走访",
                "Visits",
                None,
                None,
                None,
                None,
                "k12",
                None,
                "${n_kids}",
            ],
            ["text", "note_v", "说明", "Note", None, None, None, None, "k13", None, None],
            ["end repeat", None, None, None, None, None, None, None, "k14", None, None],
        ],
    )
    with pytest.raises(FormDefinitionError) as info:
        read_xlsform(src)
    err = info.value.errors[0]
    assert err.code == "unsupported_feature"
    assert (err.location.sheet, err.location.line, err.location.column) == (
        "survey",
        13,
        "repeat_count",
    )


def test_a_stray_word_in_a_select_type_and_external_files_are_unsupported(tmp_path: Path):
    src = _kobo_workbook(
        tmp_path / "kobo.xlsx",
        [
            [
                "select_one yn or_else",
                "why",
                "原因",
                "Why",
                None,
                None,
                None,
                None,
                "x",
                None,
                None,
            ],
            [
                "select_one_from_file villages.csv",
                "village",
                "村",
                "Village",
                None,
                None,
                None,
                None,
                "y",
                None,
                None,
            ],
        ],
    )
    with pytest.raises(FormDefinitionError) as info:
        read_xlsform(src)
    features = [e.message_en for e in info.value.errors]
    assert any("or_else" in m for m in features)
    assert any("villages.csv" in m for m in features)


def test_workbook_without_settings_takes_id_from_file_name(tmp_path: Path):
    wb = Workbook()
    ws = wb.active
    ws.title = "survey"
    ws.append(["type", "name", "label"])
    ws.append(["text", "q1", "问题一"])
    path = tmp_path / "my-survey.xlsx"
    wb.save(path)
    result = read_xlsform(path)
    assert result.form.form_id == "my_survey" and result.form.version == "1"
    assert result.form.field("q1").label.zh == "问题一"
    assert result.warnings


def test_multiline_and_quotes_survive_round_trip(tmp_path: Path):
    text = """\
settings: {form_id: t, version: '3', title: {zh: 测试, en: Test}}
survey:
  - type: text
    name: a
    label: {zh: "他说：“好”", en: "It's \\"fine\\""}
    hint: {zh: "第一行\\n第二行"}
    constraint: "string-length(.) <= 10 or contains(., \\"'\\")"
    required: "${b} = 'x'"
  - {type: text, name: b, read_only: true, default: x}
"""
    form = load_yaml_text(text)
    out = tmp_path / "t.xlsx"
    write_xlsform(form, out)
    back = read_xlsform(out).form
    assert back == form
    assert load_yaml_text(to_yaml(back)) == form
