#!/usr/bin/env python3
"""Screenshots of sync in the GUI at 1366x768, for docs/screenshots/: the status bar during a long sync, after
it, and when the server cannot be reached; 待办 with a conflict and a change the server refused; the
enrollment dialog; the conflict dialog.

    QT_QPA_PLATFORM=offscreen .venv/bin/python scripts/screenshot_sync.py [OUT_DIR]

Needs a Chinese font (fonts-wqy-microhei on Linux). Everything is made up in a temporary folder through the
store's own functions (the conflict is a pulled return crossing an unsent edit, as a real sync makes it); the
clock is fixed at 2026-11-28 10:32 China time.
"""

from __future__ import annotations

import datetime as dt
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ["TZ"] = "Asia/Shanghai"
time.tzset()
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from PySide6.QtCore import QRect  # noqa: E402
from PySide6.QtWidgets import QApplication, QWidget  # noqa: E402
from sqlalchemy import select, update  # noqa: E402

from client.clock import FixedClock  # noqa: E402
from client.context import ClientContext  # noqa: E402
from client.store import sync_state as S  # noqa: E402
from client.store.models import OutboxEntry, Record, Status  # noqa: E402
from client.sync.state import Phase, SyncProgress  # noqa: E402
from client.ui import lang  # noqa: E402
from client.ui.app import choose_font, guard_singleton_refcounts, install_translators  # noqa: E402
from client.ui.conflict_dialog import load_conflict  # noqa: E402
from client.ui.enroll_dialog import EnrollDialog  # noqa: E402
from client.ui.main_window import MainWindow  # noqa: E402
from client.ui.tasks import TaskManager  # noqa: E402
from tests.store.todo_data import hazard, inspection, save, seed_realistic  # noqa: E402

SIZE = (1366, 768)
NOW = dt.datetime(2026, 11, 28, 2, 32)  # naive UTC: 10:32 in China
TODAY = dt.date(2026, 11, 28)


def settle(app: QApplication, tasks: TaskManager) -> None:
    for _ in range(30):
        tasks.wait()
        app.processEvents()


def grab(widget: QWidget, path: Path, rect: QRect | None = None) -> None:
    QApplication.processEvents()  # layouts catch up with the texts just set
    image = widget.grab(rect) if rect is not None else widget.grab()
    if not image.save(str(path)):
        raise SystemExit(f"could not write {path}")
    print(path)


def status_strip(window: MainWindow) -> QRect:
    """The bottom of the window: the status bar and a little above it."""
    bar = window.statusBar().geometry()
    return QRect(0, bar.top() - 6, window.width(), bar.height() + 6)


