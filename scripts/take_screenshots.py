#!/usr/bin/env python3
"""Screenshots of the main window at 1366x768 with realistic Chinese data, for docs/screenshots/: 待办, a
record list and an empty one, the roster and its add dialog refusing a staff number in use, settings, a new
办学条件统计 with a problem shown, the calendar popup, the hazard follow-up.

    QT_QPA_PLATFORM=offscreen .venv/bin/python scripts/take_screenshots.py [OUT_DIR]

Needs a Chinese font (fonts-wqy-microhei on Linux). The data are made up in a temporary folder: a teacher
roster, safety inspections with open, overdue and rectified hazards, a month of after-school sessions (one
returned by the bureau with two comments) and an ethics record; the clock is fixed at 2026-11-28.
"""

from __future__ import annotations

import datetime as dt
import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from PySide6.QtWidgets import QApplication, QDialogButtonBox, QWidget  # noqa: E402

from client.clock import FixedClock  # noqa: E402
from client.context import ClientContext  # noqa: E402
from client.store.roster import set_teacher_active  # noqa: E402
from client.ui.app import apply_language, choose_font  # noqa: E402
from client.ui.editor import RecordEditor  # noqa: E402
from client.ui.editor_fields import DateInput  # noqa: E402
from client.ui.main_window import MainWindow  # noqa: E402
from client.ui.tasks import TaskManager  # noqa: E402
from tests.store.todo_data import after_school, save, seed_realistic  # noqa: E402

SIZE = (1366, 768)


class TickingClock(FixedClock):
    """Today stays 2026-11-28; each save happens a few minutes after the one before."""

    def now(self) -> dt.datetime:
        self._now += dt.timedelta(minutes=7)
        return self._now


def settle(app: QApplication, tasks: TaskManager) -> None:
    for _ in range(30):
        tasks.wait()
        app.processEvents()


def grab(widget: QWidget, path: Path) -> None:
    if not widget.grab().save(str(path)):
        raise SystemExit(f"could not write {path}")
    print(path)


def main(argv: list[str]) -> int:
    out = Path(argv[0]) if argv else ROOT / "docs" / "screenshots"
    out.mkdir(parents=True, exist_ok=True)
    app = QApplication.instance() or QApplication([])
    assert isinstance(app, QApplication)
    translators = apply_language(app, "zh_CN")
    choose_font(app)
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp) / "school-client"
        clock = TickingClock(dt.datetime(2026, 11, 20, 0, 30), dt.date(2026, 11, 28))
        ctx = ClientContext.open(data_dir, clock=clock)
        ids = seed_realistic(ctx)
        teachers = list(ids["roster"])
        day = dt.date(2026, 10, 12)
        while day < dt.date(
            2026, 10, 31
        ):  # the second half of October too: about thirty sessions in all
            if day.weekday() < 5:
                save(ctx, "after_school_service", after_school(day, day.day, teachers))
            day += dt.timedelta(days=1)
        with ctx.store.Session.begin() as s:  # a teacher who left: greyed, never deleted
            set_teacher_active(
                s,
                forms=ctx.forms,
                record_id=ids["roster"]["T005"],
                active=False,
                today=clock.today(),
                now=clock.now(),
            )
        tasks = TaskManager()
        window = MainWindow(ctx, tasks)
        window.resize(*SIZE)
        window.show()
        settle(app, tasks)
        grab(window, out / "home.png")

        window.show_form("after_school_service")
        settle(app, tasks)
        grab(window, out / "record_list.png")

        window.go_to("roster")
        settle(app, tasks)
        window.roster.view.selectRow(2)
        grab(window, out / "roster.png")

        # 添加教师 with a staff number already in use: the dialog stays open and says whose it is.
        window.roster.add_teacher()
        teacher = window.roster.teacher_dialog
        assert teacher is not None
        teacher.teacher_id.setText("T002")
        teacher.name.setText("周小红")
        teacher.subject.setText("信息技术")
        teacher.buttons.button(QDialogButtonBox.StandardButton.Save).click()
        settle(app, tasks)
        grab(teacher, out / "teacher_dialog_error.png")
        teacher.reject()
        settle(app, tasks)

        window.go_to("settings")
        settle(app, tasks)
        grab(window, out / "settings.png")

        window.show_form("dropout_followup")  # no records yet: the page says how to start
        settle(app, tasks)
        grab(window, out / "record_list_empty.png")

        # A new 办学条件统计: the semester chosen, labels whole with their stars, an error in its own line.
        window.new_record("school_conditions")
        settle(app, tasks)
        editor = window.tabs.currentWidget()
        assert isinstance(editor, RecordEditor)
        for name, value in (("classes", 18), ("students", 820), ("teachers_count", 52)):
            editor.set_value((name,), value)
        editor.set_value(("large_classes",), 20)
        settle(app, tasks)
        grab(window, out / "editor_school_conditions.png")

        # The calendar popup of a date field, in Chinese whatever the PC's system language.
        window.new_record("safety_inspection")
        settle(app, tasks)
        inspection = window.tabs.currentWidget()
        assert isinstance(inspection, RecordEditor)
        date_input = inspection.widget_for(("inspection_date",))
        assert date_input is not None and isinstance(date_input.parentWidget(), DateInput)
        menu = date_input.parentWidget().pick.menu()
        assert menu is not None
        menu.popup(date_input.mapToGlobal(date_input.rect().bottomLeft()))
        settle(app, tasks)
        grab(menu, out / "calendar_popup.png")
        menu.close()
        for ed in (inspection, editor):
            ed.request_close()
            settle(app, tasks)

        window.go_to("home")
        settle(app, tasks)
        dialog = window.make_hazard_dialog(window.home.hazard_model.item(0))
        dialog.set_status("rectified")
        dialog.show()
        settle(app, tasks)
        grab(dialog, out / "hazard_follow_up.png")
        dialog.close()

        window.close()
        settle(app, tasks)
        ctx.close()
    for t in translators:
        app.removeTranslator(t)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
