"""The form engine's worker processes: a push's records checked on another core.

`sync-server serve` is one Python process, and under the GIL its Python work runs on one core at a time; with
300 schools pushing at once that core was the limit (issue 14, goal 3), while the machine's other core sat
mostly idle. The form engine is about a fifth of a push's CPU and needs nothing but the record and its form:
here a worker process reads the push's body (the bytes as received, gunzipped), runs the engine on the upserts
it is asked about and sends back, for each, the checked data as the JSON text the server stores (or None when
the engine found problems: the serving process then checks that record itself, for the full answer).

Only an accelerator. Whatever goes wrong with a worker - it died, hangs, answers something else, or cannot
be started - the push is checked in the serving process exactly as without workers, the worker is replaced,
and after repeated failures the pool stops using workers (logged). Every record is still evaluated by the
very same form engine and the same definition text (a FormDef is parsed in the worker from the text the
database holds, by its sha256), with the same `today` and `now`.

Workers are plain child processes (`python -m sync_server.services.check_pool`, the same on Windows and Linux,
whatever started the serving process), ignore Ctrl+C (the serving process stops them), and exit when the
serving process's end of their pipe closes.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import os
import pickle
import queue
import signal
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from forms.model import FormDef

log = logging.getLogger(__name__)

# A push with fewer records to check than this is checked in the serving process: the pipe's round trip
# (~0.1-0.2 ms) costs more than the engine on a record or two.
MIN_RECORDS = 3
ANSWER_TIMEOUT = (
    60.0  # seconds: a worker that has not answered by then is taken to hang (2,000 records: ~0.3 s)
)
WAIT_FOR_WORKER = 10.0  # seconds a push waits for a free worker before it checks its records itself
MAX_RESTARTS = 5  # workers replaced within RESTART_WINDOW before the pool gives up on workers
RESTART_WINDOW = 300.0

Source = Callable[[FormDef], "tuple[str, str] | None"]  # a FormDef -> (sha256, definition text)


def default_workers(cpu_count: int | None) -> int:
    """One worker when the machine has a core besides the serving process's (the serving process stays the
    bottleneck: one worker takes its share of the engine with room to spare), else none."""
    return 1 if (cpu_count or 1) >= 2 else 0


def _write_frame(stream: Any, value: Any) -> None:
    data = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(_LENGTH.pack(len(data)) + data)
    stream.flush()


def _read_frame(stream: Any) -> Any:
    """The next value from the pipe; EOFError when it closed."""
    head = _read_exactly(stream, _LENGTH.size)
    return pickle.loads(_read_exactly(stream, _LENGTH.unpack(head)[0]))


def _read_exactly(stream: Any, size: int) -> bytes:
    parts: list[bytes] = []
    while size:
        chunk = stream.read(size)
        if not chunk:
            raise EOFError("the pipe closed")
        parts.append(chunk)
        size -= len(chunk)
    return b"".join(parts)


_LENGTH = struct.Struct("<Q")
_PACKAGE_ROOT = str(Path(__file__).resolve().parents[2])  # where `sync_server` is found


class _Worker:
    """One worker process: `python -m sync_server.services.check_pool`, values pickled over its stdin and
    stdout. A plain child process, so that it never depends on how the serving process was started (its
    __main__, as multiprocessing's spawn would)."""

    def __init__(self) -> None:
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (_PACKAGE_ROOT, env.get("PYTHONPATH")) if p)
        # -P: the worker's modules come from where this process's come from (PYTHONPATH), never from the
        # folder the server was started in (which `-m` would put first: an older copy of forms/ there would
        # check the records).
        self.process = subprocess.Popen(
            [sys.executable, "-P", "-m", __name__],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env,
            bufsize=0,
        )
        self._replies: queue.Queue[Any] = queue.Queue()
        # Requests are written by a thread of their own: a worker that stops reading (suspended, say)
        # blocks that thread, not the push, which gives up at its answer timeout.
        self._requests: queue.Queue[Any] = queue.Queue()
        threading.Thread(target=self._read, name="form-check-reader", daemon=True).start()
        threading.Thread(target=self._write, name="form-check-writer", daemon=True).start()
        self.known: set[str] = set()  # the sha256s of definitions this worker was sent

    def _read(self) -> None:
        try:
            while True:
                self._replies.put(_read_frame(self.process.stdout))
        except Exception as exc:  # EOF (the worker exited) or a broken frame
            self._replies.put(EOFError(f"the worker's pipe: {exc}"))

    def _write(self) -> None:
        while True:
            message = self._requests.get()
            try:
                _write_frame(self.process.stdin, message)
            except Exception as exc:  # the worker is gone: its reply never comes
                self._replies.put(EOFError(f"the worker's pipe: {exc}"))
                return
            if message is None:
                return

    def send(self, message: tuple[Any, ...]) -> None:
        self._requests.put(message)

    def receive(self, timeout: float) -> Any:
        try:
            reply = self._replies.get(timeout=timeout)
        except queue.Empty:
            raise TimeoutError(f"no answer within {timeout:g} s") from None
        if isinstance(reply, EOFError):
            raise reply
        return reply

    def stop(self, timeout: float = 2.0) -> None:
        """Ask the worker to end, kill it if it does not; never raises."""
        self._requests.put(None)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(OSError):
                self.process.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout)
        for pipe in (self.process.stdin, self.process.stdout):
            with contextlib.suppress(OSError, ValueError):
                pipe.close()  # type: ignore[union-attr]


