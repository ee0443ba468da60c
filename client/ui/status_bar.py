"""The status bar: a place kept for the sync state (filled in by the sync work) and what waits to be sent."""

from __future__ import annotations

from PySide6.QtWidgets import QLabel, QStatusBar, QWidget


class StatusBar(QStatusBar):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("statusBar")
        # Sync state: the sync engine's GUI sets this text (e.g. 上次同步：10:32). Nothing syncs yet.
        self.sync_label = QLabel(self.tr("未连接服务器"))
        self.sync_label.setObjectName("syncStatus")
        self.sync_label.setToolTip(self.tr("与县教育局服务器的同步状态"))
        self.sync_label.setMinimumWidth(220)
        self.pending_label = QLabel()
        self.pending_label.setObjectName("outboxCount")
        self.pending_label.setToolTip(self.tr("已提交、还没有发送到教育局的修改"))
        self.addPermanentWidget(self.sync_label)
        self.addPermanentWidget(self.pending_label)
        self.set_pending(0)

    def set_pending(self, n: int) -> None:
        self.pending_label.setText(self.tr("待发送：{n} 条").format(n=n))
        self.pending_label.setStyleSheet(
            "color: #b35c00; font-weight: bold;" if n else "color: #555;"
        )

    def set_sync_state(self, text: str) -> None:
        self.sync_label.setText(text)
