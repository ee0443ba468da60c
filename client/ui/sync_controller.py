"""The GUI around the sync engine (as Anki's aqt/sync.py wraps collection.sync_collection): when to sync, and
what to tell the window. No widgets here.

    controller = SyncController(ctx, tasks)
    controller.start()        # a sync now if this computer is enrolled, then every few minutes
    controller.sync_now()     # 立即同步
    controller.enroll(url, code, on_done=..., on_error=...)

Never two syncs at once: a sync asked for while one runs starts when it ends. A USB export or import holds
syncs off (`hold()` / `release()`: both read and write the outbox); a sync asked for meanwhile starts at the
release. Across processes each sync holds the data folder's sync lock (client/sync/lock.py), as
`school-client sync` and the USB export and import do: while another process syncs, an automatic sync is
skipped quietly (the next one comes at the usual interval) and 立即同步 says 另一个同步正在进行 (`busy`).
Each sync runs
`SyncEngine.sync` on the TaskManager's network pool with this controller's own requests.Session; its progress
and result come back to the GUI thread by signal. After a network failure the next automatic try waits
longer each time (1, 2, 4 ... minutes, jittered, at most half an hour or the interval) or as long as the
server asked (Retry-After); 立即同步 always tries at once. When the server no longer accepts this computer
(401/403) automatic syncing stops until it is enrolled again.
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, QTimer, Signal
from sqlalchemy import func, select

from client.context import ClientContext
from client.store import sync_state as S
from client.store.models import Record, Revision, Status
from client.store.prefs import get_setting, set_setting
from client.sync.errors import ErrorKind, SyncError
from client.sync.state import SyncProgress, SyncResult
from client.ui.tasks import TaskManager

if TYPE_CHECKING:
    import requests

    from client.sync.engine import SyncEngine
    from client.sync.lock import SyncLock

log = logging.getLogger(__name__)

SETTING_INTERVAL = "sync_interval_minutes"
DEFAULT_INTERVAL_MINUTES = 5
MIN_INTERVAL_MINUTES = 1
MAX_INTERVAL_MINUTES = 240
RETRY_BASE_MS = 60_000  # the first automatic retry after a network failure
MAX_BACKOFF_MS = 30 * 60_000
# In the background a request is tried three times (2 s, 4 s apart): the next sync comes soon anyway
# (client.sync.http.RetryPolicy's fields; made with the engine, whose module imports requests).
GUI_RETRY_ATTEMPTS, GUI_RETRY_BASE, GUI_RETRY_CAP = 3, 2.0, 30.0
# SyncError.code of a failure in this program rather than the network or the server (a bug, a full disk).
CLIENT_ERROR = "client_error"

# Statuses only the bureau's server gives a record (a save here makes draft or submitted).
_SERVER_STATUSES = (Status.RECEIVED, Status.RETURNED, Status.ACCEPTED)


@dataclass(frozen=True)
class RecordChange:
    """An open record that a sync changed: reload its editor, or tell the clerk when it has unsaved work."""

    record_id: str
    form_id: str
    by_server: bool  # new data, a return or an acceptance from the bureau (not just "sent")


@dataclass(frozen=True)
class SyncOutcome:
    result: SyncResult | None
    error: SyncError | None
    changed: tuple[RecordChange, ...]
    cancelled: bool = False


class _Cancelled(Exception):
    """Raised by the engine's sleep when the controller stops: the sync ends at once."""


_State = tuple[
    str, str, Any, int
]  # form id, status, review comments, last revision the server made


def _record_states(Session: Any, ids: Iterable[str]) -> dict[str, _State]:
    wanted = sorted(set(ids))
    if not wanted:
        return {}
    with Session() as s:
        rows = s.execute(
            select(Record.id, Record.form_id, Record.status, Record.review_comments).where(
                Record.id.in_(wanted)
            )
        ).all()
        server_revs = dict(
            s.execute(
                select(Revision.record_id, func.max(Revision.revision))
                .where(Revision.record_id.in_(wanted), Revision.status.in_(_SERVER_STATUSES))
                .group_by(Revision.record_id)
            ).all()
        )
    return {
        rid: (form_id, status, comments, int(server_revs.get(rid) or 0))
        for rid, form_id, status, comments in rows
    }


