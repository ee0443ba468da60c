"""The record editor, driven through its real widgets (pytest-qt)."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QImage, QInputMethodEvent
from PySide6.QtWidgets import (
    QApplication,
    QCheckBox,
    QComboBox,
    QFileDialog,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QRadioButton,
    QToolButton,
    QWidget,
)
from pytestqt.qtbot import QtBot

from client.context import ClientContext
from client.store import records
from client.store.attachments import read_attachment
from client.store.formset import FormSet
from client.store.models import Record, Status
from client.ui.editor import RecordEditor
from client.ui.editor_fields import AttachmentInput
from client.ui.repeat_widget import RepeatWidget
from client.ui.tasks import TaskManager
from forms.loader import load_yaml_text

from .conftest import open_context, save

LEFT = Qt.MouseButton.LeftButton


# -- helpers that act as the clerk ------------------------------------------------------------------


def open_editor(
    qtbot: QtBot,
    ctx: ClientContext,
    tasks: TaskManager,
    form_id: str = "safety_inspection",
    record_id: str | None = None,
) -> RecordEditor:
    """Open an editor and wait until its record and the roster have arrived from the database."""
    with qtbot.waitSignal(tasks.finished, timeout=5000):
        editor = RecordEditor(ctx, tasks, form_id, record_id)
    qtbot.addWidget(editor)
    editor.resize(1366, 768)
    editor.show()
    editor.activateWindow()
    qtbot.waitUntil(editor.isActiveWindow, timeout=2000)
    return editor


def field(editor: RecordEditor, *path: str | int) -> QWidget:
    widget = editor.widget_for(path)
    assert widget is not None, path
    return widget


def type_text(qtbot: QtBot, widget: QWidget, text: str) -> None:
    """Type as a clerk does: ASCII as key presses, Chinese as an input method's commits
    (QTest can only press keys that are on the keyboard)."""
    for run in re.findall(r"[\x20-\x7e]+|[^\x20-\x7e]+", text):
        if run.isascii():
            qtbot.keyClicks(widget, run)
        else:
            event = QInputMethodEvent("", [])
            event.setCommitString(run)
            QApplication.sendEvent(widget, event)


def type_into(qtbot: QtBot, editor: RecordEditor, *path: str | int, text: str) -> None:
    """Replace a field's text by typing over it."""
    widget = field(editor, *path)
    assert isinstance(widget, QLineEdit | QPlainTextEdit), widget
    widget.selectAll()
    type_text(qtbot, widget, text)


def choose(qtbot: QtBot, editor: RecordEditor, *path: str | int, name: str) -> None:
    """Click a radio button or check box, or pick a drop-down item, by choice name."""
    widget = field(editor, *path)
    if isinstance(widget, QComboBox):
        index = widget.findData(name)
        assert index >= 0, (path, name)
        widget.setCurrentIndex(index)
        return
    button = widget.findChild(QRadioButton, f"choice_{name}") or widget.findChild(
        QCheckBox, f"choice_{name}"
    )
    assert button is not None, (path, name)
    QApplication.processEvents()  # lay out entries just added, as before any real click
    qtbot.mouseClick(button, LEFT)


def click(qtbot: QtBot, button: QWidget | None) -> None:
    assert isinstance(button, QPushButton | QToolButton), button
    QApplication.processEvents()
    assert button.isEnabled() and button.isVisibleTo(button.window()), button.text()
    qtbot.mouseClick(button, LEFT)


def repeat(editor: RecordEditor, name: str = "hazards") -> RepeatWidget:
    widget = editor.widget_for((name,))
    assert isinstance(widget, RepeatWidget)
    return widget


def shown(editor: RecordEditor, *path: str | int) -> bool:
    widget = editor.widget_for(path)
    return widget is not None and widget.isVisibleTo(editor)


