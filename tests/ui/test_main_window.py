"""The main window: navigation with counts, the 待办 home page, hazard follow-up, the status bar, keyboard
shortcuts, Chinese by default with English selectable, and a second window on the same data folder."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from PySide6.QtCore import QModelIndex, Qt
from PySide6.QtGui import QColor, QImage
from PySide6.QtWidgets import (
    QApplication,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QLabel,
    QLineEdit,
    QMessageBox,
)

from client.context import ClientContext
from client.store.attachments import has_attachment
from client.store.models import Status
from client.store.prefs import get_setting
from client.store.records import StoreError, get_record, revisions
from client.ui import app as app_module
from client.ui import lang
from client.ui.hazard_dialog import HazardDialog
from client.ui.home_page import HazardModel, ItemRole, OverdueRole
from client.ui.main_window import CountsRole, MainWindow
from client.ui.record_list import RecordListPage
from client.ui.tasks import TaskManager
from tests.store.todo_data import hazard, inspection, save, seed_realistic, set_status
from tests.ui.main_helpers import make_window, open_ctx, settle

FORM = "safety_inspection"

pytest_plugins = ("tests.ui.fixtures_main",)


def nav_texts(w: MainWindow) -> list[str]:
    return [w.nav.item(i).text() for i in range(w.nav.count())]


@pytest.fixture
def seeded(main_ctx: ClientContext) -> dict[str, object]:
    return seed_realistic(main_ctx)


# -- navigation and counts --------------------------------------------------------------------------------


def test_navigation_lists_home_forms_roster_and_settings_in_chinese(window: MainWindow):
    assert window.windowTitle() == "学校数据采集客户端"
    assert nav_texts(window) == [
        "待办",
        "校园安全隐患排查整治记录",
        "课后服务日志",
        "师德师风记录",
        "控辍保学跟踪记录",
        "办学条件统计",
        "教师名册",
        "设置",
    ]
    assert window.current_page() is window.home


def test_form_counts_update_after_a_record_is_saved(qtbot, window: MainWindow, main_ctx):
    assert window.form_counts(FORM) == {}
    window.show_form(FORM)
    page = window.current_page()
    assert isinstance(page, RecordListPage) and page.form_id == FORM
    settle(window.tasks)
    assert page.model.total() == 0

    # Ctrl+N opens a new record of this form in an editor tab.
    qtbot.keyClick(window, Qt.Key.Key_N, Qt.KeyboardModifier.ControlModifier)
    [editor] = window.editors()
    assert window.tabs.currentWidget() is editor and window.tabs.tabBar().isVisible()

    # The editor saves (here straight into the store) and says so: counts, list and home follow.
    draft = save(main_ctx, FORM, inspection("2026-11-26", [hazard()]), submit=False)
    sent = save(main_ctx, FORM, inspection("2026-11-27", []))
    set_status(main_ctx, sent.record_id, Status.RETURNED, {"signed_by": "请签全名"})
    with qtbot.waitSignal(window.counts_refreshed):
        editor.saved.emit(draft.record_id)
    settle(window.tasks)
    assert window.form_counts(FORM) == {Status.DRAFT: 1, Status.RETURNED: 1}
    item = window.nav_item(f"form:{FORM}")
    assert item is not None and item.data(CountsRole) == {"draft": 1, "returned": 1}
    assert "草稿 1" in item.data(Qt.ItemDataRole.AccessibleTextRole)
    assert "已退回 1" in item.data(Qt.ItemDataRole.AccessibleTextRole)
    assert window.home.returned_model.rowCount() == 1

    window.go_to(f"form:{FORM}")
    settle(window.tasks)
    assert page.model.total() == 2

    # Submitting one more: 待发送 counts it and the status bar shows what waits to be sent.
    more = save(main_ctx, FORM, inspection("2026-11-28", []))
    with qtbot.waitSignal(window.counts_refreshed):
        editor.submitted.emit(more.record_id)
    assert window.form_counts(FORM)[Status.SUBMITTED] == 1
    assert window.status.pending_label.text() == "待发送：2 条"


def test_status_bar_keeps_a_place_for_sync(window: MainWindow, seeded):
    window.refresh_all()
    settle(window.tasks)
    sync = window.findChild(QLabel, "syncStatus")
    assert sync is not None and sync.text() == "未连接服务器" and sync.isVisible()
    pending = window.findChild(QLabel, "outboxCount")
    assert pending is not None and pending.text().startswith("待发送：")
    assert int(pending.text().removeprefix("待发送：").removesuffix(" 条")) > 0


def test_keyboard_shortcuts(qtbot, window: MainWindow, seeded):
    window.show_form("after_school_service")
    settle(window.tasks)
    page = window.current_page()
    assert isinstance(page, RecordListPage)
    qtbot.keyClick(window, Qt.Key.Key_F, Qt.KeyboardModifier.ControlModifier)
    assert page.search_edit.hasFocus() or QApplication.focusWidget() is page.search_edit
    # Ctrl+1 goes home, F5 refreshes.
    qtbot.keyClick(window, Qt.Key.Key_1, Qt.KeyboardModifier.ControlModifier)
    assert window.current_page() is window.home
    with qtbot.waitSignal(window.counts_refreshed):
        qtbot.keyClick(window, Qt.Key.Key_F5)
    # Ctrl+N on the home page opens nothing but says what to do.
    qtbot.keyClick(window, Qt.Key.Key_N, Qt.KeyboardModifier.ControlModifier)
    assert window.editors() == []
    assert "选择一个表单" in window.status.currentMessage()


def test_a_second_window_on_the_same_data_folder_shows_the_same_data(
    qtbot,
    chinese,
    main_data_dir: Path,
    main_tasks: TaskManager,
):
    first_ctx = open_ctx(main_data_dir)
    seed_realistic(first_ctx)
    first = make_window(qtbot, first_ctx, main_tasks)
    counts = {f: first.form_counts(f) for f in first.form_pages}
    hazards = [h.location for h in first.home.hazard_model.items()]
    first.close()
    settle(main_tasks)
    first_ctx.close()

    ctx = open_ctx(main_data_dir)
    try:
        second = make_window(qtbot, ctx, TaskManager())
        assert {f: second.form_counts(f) for f in second.form_pages} == counts
        assert counts["after_school_service"][Status.RETURNED] == 1
        assert [h.location for h in second.home.hazard_model.items()] == hazards
        assert second.home.returned_model.rowCount() == 1
        second.close()
        settle(second.tasks)
    finally:
        ctx.close()


# -- the home page ----------------------------------------------------------------------------------------


def test_home_lists_returned_records_hazards_and_what_is_due(
    qtmodeltester, window: MainWindow, seeded
):
    window.home.refresh()
    settle(window.tasks)
    home = window.home

    returned = home.returned_model
    assert returned.rowCount() == 1
    assert returned.index(0, 0).data() == "课后服务日志"
    assert returned.index(0, 3).data() == "2 条意见"
    assert returned.index(0, 0).data(ItemRole).record_id == seeded["returned"]

    hazards = home.hazard_model
    rows = [
        [hazards.index(r, c).data() for c in range(hazards.columnCount())]
        for r in range(hazards.rowCount())
    ]
    assert [r[HazardModel.COL_LOCATION] for r in rows] == [
        "教学楼三楼东侧配电箱",
        "学生宿舍二楼走廊",
        "图书室",
        "校门口",
    ]
    assert [r[HazardModel.COL_STATE] for r in rows] == [
        "已逾期 18 天",
        "已逾期 8 天",
        "已逾期 1 天",
        "未整改",
    ]
    overdue = [hazards.index(r, 0).data(OverdueRole) for r in range(hazards.rowCount())]
    assert overdue == [True, True, True, False]
    red = QColor(lang.OVERDUE_COLOUR)
    assert hazards.index(0, HazardModel.COL_LOCATION).data(Qt.ItemDataRole.ForegroundRole) == red
    assert hazards.index(3, HazardModel.COL_LOCATION).data(Qt.ItemDataRole.ForegroundRole) is None
    assert (
        rows[2][HazardModel.COL_CATEGORY] == "消防" and rows[2][HazardModel.COL_SEVERITY] == "重大"
    )
    assert "共 4 条" in home.hazard_count.text() and "3 条已逾期" in home.hazard_count.text()
    home.overdue_only.setChecked(True)
    assert hazards.rowCount() == 3
    home.overdue_only.setChecked(False)

    due = home.due_model
    summaries = {
        due.index(r, 0).data(): due.summary(due.index(r, 0).data(ItemRole))
        for r in range(due.rowCount())
    }
    assert summaries == {
        "校园安全隐患排查整治记录": "本月校园安全隐患排查整治记录：已填报 1 条",
        "课后服务日志": "本周课后服务日志：已填报 4 条",
        "办学条件统计": "本学期办学条件统计：未填报",
    }
    assert due.index(0, 1).data() == "本月（2026年11月）"
    assert due.index(2, 2).data(Qt.ItemDataRole.ForegroundRole) == red

    home_item = window.nav_item("home")
    assert home_item is not None
    assert "退回 1" in home_item.data(Qt.ItemDataRole.AccessibleTextRole)
    assert "逾期隐患 3" in home_item.data(Qt.ItemDataRole.AccessibleTextRole)

    for model in (home.returned_model, home.hazard_model, home.due_model):
        qtmodeltester.check(model)


def test_an_empty_school_sees_nothing_to_fix_but_what_is_due(window: MainWindow):
    home = window.home
    assert home.returned_model.rowCount() == 0 and home.hazard_model.rowCount() == 0
    assert home.returned_section.stack.currentWidget() is home.returned_section.empty
    assert home.hazard_section.empty.text() == "没有未整改的隐患"
    states = [home.due_model.index(r, 2).data() for r in range(home.due_model.rowCount())]
    assert states == ["未填报", "未填报", "未填报"]


def test_fill_in_what_is_due_opens_a_new_record(qtbot, window: MainWindow):
    home = window.home
    home.due_view.setFocus()
    home.due_view.selectRow(2)
    qtbot.mouseClick(home.fill_button, Qt.MouseButton.LeftButton)
    assert window.page_key() == "form:school_conditions"
    [editor] = window.editors()
    assert editor.record_id() is None  # type: ignore[attr-defined]


def test_a_returned_record_opens_in_an_editor_tab(qtbot, window: MainWindow, seeded):
    window.home.refresh()
    settle(window.tasks)
    view = window.home.returned_view
    view.setFocus()
    view.selectRow(0)
    qtbot.keyClick(view, Qt.Key.Key_Return)
    [editor] = window.editors()
    assert editor.record_id() == seeded["returned"]  # type: ignore[attr-defined]
    # Opening it again shows the same tab.
    qtbot.keyClick(view, Qt.Key.Key_Return)
    assert window.editors() == [editor]


# -- hazard follow-up -------------------------------------------------------------------------------------


def photo(tmp_path: Path) -> Path:
    path = tmp_path / "整改后.png"
    image = QImage(64, 48, QImage.Format.Format_RGB32)
    image.fill(QColor("#3a7"))
    assert image.save(str(path))
    return path


def test_hazard_follow_up_saves_a_new_revision_and_closes_the_hazard(
    qtbot,
    monkeypatch,
    tmp_path: Path,
    window: MainWindow,
    seeded,
    main_ctx: ClientContext,
):
    window.home.refresh()
    settle(window.tasks)
    view = window.home.hazard_view
    target = window.home.hazard_model.item(2)
    assert target.location == "图书室" and target.overdue
    after = photo(tmp_path)
    shown: list[HazardDialog] = []

    def answer(dialog: HazardDialog) -> int:
        """The clerk's part, in the dialog the main window opened."""
        shown.append(dialog)
        assert dialog.windowTitle() == "隐患整改跟进"
        assert not dialog.date_edit.isVisibleTo(dialog)  # only for rectified/verified
        dialog.set_status("rectified")
        assert dialog.date_edit.isVisibleTo(dialog)
        dialog.set_rectified_date(dt.date(2026, 11, 27))
        dialog.set_photo(after)
        assert dialog.photo_label.pixmap() is not None and not dialog.photo_label.pixmap().isNull()
        save_button = dialog.buttons.button(QDialogButtonBox.StandardButton.Save)
        with qtbot.waitSignal(dialog.saved):
            qtbot.mouseClick(save_button, Qt.MouseButton.LeftButton)
        return int(dialog.result())

    monkeypatch.setattr(HazardDialog, "exec", answer)
    view.setFocus()
    view.selectRow(2)
    qtbot.keyClick(view, Qt.Key.Key_Return)
    assert len(shown) == 1 and shown[0].result() == QDialog.DialogCode.Accepted
    settle(window.tasks)

    with main_ctx.store.Session() as s:
        record = get_record(s, target.record_id)
        h = record.data["hazards"][target.index]
        assert record.revision == 2 and record.status == Status.SUBMITTED
        assert h["status"] == "rectified" and h["rectified_date"] == "2026-11-27"
        assert len(h["rectified_photo"]) == 64  # the photo's sha256, stored in the data folder
        assert has_attachment(main_ctx.store.attachments_dir, h["rectified_photo"])
        assert revisions(s, target.record_id)[0].data["hazards"][target.index]["status"] == "open"
    locations = [h.location for h in window.home.hazard_model.items()]
    assert "图书室" not in locations and len(locations) == 3


