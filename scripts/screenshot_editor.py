#!/usr/bin/env python3
"""Screenshot of the record editor at 1366x768: a safety inspection with two hazards, a photo, and the
constraint message of a serious hazard whose deadline is 10 days out.

    QT_QPA_PLATFORM=offscreen .venv/bin/python scripts/screenshot_editor.py [OUT.png]

Needs a Chinese font (fonts-wqy-microhei on Linux). The data are made up in a temporary folder; the clock is
fixed at 2026-11-28.
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

from PySide6.QtCore import QEventLoop, QRectF, Qt, QTimer  # noqa: E402
from PySide6.QtGui import QColor, QImage, QLinearGradient, QPainter  # noqa: E402
from PySide6.QtWidgets import QApplication, QFileDialog  # noqa: E402

from client.clock import FixedClock  # noqa: E402
from client.context import ClientContext  # noqa: E402
from client.ui import lang  # noqa: E402
from client.ui.app import choose_font, install_translators  # noqa: E402
from client.ui.editor import RecordEditor  # noqa: E402
from client.ui.tasks import TaskManager  # noqa: E402

SIZE = (1366, 768)


def pump(app: QApplication, tasks: TaskManager, ms: int = 200) -> None:
    tasks.wait()
    loop = QEventLoop()
    QTimer.singleShot(ms, loop.quit)
    loop.exec()
    app.processEvents()


def make_photo(path: Path) -> None:
    """A stand-in for a phone photo: a red extinguisher against a wall."""
    image = QImage(800, 600, QImage.Format.Format_RGB32)
    painter = QPainter(image)
    wall = QLinearGradient(0, 0, 0, 600)
    wall.setColorAt(0, QColor("#d9d4c7"))
    wall.setColorAt(1, QColor("#a9a292"))
    painter.fillRect(image.rect(), wall)
    painter.fillRect(0, 470, 800, 130, QColor("#7b7466"))
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setPen(Qt.PenStyle.NoPen)
    for x in (250, 450):
        painter.setBrush(QColor("#c62828"))
        painter.drawRoundedRect(QRectF(x, 170, 110, 330), 40, 40)
        painter.setBrush(QColor("#222222"))
        painter.drawRect(QRectF(x + 35, 120, 40, 55))
        painter.setBrush(QColor("#f5f5f5"))
        painter.drawEllipse(QRectF(x + 30, 230, 50, 50))
    painter.end()
    image.save(str(path))


def main(argv: list[str]) -> int:
    out = Path(argv[0]) if argv else ROOT / "docs" / "screenshots" / "editor.png"
    out.parent.mkdir(parents=True, exist_ok=True)
    app = QApplication.instance() or QApplication([])
    assert isinstance(app, QApplication)
    lang.set_language("zh_CN")
    translators = install_translators(app, "zh_CN")
    choose_font(app)
    with tempfile.TemporaryDirectory() as tmp:
        photo = Path(tmp) / "食堂灭火器.jpg"
        make_photo(photo)
        QFileDialog.getOpenFileName = lambda *a, **k: (str(photo), "")  # type: ignore[method-assign]
        ctx = ClientContext.open(Path(tmp) / "data", clock=FixedClock(dt.datetime(2026, 11, 28, 2)))
        tasks = TaskManager()
        editor = RecordEditor(ctx, tasks, "safety_inspection")
        editor.resize(*SIZE)
        editor.show()
        pump(app, tasks)
        answers: list[tuple[tuple[str | int, ...], object]] = [
            (("inspection_date",), "2026-11-20"),
            (("inspection_type",), "monthly"),
            (("inspectors",), "张伟、李娜、王明"),
            (("areas",), ["teaching_building", "canteen", "fire_equipment", "electrical"]),
            (("hazards_found",), "yes"),
        ]
        for path, value in answers:
            editor.set_value(path, value)
        editor.set_value(("hazards",), [{"status": "in_progress"}, {"status": "open"}])
        hazards = [
            {
                "category": "fire",
                "location": "食堂后厨",
                "description": "两具灭火器压力不足，指针在红区；其中一具已过检验期",
                "severity": "serious",
                "measures": "立即更换灭火器，并每月检查压力",
                "responsible_person": "王明",
                "deadline": "2026-11-30",
            },
            {
                "category": "electrical",
                "location": "教学楼三楼走廊",
                "description": "插座面板破损，电线外露",
                "severity": "general",
                "measures": "更换插座面板",
                "responsible_person": "刘强",
                "deadline": "2026-12-10",
            },
        ]
        for i, hazard in enumerate(hazards):
            for name, value in hazard.items():
                editor.set_value(("hazards", i, name), value)
        editor.set_value(("signed_by",), "赵校长")
        attach = editor.widget_for(("hazards", 0, "photo"))
        assert attach is not None
        attach.click()  # type: ignore[attr-defined]
        pump(app, tasks)
        # Scroll so that the first hazard, its photo and the deadline's message are in view.
        target = editor.widget_for(("hazards",))
        assert target is not None
        scroll = editor.findChild(type(editor._scroll))
        assert scroll is not None
        scroll.verticalScrollBar().setValue(target.y() - 150)
        pump(app, tasks, 300)
        if not editor.grab().save(str(out)):
            raise SystemExit(f"could not write {out}")
        print(out)
        editor.close()
        tasks.wait()
        ctx.close()
    del translators
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
