"""Real XLSForms as ODK and Kobo authors make them: .xls and .csv files, `label:English` headers,
`select one X`, names with '-' or a leading '_', repeat_count, instance_name, acknowledge, media columns,
computed defaults, the language of unsuffixed columns, and sheets formatted down to row 1,048,576."""

from __future__ import annotations

import datetime as dt
import re
import zipfile
from pathlib import Path

import pytest
import xlwt
from openpyxl import Workbook
from pyxform.xls2xform import convert

from forms.engine import evaluate, new_record, new_repeat_instance
from forms.errors import FormDefinitionError
from forms.xlsform import read_xlsform

SURVEY = [
    ["type", "name", "label:English", "label:Chinese", "required", "default"],
    ["select one colors", "color", "Colour", "颜色", "yes", None],
    ["date", "visit", "Visit date", "到访日期", None, "today()"],
    ["integer", "hh-size", "Household size", "人数", None, None],
    ["integer", "_double", "Double", "两倍", None, None],
    ["calculate", "twice", None, None, None, None],
]
CHOICES = [
    ["list_name", "name", "label:English", "label:Chinese", "image"],
    ["colors", "red", "Red", "红", "red.png"],
    ["colors", "blue", "Blue", "蓝", None],
]
SETTINGS = [
    ["form_id", "version", "form_title", "default_language"],
    ["odk_real", "3", "Real", "English"],
]


def _calc_rows() -> list[list[object]]:
    rows = [list(r) for r in SURVEY]
    rows[0] = [*rows[0], "calculation"]
    for r in rows[1:]:
        r.append("${hh-size} * 2" if r[1] == "twice" else None)
    return rows


def write_xlsx(path: Path, sheets: dict[str, list[list[object]]]) -> Path:
    wb = Workbook()
    wb.remove(wb.active)
    for title, rows in sheets.items():
        ws = wb.create_sheet(title)
        for row in rows:
            ws.append(row)
    wb.save(path)
    return path


def write_xls(path: Path, sheets: dict[str, list[list[object]]]) -> Path:
    book = xlwt.Workbook(encoding="utf-8")
    for title, rows in sheets.items():
        ws = book.add_sheet(title)
        for i, row in enumerate(rows):
            for j, v in enumerate(row):
                if v is not None:
                    ws.write(i, j, v)
    book.save(str(path))
    return path


def write_csv(path: Path, sheets: dict[str, list[list[object]]]) -> Path:
    import csv

    with path.open("w", encoding="utf-8", newline="") as fp:
        w = csv.writer(fp)
        for title, rows in sheets.items():
            w.writerow([title])
            for row in rows:
                w.writerow(["", *("" if v is None else v for v in row)])
    return path


SHEETS = {"survey": _calc_rows(), "choices": CHOICES, "settings": SETTINGS}


def _check_real_form(path: Path) -> list[str]:
    result = read_xlsform(path)
    form = result.form
    assert form.form_id == "odk_real" and form.settings.default_language == "en"
    color = form.field("color")
    assert color.type == "select_one" and color.list_name == "colors"
    assert color.label.get("en") == "Colour" and color.label.get("zh") == "颜色"
    red = form.choice_list("colors").choices[0]
    assert red.label.get("en") == "Red" and red.label.get("zh") == "红"
    assert red.extra == ()  # label:LANG columns are labels, not filter columns
    assert form.field("hh_size").label.get("en") == "Household size"
    assert form.field("double").label.get("zh") == "两倍"
    assert form.field("twice").calculation is not None
    assert form.field("twice").calculation.source == "${hh_size} * 2"
    out = evaluate(form, {"color": "red", "hh_size": 4}, today=dt.date(2026, 3, 1))
    assert out.data["twice"] == 8
    return result.warnings


@pytest.mark.parametrize("writer", [write_xlsx, write_xls, write_csv], ids=["xlsx", "xls", "csv"])
def test_a_real_xlsform_imports_from_xlsx_xls_and_csv(tmp_path: Path, writer):
    suffix = {"write_xlsx": ".xlsx", "write_xls": ".xls", "write_csv": ".csv"}[writer.__name__]
    path = writer(tmp_path / f"real{suffix}", SHEETS)
    warnings = _check_real_form(path)
    text = "\n".join(warnings)
    assert "hh-size" in text and "hh_size" in text and "_double" in text  # renames said aloud
    assert "image" in text  # the media column ignored with a word
    # pyxform reads the same file
    assert convert(xlsform=str(path), validate=False).xform