def test_hazard_follow_up_shows_a_refusal_in_plain_words(
    qtbot,
    window: MainWindow,
    main_ctx: ClientContext,
):
    rid = save(main_ctx, FORM, inspection("2026-11-20", [hazard(deadline="2026-11-25")])).record_id
    window.home.refresh()
    settle(window.tasks)
    item = window.home.hazard_model.item(0)
    # Someone changed the inspection after the list was read: the dialog refuses and says why.
    save(main_ctx, FORM, inspection("2026-11-20", [hazard(deadline="2026-11-26")]), record_id=rid)
    dialog = window.make_hazard_dialog(item)
    qtbot.addWidget(dialog)
    dialog.set_status("verified")
    dialog.save()
    settle(window.tasks)
    assert dialog.error.isVisibleTo(dialog) and "刷新后重试" in dialog.error.text()
    assert dialog.result() != QDialog.DialogCode.Accepted


# -- language ---------------------------------------------------------------------------------------------


def test_chinese_by_default_and_english_when_switched(
    qtbot,
    qapp,
    chinese,
    main_ctx: ClientContext,
    main_tasks: TaskManager,
):
    translators = app_module.install_translators(qapp, "zh_CN")
    try:
        zh = make_window(qtbot, main_ctx, main_tasks)
        assert zh.windowTitle() == "学校数据采集客户端"
        assert nav_texts(zh)[0] == "待办" and nav_texts(zh)[-1] == "设置"
        # Qt's own strings come from qtbase_zh_CN.
        box = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel
        )
        assert box.button(QDialogButtonBox.StandardButton.Cancel).text() == "取消"
        zh.close()
    finally:
        app_module.remove_translators(qapp, translators)

    lang.set_language("en")
    translators = app_module.install_translators(qapp, "en")
    try:
        en = make_window(qtbot, main_ctx, main_tasks)
        assert en.windowTitle() == "School Data Client"
        assert nav_texts(en) == [
            "To do",
            "Campus safety hazard inspection and rectification",
            "After-school service log",
            "Teacher professional-ethics record",
            "Dropout-prevention follow-up",
            "School conditions",
            "Teacher roster",
            "Settings",
        ]
        assert en.status.sync_label.text() == "Not connected to the server"
        assert lang.status_label(Status.RETURNED) == "Returned"
        en.close()
    finally:
        app_module.remove_translators(qapp, translators)
        lang.set_language("zh_CN")


