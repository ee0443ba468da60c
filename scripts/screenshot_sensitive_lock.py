#!/usr/bin/env python3
"""Screenshots of the sensitive-form lock (issue 12 point 2) for docs/screenshots/: the set-PIN dialog of the
first use, the unlock dialog after wrong tries (waiting), 忘记PIN码 with the bureau's reset code, a locked
record list (its count and 解锁) and an editor covered when the lock fell.

    QT_QPA_PLATFORM=offscreen .venv/bin/python scripts/screenshot_sensitive_lock.py [OUT_DIR]

Needs a Chinese font (fonts-wqy-microhei on Linux). Everything is made up in a temporary folder.
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

from PySide6.QtWidgets import QApplication, QWidget  # noqa: E402

from client.clock import FixedClock  # noqa: E402
from client.context import ClientContext  # noqa: E402
from client.store import pin  # noqa: E402
from client.store import records as R  # noqa: E402
from client.store import sync_state as S  # noqa: E402
from client.ui import lang  # noqa: E402
from client.ui.app import choose_font, guard_singleton_refcounts, install_translators  # noqa: E402
from client.ui.lock import SensitiveLock, SetPinDialog, UnlockDialog, install  # noqa: E402
from client.ui.main_window import MainWindow  # noqa: E402
from client.ui.tasks import TaskManager  # noqa: E402

NOW = dt.datetime(2026, 11, 28, 2, 32)
TODAY = dt.date(2026, 11, 28)


def settle(app: QApplication, tasks: TaskManager) -> None:
    for _ in range(30):
        tasks.wait()
        app.processEvents()


def grab(widget: QWidget, path: Path) -> None:
    QApplication.processEvents()
    if not widget.grab().save(str(path)):
        raise SystemExit(f"could not write {path}")
    print(path)


def seed(ctx: ClientContext) -> str:
    rid = ""
    with ctx.store.Session.begin() as s:
        for data, form in (
            ({"teacher_id": "T001", "name": "张明", "active": "yes"}, "teachers"),
            ({"teacher_id": "T002", "name": "李芳", "active": "yes"}, "teachers"),
        ):
            R.save_record(s, form=ctx.forms.get(form), data=data, submit=True, today=TODAY, now=NOW)
        for i, kind in enumerate(("pledge", "training", "complaint", "honor")):
            rid = R.save_record(
                s,
                form=ctx.forms.get("teacher_ethics"),
                data={
                    "teacher": "T001" if i % 2 else "T002",
                    "record_type": kind,
                    "record_date": f"2026-11-{10 + i:02d}",
                },
                today=TODAY,
                now=NOW,
            ).record_id
        S.save_enrollment(
            s,
            S.Enrollment(
                server_url="https://10.1.2.3:8700",
                device_token="t" * 43,
                device_id="5f0c9b2e-7d1a-4c3b-9e8f-0a1b2c3d4e5f",
                school_code="S001",
                school_name="城关镇中心小学",
            ),
        )
        pin.remember_reset_key(s, "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY")
    return rid


def main(argv: list[str]) -> int:
    out = Path(argv[0]) if argv else ROOT / "docs" / "screenshots"
    out.mkdir(parents=True, exist_ok=True)
    guard_singleton_refcounts()
    app = QApplication.instance() or QApplication([])
    assert isinstance(app, QApplication)
    lang.set_language("zh_CN")
    translators = install_translators(app, "zh_CN")
    choose_font(app)
    with tempfile.TemporaryDirectory() as tmp:
        clock = FixedClock(NOW, TODAY)
        ctx = ClientContext.open(Path(tmp) / "school-client", clock=clock)
        rid = seed(ctx)
        tasks = TaskManager()
        window = MainWindow(ctx, tasks)
        lock = install(window, SensitiveLock(ctx, window, idle_ms=3_600_000))
        window.resize(1366, 768)
        window.show()
        settle(app, tasks)

        # First use: set the PIN.
        setup = SetPinDialog(ctx, window)
        setup.show()
        setup.pin_edit.setText("12345")
        setup.again_edit.setText("12345")
        setup.save()
        grab(setup, out / "lock_set_pin.png")
        setup.close()

        with ctx.store.Session.begin() as s:
            pin.set_pin(s, "246801", now=NOW)
        # The locked list: a count and 解锁.
        window.show_form("teacher_ethics")
        settle(app, tasks)
        grab(window, out / "lock_record_list.png")

        # Unlock after three wrong tries: a wait, counted down.
        unlock = UnlockDialog(lock, window)
        unlock.show()
        for wrong in ("135790", "135791", "135792"):
            unlock.pin_edit.setText(wrong)
            unlock.try_unlock()
        grab(unlock, out / "lock_unlock_wait.png")
        clock.advance(seconds=31)
        unlock._show_wait()
        unlock.error.setVisible(False)
        grab(unlock, out / "lock_unlock.png")

        # 忘记PIN码: the bureau's code and a new PIN.
        unlock.forgot()
        reset = unlock.reset_dialog
        assert reset is not None
        reset.code_edit.setText("12345-67890")
        grab(reset, out / "lock_reset.png")
        reset.close()
        unlock.close()

        # An editor covered when the lock fell.
        with ctx.store.Session.begin() as s:
            pin.set_pin(s, "246801", now=clock.now())
        lock._unlocked()
        window.open_record("teacher_ethics", rid)
        settle(app, tasks)
        lock.lock()
        settle(app, tasks)
        grab(window, out / "lock_editor_cover.png")

        lock.stop()
        window.close()
        settle(app, tasks)
        ctx.close()
    for t in translators:
        app.removeTranslator(t)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
