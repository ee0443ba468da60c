"""The GUI entry point: `run_gui(data_dir)` sets up logging, error reporting, translations and the daily
backup, then opens the main window: its frame first, from Qt alone, in the language the store last said
(<data>/ui-language); the store opens on a thread meanwhile, then the window's pages are built (issue 14).

`smoke=True` opens the window, lets it load, closes it and returns 0 without saving anything (no backup, no
settings written; only the log and ui-language, a copy of the language setting): the installer test runs it to
prove the bundle starts.
"""

from __future__ import annotations

import logging
import logging.handlers
import re
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import (
    QCoreApplication,
    QElapsedTimer,
    QLibraryInfo,
    QLocale,
    QtMsgType,
    QTranslator,
    qInstallMessageHandler,
)
from PySide6.QtGui import QFont, QFontDatabase, QGuiApplication, QScreen
from PySide6.QtWidgets import QApplication, QMessageBox, QWidget

from client.ui.pyside_import import skip_source_scan_of_non_qt_modules
from client.ui.startup_window import (
    StartupWindow,
    UpgradeUnderWay,
    run_beside,
    show_startup_window,
)

# Nothing of the store is imported yet: it loads (SQLAlchemy, the forms) once the start-up window shows,
# without shiboken reading the source of each of its modules.
skip_source_scan_of_non_qt_modules()

if TYPE_CHECKING:
    from client.clock import Clock
    from client.context import ClientContext
    from client.ui.main_window import MainWindow

log = logging.getLogger(__name__)

I18N_DIR = (
    Path(__file__).resolve().parent.parent / "i18n"
)  # beside the package: works in the bundle too
LOG_NAME = "school-client.log"
APP_QM = "school_client_{lang}.qm"
QT_SUPPLEMENT_QM = "qt_supplement_{lang}.qm"  # Qt's own strings its translation lacks
CJK_UI_FONTS = (
    "Microsoft YaHei UI",
    "Microsoft YaHei",
    "PingFang SC",
    "Noto Sans CJK SC",
    "Source Han Sans SC",
    "WenQuanYi Micro Hei",
)


# -- logging and errors ---------------------------------------------------------------------------------


def setup_logging(data_dir: Path) -> tuple[Path, logging.Handler]:
    """A rotating UTF-8 log file in the data folder (logs/school-client.log, 5 x 2 MB kept)."""
    folder = data_dir / "logs"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / LOG_NAME
    handler = logging.handlers.RotatingFileHandler(
        path, maxBytes=2 * 1024 * 1024, backupCount=5, encoding="utf-8"
    )
    handler.setFormatter(
        logging.Formatter("%(asctime)s %(levelname)s %(threadName)s %(name)s: %(message)s")
    )
    root = logging.getLogger()
    root.addHandler(handler)
    if root.level == logging.NOTSET or root.level > logging.INFO:
        root.setLevel(logging.INFO)
    return path, handler


def _qt_message(mode: QtMsgType, _context: Any, message: str) -> None:
    level = {
        QtMsgType.QtDebugMsg: logging.DEBUG,
        QtMsgType.QtInfoMsg: logging.INFO,
        QtMsgType.QtWarningMsg: logging.WARNING,
        QtMsgType.QtCriticalMsg: logging.ERROR,
        QtMsgType.QtFatalMsg: logging.CRITICAL,
    }.get(mode, logging.WARNING)
    logging.getLogger("qt").log(level, "%s", message)


class ErrorReporter:
    """sys.excepthook: log the error, then tell the clerk in plain words (never a bare traceback)."""

    def __init__(self, log_path: Path, *, show_dialog: bool = True) -> None:
        self.log_path = log_path
        self.show_dialog = show_dialog
        self.errors = 0
        self._busy = False
        self.previous: Callable[..., Any] = sys.excepthook

    def install(self) -> None:
        self.previous = sys.excepthook
        sys.excepthook = self

    def uninstall(self) -> None:
        if sys.excepthook is self:
            sys.excepthook = self.previous

    def message(self, exc: BaseException) -> str:
        from client.ui import lang

        zh = getattr(exc, "message_zh", None)
        en = getattr(exc, "message_en", None)
        detail = (en if lang.language() == "en" else zh) or f"{type(exc).__name__}: {exc}"
        return QCoreApplication.translate(
            "ErrorReporter",
            "程序遇到了一个意外的问题，刚才的操作可能没有完成。\n"
            "已经保存的数据不会丢失。如果问题反复出现，请把日志文件发给县教育局信息中心。\n\n"
            "问题：{detail}\n日志文件：{log}",
        ).format(detail=detail, log=self.log_path)

    def __call__(
        self, exc_type: type[BaseException], exc: BaseException, tb: TracebackType | None
    ) -> None:
        if issubclass(exc_type, KeyboardInterrupt):
            sys.__excepthook__(exc_type, exc, tb)
            return
        self.errors += 1
        log.critical("unexpected error", exc_info=(exc_type, exc, tb))
        if not self.show_dialog or self._busy or QApplication.instance() is None:
            sys.stderr.write("".join(traceback.format_exception(exc_type, exc, tb)))
            return
        self._busy = True
        try:
            box = QMessageBox(
                QMessageBox.Icon.Critical,
                QCoreApplication.translate("ErrorReporter", "出错了"),
                self.message(exc),
            )
            box.setDetailedText("".join(traceback.format_exception(exc_type, exc, tb)))
            box.exec()
        except Exception:
            sys.stderr.write("".join(traceback.format_exception(exc_type, exc, tb)))
        finally:
            self._busy = False