class CheckPool:
    """`workers` processes running the form engine for pushes. Thread-safe; check() never raises."""

    def __init__(
        self,
        workers: int,
        source: Source,
        *,
        answer_timeout: float = ANSWER_TIMEOUT,
        wait_for_worker: float = WAIT_FOR_WORKER,
    ) -> None:
        self._source = source
        self._answer_timeout = answer_timeout
        self._wait_for_worker = wait_for_worker
        self._lock = threading.Lock()
        self._idle: queue.Queue[_Worker] = queue.Queue()
        self._all: list[_Worker] = []
        self._restarts: list[float] = []
        self._closed = False
        self._active = 0
        self._gave_up_at: float | None = None
        self.failures = 0  # answers not used (for figures and tests)
        self.checked = 0  # records whose check came from a worker
        for _ in range(workers):
            self._add()

    @property
    def workers(self) -> int:
        with self._lock:
            return len(self._all)

    def pids(self) -> list[int]:
        with self._lock:
            return [w.process.pid for w in self._all if w.process.pid is not None]

    def _add(self) -> None:
        worker = _Worker()
        with self._lock:
            closed = self._closed
            if not closed:
                self._all.append(worker)
        if closed:  # closed meanwhile (a replacement racing close())
            worker.stop(timeout=0.5)
            return
        self._idle.put(worker)

    def check(
        self,
        raw: bytes,
        items: Sequence[tuple[int, str, FormDef]],
        *,
        today: dt.date,
        now: dt.datetime,
        meanwhile: Callable[[], None] | None = None,
    ) -> dict[int, str | None] | None:
        """For each (index in the body's `changes`, its op_id, its FormDef): the checked data as JSON
        text, or None (the engine found problems). An index left out (its form's text unknown here) or a
        None answer for the whole call (no worker could answer): the caller checks those itself.
        `meanwhile`: the caller's own share of the work, run while a worker does its share (only once a
        worker has the request: not run when None is answered before that)."""
        with self._lock:
            retry = (
                not self._closed
                and not self._all
                and self._gave_up_at is not None
                and time.monotonic() - self._gave_up_at > RESTART_WINDOW
            )
            if retry:
                self._gave_up_at = None
                self._restarts.clear()
        if retry:  # given up a while ago: try a worker again
            with contextlib.suppress(Exception):
                self._add()
        with self._lock:
            if self._closed or not self._all:  # closed, or given up on workers
                return None
            self._active += 1
        try:
            return self._check(raw, items, today, now, meanwhile)
        finally:
            with self._lock:
                self._active -= 1

    @property
    def busy(self) -> int:
        """Pushes being checked through the workers right now."""
        with self._lock:
            return self._active

    def _check(
        self,
        raw: bytes,
        items: Sequence[tuple[int, str, FormDef]],
        today: dt.date,
        now: dt.datetime,
        meanwhile: Callable[[], None] | None,
    ) -> dict[int, str | None] | None:
        sources: dict[int, tuple[FormDef, str, str]] = {}  # id(form) -> (form, sha256, text)
        asked: list[tuple[int, str, str]] = []
        for index, op_id, form in items:
            known = sources.get(id(form))
            if known is None:
                found = self._source(form)
                if found is None:
                    continue
                known = sources[id(form)] = (form, *found)
            asked.append((index, op_id, known[1]))
        if len(asked) < MIN_RECORDS:
            return None
        try:
            worker = self._idle.get(timeout=self._wait_for_worker)
        except queue.Empty:
            return None
        definitions = [
            (sha, form.form_id, form.version, text)
            for form, sha, text in sources.values()
            if sha not in worker.known
        ]
        try:
            worker.send((raw, today, now, asked, definitions))
        except Exception as exc:
            self._failed(worker, exc)
            return None
        if meanwhile is not None:
            try:
                meanwhile()
            except BaseException:
                self._replace(worker)  # its answer is not waited for
                raise
        try:
            reply = worker.receive(self._answer_timeout)
            if isinstance(reply, tuple) and len(reply) == 2 and reply[0] == "error":
                # The engine raised on this batch in the worker: the worker is fine, the serving process
                # checks the batch itself (and says what is wrong with it).
                log.warning("form check worker %s: %s", worker.process.pid, str(reply[1])[:300])
                self._idle.put(worker)
                return None
            if not (isinstance(reply, tuple) and len(reply) == 2 and reply[0] == "ok"):
                raise RuntimeError(f"the worker answered {str(reply)[:300]}")
            answers = reply[1]
            worker.known.update(sha for sha, *_ in definitions)
            out: dict[int, str | None] = {}
            for index, text in answers:
                out[index] = text
            self.checked += len(out)
        except Exception as exc:
            self._failed(worker, exc)
            return None
        self._idle.put(worker)
        return out

    def _failed(self, worker: _Worker, exc: Exception) -> None:
        """A worker's failure never fails the push: the caller checks it itself."""
        self.failures += 1
        log.warning("form check worker %s failed (%s); replacing it", worker.process.pid, exc)
        self._replace(worker)

    def _replace(self, worker: _Worker) -> None:
        worker.stop(timeout=0.5)
        with self._lock:
            if worker in self._all:
                self._all.remove(worker)
            now = time.monotonic()
            self._restarts = [t for t in self._restarts if now - t < RESTART_WINDOW]
            if self._closed or len(self._restarts) >= MAX_RESTARTS:
                if not self._closed and not self._all:
                    self._gave_up_at = now
                    log.error(
                        "form check workers failed %d times in %d s; pushes are checked in the "
                        "serving process (workers are tried again after %d s)",
                        len(self._restarts) + 1,
                        RESTART_WINDOW,
                        RESTART_WINDOW,
                    )
                return
            self._restarts.append(now)
        try:
            self._add()
        except Exception as exc:
            log.error("cannot start a form check worker (%s); pushes are checked here", exc)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            workers = list(self._all)
            self._all.clear()
        for worker in workers:
            worker.stop()