def test_every_main_window_string_has_an_english_translation():
    import xml.etree.ElementTree as ET

    ours = {
        "App", "DueModel", "ErrorReporter", "HazardDialog", "HazardModel", "HomePage", "MainWindow",
        "Period", "RecordListModel", "RecordListPage", "ReturnedModel", "RosterModel", "RosterPage",
        "SettingsPage", "Status", "StatusBar", "TeacherDialog",
    }  # fmt: skip
    ts = Path(app_module.I18N_DIR) / "school_client_en.ts"
    missing = []
    for context in ET.parse(ts).getroot().iter("context"):
        if context.findtext("name") not in ours:
            continue
        for message in context.iter("message"):
            t = message.find("translation")
            if t is None or t.get("type") == "unfinished" or not (t.text or "").strip():
                missing.append((context.findtext("name"), message.findtext("source")))
    assert missing == []
    assert (Path(app_module.I18N_DIR) / "school_client_zh_CN.qm").stat().st_size > 0
    assert (Path(app_module.I18N_DIR) / "school_client_en.qm").stat().st_size > 0


# -- settings ---------------------------------------------------------------------------------------------


def test_settings_show_the_data_folder_and_save_the_language(
    qtbot,
    window: MainWindow,
    main_ctx: ClientContext,
):
    window.go_to("settings")
    settings = window.settings
    data_dir = settings.findChild(QLineEdit, "dataDir")
    assert data_dir is not None and data_dir.text() == str(main_ctx.store.data_dir)
    assert settings.version_label.text()
    with qtbot.waitSignal(settings.language_changed):
        settings.language_combo.setCurrentIndex(settings.language_combo.findData("en"))
    settle(window.tasks)
    with main_ctx.store.Session() as s:
        assert get_setting(s, lang.SETTING_KEY) == "en"
    assert "重新打开" in settings.language_note.text()
    assert lang.language() == "zh_CN"  # takes effect after a restart