def test_a_default_of_today_is_computed_not_kept_as_text(tmp_path: Path):
    form = read_xlsform(write_xlsx(tmp_path / "d.xlsx", SHEETS)).form
    assert form.field("visit").default == "today()"
    assert new_record(form, today=dt.date(2026, 3, 1))["visit"] == "2026-03-01"


def test_a_computed_default_inside_a_repeat(tmp_path: Path):
    survey = [
        ["type", "name", "label", "default"],
        ["begin_repeat", "visits", "Visits", None],
        ["date", "on", "On", "today() - 1"],
        ["text", "who", "Who", "nobody"],
        ["end_repeat", None, None, None],
    ]
    form = read_xlsform(write_xlsx(tmp_path / "r.xlsx", {"survey": survey})).form
    inst = new_repeat_instance(form, "visits", today=dt.date(2026, 3, 1))
    assert inst == {"on": "2026-02-28", "who": "nobody"}


def test_a_bad_computed_default_is_a_definition_error(tmp_path: Path):
    survey = [["type", "name", "label", "default"], ["date", "on", "On", "todya()"]]
    with pytest.raises(FormDefinitionError) as e:
        read_xlsform(write_xlsx(tmp_path / "bad.xlsx", {"survey": survey}))
    err = e.value.errors[0]
    assert (err.code, err.location.column) == ("unknown_function", "default")


def test_unsuffixed_english_labels_are_english_and_said(tmp_path: Path):
    survey = [["type", "name", "label", "hint"], ["text", "school", "School name", "Full name"]]
    result = read_xlsform(write_xlsx(tmp_path / "en.xlsx", {"survey": survey}))
    f = result.form.field("school")
    assert f.label.get("en", fallback=False) == "School name"
    assert f.label.get("zh", fallback=False) == ""
    assert any("no default_language" in w and "'en'" in w for w in result.warnings)


def test_unsuffixed_chinese_labels_are_chinese(tmp_path: Path):
    survey = [["type", "name", "label"], ["text", "school", "学校名称"]]
    result = read_xlsform(write_xlsx(tmp_path / "zh.xlsx", {"survey": survey}))
    assert result.form.field("school").label.get("zh", fallback=False) == "学校名称"


def test_settings_default_language_decides_unsuffixed_columns(tmp_path: Path):
    survey = [["type", "name", "label", "label::en"], ["text", "school", "Nom", "School"]]
    settings = [["form_id", "default_language"], ["f", "fr"]]
    result = read_xlsform(
        write_xlsx(tmp_path / "fr.xlsx", {"survey": survey, "settings": settings})
    )
    f = result.form.field("school")
    assert (f.label.get("fr", fallback=False), f.label.get("en", fallback=False)) == (
        "Nom",
        "School",
    )
    assert not any("no default_language" in w for w in result.warnings), result.warnings


def test_fixed_repeat_count_instance_name_and_acknowledge(tmp_path: Path):
    survey = [
        ["type", "name", "label", "repeat_count"],
        ["acknowledge", "consent", "我同意", None],
        ["begin repeat", "kids", "孩子", "3"],
        ["text", "kid", "姓名", None],
        ["end repeat", None, None, None],
    ]
    settings = [["form_id", "version", "instance_name"], ["f", "1", "concat(${consent}, '-x')"]]
    result = read_xlsform(write_xlsx(tmp_path / "k.xlsx", {"survey": survey, "settings": settings}))
    form = result.form
    kids = form.field("kids")
    assert (kids.min_count, kids.max_count) == (3, 3)
    consent = form.field("consent")
    assert consent.type == "select_one" and consent.list_name == "acknowledge"
    assert [c.name for c in form.choice_list("acknowledge").choices] == ["OK"]
    text = "\n".join(result.warnings)
    assert "instance_name" in text and "acknowledge" in text


