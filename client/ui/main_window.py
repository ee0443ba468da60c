"""The main window: navigation on the left (待办, each form with its counts, 教师名册, 设置), the chosen
page on the right, record editors in tabs beside it, and the status bar with the sync state.

Syncing is the SyncController's (client.ui.sync_controller): the window shows what it reports, refreshes after
each sync, and reloads an open editor whose record the sync changed (or marks its tab when it has unsaved
work). client/ui/app.py starts the controller (`window.sync.start()`).

Widgets here only arrange things and pass on what the clerk asked for; reading and saving happen in
client.store (on the TaskManager's database thread).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from PySide6.QtCore import (
    QModelIndex,
    QPersistentModelIndex,
    QPoint,
    QRect,
    QSize,
    Qt,
    QTimer,
    Signal,
)
from PySide6.QtGui import (
    QAction,
    QCloseEvent,
    QColor,
    QFont,
    QKeySequence,
    QPainter,
    QScreen,
    QShortcut,
)
from PySide6.QtWidgets import (
    QApplication,
    QListWidget,
    QListWidgetItem,
    QMainWindow,
    QMessageBox,
    QPushButton,
    QSplitter,
    QStackedWidget,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QTabWidget,
    QWidget,
)

from client.ui.startup_window import StartupWindow

if TYPE_CHECKING:
    # The pages and the store's modules (SQLAlchemy) load when the window is given its store (attach):
    # the window's frame shows before them (client/ui/app.py).
    from client.context import ClientContext
    from client.store.sync_state import SyncStatus
    from client.store.todo import HazardItem
    from client.sync.errors import SyncError
    from client.sync.state import HealReport, SyncResult
    from client.ui.conflict_dialog import ConflictDialog, ConflictView
    from client.ui.enroll_dialog import EnrollDialog
    from client.ui.hazard_dialog import HazardDialog
    from client.ui.home_page import Todo
    from client.ui.lock import SensitiveLock
    from client.ui.record_list import RecordListPage
    from client.ui.roster_page import RosterPage
    from client.ui.sync_controller import RecordChange, SyncController
    from client.ui.tasks import TaskManager
    from client.ui.usb_actions import ImportDone
    from client.ui.usb_dialog import UsbSyncDialog
    from client.usb.drives import Drive

log = logging.getLogger(__name__)

KeyRole = Qt.ItemDataRole.UserRole + 1  # "home", "form:<id>", "roster", "settings"
CountsRole = Qt.ItemDataRole.UserRole + 2  # {status: n} for a form
LineRole = Qt.ItemDataRole.UserRole + 3  # the second line: [(text, colour or None when quiet)]

NAV_WIDTH = 250


class NavDelegate(QStyledItemDelegate):
    """A navigation entry: the title in bold, and optionally a second line of coloured parts
    (a form: 草稿 n · 待发送 n · 已退回 n; 待办: what needs doing)."""

    def sizeHint(
        self, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex
    ) -> QSize:
        base = super().sizeHint(option, index)
        lines = 2 if index.data(LineRole) is not None else 1
        height = option.fontMetrics.height() * lines + (18 if lines == 2 else 16)
        return QSize(base.width(), max(base.height(), height))

    def paint(
        self,
        painter: QPainter,
        option: QStyleOptionViewItem,
        index: QModelIndex | QPersistentModelIndex,
    ) -> None:
        parts: list[tuple[str, str | None]] | None = index.data(LineRole)
        opt = QStyleOptionViewItem(option)
        self.initStyleOption(opt, index)
        selected = bool(opt.state & QStyle.StateFlag.State_Selected)
        text = opt.text
        opt.text = ""
        widget = opt.widget
        style = widget.style() if widget is not None else QApplication.style()
        style.drawControl(QStyle.ControlElement.CE_ItemViewItem, opt, painter, widget)
        painter.save()
        rect = opt.rect.adjusted(12, 4, -8, -4)
        title_font = QFont(opt.font)
        title_font.setBold(True)
        painter.setFont(title_font)
        painter.setPen(
            opt.palette.highlightedText().color() if selected else opt.palette.text().color()
        )
        fm = painter.fontMetrics()
        left = int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        if parts is None:
            painter.drawText(
                rect, left, fm.elidedText(text, Qt.TextElideMode.ElideRight, rect.width())
            )
            painter.restore()
            return
        title_rect = QRect(rect.left(), rect.top(), rect.width(), fm.height())
        painter.drawText(
            title_rect, left, fm.elidedText(text, Qt.TextElideMode.ElideRight, rect.width())
        )
        painter.setFont(opt.font)
        fm = painter.fontMetrics()
        x = rect.left()
        y = title_rect.bottom() + 3
        for i, (piece, colour) in enumerate(parts):
            shown = piece + ("  ·  " if i < len(parts) - 1 else "")
            if selected:
                painter.setPen(opt.palette.highlightedText().color())
            else:
                painter.setPen(QColor(colour or "#9a9a9a"))
            width = fm.horizontalAdvance(shown)
            if x + width > rect.right():  # no room for all: end with "…" rather than half a word
                shown = fm.elidedText(shown, Qt.TextElideMode.ElideRight, rect.right() - x)
                painter.drawText(QRect(x, y, rect.right() - x, fm.height()), left, shown)
                break
            painter.drawText(QRect(x, y, width, fm.height()), left, shown)
            x += width
        painter.restore()


class MainWindow(QMainWindow):
    """The main window. MainWindow(ctx, tasks) builds it whole (tests, the benchmarks). At start
    (client/ui/app.py) MainWindow() first builds and shows only its frame - the navigation with 待办, the
    menu bar, a page saying 正在打开… (or, during a migration, 正在升级本机数据…) - from Qt alone, before the
    store's modules load; attach(ctx, tasks) then builds the pages into it."""

    counts_refreshed = Signal()

    def __init__(
        self,
        ctx: ClientContext | None = None,
        tasks: TaskManager | None = None,
        parent: QWidget | None = None,
        *,
        sync: SyncController | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("mainWindow")
        self._closing = False  # closing waits for editors to save
        self._attached = False
        # The sensitive forms' lock (client.ui.lock.install sets these; None: nothing is locked).
        self.lock: SensitiveLock | None = None
        self.lock_button: QWidget | None = None
        self.setMinimumSize(1000, 600)
        self.resize(1280, 720)

        self.nav = QListWidget()
        self.nav.setObjectName("nav")
        self.nav.setItemDelegate(NavDelegate(self.nav))
        self.nav.setFixedWidth(NAV_WIDTH)
        self.nav.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.nav.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.nav.setSpacing(1)
        self.nav.setStyleSheet(
            "QListWidget#nav { background: #f3f5f8; border: none; border-right: 1px solid #d6dbe1; }"
        )
        home_item = QListWidgetItem()
        home_item.setData(KeyRole, "home")
        self.nav.addItem(home_item)
        # Until attach: what the program is doing (正在打开…, or a migration's 正在升级本机数据…).
        self.opening = StartupWindow(self)
        self.stack = QStackedWidget()
        self.stack.addWidget(self.opening)

        # Editors open in tabs beside the pages; the tab bar shows only while an editor is open.
        self.tabs = QTabWidget()
        self.tabs.setObjectName("tabs")
        self.tabs.setDocumentMode(True)
        self.tabs.setTabsClosable(True)
        self.tabs.setTabBarAutoHide(True)
        self.tabs.addTab(self.stack, "")
        self.tabs.tabBar().setTabButton(0, self.tabs.tabBar().ButtonPosition.RightSide, None)
        self.tabs.tabCloseRequested.connect(self.close_tab)

        splitter = QSplitter()
        splitter.addWidget(self.nav)
        splitter.addWidget(self.tabs)
        splitter.setStretchFactor(1, 1)
        splitter.setChildrenCollapsible(False)
        self.setCentralWidget(splitter)

        bar = self.menuBar()
        self.file_menu = bar.addMenu("")
        self.view_menu = bar.addMenu("")
        self.help_menu = bar.addMenu("")
        for menu in (self.file_menu, self.view_menu, self.help_menu):
            menu.setEnabled(False)  # filled by attach
        self.statusBar()  # its place, so the pages do not move when the real one comes
        self.nav.setCurrentRow(0)
        self.retranslate_frame()
        if ctx is not None and tasks is not None:
            self.attach(ctx, tasks, sync=sync)

    def retranslate_frame(self) -> None:
        """The frame's words in the UI language (attach says them again: the language read from the store
        may differ from the one the frame was built in)."""
        self.setWindowTitle(self.tr("学校数据采集客户端"))
        home_item = self.nav.item(0)
        home_item.setText(self.tr("待办"))
        current = self.nav.currentItem()
        self.tabs.setTabText(0, current.text() if current is not None else "")
        self.file_menu.setTitle(self.tr("文件(&F)"))
        self.view_menu.setTitle(self.tr("查看(&V)"))
        self.help_menu.setTitle(self.tr("帮助(&H)"))

    @property
    def attached(self) -> bool:
        """Whether the pages are built (attach ran)."""
        return self._attached

    def attach(
        self, ctx: ClientContext, tasks: TaskManager, *, sync: SyncController | None = None
    ) -> None:
        """Build the pages on the open store, replacing 正在打开…; the home page loads when shown."""
        from client.ui import lang
        from client.ui.home_page import HomePage
        from client.ui.record_list import RecordListPage
        from client.ui.roster_page import RosterPage
        from client.ui.settings_page import SettingsPage
        from client.ui.status_bar import StatusBar
        from client.ui.sync_controller import SyncController
        from client.usb.drives import removable_drives

        self.ctx = ctx
        self.tasks = tasks
        self._attached = True
        self.retranslate_frame()

        # Pages.
        self.home = HomePage(ctx, tasks)
        self.home.open_record.connect(self.open_record)
        self.home.new_record.connect(self.new_record)
        self.home.show_form.connect(self.show_form)
        self.home.follow_up.connect(self.follow_up_hazard)
        self.home.loaded.connect(self._show_todo_line)
        self.home.resolve_conflict.connect(self.open_conflict)
        self.home.show_roster.connect(lambda: self.go_to("roster"))
        self.form_pages: dict[str, RecordListPage] = {}
        self.roster = RosterPage(ctx, tasks)
        self.roster.changed.connect(self.refresh_counts)
        self.roster.changed.connect(self._roster_changed)
        self.settings = SettingsPage(ctx, tasks)
        self.settings.restored.connect(self._restored)
        self.settings.before_restore = self._editors_closed_for_restore

        self.stack.addWidget(self.home)
        self.stack.setCurrentWidget(self.home)
        self.stack.removeWidget(self.opening)
        self.opening.deleteLater()
        for form in ctx.forms.data_forms():
            page = RecordListPage(ctx, tasks, form.form_id)
            page.open_record.connect(self.open_record)
            page.new_record.connect(self.new_record)
            page.data_changed.connect(self.refresh_all)
            self.form_pages[form.form_id] = page
            item = self._add_page(f"form:{form.form_id}", lang.form_title(form), page)
            item.setData(CountsRole, {})
            item.setData(LineRole, _count_line({}))
            item.setToolTip(lang.form_title(form))
        self._add_page("roster", self.tr("教师名册"), self.roster)
        self._add_page("settings", self.tr("设置"), self.settings)
        self.nav.currentRowChanged.connect(self._nav_changed)

        self.status = StatusBar(self)
        self.setStatusBar(self.status)
        self.enroll_dialog: EnrollDialog | None = None
        self.problem_box: QMessageBox | None = None
        self.conflict_dialog: ConflictDialog | None = None
        self.usb_dialog: UsbSyncDialog | None = None
        # The sticks 用U盘同步 offers (tests: a made-up /sys tree).
        self.usb_drives: Callable[[], list[Drive]] = removable_drives
        # 用U盘同步 beside 立即同步: where a clerk with no link looks when the status bar says so.
        self.usb_button = QPushButton(self.tr("用U盘同步"))
        self.usb_button.setObjectName("usbSync")
        self.usb_button.setToolTip(self.tr("没有网络时，用U盘把数据带到教育局，再带回教育局的答复"))
        self.usb_button.clicked.connect(self.show_usb_dialog)
        self.status.addPermanentWidget(self.usb_button)
        self.sync = sync if sync is not None else SyncController(ctx, tasks, self)
        self._connect_sync()
        self._make_menus()
        self._nav_changed(0)  # the home page loads when chosen
        self.refresh_counts()

    # -- building -------------------------------------------------------------------------------------

    def _add_page(self, key: str, title: str, page: QWidget) -> QListWidgetItem:
        item = QListWidgetItem(title)
        item.setData(KeyRole, key)
        self.nav.addItem(item)
        self.stack.addWidget(page)
        return item

    def _make_menus(self) -> None:
        file_menu = self.file_menu
        self.new_action = QAction(self.tr("新建记录(&N)"), self)
        self.new_action.setShortcut(QKeySequence.StandardKey.New)
        self.new_action.triggered.connect(self.new_record_here)
        file_menu.addAction(self.new_action)
        export_action = QAction(self.tr("导出 Excel(&E)…"), self)
        export_action.triggered.connect(lambda: self._form_page_action("export"))
        import_action = QAction(self.tr("导入(&I)…"), self)
        import_action.triggered.connect(lambda: self._form_page_action("import"))
        file_menu.addAction(export_action)
        file_menu.addAction(import_action)
        file_menu.addSeparator()
        self.sync_action = QAction(self.tr("立即同步(&Y)"), self)
        self.sync_action.setShortcut(QKeySequence(Qt.Key.Key_F9))
        self.sync_action.triggered.connect(self.sync_now)
        file_menu.addAction(self.sync_action)
        self.usb_action = QAction(self.tr("用U盘同步(&U)…"), self)
        self.usb_action.triggered.connect(self.show_usb_dialog)
        file_menu.addAction(self.usb_action)
        connect_action = QAction(self.tr("连接教育局服务器(&C)…"), self)
        connect_action.triggered.connect(self.show_enroll_dialog)
        file_menu.addAction(connect_action)
        file_menu.addSeparator()
        backup_action = QAction(self.tr("立即备份(&B)…"), self)
        backup_action.triggered.connect(self.settings.backup_now)
        restore_action = QAction(self.tr("从备份恢复(&R)…"), self)
        restore_action.triggered.connect(self.settings.restore)
        file_menu.addAction(backup_action)
        file_menu.addAction(restore_action)
        file_menu.addSeparator()
        quit_action = QAction(self.tr("退出(&X)"), self)
        quit_action.setShortcut(QKeySequence(Qt.Modifier.CTRL | Qt.Key.Key_Q))
        quit_action.triggered.connect(self.close)
        file_menu.addAction(quit_action)

        view_menu = self.view_menu
        self.refresh_action = QAction(self.tr("刷新(&R)"), self)
        self.refresh_action.setShortcut(QKeySequence(Qt.Key.Key_F5))
        self.refresh_action.triggered.connect(self.refresh_all)
        view_menu.addAction(self.refresh_action)
        self.find_action = QAction(self.tr("查找(&F)"), self)
        self.find_action.setShortcut(QKeySequence.StandardKey.Find)
        self.find_action.triggered.connect(self.focus_search)
        view_menu.addAction(self.find_action)
        view_menu.addSeparator()
        for row in range(self.nav.count()):
            item = self.nav.item(row)
            action = QAction(item.text(), self)
            if row < 9:
                action.setShortcut(QKeySequence(Qt.Modifier.CTRL | Qt.Key(Qt.Key.Key_1 + row)))
            action.triggered.connect(lambda _c=False, r=row: self.go_to_row(r))
            view_menu.addAction(action)

        help_menu = self.help_menu
        about_action = QAction(self.tr("关于(&A)"), self)
        about_action.triggered.connect(self.about)
        help_menu.addAction(about_action)
        for menu in (file_menu, view_menu, help_menu):
            menu.setEnabled(True)

        close_tab = QShortcut(QKeySequence.StandardKey.Close, self)
        close_tab.activated.connect(lambda: self.close_tab(self.tabs.currentIndex()))

    # -- navigation -----------------------------------------------------------------------------------

    def page_key(self) -> str:
        item = self.nav.currentItem()
        return str(item.data(KeyRole)) if item is not None else "home"

    def current_page(self) -> QWidget | None:
        return self.stack.currentWidget()

    def go_to_row(self, row: int) -> None:
        self.nav.setCurrentRow(row)
        self.tabs.setCurrentIndex(0)

    def go_to(self, key: str) -> None:
        for row in range(self.nav.count()):
            if self.nav.item(row).data(KeyRole) == key:
                self.go_to_row(row)
                return

    def show_form(self, form_id: str) -> None:
        self.go_to(f"form:{form_id}")

    def nav_item(self, key: str) -> QListWidgetItem | None:
        for row in range(self.nav.count()):
            if self.nav.item(row).data(KeyRole) == key:
                return self.nav.item(row)
        return None

    def _nav_changed(self, row: int) -> None:
        if row < 0:
            return
        self.stack.setCurrentIndex(row)
        self.tabs.setTabText(0, self.nav.item(row).text())
        self.tabs.setCurrentIndex(0)
        if self.current_page() is self.home:
            self.home.refresh()

    def focus_search(self) -> None:
        from client.ui.record_list import RecordListPage
        from client.ui.roster_page import RosterPage

        page = self.current_page()
        if isinstance(page, RecordListPage | RosterPage):
            page.focus_search()

    def _form_page_action(self, what: str) -> None:
        from client.ui.record_list import RecordListPage
        from client.ui.roster_page import RosterPage

        page = self.current_page()
        if not isinstance(page, RecordListPage | RosterPage):
            QMessageBox.information(self, self.windowTitle(), self.tr("请先在左边选择一个表单。"))
            return
        if what == "export":
            page.export_excel()
        else:
            page.import_file()

    # -- refreshing -----------------------------------------------------------------------------------

    def refresh_all(self) -> None:
        """F5 (and after anything that changed many records, e.g. an import or a sync): counts, the status
        bar, the home page and the page shown; other pages read again when next shown."""
        self.refresh_counts()
        self.home.refresh()
        self._refresh_pages(None)
        self._roster_changed()

    def _roster_changed(self) -> None:
        """Open forms offer the roster as it is now (a teacher added, imported, synced, or who left)."""
        for editor in self.editors():
            refresh = getattr(editor, "refresh_roster", None)
            if callable(refresh):
                refresh()

    def _refresh_pages(self, form_id: str | None) -> None:
        from client.store.formset import ROSTER_FORM
        from client.ui.record_list import RecordListPage
        from client.ui.roster_page import RosterPage

        shown = self.current_page()
        pages: list[RecordListPage | RosterPage] = [*self.form_pages.values(), self.roster]
        for page in pages:
            if form_id is not None and (
                (isinstance(page, RecordListPage) and page.form_id != form_id)
                or (isinstance(page, RosterPage) and form_id != ROSTER_FORM)
            ):
                continue
            if page is shown:
                page.refresh()
            else:
                page.mark_stale()

    def refresh_counts(self) -> None:
        from client.store.records import pending_outbox, status_counts

        sessions = self.ctx.store.Session

        def load() -> tuple[dict[str, dict[str, int]], int]:
            with sessions() as s:
                return status_counts(s), pending_outbox(s)

        self.tasks.run_db(load, on_done=self._show_counts, on_error=self._counts_failed)

    def _show_counts(self, result: tuple[dict[str, dict[str, int]], int]) -> None:
        from client.store.models import Status
        from client.ui import lang

        counts, pending = result
        for form_id in self.form_pages:
            item = self.nav_item(f"form:{form_id}")
            if item is None:
                continue
            per_status = counts.get(form_id, {})
            item.setData(CountsRole, dict(per_status))
            item.setData(LineRole, _count_line(per_status))
            item.setData(
                Qt.ItemDataRole.AccessibleTextRole,
                f"{item.text()} "
                + " ".join(
                    f"{lang.status_label(st)} {per_status.get(st, 0)}"
                    for st in (Status.DRAFT, Status.SUBMITTED, Status.RETURNED)
                ),
            )
        self.status.set_pending(pending)
        self.nav.viewport().update()
        self.counts_refreshed.emit()

    def _show_todo_line(self, todo: Todo) -> None:
        """The 待办 entry's second line: what needs doing, or 都已完成."""
        from client.ui import lang

        item = self.nav_item("home")
        if item is None:
            return
        overdue = todo.hazards.overdue
        missing = sum(1 for d in todo.due if not d.done)
        parts: list[tuple[str, str | None]] = []
        if todo.returned:
            parts.append((self.tr("退回 {n}").format(n=len(todo.returned)), lang.OVERDUE_COLOUR))
        if todo.issues:
            parts.append((self.tr("未同步 {n}").format(n=len(todo.issues)), lang.OVERDUE_COLOUR))
        if overdue:
            parts.append((self.tr("逾期隐患 {n}").format(n=overdue), lang.OVERDUE_COLOUR))
        if missing:
            parts.append((self.tr("未报 {n}").format(n=missing), lang.DUE_COLOUR))
        if not parts:
            parts.append((self.tr("都已完成"), lang.DONE_COLOUR))
        item.setData(LineRole, parts)
        item.setData(
            Qt.ItemDataRole.AccessibleTextRole, item.text() + " " + " ".join(p for p, _ in parts)
        )

    def _counts_failed(self, exc: Exception) -> None:
        from client.ui.record_list import error_text

        log.error("could not count records: %s", exc)
        self.status.showMessage(self.tr("读取记录数失败：{e}").format(e=error_text(exc)), 10000)

    def form_counts(self, form_id: str) -> dict[str, int]:
        item = self.nav_item(f"form:{form_id}")
        return dict(item.data(CountsRole) or {}) if item is not None else {}

    def record_saved(self, form_id: str, record_id: str) -> None:
        """After any save: counts, the home page, and the form's list."""
        log.debug("saved %s %s", form_id, record_id)
        self.refresh_counts()
        self.home.refresh()
        self._refresh_pages(form_id)

    # -- records --------------------------------------------------------------------------------------

    def new_record_here(self) -> None:
        """Ctrl+N: a new record of the form shown (or a new teacher on the roster page)."""
        from client.ui.record_list import RecordListPage
        from client.ui.roster_page import RosterPage

        page = self.current_page()
        if isinstance(page, RecordListPage):
            self.new_record(page.form_id)
        elif isinstance(page, RosterPage):
            page.add_teacher()
        else:
            self.status.showMessage(self.tr("请先在左边选择一个表单，再新建记录。"), 5000)

    def new_record(self, form_id: str) -> None:
        if self.lock is not None and self.lock.needs_unlock(
            form_id, self, lambda: self.new_record(form_id)
        ):
            return
        self._open_editor(form_id, None)

    def open_record(self, form_id: str, record_id: str) -> None:
        if self.lock is not None and self.lock.needs_unlock(
            form_id, self, lambda: self.open_record(form_id, record_id)
        ):
            return
        for editor in self.editors():
            if _editor_record_id(editor) == record_id:
                self.tabs.setCurrentWidget(editor)
                return
        self._open_editor(form_id, record_id)

    def _open_editor(self, form_id: str, record_id: str | None) -> None:
        from client.ui import lang
        from client.ui.lock import watch_editor
        from client.ui.record_list import error_text

        try:
            from client.ui.editor import RecordEditor

            editor = RecordEditor(self.ctx, self.tasks, form_id, record_id)
        except Exception as exc:
            log.exception("could not open the editor for %s %s", form_id, record_id)
            QMessageBox.warning(
                self, self.tr("无法打开记录"), self.tr("记录打不开：{e}").format(e=error_text(exc))
            )
            return
        form = self.ctx.forms.get(form_id)
        title = lang.form_title(form)
        limit = 20 if lang.language() == "en" else 8
        short = title if len(title) <= limit else title[: limit - 1] + "…"
        label = (self.tr("新建：{form}") if record_id is None else self.tr("编辑：{form}")).format(
            form=short
        )
        editor.saved.connect(lambda rid, f=form_id: self.record_saved(f, rid))
        editor.submitted.connect(lambda rid, f=form_id: self.record_saved(f, rid))
        if record_id is None:
            # Once saved the record exists: its tab reads as for a record opened from the list.
            named = self.tr("编辑：{form}").format(form=short)
            editor.saved.connect(lambda _rid, e=editor, t=named: self._retitle_tab(e, t))
        editor.closed.connect(lambda e=editor: self._remove_editor(e))
        self._closing = False  # the clerk went on working
        index = self.tabs.addTab(editor, label)
        self.tabs.setTabToolTip(index, title)
        self.tabs.setCurrentIndex(index)
        if self.lock is not None:
            watch_editor(self.lock, editor)

    def _retitle_tab(self, editor: QWidget, text: str) -> None:
        index = self.tabs.indexOf(editor)
        if index > 0:
            self.tabs.setTabText(index, text)

    def editors(self) -> list[QWidget]:
        """The record editors open in tabs."""
        return [w for i in range(1, self.tabs.count()) if (w := self.tabs.widget(i)) is not None]

    def close_tab(self, index: int) -> bool:
        """Close an editor tab (the editor may refuse, e.g. to keep unsaved work)."""
        if index <= 0:
            return True
        editor = self.tabs.widget(index)
        if editor is None:
            return True
        if not editor.close():
            return False
        self._remove_editor(editor)
        return True

    def _remove_editor(self, editor: QWidget) -> None:
        index = self.tabs.indexOf(editor)
        if index > 0:
            self.tabs.removeTab(index)
            editor.deleteLater()
        if self._closing and not self.editors():
            QTimer.singleShot(0, self.close)  # the clerk was quitting: the last editor has saved

    # -- hazards --------------------------------------------------------------------------------------

    def follow_up_hazard(self, item: HazardItem) -> None:
        """Open the hazard follow-up dialog (modal); it saves a new revision of the inspection."""
        dialog = self.make_hazard_dialog(item)
        dialog.exec()

    def make_hazard_dialog(self, item: HazardItem) -> HazardDialog:
        from client.store.todo import get_hazard
        from client.ui.hazard_dialog import HazardDialog

        photo: str | None = None
        try:
            with self.ctx.store.Session() as s:
                photo = get_hazard(s, record_id=item.record_id, index=item.index).get(
                    "rectified_photo"
                )
        except Exception:
            log.exception("could not read hazard %s#%d", item.record_id, item.index)
        dialog = HazardDialog(self.ctx, self.tasks, item, self, current_photo=photo)
        dialog.saved.connect(lambda rid: self.record_saved("safety_inspection", rid))
        return dialog

    # -- sync -----------------------------------------------------------------------------------------

    def _connect_sync(self) -> None:
        sync = self.sync
        sync.watched = self._open_record_ids
        sync.status_changed.connect(self._show_sync_status)
        sync.interval_changed.connect(self.settings.set_interval)
        sync.started.connect(self.status.sync_started)
        sync.progress.connect(self.status.sync_progress)
        sync.finished.connect(self._sync_finished)
        sync.failed.connect(self._sync_failed)
        sync.records_changed.connect(self._records_changed)
        sync.idle.connect(self.status.sync_ended)
        sync.busy.connect(lambda text: self.status.showMessage(text, 15000))  # 另一个同步正在进行
        self.status.sync_requested.connect(self.sync_now)
        self.status.connect_requested.connect(self.show_enroll_dialog)
        self.status.problem_requested.connect(self.show_sync_problem)
        self.status.issues_requested.connect(lambda: self.go_to("home"))
        self.settings.connect_requested.connect(self.show_enroll_dialog)
        self.settings.interval_chosen.connect(sync.set_interval)

    def _open_record_ids(self) -> list[str]:
        return [rid for e in self.editors() if (rid := _editor_record_id(e))]

    def sync_now(self) -> None:
        """立即同步 (F9); a computer not yet enrolled is asked for the server and the code first."""
        if self.sync.status is not None and not self.sync.status.enrolled:
            self.show_enroll_dialog()
            return
        if not self.sync.sync_now():
            self.show_enroll_dialog()

    def _show_sync_status(self, status: SyncStatus) -> None:
        now = self.ctx.clock.now()
        self.status.set_sync_status(
            status, now=now, auto_retry=self.sync.auto_retry, running=self.sync.running
        )
        self.settings.set_sync_status(
            status,
            last_sync=self.status.when(status.last_sync_at, now) if status.last_sync_at else "",
        )

    def _sync_finished(self, result: SyncResult) -> None:
        self.refresh_all()
        if result.healed is not None:
            self._tell_healed(result.healed)
        if result.conflicts:
            self.status.showMessage(
                self.tr("有 {n} 条记录与服务器上的版本冲突，请到“待办”选择保留哪个版本。").format(
                    n=len(result.conflicts)
                ),
                30000,
            )
        elif result.rejected:
            self.status.showMessage(
                self.tr("有 {n} 条修改服务器没有接收，请到“待办”查看原因。").format(
                    n=len(result.rejected)
                ),
                30000,
            )
        elif result.pushed and result.resent:
            self.status.showMessage(
                self.tr(
                    "同步完成：发出 {sent} 条（其中 {again} 条是上次中断后重发，服务器已经收到过），"
                    "收到 {got} 条更新。"
                ).format(sent=result.pushed, again=result.resent, got=result.pulled),
                8000,
            )
        elif result.pushed or result.pulled:
            self.status.showMessage(
                self.tr("同步完成：发出 {sent} 条，收到 {got} 条更新。").format(
                    sent=result.pushed, got=result.pulled
                ),
                8000,
            )

    def _tell_healed(self, healed: HealReport) -> None:
        """A heal after a restore ended: say what came back (a box that does not block the window)."""
        if healed.kind == "pc_restored":
            text = self.tr(
                "从备份恢复后，已从服务器取回本机在备份之后发给教育局的 {n} 条记录。"
                "备份之后保存、但没有发出的内容无法取回。"
            ).format(n=healed.came_back)
        else:
            text = self.tr(
                "县教育局的服务器曾从备份恢复。本机已自动重新发送服务器缺少的 {sent} 条修改，"
                "并重新读取了本校数据（取回 {n} 条记录）。不需要做任何处理。"
            ).format(sent=healed.resent, n=healed.came_back)
        self.status.showMessage(text, 60000)
        box = QMessageBox(QMessageBox.Icon.Information, self.tr("同步"), text, parent=self)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.open()

    def _sync_failed(self, error: SyncError) -> None:
        from client.sync.state import SyncResult
        from client.ui.record_list import error_text
        from client.ui.sync_controller import CLIENT_ERROR

        log.info("sync failed: %s", error.one_line())
        self.status.clearMessage()  # "同步完成…" of an earlier sync must not stand beside this failure
        if error.code == CLIENT_ERROR:
            # A failure of this program is not kept as the sync's problem; the status line says the rest.
            self.status.showMessage(
                self.tr("同步没有完成：{reason}").format(reason=error_text(error)), 30000
            )
        if isinstance(error.result, SyncResult) and (error.result.pushed or error.result.pulled):
            self.refresh_all()  # part of it went through
        else:
            self.refresh_counts()

    def _records_changed(self, changes: tuple[RecordChange, ...]) -> None:
        """Open editors whose record the sync changed: reload those without unsaved work; mark the others."""
        by_id = {c.record_id: c for c in changes}
        for editor in self.editors():
            change = by_id.get(_editor_record_id(editor) or "")
            if change is None:
                continue
            dirty = getattr(editor, "is_dirty", lambda: False)()
            if not dirty:
                self.reload_editor(editor, change.form_id)
            elif change.by_server:
                self._mark_changed_under(editor)

    def reload_editor(self, editor: QWidget, form_id: str) -> None:
        """Close an editor and open its record again in the same place (it has no unsaved work)."""
        record_id = _editor_record_id(editor)
        if record_id is None:
            return
        index = self.tabs.indexOf(editor)
        shown = self.tabs.currentWidget()

        def reopen() -> None:
            self._open_editor(form_id, record_id)
            last = self.tabs.count() - 1
            target = max(1, min(index, last))
            self.tabs.tabBar().moveTab(last, target)
            if shown is editor:
                self.tabs.setCurrentIndex(target)
            elif shown is not None and self.tabs.indexOf(shown) >= 0:
                self.tabs.setCurrentWidget(shown)

        editor.closed.connect(reopen)  # type: ignore[attr-defined]
        editor.close()

    def _mark_changed_under(self, editor: QWidget) -> None:
        index = self.tabs.indexOf(editor)
        if index < 0:
            return
        self.tabs.setTabIcon(
            index, self.style().standardIcon(QStyle.StandardPixmap.SP_MessageBoxWarning)
        )
        self.tabs.setTabToolTip(
            index,
            self.tr(
                "同步时收到了这条记录的新版本（例如教育局退回）。您的修改还没有保存："
                "保存后关闭再打开这条记录，可以看到教育局的意见。"
            ),
        )
        self.status.showMessage(
            self.tr("正在编辑的记录在同步时有了新版本，请先保存您的修改，再重新打开查看。"), 30000
        )

    def make_enroll_dialog(self) -> EnrollDialog:
        from client.ui.enroll_dialog import EnrollDialog
        from client.ui.enroll_file_action import enroll_file_action

        status = self.sync.status
        enrolled = status is not None and status.enrolled
        dialog = EnrollDialog(
            self.sync.enroll,
            self,
            enroll_file=enroll_file_action(self.sync),
            server_url=(status.server_url or "") if status is not None and enrolled else "",
            school=(status.school_name or status.school_code or "")
            if status is not None and enrolled
            else "",
        )
        dialog.enrolled.connect(lambda _e: self.refresh_all())
        return dialog

    def show_sync_problem(self) -> None:
        """Why the server refused the last sync, in full and in both languages (the line has a headline)."""
        problem = self.status.refused_problem()
        if problem is None:
            return
        text = "\n\n".join(
            str(problem.get(key) or "") for key in ("message_zh", "message_en") if problem.get(key)
        )
        box = QMessageBox(QMessageBox.Icon.Warning, self.tr("同步没有完成"), text, parent=self)
        box.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.problem_box = box
        box.open()

    def show_enroll_dialog(self) -> None:
        """连接服务器: from 设置, the status bar (not enrolled) or 立即同步 before enrollment."""
        if self.enroll_dialog is not None and self.enroll_dialog.isVisible():
            self.enroll_dialog.raise_()
            return
        dialog = self.make_enroll_dialog()
        dialog.finished.connect(lambda _r: self._forget_enroll_dialog(dialog))
        self.enroll_dialog = dialog
        dialog.open()

    def _forget_enroll_dialog(self, dialog: EnrollDialog) -> None:
        if self.enroll_dialog is dialog:
            self.enroll_dialog = None
        dialog.deleteLater()

    def make_usb_dialog(self) -> UsbSyncDialog:
        from client.ui.usb_dialog import UsbSyncDialog

        dialog = UsbSyncDialog(self.ctx, self.tasks, self.sync, self, list_drives=self.usb_drives)
        dialog.exported.connect(lambda _d: self.sync.refresh_status())
        dialog.imported.connect(self._usb_imported)
        return dialog

    def show_usb_dialog(self) -> None:
        """用U盘同步 (the File menu, the status bar): export to a stick, import the bureau's answer."""
        if self.usb_dialog is not None and self.usb_dialog.isVisible():
            self.usb_dialog.raise_()
            return
        dialog = self.make_usb_dialog()
        dialog.finished.connect(lambda _r: self._forget_usb_dialog(dialog))
        self.usb_dialog = dialog
        dialog.open()

    def _forget_usb_dialog(self, dialog: UsbSyncDialog) -> None:
        if self.usb_dialog is dialog:
            self.usb_dialog = None
        dialog.deleteLater()

    def _usb_imported(self, done: ImportDone) -> None:
        """As after a sync: counts, 待办 and the lists read again; open editors the answer changed reload."""
        self.refresh_all()
        self.sync.refresh_status()
        if done.changed:
            self._records_changed(done.changed)

    def open_conflict(self, issue_id: int) -> None:
        """Show a conflict side by side (read on the database thread first)."""
        from client.ui.conflict_dialog import load_conflict
        from client.ui.record_list import error_text

        ctx = self.ctx

        def failed(exc: Exception) -> None:
            QMessageBox.warning(
                self, self.tr("处理冲突"), self.tr("打不开这个冲突：{e}").format(e=error_text(exc))
            )
            self.home.refresh()

        self.tasks.run_db(
            lambda: load_conflict(ctx, issue_id), on_done=self._show_conflict, on_error=failed
        )

    def _show_conflict(self, view: ConflictView) -> None:
        if self.lock is not None and self.lock.needs_unlock(
            view.form.form_id, self, lambda: self._show_conflict(view)
        ):
            return
        dialog = self.make_conflict_dialog(view)
        dialog.finished.connect(lambda _r: self._forget_conflict_dialog(dialog))
        self.conflict_dialog = dialog
        dialog.open()

    def make_conflict_dialog(self, view: ConflictView) -> ConflictDialog:
        from client.ui.conflict_dialog import ConflictDialog

        dialog = ConflictDialog(self.ctx, self.tasks, view, self)
        dialog.resolved.connect(
            lambda _id, rid=view.record_id, fid=view.form.form_id: self._conflict_resolved(rid, fid)
        )
        return dialog

    def _forget_conflict_dialog(self, dialog: ConflictDialog) -> None:
        if self.conflict_dialog is dialog:
            self.conflict_dialog = None
        dialog.deleteLater()

    def _conflict_resolved(self, record_id: str, form_id: str) -> None:
        self.refresh_all()
        for editor in self.editors():
            if _editor_record_id(editor) == record_id:
                if getattr(editor, "is_dirty", lambda: False)():
                    self._mark_changed_under(editor)
                else:
                    self.reload_editor(editor, form_id)
        self.status.showMessage(self.tr("冲突已处理，正在同步…"), 8000)
        self.sync.sync_now()

    # -- window ---------------------------------------------------------------------------------------

    def about(self) -> None:
        from client.ui.settings_page import app_version

        QMessageBox.about(
            self,
            self.tr("关于"),
            self.tr(
                "<b>学校数据采集客户端</b> {version}<br><br>"
                "离线填写县教育局的各类表单，联网后发送到教育局。<br>"
                "数据文件夹：{folder}"
            ).format(version=app_version(), folder=self.ctx.store.data_dir),
        )

    def _editors_closed_for_restore(self) -> bool:
        refused = [e for e in self.editors() if not e.close()]
        if refused or self.editors():
            QMessageBox.information(
                self,
                self.tr("从备份恢复"),
                self.tr("请先保存并关闭正在编辑的记录，再从备份恢复。"),
            )
            return False
        return True

    def _restored(self) -> None:
        self.close()

    def closeEvent(self, event: QCloseEvent) -> None:
        """Editors close first: each saves its draft (or asks about an unsubmitted correction) and says
        `closed` when done, possibly later; the window closes when the last one has gone. Before its
        pages are built (the store is opening, maybe migrating) it does not close: that would not stop the
        work (the start-up window had no close button for the same reason)."""
        if not self._attached:
            log.info("the window was asked to close while the store opens: it stays")
            event.ignore()
            return
        open_editors = self.editors()
        refused = [e for e in open_editors if not e.close()]
        if refused:
            self._closing = True
            event.ignore()
            return
        self._closing = False
        self.sync.stop()
        self.tasks.wait()
        super().closeEvent(event)

    def sizeHint(self) -> QSize:
        return QSize(1280, 720)

    def show_on_screen(self, screen: QScreen | None) -> None:
        """Open fitting the screen: maximized on a school PC's 1366x768, else a good size in the middle."""
        available = screen.availableGeometry() if screen is not None else QRect(0, 0, 1280, 720)
        self.setMinimumSize(min(1000, available.width()), min(600, available.height()))
        geometry, maximized = window_placement(available)
        self.setGeometry(geometry)  # also the size it returns to from maximized
        if maximized:
            self.showMaximized()
        else:
            self.show()


def window_placement(available: QRect) -> tuple[QRect, bool]:
    """Where the window opens on a screen with this free area (without the taskbar): the whole of it,
    maximized, up to 1440x900 (the clerk's 1366x768 PC); on a larger screen 1280x800 in the middle."""
    if available.width() <= 1440 or available.height() <= 900:
        return QRect(available), True
    rect = QRect(QPoint(0, 0), QSize(1280, 800))
    rect.moveCenter(available.center())
    return rect, False


def _count_line(per_status: dict[str, int]) -> list[tuple[str, str | None]]:
    from client.store.models import Status
    from client.ui import lang

    colours = {
        Status.DRAFT: "#555555",
        Status.SUBMITTED: "#b35c00",
        Status.RETURNED: lang.OVERDUE_COLOUR,
    }
    line: list[tuple[str, str | None]] = []
    for status, colour in colours.items():
        n = int(per_status.get(status, 0))
        line.append((f"{lang.status_label(status)} {n}", colour if n else None))
    return line


def _editor_record_id(editor: QWidget) -> str | None:
    get = getattr(editor, "record_id", None)
    return get() if callable(get) else None
