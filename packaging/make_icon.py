"""Draw the client's icon with Qt and write client/resources/icon.png (256 px) and icon.ico (16-256 px).

    .venv/bin/python packaging/make_icon.py

The drawing is plain shapes (no font), so it looks the same on every machine. The .ico holds one PNG per size
(the Vista+ format that Windows 7-11 and Inno Setup read).
"""

from __future__ import annotations

import os
import struct
import sys
from pathlib import Path

from PySide6.QtCore import QBuffer, QByteArray, QIODevice, QRectF, Qt
from PySide6.QtGui import QColor, QGuiApplication, QImage, QPainter, QPainterPath, QPen

OUT = Path(__file__).resolve().parent.parent / "client" / "resources"
ICO_SIZES = (16, 24, 32, 48, 64, 128, 256)


def draw(size: int) -> QImage:
    img = QImage(size, size, QImage.Format.Format_ARGB32)
    img.fill(Qt.GlobalColor.transparent)
    p = QPainter(img)
    p.setRenderHint(QPainter.RenderHint.Antialiasing)
    s = size / 256.0
    # a blue rounded tile
    tile = QPainterPath()
    tile.addRoundedRect(QRectF(8 * s, 8 * s, 240 * s, 240 * s), 48 * s, 48 * s)
    p.fillPath(tile, QColor("#1f6fb2"))
    # a white sheet (the form) ...
    sheet = QPainterPath()
    sheet.addRoundedRect(QRectF(62 * s, 44 * s, 132 * s, 168 * s), 14 * s, 14 * s)
    p.fillPath(sheet, QColor("#ffffff"))
    # ... with three lines of text ...
    pen = QPen(QColor("#9db9d6"), max(1.0, 12 * s), Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap)
    p.setPen(pen)
    for y in (84, 114, 144):
        p.drawLine(int(88 * s), int(y * s), int(168 * s), int(y * s))
    # ... and a green tick: sent.
    pen = QPen(QColor("#2e9d4f"), max(1.5, 20 * s), Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap)
    pen.setJoinStyle(Qt.PenJoinStyle.RoundJoin)
    p.setPen(pen)
    tick = QPainterPath()
    tick.moveTo(150 * s, 178 * s)
    tick.lineTo(176 * s, 202 * s)
    tick.lineTo(222 * s, 146 * s)
    p.drawPath(tick)
    p.end()
    return img


def png_bytes(img: QImage) -> bytes:
    data = QByteArray()
    buf = QBuffer(data)
    buf.open(QIODevice.OpenModeFlag.WriteOnly)
    img.save(buf, "PNG")
    buf.close()
    return bytes(data.data())


def ico_bytes(pngs: list[tuple[int, bytes]]) -> bytes:
    header = struct.pack("<HHH", 0, 1, len(pngs))
    offset = 6 + 16 * len(pngs)
    entries, blobs = b"", b""
    for size, blob in pngs:
        dim = 0 if size >= 256 else size  # 0 means 256 in an ICONDIRENTRY
        entries += struct.pack("<BBBBHHII", dim, dim, 0, 0, 1, 32, len(blob), offset)
        blobs += blob
        offset += len(blob)
    return header + entries + blobs


def main() -> int:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    app = QGuiApplication.instance() or QGuiApplication(sys.argv[:1])
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "icon.png").write_bytes(png_bytes(draw(256)))
    (OUT / "icon.ico").write_bytes(ico_bytes([(n, png_bytes(draw(n))) for n in ICO_SIZES]))
    print(f"wrote {OUT / 'icon.png'} and {OUT / 'icon.ico'}")
    del app
    return 0


if __name__ == "__main__":
    sys.exit(main())
