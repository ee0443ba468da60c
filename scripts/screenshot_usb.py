#!/usr/bin/env python3
"""Screenshots of 用U盘同步 (issue 13) at 1366x768 for docs/screenshots/: the dialog over the window before the
export, after it, and after the bureau's answer was imported.

    QT_QPA_PLATFORM=offscreen .venv/bin/python scripts/screenshot_usb.py [OUT_DIR]

Needs a Chinese font (fonts-wqy-microhei on Linux). Everything is real and made in a temporary folder: the
bureau's server (SQLite) on loopback, a school PC enrolled and synced once online, a record the bureau returns
and a teacher another PC adds meanwhile, then offline work exported onto a folder standing for the stick
(shown as a 7.5 GB stick named KINGSTON), imported by the server's own import (sync_server.usb.import_file)
and the answer imported in the dialog. The clock is fixed at 2026-11-28 10:32 China time.
"""

from __future__ import annotations

import datetime as dt
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ["TZ"] = "Asia/Shanghai"
time.tzset()
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import requests  # noqa: E402
from PySide6.QtCore import QPoint, QRect, Qt  # noqa: E402
from PySide6.QtGui import QColor, QPainter  # noqa: E402
from PySide6.QtWidgets import QApplication, QDialog, QWidget  # noqa: E402
from werkzeug.serving import make_server  # noqa: E402

from client.clock import FixedClock  # noqa: E402
from client.context import ClientContext  # noqa: E402
from client.store import sync_state as S  # noqa: E402
from client.sync.engine import SyncEngine  # noqa: E402
from client.ui import lang  # noqa: E402
from client.ui.app import choose_font, guard_singleton_refcounts, install_translators  # noqa: E402
from client.ui.main_window import MainWindow  # noqa: E402
from client.ui.tasks import TaskManager  # noqa: E402
from client.usb.drives import Drive  # noqa: E402
from sync_server.app import create_app  # noqa: E402
from sync_server.services.review import return_record  # noqa: E402
from sync_server.services.schools import add_school  # noqa: E402
from sync_server.state import get_state  # noqa: E402
from sync_server.usb import import_file  # noqa: E402
from tests.store.todo_data import add_roster, hazard, inspection, save, teacher  # noqa: E402

SIZE = (1366, 768)
NOW = dt.datetime(2026, 11, 28, 2, 32)  # naive UTC: 10:32 in China
TODAY = dt.date(2026, 11, 28)
SERVER_NOW = NOW.replace(tzinfo=dt.UTC)
SCHOOL = "S360102"
STICK_TOTAL = 7_751_073_792  # what a "8 GB" stick reports


def settle(app: QApplication, tasks: TaskManager) -> None:
    for _ in range(40):
        tasks.wait()
        app.processEvents()


def grab_over(window: QWidget, dialog: QDialog, path: Path) -> None:
    """The window at 1366x768 with the dialog where it opens (centred over the window)."""
    QApplication.processEvents()
    canvas = window.grab()
    shot = dialog.grab()
    title_height = 30
    left = (window.width() - shot.width()) // 2
    top = (window.height() - shot.height() - title_height) // 2
    painter = QPainter(canvas)
    painter.fillRect(canvas.rect(), QColor(0, 0, 0, 60))  # the window dimmed behind a modal dialog
    # A plain title bar (offscreen windows have no frame), then the dialog.
    bar = QRect(left - 1, top, shot.width() + 2, title_height)
    painter.fillRect(bar, QColor("#dfe3e8"))
    painter.setPen(QColor("#8a939e"))
    painter.drawRect(bar.adjusted(0, 0, -1, shot.height()))
    painter.setPen(QColor("#222"))
    painter.drawText(
        bar.adjusted(12, 0, 0, 0), int(Qt.AlignmentFlag.AlignVCenter), dialog.windowTitle()
    )
    painter.drawPixmap(QPoint(left, top + title_height), shot)
    painter.end()
    if not canvas.save(str(path)):
        raise SystemExit(f"could not write {path}")
    print(path, f"(dialog {shot.width()}x{shot.height()})")