def fill_hazard(qtbot: QtBot, editor: RecordEditor, i: int, **answers: str) -> None:
    for name in ("location", "description", "measures", "responsible_person", "deadline"):
        if name in answers:
            type_into(qtbot, editor, "hazards", i, name, text=answers[name])
    for name in ("category", "severity", "status"):
        if name in answers:
            choose(qtbot, editor, "hazards", i, name, name=answers[name])


def fill_inspection_top(qtbot: QtBot, editor: RecordEditor) -> None:
    type_into(qtbot, editor, "inspection_date", text="2026-11-20")
    choose(qtbot, editor, "inspection_type", name="monthly")
    type_into(qtbot, editor, "inspectors", text="张伟、李娜")
    choose(qtbot, editor, "areas", name="canteen")
    choose(qtbot, editor, "areas", name="fire_equipment")
    type_into(qtbot, editor, "signed_by", text="赵校长")


def stored(ctx: ClientContext, form_id: str | None = None) -> list[tuple[str, str, dict[str, Any]]]:
    with ctx.store.Session.begin() as s:
        rows = s.query(Record).filter(Record.deleted.is_(False))
        if form_id is not None:
            rows = rows.filter(Record.form_id == form_id)
        return [(r.id, r.status, dict(r.data)) for r in rows]


# -- the safety inspection, end to end ----------------------------------------------------------------


SEVEN_DAYS = "重大隐患的整改期限不能超过排查日期后 7 天"


def test_serious_hazard_deadline_refused_then_fixed_submitted_and_reopened(
    qtbot: QtBot,
    ctx: ClientContext,
    tasks: TaskManager,
    data_dir: Path,
    formset: FormSet,
    clock: Any,
) -> None:
    editor = open_editor(qtbot, ctx, tasks)
    assert editor.save_button.text() == "保存草稿"  # the UI speaks Chinese
    fill_inspection_top(qtbot, editor)
    assert not shown(editor, "hazards")
    choose(qtbot, editor, "hazards_found", name="yes")
    assert shown(editor, "hazards")
    assert len(repeat(editor).entries) == 1  # the list starts with the one entry it needs
    fill_hazard(
        qtbot,
        editor,
        0,
        category="fire",
        location="食堂后厨",
        description="两具灭火器压力不足",
        severity="serious",
        measures="更换灭火器",
        responsible_person="王明",
        deadline="2026-11-30",  # 10 days after the inspection: too late for a serious hazard
    )
    # The message shows under the deadline as soon as it is typed.
    assert SEVEN_DAYS in editor.problem_text(("hazards", 0, "deadline"))
    click(qtbot, repeat(editor).add)
    fill_hazard(
        qtbot,
        editor,
        1,
        category="electrical",
        location="教学楼三楼",
        description="走廊插座面板破损",
        severity="general",
        measures="更换插座面板",
        responsible_person="刘强",
        deadline="2026-12-10",
    )
    assert editor.problem_text(("hazards", 1, "deadline")) == ""
    assert field(editor, "hazard_count").property("text") == "2"

    click(qtbot, editor.submit_button)
    assert "还有 1 处" in editor.banner_text()
    assert SEVEN_DAYS in editor.problem_text(("hazards", 0, "deadline"))
    qtbot.wait(50)
    assert [s for _, s, _ in stored(ctx, "safety_inspection")] == []  # nothing submitted

    type_into(qtbot, editor, "hazards", 0, "deadline", text="2026-11-25")
    assert editor.problem_text(("hazards", 0, "deadline")) == ""
    with qtbot.waitSignal(editor.submitted, timeout=5000) as sent:
        click(qtbot, editor.submit_button)
    record_id = sent.args[0]
    assert editor.record_id() == record_id
    [(rid, status, data)] = stored(ctx, "safety_inspection")
    assert (rid, status) == (record_id, Status.SUBMITTED)
    assert data["hazards"][0]["deadline"] == "2026-11-25"
    assert data["hazard_count"] == 2
    assert editor.submit_button.text() == "提交修改"  # it can still be corrected

    # A new context on the same data folder (as after a restart) finds everything.
    ctx2 = open_context(data_dir, formset, clock)
    try:
        again = open_editor(qtbot, ctx2, tasks, record_id=record_id)
        assert again.record_id() == record_id
        assert again.status() == Status.SUBMITTED
        assert field(again, "inspectors").property("text") == "张伟、李娜"
        assert field(again, "hazards", 1, "location").property("text") == "教学楼三楼"
        assert field(again, "hazards", 0, "deadline").property("text") == "2026-11-25"
        radio = field(again, "hazards", 0, "severity").findChild(QRadioButton, "choice_serious")
        assert radio is not None and radio.isChecked()
        assert field(again, "hazard_count").property("text") == "2"
        assert again.data()["areas"] == ["canteen", "fire_equipment"]
        assert not again.is_dirty()
    finally:
        tasks.wait()
        ctx2.close()


