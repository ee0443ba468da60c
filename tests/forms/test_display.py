"""forms.display: how an answer is shown to a person (issue 11, item 4: rates as percentages)."""

from __future__ import annotations

from pathlib import Path

import pytest

from forms.catalog import DEFINITIONS_DIR
from forms.display import (
    PERCENT_FORMAT,
    FileNames,
    Labels,
    is_percent,
    number_format,
    roster_names,
    show_percent,
    show_value,
)
from forms.errors import FormDefinitionError
from forms.loader import load_yaml, load_yaml_text
from forms.model import Field, FieldType
from forms.serialize import to_yaml
from forms.xlsform import read_xlsform, write_xlsform

FORM = """
settings: {form_id: rates, version: '1', title: {zh: 比率}}
survey:
  - {type: integer, name: enrolled, label: {zh: 报名人数}}
  - {type: integer, name: present, label: {zh: 实到人数}}
  - type: calculate
    name: attendance_rate
    label: {zh: 出勤率}
    appearance: percent
    calculation: if(${enrolled} > 0, round(${present} div ${enrolled}, 4), '')
  - type: calculate
    name: ratio
    label: {zh: 比值}
    calculation: if(${enrolled} > 0, ${present} div ${enrolled}, '')
"""


def test_the_shipped_rates_are_percentages():
    conditions = load_yaml(DEFINITIONS_DIR / "school_conditions.yaml")
    service = load_yaml(DEFINITIONS_DIR / "after_school_service.yaml")
    for f in (
        conditions.field("smartboard_rate"),
        conditions.field("large_class_rate"),
        service.field("attendance_rate"),
    ):
        assert is_percent(f), f.name
        assert number_format(f) == PERCENT_FORMAT
    assert not is_percent(service.field("duration_minutes"))


def test_a_percent_calculate_shows_as_a_percentage_with_one_decimal():
    form = load_yaml_text(FORM)
    rate = form.field("attendance_rate")
    assert show_value(rate, 0.9333) == "93.3%"
    assert show_value(rate, 0.75) == "75.0%"
    assert show_value(rate, 1) == "100.0%"
    assert show_value(rate, "0.5") == "50.0%"  # a value that came back from a text cell
    assert show_value(rate, "") == ""
    assert show_value(rate, None) == ""
    # A calculate without the appearance keeps its number, without float noise.
    assert show_value(form.field("ratio"), 0.1 + 0.2) == "0.3"
    assert show_value(form.field("ratio"), 2.0) == "2"


def test_show_percent_leaves_what_is_no_number_as_it_is():
    assert show_percent("n/a") == "n/a"
    assert show_percent(float("nan")) == "nan"


def test_percent_round_trips_through_xlsform(tmp_path: Path):
    form = load_yaml_text(FORM)
    out = tmp_path / "rates.xlsx"
    write_xlsform(form, out)
    back = read_xlsform(out)
    assert back.form == form
    assert back.form is not None and is_percent(back.form.field("attendance_rate"))
    assert "appearance: percent" in to_yaml(form)


def test_percent_on_a_field_that_is_not_a_calculate_is_an_error():
    bad = FORM.replace(
        "{type: integer, name: present, label: {zh: 实到人数}}",
        "{type: integer, name: present, label: {zh: 实到人数}, appearance: percent}",
    )
    with pytest.raises(FormDefinitionError) as caught:
        load_yaml_text(bad)
    (error,) = caught.value.errors
    assert error.code == "invalid_value"
    assert error.location.field == "present" and error.location.column == "appearance"
    assert "百分比" in error.message_zh


def test_other_values_as_people_read_them():
    form = load_yaml(DEFINITIONS_DIR / "safety_inspection.yaml")
    labels = Labels(form, {"T001": "李娜", "T002": "张伟", "T003": "张伟"})
    areas = form.field("areas")
    assert show_value(areas, ["canteen", "fire_equipment"], labels) == "食堂、消防设施"
    assert roster_names({"T002": "张伟", "T003": "张伟", "T001": "李娜"}) == {
        "T002": "张伟（T002）",
        "T003": "张伟（T003）",
        "T001": "李娜",
    }
    when = Field("at", FieldType.DATETIME)
    assert show_value(when, "2026-11-28T14:05:33") == "2026-11-28 14:05"
    photo = Field("photo", FieldType.IMAGE)
    sha = "9d636b97713c" + "0" * 52
    assert show_value(photo, sha, files=FileNames({sha: "约谈记录.pdf"})) == "约谈记录.pdf"
    assert show_value(photo, sha) == "附件 9d636b97"
