"""Empty lists say what to do (issue 11): a form without records, a search that finds nothing and an empty
roster show a hint instead of a blank table; a draft's hazard with a deadline to correct says so in 待办 and
opens the draft."""

from __future__ import annotations

from client.context import ClientContext
from client.ui.editor import RecordEditor
from client.ui.home_page import HazardModel
from client.ui.main_window import MainWindow
from tests.store.todo_data import hazard, inspection, save
from tests.ui.main_helpers import settle

pytest_plugins = ("tests.ui.fixtures_main",)


def test_a_form_without_records_says_how_to_start(window: MainWindow, main_ctx: ClientContext):
    window.show_form("school_conditions")
    settle(window.tasks)
    page = window.form_pages["school_conditions"]
    assert page.empty_hint.isVisible() and not page.view.isVisible()
    assert "新建" in page.empty_hint.text() and "导入" in page.empty_hint.text()

    save(main_ctx, "school_conditions", {"semester": "2026-autumn", "classes": 12}, submit=False)
    window.refresh_all()
    settle(window.tasks)
    assert page.view.isVisible() and not page.empty_hint.isVisible()

    page.search_edit.setText("没有这样的记录")
    page.apply_filter()
    assert page.empty_hint.isVisible()
    assert "没有符合条件的记录" in page.empty_hint.text()


def test_an_empty_roster_says_how_to_start(window: MainWindow):
    window.go_to("roster")
    settle(window.tasks)
    assert window.roster.empty_hint.isVisible()
    assert "添加教师" in window.roster.empty_hint.text()


def test_a_drafts_deadline_to_correct_is_said_and_opens_the_draft(
    window: MainWindow, main_ctx: ClientContext
):
    rid = save(
        main_ctx,
        "safety_inspection",
        inspection("2026-11-20", [hazard(location="食堂", deadline="2025-11-25")]),
        submit=False,
    ).record_id
    window.refresh_all()
    settle(window.tasks)
    home = window.home
    [item] = home.hazard_model.items()
    assert not item.overdue
    assert home.hazard_model.index(0, HazardModel.COL_STATE).data() == "整改期限有误，请改正"
    assert home.hazard_model.index(0, HazardModel.COL_DEADLINE).data() == "2025-11-25"
    assert "逾期" not in home.hazard_count.text()
    home.select_hazard(0)
    home.follow_button.click()
    settle(window.tasks)
    editor = window.tabs.currentWidget()
    assert isinstance(editor, RecordEditor) and editor.record_id() == rid