def seed_sync(ctx: ClientContext) -> None:
    """Enrolled, most records sent, a conflict and a refused change waiting, three changes unsent."""
    forms, now = ctx.forms, ctx.clock.now()
    # A record the bureau returned while the clerk had changed it here (not yet sent).
    first = inspection(
        "2026-11-20",
        [hazard(severity="serious", deadline="2026-11-27", location="食堂后厨")],
    )
    rid = save(ctx, "safety_inspection", first).record_id
    with ctx.store.Session.begin() as s:  # everything so far reached the server
        s.execute(update(OutboxEntry).values(sent_at=now))
        s.execute(
            update(Record).where(Record.status == Status.SUBMITTED).values(status=Status.RECEIVED)
        )
        S.set_cursor(s, 40)
    mine = dict(
        first,
        hazards=[
            hazard(
                severity="serious",
                deadline="2026-11-25",
                location="食堂后厨",
                measures="已更换 4 具干粉灭火器，并张贴检查记录卡",
            ),
            hazard(category="electrical", location="教学楼二楼走廊", description="插座面板松动"),
        ],
        remarks="已补充整改照片，二楼插座已报修",
    )
    save(ctx, "safety_inspection", mine, record_id=rid)
    returned = {
        "seq": 41,
        "type": "record",
        "record_id": rid,
        "form_id": "safety_inspection",
        "form_version": "2026.1",
        "server_revision": 2,
        "status": "returned",
        "review_comments": {
            "hazards[0].deadline": "整改期限请与整改通知书一致",
            "signed_by": "请校长本人签字",
        },
        "data": dict(first, signed_by="赵建国"),
    }
    with ctx.store.Session.begin() as s:
        S.apply_pull_page(s, formset=forms, changes=[returned], cursor=41, definitions={}, now=now)
    # Two more changes waiting to be sent, and one the server refused.
    save(ctx, "safety_inspection", inspection("2026-11-27", [], inspectors="刘洋、陈静"))
    refused = save(ctx, "safety_inspection", inspection("2026-11-26", [], signed_by="赵建国"))
    with ctx.store.Session.begin() as s:
        op = s.execute(
            select(OutboxEntry.op_id).where(OutboxEntry.record_id == refused.record_id)
        ).scalar_one()
        S.raise_issue(
            s,
            kind=S.IssueKind.REJECTED,
            reason="validation",
            message_zh="数据未通过服务器检查",
            message_en="the server's form check refused the data",
            details={
                "problems": [
                    {
                        "path": "areas",
                        "message_zh": "排查区域：请至少选择一项",
                        "message_en": "Areas inspected: choose at least one",
                    }
                ]
            },
            now=now,
            record_id=refused.record_id,
            op_id=op,
        )
        S.save_enrollment(
            s,
            S.Enrollment(
                server_url="http://192.168.1.10:8700",
                device_token="screenshot",
                device_id="pc-1",
                school_code="S360102",
                school_name="城关镇中心小学",
            ),
        )
        S.set_cursor(s, 41)
        S.record_success(s, now=now)


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
        seed_realistic(ctx)
        seed_sync(ctx)
        tasks = TaskManager()
        window = MainWindow(ctx, tasks)
        window.resize(*SIZE)
        window.show()
        settle(app, tasks)
        window.sync.refresh_status()
        settle(app, tasks)
        status = window.sync.status
        assert status is not None

        # During a long sync: the progress bar shows.
        bar = window.status
        bar.progress_delay_ms = 0
        bar.sync_started()
        bar.sync_progress(SyncProgress(Phase.PUSH, 120, 500))
        settle(app, tasks)
        grab(window, out / "sync_status_running.png", status_strip(window))

        # After it: 待办 lists the conflict and the refused change.
        bar.sync_ended()
        window.refresh_all()
        settle(app, tasks)
        bar.set_sync_status(status, now=NOW, auto_retry=True)
        window.home.select_issue(0)
        grab(window, out / "sync_home.png")
        grab(window, out / "sync_status_done.png", status_strip(window))

        # The server cannot be reached.
        offline = S.SyncStatus(
            **{
                **status.__dict__,
                "last_problem": {
                    "kind": "network",
                    "message_zh": "无法连接县教育局服务器，请检查网络",
                    "at": (NOW + dt.timedelta(minutes=8)).isoformat(),
                },
            }
        )
        bar.set_sync_status(offline, now=NOW + dt.timedelta(minutes=9), auto_retry=True)
        grab(window, out / "sync_status_offline.png", status_strip(window))
        not_enrolled = S.SyncStatus(
            **{
                **status.__dict__,
                "enrolled": False,
                "last_problem": None,
                "conflicts": 0,
                "rejected": 0,
            }
        )
        bar.set_sync_status(not_enrolled, now=NOW, auto_retry=False)
        grab(window, out / "sync_status_not_enrolled.png", status_strip(window))
        bar.set_sync_status(status, now=NOW, auto_retry=True)

        # The enrollment dialog of a computer not yet enrolled, filled in.
        dialog = EnrollDialog(window.sync.enroll, window)
        dialog.url_edit.setText("http://192.168.1.10:8700")
        dialog.code_edit.setText("K7P-3QX-9ZA")
        dialog.show()
        settle(app, tasks)
        grab(dialog, out / "enroll_dialog.png")
        dialog._failed(
            RuntimeError("注册码已经用过了，请向教育局索取新的注册码")  # as the server says it
        )
        settle(app, tasks)
        grab(dialog, out / "enroll_dialog_error.png")
        dialog.close()

        # The conflict, side by side.
        issue = next(i for i in window.home.issue_model.items() if i.kind == "conflict")
        conflict = window.make_conflict_dialog(load_conflict(ctx, issue.issue_id))
        conflict.show()
        conflict.choose_all("local")
        conflict.choose(("hazards", 0, "deadline"), "server")
        settle(app, tasks)
        grab(conflict, out / "conflict_dialog.png")
        conflict.reject()

        window.close()
        settle(app, tasks)
        ctx.close()
    for t in translators:
        app.removeTranslator(t)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