# -- a PySide6 refcount bug -----------------------------------------------------------------------------


def guard_singleton_refcounts() -> bool:
    """Work around PySide6 6.12.0 on Python < 3.12: each Qt call that returns None (setText, click, ...)
    drops one reference to None it never took, so after enough calls None's count reaches zero and Python
    aborts ("none_dealloc: deallocating None"), usually at exit, in a long session sooner. Python 3.12 made
    None, True and False immortal (PEP 683: a refcount too large to reach zero); this does the same here.
    Only applied when the leak is measured. The real fix: PySide6 != 6.12.0 (6.11.3 is fine) or Python 3.12+.
    """
    if sys.version_info >= (3, 12) or sys.implementation.name != "cpython":
        return False
    import ctypes

    from PySide6.QtCore import QObject

    probe = QObject()
    before = sys.getrefcount(None)
    for _ in range(64):
        probe.setObjectName("probe")
    leaked = before - sys.getrefcount(None)
    if leaked <= 0:
        return False
    for singleton in (None, True, False):
        ctypes.c_ssize_t.from_address(id(singleton)).value += 1 << 40
    log.warning("PySide6 drops references to None (%d in 64 calls); None/True/False pinned", leaked)
    return True


# -- translations and fonts -----------------------------------------------------------------------------


def qt_translations_dir() -> Path:
    return Path(QLibraryInfo.path(QLibraryInfo.LibraryPath.TranslationsPath))


def install_translators(app: QCoreApplication, language: str) -> list[QTranslator]:
    """Our strings (client/i18n/school_client_<lang>.qm) and, for Chinese, Qt's own (standard buttons,
    Qt's file dialog, edit menus) with our supplement for the few Qt's zh_CN file leaves in English
    (client/i18n/qt_supplement_zh_CN.qm)."""
    installed: list[QTranslator] = []
    ours = QTranslator(app)
    if ours.load(APP_QM.format(lang=language), str(I18N_DIR)):
        app.installTranslator(ours)
        installed.append(ours)
    else:
        log.warning("no translation %s in %s", APP_QM.format(lang=language), I18N_DIR)
    if language != "en":
        qt = QTranslator(app)
        for folder in (qt_translations_dir(), I18N_DIR):
            if qt.load(f"qtbase_{language}.qm", str(folder)):
                app.installTranslator(qt)
                installed.append(qt)
                break
        else:
            log.warning("Qt's own translation qtbase_%s.qm not found", language)
        supplement = QTranslator(app)
        if supplement.load(QT_SUPPLEMENT_QM.format(lang=language), str(I18N_DIR)):
            app.installTranslator(supplement)
            installed.append(supplement)
    return installed


def apply_language(app: QCoreApplication, language: str) -> list[QTranslator]:
    """The UI language everywhere: our strings, Qt's own (dialogs, edit menus) and the application locale
    (the calendar's month and day names, dates and sizes in Qt's widgets), whatever the PC's system locale."""
    from client.ui import lang

    lang.set_language(language)
    QLocale.setDefault(lang.qlocale())
    return install_translators(app, language)


def remove_translators(app: QCoreApplication, translators: list[QTranslator]) -> None:
    for t in translators:
        app.removeTranslator(t)


def choose_font(app: QApplication) -> None:
    """A Chinese UI font when the system has one (old Windows: 微软雅黑), at a readable size."""
    families = set(QFontDatabase.families())
    font = QFont(app.font())
    for name in CJK_UI_FONTS:
        if name in families:
            font.setFamilies([name, *font.families()])
            break
    if font.pointSizeF() < 10:
        font.setPointSizeF(10)
    app.setFont(font)


def read_language(ctx: ClientContext) -> str:
    from client.store.prefs import get_setting
    from client.ui import lang

    try:
        with ctx.store.ReadSession() as s:
            code = str(get_setting(s, lang.SETTING_KEY, lang.DEFAULT_LANGUAGE))
    except Exception:
        log.exception("could not read the language setting")
        code = lang.DEFAULT_LANGUAGE
    return code if code in lang.LANGUAGES else lang.DEFAULT_LANGUAGE