def test_backup_now_and_restore_from_settings(
    qtbot,
    monkeypatch,
    tmp_path: Path,
    chinese,
    main_data_dir: Path,
    main_tasks: TaskManager,
):
    ctx = open_ctx(main_data_dir)
    kept = save(ctx, FORM, inspection("2026-11-20", [])).record_id
    w = make_window(qtbot, ctx, main_tasks)
    w.go_to("settings")
    told: list[str] = []
    monkeypatch.setattr(QMessageBox, "information", lambda *a: told.append(str(a[2])))
    backup = tmp_path / "备份.db"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(backup), ""))
    qtbot.mouseClick(w.settings.backup_button, Qt.MouseButton.LeftButton)
    settle(main_tasks)
    assert backup.exists() and told == [
        f"备份完成，已校验：\n{backup}\n\n其中有 1 条记录、0 个附件（照片和文件）。"
    ]

    later = save(ctx, FORM, inspection("2026-11-21", [])).record_id  # made after the backup
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(backup), ""))
    monkeypatch.setattr(QMessageBox, "warning", lambda *a, **k: QMessageBox.StandardButton.Yes)
    with qtbot.waitSignal(w.settings.restored):
        qtbot.mouseClick(w.settings.restore_button, Qt.MouseButton.LeftButton)
        settle(main_tasks)
    assert told[-1].startswith("恢复完成") and "程序将关闭" in told[-1]
    assert not w.isVisible()  # the window closed: the clerk opens the program again
    ctx.close()

    again = open_ctx(main_data_dir)
    try:
        with again.store.Session() as s:
            assert get_record(s, kept).id == kept
            with pytest.raises(StoreError):
                get_record(s, later)
    finally:
        again.close()