def test_relevance_hides_and_clears_answers(
    qtbot: QtBot, ctx: ClientContext, tasks: TaskManager
) -> None:
    editor = open_editor(qtbot, ctx, tasks)
    assert not shown(editor, "special_topic")
    choose(qtbot, editor, "inspection_type", name="special")
    assert shown(editor, "special_topic")
    choose(qtbot, editor, "special_topic", name="drowning")
    assert editor.data()["special_topic"] == "drowning"

    choose(qtbot, editor, "inspection_type", name="routine")
    assert not shown(editor, "special_topic")
    assert "special_topic" not in editor.data()
    assert "专项内容" in editor.banner_text()  # says what was cleared, and offers 撤销

    # Undo brings the answer back (and the choice that cleared it).
    undo = editor.findChild(QPushButton, "bannerAction")
    click(qtbot, undo)
    assert editor.data()["inspection_type"] == "special"
    assert editor.data()["special_topic"] == "drowning"
    assert shown(editor, "special_topic")


def test_hazards_repeat_follows_hazards_found_and_can_be_edited(
    qtbot: QtBot, ctx: ClientContext, tasks: TaskManager
) -> None:
    editor = open_editor(qtbot, ctx, tasks)
    count = field(editor, "hazard_count")
    assert not shown(editor, "hazards")
    choose(qtbot, editor, "hazards_found", name="no")
    assert not shown(editor, "hazards")
    choose(qtbot, editor, "hazards_found", name="yes")
    assert shown(editor, "hazards")
    hazards = repeat(editor)
    assert hazards.entries[0].title.text() == "第 1 条隐患"
    assert not hazards.entries[0].remove.isEnabled()  # at least one hazard when hazards were found
    click(qtbot, hazards.add)
    click(qtbot, hazards.add)
    assert count.property("text") == "3"  # the calculation follows live
    for i, place in enumerate(["食堂", "宿舍", "校门"]):
        type_into(qtbot, editor, "hazards", i, "location", text=place)
    assert [h["location"] for h in editor.data()["hazards"]] == ["食堂", "宿舍", "校门"]

    click(qtbot, hazards.entries[2].up)
    assert [h["location"] for h in editor.data()["hazards"]] == ["食堂", "校门", "宿舍"]
    assert field(editor, "hazards", 1, "location").property("text") == "校门"
    click(qtbot, hazards.entries[0].down)
    assert [h["location"] for h in editor.data()["hazards"]] == ["校门", "食堂", "宿舍"]
    assert hazards.entries[2].title.text() == "第 3 条隐患"

    click(qtbot, hazards.entries[1].remove)
    assert [h["location"] for h in editor.data()["hazards"]] == ["校门", "宿舍"]
    assert count.property("text") == "2"
    assert "已删除第 2 条隐患" in editor.banner_text()
    click(qtbot, hazards.entries[0].remove)
    assert [h["location"] for h in editor.data()["hazards"]] == ["宿舍"]
    assert not hazards.entries[0].remove.isEnabled()

    choose(qtbot, editor, "hazards_found", name="no")
    assert not shown(editor, "hazards")
    assert "hazards" not in editor.data()
    assert editor.data()["hazard_count"] == 0
    assert count.property("text") == "0"