# The UI language as the store last said (its setting, client.ui.lang.SETTING_KEY), kept beside the store so
# that the main window's frame shows in it before the store opens. The store's setting is what counts: a
# file that is missing or says otherwise only costs the frame a change of words once the store is read.
LANGUAGE_FILE = "ui-language"
_LANGUAGE_CODE = re.compile(r"[A-Za-z]{2,3}(_[A-Za-z]{2})?")


def remembered_language(data_dir: Path) -> str | None:
    try:
        code = (data_dir / LANGUAGE_FILE).read_text(encoding="ascii").strip()
    except (OSError, UnicodeError):
        return None
    return code if _LANGUAGE_CODE.fullmatch(code) else None


def remember_language(data_dir: Path, code: str) -> None:
    if remembered_language(data_dir) == code:
        return
    try:
        (data_dir / LANGUAGE_FILE).write_text(code + "\n", encoding="ascii")
    except OSError as exc:
        log.warning("could not remember the UI language in %s: %s", data_dir, exc)


def apply_frame_language(app: QCoreApplication, language: str) -> list[QTranslator]:
    """apply_language before the store's modules load (client.ui.lang needs them): translators and the
    locale; run_gui calls apply_language once the store has said its setting."""
    locale = (
        QLocale(QLocale.Language.English, QLocale.Country.UnitedStates)
        if language == "en"
        else QLocale(QLocale.Language.Chinese, QLocale.Country.China)
    )
    QLocale.setDefault(locale)
    return install_translators(app, language)


# -- the entry point ------------------------------------------------------------------------------------


FIRST_WINDOW_AT: float | None = None  # time.time() when the main window showed
# ... and the start-up window (正在打开…), shown before the store opens
STARTUP_WINDOW_AT: float | None = None
# Called with the main window once shown (maybe only its frame: its pages come with the store) ...
ON_WINDOW_SHOWN: list[Callable[[QWidget], None]] = []
# ... and once its pages are built (benchmarks/client_scale_bench.py times 待办 from there).
ON_WINDOW_READY: list[Callable[[Any], None]] = []


def _close_first(startup: QWidget, window: QWidget | None) -> None:
    """The store did not open: away with what showed meanwhile."""
    if window is not None:
        window.hide()  # (its frame does not close before its pages are built)
        window.deleteLater()
    else:
        startup.close()