# -- the entry point --------------------------------------------------------------------------------------


def test_run_gui_smoke_opens_the_window_and_saves_nothing(qapp, chinese, tmp_path: Path):
    data_dir = tmp_path / "smoke"
    assert app_module.run_gui(data_dir, smoke=True) == 0
    assert (data_dir / "logs" / app_module.LOG_NAME).read_text(encoding="utf-8").count(
        "smoke test"
    ) == 1
    assert not (data_dir / "backups").exists() or not any((data_dir / "backups").iterdir())
    ctx = open_ctx(data_dir)
    try:
        with ctx.store.Session() as s:
            assert get_setting(s, lang.SETTING_KEY) is None
    finally:
        ctx.close()


def test_run_gui_reads_the_saved_language(qapp, chinese, tmp_path: Path, monkeypatch):
    data_dir = tmp_path / "english"
    ctx = open_ctx(data_dir)
    with ctx.store.Session.begin() as s:
        from client.store.prefs import set_setting

        set_setting(s, lang.SETTING_KEY, "en")
    ctx.close()
    seen: list[str] = []
    real = MainWindow.__init__

    def spy(self: MainWindow, *args: object, **kw: object) -> None:
        real(self, *args, **kw)  # type: ignore[arg-type]
        seen.append(self.windowTitle())

    monkeypatch.setattr(MainWindow, "__init__", spy)
    assert app_module.run_gui(data_dir, smoke=True) == 0
    assert seen == ["School Data Client"]
    assert lang.language() == "en"


def test_unexpected_errors_are_logged_and_explained(tmp_path: Path, monkeypatch):
    shown: list[str] = []
    monkeypatch.setattr(app_module.QMessageBox, "exec", lambda self: shown.append(self.text()) or 0)
    reporter = app_module.ErrorReporter(tmp_path / "client.log")
    try:
        raise ValueError("磁盘已满")
    except ValueError as exc:
        reporter(type(exc), exc, exc.__traceback__)
    assert reporter.errors == 1
    assert shown and "已经保存的数据不会丢失" in shown[0] and "磁盘已满" in shown[0]
    assert str(tmp_path / "client.log") in shown[0]


def test_nothing_breaks_when_the_model_is_asked_about_bad_rows(window: MainWindow):
    model = window.home.hazard_model
    assert model.data(QModelIndex()) is None
    assert model.index(99, 0).data() is None