def _padded(path: Path, last_row: int, content_at: int | None = None) -> Path:
    """An XLSForm whose survey sheet LibreOffice formatted down to `last_row` (every row written)."""
    plain = write_xlsx(path.with_suffix(".plain.xlsx"), SHEETS)
    row = (
        '<row r="{r}" s="1" customFormat="true" ht="12.8" hidden="false" customHeight="false" '
        'outlineLevel="0" collapsed="false"><c r="A{r}" s="1"/></row>'
    )
    with zipfile.ZipFile(plain) as src, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as dst:
        for item in src.infolist():
            data = src.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                text = data.decode()
                start = len(SHEETS["survey"]) + 1
                rows = [row.format(r=r) for r in range(start, last_row + 1)]
                if content_at is not None:
                    rows[content_at - start] = (
                        f'<row r="{content_at}"><c r="A{content_at}" t="inlineStr"><is><t>note</t></is>'
                        f'</c><c r="B{content_at}" t="inlineStr"><is><t>late</t></is></c></row>'
                    )
                text = text.replace("</sheetData>", "".join(rows) + "</sheetData>")
                text = re.sub(r'<dimension ref="[^"]*"', f'<dimension ref="A1:F{last_row}"', text)
                data = text.encode()
            dst.writestr(item, data)
    plain.unlink()
    return path


def test_a_sheet_formatted_far_below_its_content_reads_as_its_content(tmp_path: Path):
    path = _padded(tmp_path / "padded.xlsx", 60_000)
    assert zipfile.ZipFile(path).getinfo("xl/worksheets/sheet1.xml").file_size > 4 * 1024 * 1024
    _check_real_form(path)


def test_content_after_a_long_run_of_formatted_rows_is_kept(tmp_path: Path):
    path = _padded(tmp_path / "late.xlsx", 60_000, content_at=15_000)
    form = read_xlsform(path).form
    assert form.field("late").type == "note"


def test_older_spellings_select_one_from_and_bind_columns(tmp_path: Path):
    survey = [
        ["type", "name", "label", "bind::relevant", "bind:jr:constraintMsg", "control::appearance"],
        ["select one from colors", "c", "颜色", None, None, "minimal"],
        ["integer", "n", "数", "${c} = 'red'", "太大", None],
    ]
    form = read_xlsform(
        write_xlsx(tmp_path / "old.xlsx", {"survey": survey, "choices": CHOICES})
    ).form
    assert form.field("c").list_name == "colors" and form.field("c").appearance == "minimal"
    n = form.field("n")
    assert n.relevant is not None and n.relevant.source == "${c} = 'red'"
    assert n.constraint_message.get("zh") == "太大"


def test_cli_reads_a_csv_xlsform(tmp_path: Path):
    import subprocess
    import sys

    src = write_csv(tmp_path / "real.csv", SHEETS)
    out = tmp_path / "real.yaml"
    run = subprocess.run(
        [sys.executable, "-m", "forms", "from-xlsform", str(src), str(out)],
        capture_output=True,
        text=True,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert run.returncode == 0, run.stderr
    assert "hh_size" in out.read_text(encoding="utf-8")
    assert "warning:" in run.stderr and "Traceback" not in run.stderr
    bad = tmp_path / "bad.csv"
    bad.write_bytes(b"\xff\xfe\x00garbage")
    run = subprocess.run(
        [sys.executable, "-m", "forms", "check", str(bad)],
        capture_output=True,
        text=True,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert run.returncode == 2 and "xlsx_unreadable" in run.stdout + run.stderr
    assert "Traceback" not in run.stdout + run.stderr


def test_or_other_builds_what_odk_builds_and_says_so(tmp_path: Path):
    survey = [
        ["type", "name", "label"],
        ["select_one colors or_other", "fav", "最喜欢的颜色"],
        ["select_multiple colors or_other", "also", "其他颜色"],
    ]
    result = read_xlsform(write_xlsx(tmp_path / "o.xlsx", {"survey": survey, "choices": CHOICES}))
    form = result.form
    assert [c.name for c in form.choice_list("colors").choices] == ["red", "blue", "other"]
    other = form.field("fav_other")
    assert other.type == "text" and other.relevant is not None
    assert other.relevant.source == "selected(${fav}, 'other')"
    assert form.field("also_other").label.get("zh") == "请注明其他"
    assert sum("gains the choice" in w for w in result.warnings) == 2
    out = evaluate(
        form, {"fav": "other", "fav_other": "紫色", "also": ["red"]}, today=dt.date(2026, 3, 1)
    )
    assert out.problems == [] and out.data["fav_other"] == "紫色"
    assert "also_other" not in out.data