def run_gui(data_dir: Path, *, smoke: bool = False, clock: Clock | None = None) -> int:
    """Open the client on data_dir and run until the window closes; returns the exit code."""
    timer = QElapsedTimer()
    timer.start()
    data_dir = Path(data_dir)
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
        log_path, handler = setup_logging(data_dir)
    except OSError as exc:
        sys.stderr.write(
            f"无法使用数据文件夹 {data_dir}：{exc}\ncannot use the data folder: {exc}\n"
        )
        return 2
    guard_singleton_refcounts()
    existing = QApplication.instance()
    app = existing if isinstance(existing, QApplication) else QApplication(sys.argv[:1])
    from client.ui.single_instance import WindowGuard, already_open, bring_to_front

    guard = WindowGuard(data_dir)  # one window per data folder (client/ui/single_instance.py)
    if not guard.acquire():
        log.info("a window is open on %s already", data_dir)
        already_open(data_dir, show_dialog=not smoke)
        logging.getLogger().removeHandler(handler)
        handler.close()
        return 0
    app.setApplicationName("school-client")
    app.setOrganizationName("county-edu")
    original_font = QFont(
        app.font()
    )  # restored when an existing application (a test) is handed back
    previous_handler = qInstallMessageHandler(_qt_message)
    reporter = ErrorReporter(log_path, show_dialog=not smoke)
    reporter.install()
    translators: list[QTranslator] = []
    ctx: ClientContext | None = None
    global FIRST_WINDOW_AT, STARTUP_WINDOW_AT
    FIRST_WINDOW_AT = None
    screen = QGuiApplication.primaryScreen()
    # The main window's frame shows at once in the language the store last said; its pages are built once
    # the store is open. Without that language (the first start after this update) the start-up window
    # (正在打开…) shows instead, and the whole main window after the store.
    frame_language = remembered_language(data_dir)
    window: MainWindow | None = None
    startup: StartupWindow | None = None
    guard.listen(lambda: bring_to_front(window))  # a second start asks for this window
    try:
        if frame_language is not None:
            translators = apply_frame_language(app, frame_language)
            choose_font(app)
            from client.ui.main_window import MainWindow

            window = MainWindow()
            window.show_on_screen(screen)
            FIRST_WINDOW_AT = STARTUP_WINDOW_AT = time.time()  # benchmarks/client_scale_bench.py
            for hook in ON_WINDOW_SHOWN:
                hook(window)
            startup = window.opening
            QApplication.processEvents()  # painted now: the store and the pages take a while
        else:
            startup = show_startup_window()
            STARTUP_WINDOW_AT = time.time()
        log.info("starting; data folder %s%s", data_dir, " (smoke test)" if smoke else "")

        def open_context() -> ClientContext:
            # The store's modules (SQLAlchemy, the forms) load here, on the thread that opens the store,
            # while the window shown answers (painted, moved); nothing of them is imported meanwhile on
            # the GUI thread, which only waits.
            from client.context import ClientContext

            return ClientContext.open(data_dir, clock=clock)

        try:
            ctx = run_beside(startup, data_dir, open_context)
        except UpgradeUnderWay as exc:
            log.warning("a second start while the store is migrated: %s", exc)
            _close_first(startup, window)
            if not smoke:
                QMessageBox.information(
                    None, "学校数据采集客户端", f"{exc.message_zh}\n\n{exc.message_en}"
                )
            return 1
        except Exception as exc:
            log.exception("could not open the data folder")
            _close_first(startup, window)
            if not smoke:
                QMessageBox.critical(
                    None,
                    "学校数据采集客户端",
                    f"无法打开数据文件夹：\n{data_dir}\n\n{exc}\n\n"
                    "请确认磁盘没有写满、文件夹可以写入，且本程序没有同时打开两次。\n\n"
                    "The data folder cannot be opened: check that the disk is not full, the folder is "
                    "writable and the program is not open twice.",
                )
            return 1
        language = read_language(ctx)
        remove_translators(app, translators)
        translators = apply_language(app, language)
        remember_language(data_dir, language)
        if language != frame_language:
            choose_font(app)

        from client.ui.lock import install as install_lock
        from client.ui.main_window import MainWindow
        from client.ui.tasks import TaskManager

        tasks = TaskManager()
        if window is None:
            window = MainWindow(ctx, tasks)
        else:
            window.attach(ctx, tasks)
        install_lock(window)  # the sensitive forms ask for the PIN (client.ui.lock)
        if FIRST_WINDOW_AT is None:
            window.show_on_screen(screen)
            FIRST_WINDOW_AT = time.time()  # read by benchmarks/client_scale_bench.py
            startup.close()
            for hook in ON_WINDOW_SHOWN:
                hook(window)
        for hook in ON_WINDOW_READY:
            hook(window)
        from client.cli import package_version
        from client.update.install import mark_started

        mark_started(data_dir, package_version())  # issue 16: a new version's first start went well
        log.info("window ready after %d ms", timer.elapsed())
        _log_placement(window, screen)
        if not smoke:
            from client.ui.recovery_dialog import show_recovery_code_once

            show_recovery_code_once(data_dir, window)  # once: the data key was just made
            _start_daily_backup(ctx, tasks, window)
            window.sync.start()  # a sync now when enrolled, then every few minutes
            code = app.exec()
        else:
            code = _smoke(app, tasks)
            window.close()
        tasks.wait()
        return 1 if smoke and reporter.errors else code
    finally:
        if startup is not None and (window is None or startup is not window.opening):
            startup.close()
            startup.deleteLater()
        reporter.uninstall()
        remove_translators(app, translators)
        qInstallMessageHandler(previous_handler)
        if existing is not None:
            app.setFont(original_font)
        if ctx is not None:
            ctx.close()
        guard.release()
        log.info("stopped")
        logging.getLogger().removeHandler(handler)
        handler.close()


def _log_placement(window: QWidget, screen: QScreen | None) -> None:
    QApplication.processEvents()
    frame = window.frameGeometry()
    full = screen.geometry() if screen is not None else frame
    log.info(
        "window %dx%d%s on a screen of %dx%d",
        frame.width(),
        frame.height(),
        " maximized" if window.isMaximized() else "",
        full.width(),
        full.height(),
    )


def _smoke(app: QApplication, tasks: Any) -> int:
    """Let the window load (a few rounds of events and background reads), then report success."""
    for _ in range(5):
        app.processEvents()
        tasks.wait(10000)
        app.processEvents()
    return 0


def _start_daily_backup(ctx: ClientContext, tasks: Any, window: Any) -> None:
    try:
        from client.store.backup import daily_backup
    except ImportError:
        log.info("backups not available in this build")
        return
    store, today = ctx.store, ctx.clock.today()

    def failed(exc: Exception) -> None:
        log.error("daily backup failed: %s", exc)
        window.status.showMessage(
            QCoreApplication.translate("App", "今天的自动备份没有成功，请到“设置”里手动备份。"), 0
        )

    tasks.run_db(lambda: daily_backup(store, today), on_done=None, on_error=failed)