def enroll(ctx: ClientContext, url: str, app: object, name: str) -> None:
    with get_state(app).db.Session.begin() as s:  # type: ignore[arg-type]
        code = add_school(s, code=SCHOOL, name="城关镇中心小学", now=SERVER_NOW).enrollment_code
    with requests.Session() as http:
        SyncEngine(ctx, http).enroll(url, code, device_name=name)


def online_sync(ctx: ClientContext) -> None:
    with requests.Session() as http:
        SyncEngine(ctx, http).sync()


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
        folder = Path(tmp)
        server_app = create_app(
            {
                "INSTANCE_PATH": str(folder / "server"),
                "DATABASE_URL": f"sqlite:///{folder / 'server.db'}",
                "SECRET_KEY": "screenshots",
                "CLOCK": lambda: SERVER_NOW,
            }
        )
        httpd = make_server("127.0.0.1", 0, server_app, threaded=True)
        thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
        thread.start()
        url = f"http://127.0.0.1:{httpd.server_port}"
        clock = FixedClock(NOW, TODAY)
        try:
            ctx = ClientContext.open(folder / "school-client", clock=clock)
            # Enrolled and synced online once: the roster and two inspections reach the bureau.
            enroll(ctx, url, server_app, "教务处电脑")
            add_roster(ctx)
            returned = save(ctx, "safety_inspection", inspection("2026-11-13", [])).record_id
            save(ctx, "safety_inspection", inspection("2026-10-30", [hazard()]))
            online_sync(ctx)
            with get_state(server_app).db.Session.begin() as s:
                return_record(
                    s, returned, {"signed_by": "请校长本人签字"}, "王科长", now=SERVER_NOW
                )
            # The principal's PC adds a teacher online meanwhile.
            other = ClientContext.open(folder / "principal-pc", clock=clock)
            enroll(other, url, server_app, "校长室电脑")
            save(other, "teachers", teacher("T009", "周敏", "female", "语文", "二级教师"))
            online_sync(other)
            other.close()
            # The link is down for weeks: the clerk works offline.
            save(
                ctx,
                "safety_inspection",
                inspection(
                    "2026-11-27",
                    [
                        hazard(
                            category="electrical",
                            location="教学楼二楼走廊",
                            description="插座面板松动",
                        )
                    ],
                    inspectors="刘洋、陈静",
                ),
            )
            save(ctx, "safety_inspection", inspection("2026-11-20", [], inspectors="张伟、黄强"))
            save(ctx, "teachers", teacher("T010", "吴磊", "male", "信息科技", "二级教师"))
            with ctx.store.Session.begin() as s:
                S.record_problem(s, {"kind": "network", "at": NOW.isoformat()}, now=NOW)

            stick_path = folder / "media" / "KINGSTON"
            stick_path.mkdir(parents=True)

            def sticks() -> list[Drive]:
                used = sum(p.stat().st_size for p in stick_path.iterdir())
                free = 7_204_864_000 - used
                return [Drive(stick_path, "KINGSTON", free, STICK_TOTAL, "FAT32")]

            tasks = TaskManager()
            window = MainWindow(ctx, tasks)
            window.usb_drives = sticks
            window.resize(*SIZE)
            window.show()
            settle(app, tasks)
            window.sync.refresh_status()
            settle(app, tasks)

            window.show_usb_dialog()
            dialog = window.usb_dialog
            assert dialog is not None
            dialog.poll_ms = 0
            settle(app, tasks)
            grab_over(window, dialog, out / "usb-before-export.png")

            dialog.export()
            settle(app, tasks)
            assert not dialog.busy(), dialog.message_text()
            grab_over(window, dialog, out / "usb-after-export.png")

            (bundle,) = [p for p in stick_path.iterdir() if not p.name.endswith("_回执.txt")]
            receipt = import_file(get_state(server_app), bundle)
            assert receipt.error is None, receipt.error
            dialog.refresh_drives()
            settle(app, tasks)
            dialog.import_selected()
            settle(app, tasks)
            assert not dialog.busy(), dialog.message_text()
            grab_over(window, dialog, out / "usb-after-import.png")
            dialog.close()
            window.close()
            settle(app, tasks)
            ctx.close()
        finally:
            httpd.shutdown()
            httpd.server_close()
            get_state(server_app).db.engine.dispose()
    for translator in translators:
        app.removeTranslator(translator)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