def _changes(before: Mapping[str, _State], after: Mapping[str, _State]) -> tuple[RecordChange, ...]:
    out: list[RecordChange] = []
    for rid, now in after.items():
        was = before.get(rid)
        if was is None or was == now:
            continue
        form_id, status, comments, server_rev = now
        by_server = server_rev != was[3] or (
            status in (Status.RETURNED, Status.ACCEPTED)
            and (status != was[1] or comments != was[2])
        )
        out.append(RecordChange(rid, form_id, by_server))
    return tuple(out)


class SyncController(QObject):
    status_changed = Signal(object)  # S.SyncStatus, after start, each sync and each enrollment
    interval_changed = Signal(int)  # minutes between automatic syncs
    started = Signal()
    progress = Signal(object)  # SyncProgress, on the GUI thread
    finished = Signal(object)  # SyncResult of a sync that reached the end (maybe with conflicts)
    failed = Signal(object)  # SyncError: the server could not be reached or refused
    records_changed = Signal(object)  # tuple[RecordChange, ...]: records the watched editors show
    idle = Signal()  # after every sync (finished, failed or cancelled) and its bookkeeping
    enrolled = Signal(object)  # S.Enrollment
    busy = Signal(
        str
    )  # 立即同步 found another process syncing this data folder: what to tell the clerk
    _worker_progress = Signal(object)  # from the network thread; re-emitted as `progress`

    def __init__(
        self,
        ctx: ClientContext,
        tasks: TaskManager,
        parent: QObject | None = None,
        *,
        session_factory: Callable[[], requests.Session] | None = None,
        engine_options: Mapping[str, Any] | None = None,
        interval_ms: int | None = None,
        retry_base_ms: int = RETRY_BASE_MS,
        max_backoff_ms: int = MAX_BACKOFF_MS,
        rng: random.Random | None = None,
    ) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.tasks = tasks
        # None: requests.Session, imported with the sync engine when the first sync or enrollment starts
        # (requests and urllib3 are not needed to show the window: ~17 MB and a quarter second).
        self._session_factory = session_factory
        self._engine_options: dict[str, Any] = dict(engine_options or {})
        self._fixed_interval_ms = interval_ms  # tests: a short interval instead of the setting
        self._interval_minutes = DEFAULT_INTERVAL_MINUTES
        self._retry_base_ms = retry_base_ms
        self._max_backoff_ms = max_backoff_ms
        self._rng = rng or random.Random()
        # Record ids whose changes matter to the window (the open editors); set by the main window.
        self.watched: Callable[[], list[str]] = list
        self.status: S.SyncStatus | None = None
        self.last_error: SyncError | None = None
        self.syncs = 0  # syncs run (tests and the log)
        self._started = False
        self._stopped = False
        self._running = False
        self._again = False  # a sync was asked for while one ran (or while held)
        self._held = False  # a USB export or import runs: no sync starts until it ends
        # The server refused this computer (401/403): no automatic syncs until it is enrolled again.
        self._paused = False
        self._failures = 0  # network failures in a row
        self._cancel = threading.Event()
        self._http: requests.Session | None = None
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self._timer_fired)
        self._worker_progress.connect(self._relay_progress)

    def _relay_progress(self, progress: SyncProgress) -> None:
        if self._running:
            self.progress.emit(progress)

    # -- state ----------------------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self._running

    @property
    def held(self) -> bool:
        return self._held

    @property
    def is_enrolled(self) -> bool:
        return self.status is not None and self.status.enrolled

    @property
    def auto_retry(self) -> bool:
        """Whether a failed sync will be tried again by itself."""
        return self._started and not self._stopped and not self._paused and self.is_enrolled

    @property
    def interval_minutes(self) -> int:
        return self._interval_minutes

    def interval_ms(self) -> int:
        if self._fixed_interval_ms is not None:
            return self._fixed_interval_ms
        return self._interval_minutes * 60_000

    def next_sync_in_ms(self) -> int | None:
        """Milliseconds until the next automatic sync (None when none is planned)."""
        return self._timer.remainingTime() if self._timer.isActive() else None

    # -- starting and stopping ------------------------------------------------------------------------

    def start(self) -> None:
        """Read the settings and the sync state; sync now if enrolled (then every few minutes)."""
        if self._started:
            return
        self._started = True
        Session = self.ctx.store.Session

        def load() -> tuple[int, S.SyncStatus]:
            with Session() as s:
                minutes = get_setting(s, SETTING_INTERVAL, DEFAULT_INTERVAL_MINUTES)
                return _clamp_minutes(minutes), S.sync_status(s)

        def loaded(answer: tuple[int, S.SyncStatus]) -> None:
            minutes, status = answer
            self._interval_minutes = minutes
            self.interval_changed.emit(minutes)
            self._set_status(status)
            if self._stopped:
                return
            if status.enrolled:
                self._begin("start")

        self.tasks.run_db(load, on_done=loaded, on_error=self._status_failed)

    def stop(self) -> None:
        """The window closes: no more syncs; one running ends at its next step (or retry wait)."""
        self._stopped = True
        self._timer.stop()
        self._cancel.set()
        if not self._running:
            self._close_http()

    def _new_session(self) -> requests.Session:
        if self._session_factory is not None:
            return self._session_factory()
        import requests

        return requests.Session()

    def _close_http(self) -> None:
        if self._http is not None:
            self._http.close()
            self._http = None

    # -- asking for a sync ----------------------------------------------------------------------------

    def sync_now(self) -> bool:
        """立即同步: now (or right after the one running). False when this computer is not enrolled."""
        if self._stopped:
            return False
        if self.status is not None and not self.status.enrolled:
            return False
        self._paused = False
        if self._running:
            self._again = True
            return True
        self._begin("now")
        return True

    # -- holding syncs off ----------------------------------------------------------------------------

    def hold(self) -> bool:
        """A USB export or import is about to read and write the outbox: no sync starts until release().
        False, and nothing held, while a sync runs (the caller waits for `idle`)."""
        if self._running or self._held:
            return False
        self._held = True
        return True

    def release(self) -> None:
        """The USB export or import ended: a sync asked for meanwhile starts now."""
        if not self._held:
            return
        self._held = False
        if self._again and not self._stopped:
            self._begin("after a USB sync")
        self.refresh_status()

    def _timer_fired(self) -> None:
        if self._stopped or self._paused:
            return
        if self._running:
            self._again = True
            return
        self._begin("timer")

    def _begin(self, reason: str) -> None:
        if self._running or self._stopped:
            return
        if self._held:
            self._again = True  # starts at release()
            return
        lock = self._take_lock(reason)
        if lock is None:
            return
        try:
            self._start_job(reason, lock)
        except BaseException:
            # Review F4: anything failing before the job runs (watched() touching a deleted editor, the
            # engine's import) must not keep the lock for the window's life: every `school-client sync`
            # would exit 4 and this window would never sync again.
            lock.release()
            self._running = False
            if not self._stopped and not self._paused:
                self._timer.start(self.interval_ms())  # the automatic syncs go on
            raise

    def _start_job(self, reason: str, lock: SyncLock | _NoLock) -> None:
        """The sync job on the network pool; it lets `lock` go when it ends (taken by _begin)."""
        self._running = True
        self._again = False
        self._timer.stop()
        self._cancel = threading.Event()
        cancel = self._cancel
        if self._http is None:
            self._http = self._new_session()
        http = self._http
        ctx = self.ctx
        options = dict(self._engine_options)
        SyncEngine = _engine_class(options)
        watched = list(self.watched())
        report = self._worker_progress.emit
        self.syncs += 1
        log.info("sync %d starts (%s)", self.syncs, reason)

        def sleep(seconds: float) -> None:
            if cancel.wait(seconds):
                raise _Cancelled

        options.setdefault("sleep", sleep)

        def job() -> SyncOutcome:
            try:
                return run()
            finally:
                lock.release()  # at once, not when the GUI thread gets to it

        def run() -> SyncOutcome:
            before = _record_states(ctx.store.Session, watched)
            engine = SyncEngine(ctx, http, **options)
            result: SyncResult | None = None
            error: SyncError | None = None
            cancelled = False
            try:
                result = engine.sync(progress=report, cancel=cancel)
                cancelled = result.cancelled
            except SyncError as exc:
                error = exc
                result = exc.result if isinstance(exc.result, SyncResult) else None
            except _Cancelled:
                cancelled = True
            after = _record_states(ctx.store.Session, watched)
            return SyncOutcome(result, error, _changes(before, after), cancelled)

        self.started.emit()
        self.tasks.run_net(job, on_done=self._ended, on_error=self._crashed)

    def _take_lock(self, reason: str) -> SyncLock | _NoLock | None:
        """The data folder's sync lock, or None (and the next automatic sync planned) while another process
        syncs; 立即同步 is told why (`busy`), an automatic sync skips without a word."""
        from client.sync.lock import SyncBusy, SyncLock

        lock = SyncLock(self.ctx.store.data_dir, by="window", what="sync")
        try:
            lock.acquire()
        except SyncBusy as exc:
            log.info("sync skipped (%s): %s", reason, exc.message_en)
            self._again = False
            if not self._paused:
                self._timer.start(self.interval_ms())
            if reason == "now":
                self.busy.emit(
                    self.tr(
                        "另一个同步正在进行（另一个 school-client 命令正在同步这个数据文件夹），"
                        "本次没有同步，稍后会自动再试。"
                    )
                )
            return None
        except OSError as exc:  # the lock file cannot be made (a read-only folder): sync as before
            log.warning("the sync lock cannot be taken: %s", exc)
            return _NoLock()
        return lock

    # -- after a sync ---------------------------------------------------------------------------------

    def _ended(self, outcome: SyncOutcome) -> None:
        self._running = False
        if self._stopped:
            self._close_http()
            self.idle.emit()
            return
        delay: int | None = self.interval_ms()
        if outcome.error is not None:
            error = outcome.error
            self.last_error = error
            if error.kind is ErrorKind.AUTH:
                self._paused = True
                delay = None
            elif error.retryable:
                self._failures += 1
                delay = self._backoff_ms(error)
            else:
                self._failures = 0
            self.failed.emit(error)
        elif outcome.result is not None and not outcome.cancelled:
            self.last_error = None
            self._failures = 0
            self.finished.emit(outcome.result)
        if outcome.changed:
            self.records_changed.emit(outcome.changed)
        if self._again:
            delay = 0
        if delay is not None:
            self._timer.start(max(0, delay))
        self.refresh_status()
        self.idle.emit()

    def _crashed(self, exc: Exception) -> None:
        """A bug, not a sync problem: it is logged (by the task) and told; syncing goes on as usual."""
        self._running = False
        error = SyncError(
            ErrorKind.SERVER,
            f"同步时程序出错：{exc}",
            f"the program failed while syncing: {exc}",
            code=CLIENT_ERROR,
        )
        self.last_error = error
        if not self._stopped:
            self.failed.emit(error)
            self._timer.start(self.interval_ms())
            self.refresh_status()
        self.idle.emit()

    def _backoff_ms(self, error: SyncError) -> int:
        ceiling = max(self._max_backoff_ms, self.interval_ms())
        step = min(ceiling, self._retry_base_ms * 2 ** min(self._failures - 1, 20))
        delay = int(step * self._rng.uniform(0.8, 1.2))
        if error.retry_after is not None:
            delay = max(delay, int(error.retry_after * 1000))
        return min(delay, int(ceiling * 1.2))

    # -- status ---------------------------------------------------------------------------------------

    def refresh_status(self) -> None:
        Session = self.ctx.store.Session

        def load() -> S.SyncStatus:
            with Session() as s:
                return S.sync_status(s)

        self.tasks.run_db(load, on_done=self._set_status, on_error=self._status_failed)

    def _set_status(self, status: S.SyncStatus) -> None:
        self.status = status
        self.status_changed.emit(status)

    def _status_failed(self, exc: Exception) -> None:
        log.error("could not read the sync state: %s", exc)

    # -- settings -------------------------------------------------------------------------------------

    def set_interval(self, minutes: int) -> None:
        """Minutes between automatic syncs (kept in the settings); the next one is planned anew."""
        minutes = _clamp_minutes(minutes)
        if minutes == self._interval_minutes:
            return
        self._interval_minutes = minutes
        Session = self.ctx.store.Session

        def save() -> None:
            with Session.begin() as s:
                set_setting(s, SETTING_INTERVAL, minutes)

        self.tasks.run_db(save, on_error=self._status_failed)
        self.interval_changed.emit(minutes)
        if self._timer.isActive() and self._failures == 0:
            self._timer.start(self.interval_ms())

    # -- enrollment -----------------------------------------------------------------------------------

    def enroll(
        self,
        server_url: str,
        code: str,
        *,
        on_done: Callable[[S.Enrollment], None] | None = None,
        on_error: Callable[[Exception], None] | None = None,
    ) -> None:
        """Trade an enrollment code for this computer's token (on the network pool); then sync at once."""
        ctx = self.ctx
        factory = self._new_session
        options = {k: v for k, v in self._engine_options.items() if k != "sleep"}
        SyncEngine = _engine_class(options)

        def job() -> S.Enrollment | SyncError:
            with factory() as http:
                try:
                    return SyncEngine(ctx, http, **options).enroll(server_url, code)
                except (
                    SyncError
                ) as exc:  # expected (a mistyped code, no network): no traceback logged
                    log.warning("enrollment failed: %s", exc.one_line())
                    return exc

        def done(answer: S.Enrollment | SyncError) -> None:
            if isinstance(answer, SyncError):
                failed(answer)
                return
            enrollment = answer
            log.info("enrolled for school %s", enrollment.school_code)
            self._paused = False
            self._failures = 0
            self.last_error = None
            if on_done is not None:
                on_done(enrollment)
            self.enrolled.emit(enrollment)
            if self._stopped:
                return
            self._started = True
            if self._running:
                self._again = True
            else:
                self._begin("enrolled")
            self.refresh_status()

        def failed(exc: Exception) -> None:
            if on_error is not None:
                on_error(exc)

        self.tasks.run_net(job, on_done=done, on_error=failed)


class _NoLock:
    def release(self) -> None:
        pass


def _engine_class(options: dict[str, Any]) -> type[SyncEngine]:
    """The sync engine, imported on the GUI thread when the first sync or enrollment starts (not while the
    window opens: requests and urllib3 are ~17 MB and a quarter second; not on the network thread, where
    it could meet a dialog importing the same packages half-way); options get the background retry policy."""
    from client.sync.engine import SyncEngine
    from client.sync.http import RetryPolicy

    options.setdefault("policy", RetryPolicy(GUI_RETRY_ATTEMPTS, GUI_RETRY_BASE, GUI_RETRY_CAP))
    return SyncEngine


def _clamp_minutes(value: Any) -> int:
    try:
        minutes = int(value)
    except (TypeError, ValueError):
        return DEFAULT_INTERVAL_MINUTES
    return max(MIN_INTERVAL_MINUTES, min(MAX_INTERVAL_MINUTES, minutes))