def test_status_rectified_asks_for_the_rectified_date(
    qtbot: QtBot, ctx: ClientContext, tasks: TaskManager
) -> None:
    editor = open_editor(qtbot, ctx, tasks)
    choose(qtbot, editor, "hazards_found", name="yes")
    assert editor.data()["hazards"][0]["status"] == "open"  # the form's default
    assert not shown(editor, "hazards", 0, "rectified_date")
    assert editor.data()["open_count"] == 1
    choose(qtbot, editor, "hazards", 0, "status", name="rectified")
    assert shown(editor, "hazards", 0, "rectified_date")
    assert editor.data()["open_count"] == 0
    label = field(editor, "hazards", 0, "rectified_date").parentWidget()
    assert label is not None


def test_roster_select_shows_names_and_stores_ids(
    qtbot: QtBot, ctx: ClientContext, tasks: TaskManager, roster: dict[str, str]
) -> None:
    save(ctx, "teachers", {"teacher_id": "T003", "name": "王强", "active": "no"}, submit=True)
    old = save(
        ctx,
        "teacher_ethics",
        {"teacher": "T003", "record_type": "pledge", "record_date": "2025-09-01"},
    )

    editor = open_editor(qtbot, ctx, tasks, "teacher_ethics")
    combo = field(editor, "teacher")
    assert isinstance(combo, QComboBox)
    names = [combo.itemText(i) for i in range(combo.count())]
    assert names == ["", "张明", "李芳"]  # the teacher who left is not offered
    choose(qtbot, editor, "teacher", name="T002")
    assert combo.currentText() == "李芳"
    assert editor.data()["teacher"] == "T002"

    # An old answer naming a teacher who has left still shows the name.
    former = open_editor(qtbot, ctx, tasks, "teacher_ethics", old)
    combo = field(former, "teacher")
    assert isinstance(combo, QComboBox)
    assert combo.currentText() == "王强（已离职）"
    assert former.data()["teacher"] == "T003"

    # A multiple choice from the roster: a check box per teacher, ids stored.
    service = open_editor(qtbot, ctx, tasks, "after_school_service")
    boxes = field(service, "teachers").findChildren(QCheckBox)
    assert sorted(b.text() for b in boxes) == ["张明", "李芳"]
    choose(qtbot, service, "teachers", name="T001")
    choose(qtbot, service, "teachers", name="T002")
    assert service.data()["teachers"] == ["T001", "T002"]


def test_image_attach_stores_the_sha256_and_shows_a_thumbnail(
    qtbot: QtBot,
    ctx: ClientContext,
    tasks: TaskManager,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    photo = tmp_path / "现场.png"
    image = QImage(640, 480, QImage.Format.Format_RGB32)
    image.fill(QColor("#c0504d"))
    assert image.save(str(photo))
    sha = hashlib.sha256(photo.read_bytes()).hexdigest()
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(photo), ""))

    editor = open_editor(qtbot, ctx, tasks)
    choose(qtbot, editor, "hazards_found", name="yes")
    attach = field(editor, "hazards", 0, "photo")
    with qtbot.waitSignal(tasks.finished, timeout=5000):
        click(qtbot, attach)
    assert editor.data()["hazards"][0]["photo"] == sha
    assert read_attachment(ctx.store.attachments_dir, sha) == photo.read_bytes()
    widget = attach.parentWidget()
    assert isinstance(widget, AttachmentInput)
    thumb = widget.findChild(QLabel, "thumbnail")
    assert thumb is not None and thumb.isVisibleTo(editor)
    pixmap = thumb.pixmap()
    assert not pixmap.isNull() and pixmap.width() <= 160 and pixmap.height() <= 120
    assert widget.name.text() == "现场.png"

    click(qtbot, widget.remove)
    assert "photo" not in editor.data()["hazards"][0]
    assert not thumb.isVisibleTo(editor)