# -- in the worker process ---------------------------------------------------------------------------


def serve_worker(requests: Any, answers: Any) -> None:
    """A worker's life: answer requests until the serving process sends None or goes away."""
    from forms import json_fast
    from forms.engine import evaluate
    from forms.loader import load_yaml_text
    from sync_server.json_text import dumps

    forms: dict[str, FormDef] = {}
    while True:
        try:
            message = _read_frame(requests)
        except (EOFError, OSError):
            return
        if message is None:
            return
        try:
            raw, today, now, asked, definitions = message
            for sha, form_id, version, text in definitions:
                if sha not in forms:
                    forms[sha] = load_yaml_text(
                        text, file=f"{form_id}@{version}", check_identifiers=False
                    )
            # The serving process took these very bytes with strict_loads (UTF-8, no NaN, no lone
            # surrogate, nesting) before asking: json_fast gives the same values without checking again.
            changes = json_fast.loads(raw)["changes"]
            answers_: list[tuple[int, str | None]] = []
            for index, op_id, sha in asked:
                item = changes[index]
                if item.get("op_id") != op_id:
                    continue  # not the change the serving process means: it checks that one itself
                ev = evaluate(forms[sha], item["data"], today=today, now=now)
                answers_.append((index, None if ev.problems else dumps(ev.data)))
            reply: tuple[str, Any] = ("ok", answers_)
        except Exception as exc:
            reply = ("error", f"{type(exc).__name__}: {exc}")
        try:
            _write_frame(answers, reply)
        except (OSError, ValueError):
            return


def main() -> None:
    """The worker process: requests on stdin, answers on stdout (anything else printed goes to stderr, so
    that it cannot break a frame)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl+C reaches the whole console: we are stopped
    answers = os.fdopen(os.dup(sys.stdout.fileno()), "wb", buffering=0)
    if sys.stderr is not None:
        os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
        sys.stdout = sys.stderr
    else:  # no console (pythonw, a service without one): what is printed goes nowhere
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.stdout = sys.stderr = open(os.devnull, "w", encoding="utf-8")  # noqa: SIM115
    serve_worker(sys.stdin.buffer, answers)


if __name__ == "__main__":
    main()