def test_autosave_saves_a_draft(
    qtbot: QtBot, ctx: ClientContext, tasks: TaskManager, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(RecordEditor, "autosave_ms", 50)
    editor = open_editor(qtbot, ctx, tasks)
    assert editor.record_id() is None
    with qtbot.waitSignal(editor.saved, timeout=3000) as saved:
        type_into(qtbot, editor, "inspectors", text="张伟")
    assert editor.record_id() == saved.args[0]
    [(rid, status, data)] = stored(ctx, "safety_inspection")
    assert (rid, status, data["inspectors"]) == (saved.args[0], Status.DRAFT, "张伟")
    assert not editor.is_dirty()

    # More typing: the same record gets a new revision, never a second record.
    with qtbot.waitSignal(editor.saved, timeout=3000):
        type_into(qtbot, editor, "inspectors", text="张伟、李娜")
    [(rid2, _, data)] = stored(ctx, "safety_inspection")
    assert rid2 == rid and data["inspectors"] == "张伟、李娜"


def test_ctrl_s_and_close_save_the_draft(
    qtbot: QtBot, ctx: ClientContext, tasks: TaskManager
) -> None:
    editor = open_editor(qtbot, ctx, tasks)
    type_into(qtbot, editor, "inspectors", text="李娜")
    with qtbot.waitSignal(editor.saved, timeout=3000):
        qtbot.keyClick(
            field(editor, "inspectors"), Qt.Key.Key_S, Qt.KeyboardModifier.ControlModifier
        )
    assert [s for _, s, _ in stored(ctx)] == [Status.DRAFT]

    type_into(qtbot, editor, "signed_by", text="赵校长")
    with qtbot.waitSignals([editor.saved, editor.closed], timeout=3000):
        click(qtbot, editor.close_button)
    [(_, _, data)] = stored(ctx)
    assert data["signed_by"] == "赵校长"


def test_accepted_record_opens_read_only(
    qtbot: QtBot, ctx: ClientContext, tasks: TaskManager
) -> None:
    record_id = save(
        ctx,
        "safety_inspection",
        {
            "inspection_date": "2026-11-20",
            "inspection_type": "routine",
            "inspectors": "张伟",
            "areas": ["gate"],
            "hazards_found": "no",
            "signed_by": "赵校长",
        },
        submit=True,
    )
    with ctx.store.Session.begin() as s:
        records.get_record(s, record_id).status = Status.ACCEPTED

    editor = open_editor(qtbot, ctx, tasks, record_id=record_id)
    assert editor.is_read_only()
    assert "已确认" in editor.banner_text()
    inspectors = field(editor, "inspectors")
    assert isinstance(inspectors, QLineEdit) and inspectors.isReadOnly()
    assert inspectors.text() == "张伟"
    assert (
        not field(editor, "inspection_type").findChild(QRadioButton, "choice_routine").isEnabled()
    )
    assert not editor.submit_button.isVisibleTo(editor)
    assert not editor.save_button.isVisibleTo(editor)
    type_text(qtbot, inspectors, "改")
    editor.save_draft()
    assert editor.data()["inspectors"] == "张伟"
    with pytest.raises(RuntimeError):
        editor.set_value(("inspectors",), "改")


def test_returned_record_shows_the_bureau_comments_and_resubmits(
    qtbot: QtBot, ctx: ClientContext, tasks: TaskManager
) -> None:
    record_id = save(
        ctx,
        "safety_inspection",
        {
            "inspection_date": "2026-11-20",
            "inspection_type": "routine",
            "inspectors": "张伟",
            "areas": ["gate"],
            "hazards_found": "no",
            "signed_by": "赵校长",
        },
        submit=True,
    )
    with ctx.store.Session.begin() as s:
        record = records.get_record(s, record_id)
        record.status = Status.RETURNED
        record.review_comments = {"inspectors": "请写全排查人员姓名", "": "本月请补充周边环境排查"}

    editor = open_editor(qtbot, ctx, tasks, record_id=record_id)
    assert "退回" in editor.banner_text() and "周边环境" in editor.banner_text()
    comment = field(editor, "inspectors").parentWidget()
    assert comment is not None
    row = comment.parentWidget()
    assert row is not None
    assert "请写全排查人员姓名" in row.findChild(QLabel, "comment").text()
    assert row.findChild(QLabel, "comment").isVisibleTo(editor)
    assert editor.submit_button.text() == "提交修改"

    type_into(qtbot, editor, "inspectors", text="张伟、李娜")
    with qtbot.waitSignal(editor.submitted, timeout=3000):
        qtbot.keyClick(
            field(editor, "inspectors"), Qt.Key.Key_S, Qt.KeyboardModifier.ControlModifier
        )
    [(_, status, data)] = stored(ctx, "safety_inspection")
    assert status == Status.SUBMITTED and data["inspectors"] == "张伟、李娜"


def test_typed_values_dates_numbers_and_empty(
    qtbot: QtBot, ctx: ClientContext, tasks: TaskManager
) -> None:
    editor = open_editor(qtbot, ctx, tasks)
    type_into(qtbot, editor, "inspection_date", text="2026/11/5")
    assert editor.data()["inspection_date"] == "2026-11-05"
    type_into(qtbot, editor, "inspection_date", text="2026年11月6日")
    assert editor.data()["inspection_date"] == "2026-11-06"
    date = field(editor, "inspection_date")
    assert isinstance(date, QLineEdit)
    date.setFocus()
    type_into(qtbot, editor, "inspection_date", text="2026-1")
    if date.hasFocus():  # half typed: no message while the clerk is still typing
        assert editor.problem_text(("inspection_date",)) == ""
    field(editor, "inspectors").setFocus()
    assert "日期" in editor.problem_text(("inspection_date",))
    date.selectAll()
    qtbot.keyClick(date, Qt.Key.Key_Backspace)
    assert "inspection_date" not in editor.data()
    assert "必填" in editor.problem_text(("inspection_date",))
    type_into(qtbot, editor, "inspection_date", text="2026-12-01")  # in the future
    assert "不能晚于今天" in editor.problem_text(("inspection_date",))

    conditions = open_editor(qtbot, ctx, tasks, "school_conditions")
    classes = field(conditions, "classes")
    assert isinstance(classes, QLineEdit) and classes.text() == ""  # empty, not 0
    type_text(qtbot, classes, "1２x")  # full-width digits from a Chinese input method are fine
    assert classes.text() == "12"
    assert conditions.data()["classes"] == 12


EVERY_TYPE = """
settings:
  form_id: every_type
  version: '1'
  title: {zh: 各种题型, en: Every type}
survey:
  - {type: note, name: intro, label: {zh: 请如实填写, en: Please answer truthfully}}
  - {type: time, name: start, label: {zh: 开始时间, en: Start}}
  - {type: datetime, name: when, label: {zh: 发生时间, en: When}}
  - {type: decimal, name: amount, label: {zh: 金额, en: Amount}}
  - {type: select_one yes_no, name: has_more, label: {zh: 是否补充, en: More}}
  - type: group
    name: more
    label: {zh: 补充信息, en: More}
    relevant: ${has_more} = 'yes'
    children:
      - {type: text, name: detail, label: {zh: 说明, en: Detail}}
      - {type: file, name: proof, label: {zh: 证明材料, en: Proof}}
  - type: repeat
    name: classes
    label: {zh: 班级, en: Classes}
    max_count: 2
    children:
      - {type: text, name: class_name, label: {zh: 班级名称, en: Class}}
      - type: repeat
        name: pupils
        label: {zh: 学生名单, en: Pupils}
        children:
          - {type: text, name: pupil, label: {zh: 姓名, en: Name}}
choices:
  yes_no:
    - {name: 'yes', label: {zh: 是, en: 'Yes'}}
    - {name: 'no', label: {zh: 否, en: 'No'}}
"""


def test_every_field_type_groups_and_nested_repeats(
    qtbot: QtBot,
    ctx: ClientContext,
    tasks: TaskManager,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ctx.forms = FormSet(dict(ctx.forms.latest), dict(ctx.forms.versions))  # keep the shared one
    ctx.forms.add(load_yaml_text(EVERY_TYPE))
    editor = open_editor(qtbot, ctx, tasks, "every_type")
    assert field(editor, "intro").property("text") == "请如实填写"
    type_into(qtbot, editor, "start", text="8:05")
    assert editor.data()["start"] == "08:05"
    type_into(qtbot, editor, "when", text="2026-11-20 14:30")
    assert editor.data()["when"].startswith("2026-11-20T14:30:00")
    type_into(qtbot, editor, "amount", text="12.50")
    assert editor.data()["amount"] == 12.5

    # A group that does not apply hides with all its fields, and their answers are cleared.
    assert not shown(editor, "more")
    choose(qtbot, editor, "has_more", name="yes")
    assert shown(editor, "more") and shown(editor, "detail")
    type_into(qtbot, editor, "detail", text="见附件")
    document = tmp_path / "证明.pdf"
    document.write_bytes(b"%PDF-1.4 proof")
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(document), ""))
    with qtbot.waitSignal(tasks.finished, timeout=5000):
        click(qtbot, field(editor, "proof"))
    assert editor.data()["proof"] == hashlib.sha256(document.read_bytes()).hexdigest()
    proof = field(editor, "proof").parentWidget()
    assert isinstance(proof, AttachmentInput) and proof.name.text() == "证明.pdf"
    choose(qtbot, editor, "has_more", name="no")
    assert not shown(editor, "more")
    assert "detail" not in editor.data() and "proof" not in editor.data()

    # Repeats inside repeats: entries keep their answers through moves.
    classes = repeat(editor, "classes")
    click(qtbot, classes.add)
    click(qtbot, classes.add)
    assert not classes.add.isEnabled()  # max_count 2
    type_into(qtbot, editor, "classes", 0, "class_name", text="1")
    type_into(qtbot, editor, "classes", 1, "class_name", text="2")
    pupils = editor.widget_for(("classes", 1, "pupils"))
    assert isinstance(pupils, RepeatWidget)
    click(qtbot, pupils.add)
    type_into(qtbot, editor, "classes", 1, "pupils", 0, "pupil", text="Li Lei")
    click(qtbot, classes.entries[1].up)
    assert editor.data()["classes"] == [
        {"class_name": "2", "pupils": [{"pupil": "Li Lei"}]},
        {"class_name": "1"},
    ]
    moved = editor.widget_for(("classes", 0, "pupils"))
    assert moved is pupils
    click(qtbot, pupils.add)  # the nested repeat knows where it is now
    type_into(qtbot, editor, "classes", 0, "pupils", 1, "pupil", text="Han Meimei")
    assert [p["pupil"] for p in editor.data()["classes"][0]["pupils"]] == ["Li Lei", "Han Meimei"]
    click(qtbot, classes.entries[0].remove)
    assert editor.data()["classes"] == [{"class_name": "1"}]
    assert field(editor, "classes", 0, "class_name").property("text") == "1"


def test_enter_moves_to_the_next_field(
    qtbot: QtBot, ctx: ClientContext, tasks: TaskManager
) -> None:
    editor = open_editor(qtbot, ctx, tasks)
    date = field(editor, "inspection_date")
    date.setFocus()
    qtbot.keyClicks(date, "2026-11-20")
    qtbot.keyClick(date, Qt.Key.Key_Return)
    first_type = field(editor, "inspection_type").findChild(QRadioButton, "choice_routine")
    assert QApplication.focusWidget() is first_type
