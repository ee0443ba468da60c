"""The form engine's worker processes (issue 14, goal 3; services.check_pool): a push's records checked in
another process give exactly what the serving process would have stored, and a worker that dies, hangs or
answers for another change never costs a push anything - it is checked in the serving process instead.
Real worker processes (spawn), a real `sync-server serve` on a real SQLite file."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
import requests
import sqlalchemy as sa

from forms.engine import evaluate
from forms.loader import load_yaml_text
from forms.model import FormDef
from sync_server import models as M
from sync_server.db import open_database
from sync_server.json_text import dumps
from sync_server.services import check_pool
from sync_server.services.check_pool import CheckPool
from tests.server.conftest import START, change
from tests.support import served
from tests.support.samples import inspection

DEFINITION = (
    Path(__file__).resolve().parents[2] / "forms" / "definitions" / "safety_inspection.yaml"
).read_text(encoding="utf-8")
TODAY = dt.date(2026, 11, 28)
NOW = dt.datetime(2026, 11, 28, 9, 30)


def _form() -> FormDef:
    return load_yaml_text(DEFINITION, file="safety_inspection.yaml", check_identifiers=False)


def _records() -> list[dict[str, Any]]:
    """Valid inspections with answers of every kind, and some the engine refuses."""
    hazard = dict(inspection()["hazards"][0])
    return [
        inspection(),
        inspection(
            inspectors="王芳、“引号”\\反斜杠", hazards=[{**hazard, "description": "电线裸露\n二行"}]
        ),
        inspection(hazards_found="no", hazards=[]),
        inspection(inspection_date="2026-13-01"),  # no such date
        inspection(inspection_date="2027-01-01"),  # after today
        {k: v for k, v in inspection().items() if k != "inspectors"},  # a required answer missing
        inspection(hazards=[{**hazard, "severity": "nonsense"}]),  # not one of the choices
        inspection(areas=["fire_equipment", "canteen"], signed_by=" 赵校长 "),
    ]


def _expected(form: FormDef, data: dict[str, Any]) -> str | None:
    ev = evaluate(form, data, today=TODAY, now=NOW)
    return None if ev.problems else dumps(ev.data)


@pytest.fixture
def pool_of() -> Any:
    made: list[CheckPool] = []

    def make(form: FormDef, **kwargs: Any) -> CheckPool:
        pool = CheckPool(1, lambda f: ("sha-1", DEFINITION) if f is form else None, **kwargs)
        made.append(pool)
        return pool

    yield make
    for pool in made:
        pool.close()


def _body(records: list[dict[str, Any]]) -> tuple[bytes, list[dict[str, Any]]]:
    changes = [change(r) for r in records]
    return json.dumps({"changes": changes}, ensure_ascii=False).encode(), changes


def _all_valid(form: FormDef, n: int) -> dict[int, str | None]:
    """What the pool answers for the n valid inspections of _inspections."""
    return {i: _expected(form, inspection()) for i in range(n)}


def _inspections(form: FormDef, n: int) -> tuple[bytes, list[tuple[int, str, FormDef]]]:
    """A body of n valid inspections and the items that ask about each."""
    raw, changes = _body([inspection() for _ in range(n)])
    return raw, [(i, c["op_id"], form) for i, c in enumerate(changes)]


def test_a_worker_answers_each_record_as_the_serving_process_would(pool_of: Any) -> None:
    form = _form()
    pool = pool_of(form)
    records = _records()
    raw, changes = _body(records)
    answers = pool.check(
        raw, [(i, c["op_id"], form) for i, c in enumerate(changes)], today=TODAY, now=NOW
    )
    assert answers == {i: _expected(form, r) for i, r in enumerate(records)}
    assert (
        sum(a is None for a in answers.values()) == 4
    )  # the refused ones: checked again by the batch
    # the second call needs no definition sent again, and answers alike
    assert (
        pool.check(
            raw, [(i, c["op_id"], form) for i, c in enumerate(changes)], today=TODAY, now=NOW
        )
        == answers
    )
    assert pool.failures == 0


def test_only_the_changes_the_worker_finds_by_op_id_and_form_are_answered(pool_of: Any) -> None:
    form = _form()
    pool = pool_of(form)
    raw, changes = _body([inspection() for _ in range(5)])
    other = _form()  # a FormDef whose definition the pool does not know
    items = [
        (0, changes[0]["op_id"], form),
        (1, "another-op", form),
        (2, changes[2]["op_id"], other),
    ]
    items += [(3, changes[3]["op_id"], form), (4, changes[4]["op_id"], form)]
    assert set(pool.check(raw, items, today=TODAY, now=NOW) or {}) == {0, 3, 4}
    # too few records to be worth the pipe: the caller checks them itself
    assert pool.check(raw, items[:2], today=TODAY, now=NOW) is None


def test_a_killed_worker_costs_one_push_its_worker_and_the_next_push_has_a_new_one(
    pool_of: Any,
) -> None:
    form = _form()
    pool = pool_of(form)
    raw, items = _inspections(form, 4)
    assert pool.check(raw, items, today=TODAY, now=NOW) is not None
    [first] = pool.pids()
    os.kill(first, signal.SIGKILL)
    time.sleep(0.2)
    assert pool.check(raw, items, today=TODAY, now=NOW) is None  # checked by the serving process
    assert pool.failures == 1
    [second] = pool.pids()
    assert second != first
    assert pool.check(raw, items, today=TODAY, now=NOW) == _all_valid(form, 4)


def test_a_worker_that_does_not_answer_in_time_is_replaced_and_after_repeated_failures_none_is_used(
    pool_of: Any,
) -> None:
    form = _form()
    pool = pool_of(form, answer_timeout=0.0005)
    raw, items = _inspections(form, 400)
    for _ in range(check_pool.MAX_RESTARTS + 1):
        assert pool.check(raw, items, today=TODAY, now=NOW) is None
    assert pool.failures == check_pool.MAX_RESTARTS + 1
    assert pool.workers == 0  # given up: pushes are checked in the serving process, without waiting
    started = time.monotonic()
    assert pool.check(raw, items, today=TODAY, now=NOW) is None
    assert time.monotonic() - started < 1


def test_a_bad_setting_stops_serve_before_it_listens(tmp_path: Path) -> None:
    instance = tmp_path / "instance"
    served.write_config(instance, {"serve_check_workers": -1})
    done = subprocess.run(
        [*served.SERVE, "--db", f"sqlite:///{tmp_path / 'sync.db'}", "--instance", str(instance)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=served.ROOT,
    )
    assert done.returncode == 2, done.stdout + done.stderr
    said = json.loads(done.stdout.strip().splitlines()[-1])
    assert "serve_check_workers" in json.dumps(said, ensure_ascii=False), said
    assert "Traceback" not in done.stderr


def _workers(pid: int) -> list[int]:
    """The form check workers among a process's children."""
    out: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        for child in task.read_text().split():
            if b"sync_server.services.check_pool" in Path(f"/proc/{child}/cmdline").read_bytes():
                out.append(int(child))
    return out


def _cpu(pid: int) -> int:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def _school_database(tmp_path: Path, name: str, template: Path) -> tuple[str, str]:
    """A copy of the migrated SQLite template with one school: (its URL, the school's enrollment code)."""
    path = tmp_path / f"{name}.db"
    path.write_bytes(template.read_bytes())
    url = f"sqlite:///{path}"
    db = open_database(url)
    from sync_server.services.schools import add_school

    with db.Session.begin() as s:
        code = add_school(s, code="P1", name="学校", now=START).enrollment_code
    db.close()
    return url, code


def _enroll(server: served.Served, code: str) -> str:
    r = requests.post(
        server.url + "/api/v1/enroll",
        json={"enrollment_code": code, "device_name": "电脑"},
        timeout=20,
    )
    assert r.status_code == 201, r.text
    token: str = r.json()["token"]
    return token


def _serve_and_push(
    tmp_path: Path, name: str, template: Path, workers: int, batches: list[list[dict[str, Any]]]
) -> tuple[list[Any], list[tuple[str, str]], list[int]]:
    """A real `sync-server serve` with `workers` form check workers; the batches pushed in order by one
    device. (answers, the stored records' (id, data text), the worker processes' CPU ticks spent)."""
    url, code = _school_database(tmp_path, name, template)
    server = served.start_served(tmp_path / name, url, config={"serve_check_workers": workers})
    answers: list[Any] = []
    spent: list[int] = []
    try:
        http = requests.Session()
        http.headers["Authorization"] = f"Bearer {_enroll(server, code)}"
        kids = _workers(server.proc.pid) if sys.platform == "linux" else []
        assert len(kids) == workers
        before = [_cpu(k) for k in kids]
        for batch in batches:
            r = http.post(
                server.url + "/api/v1/push",
                data=json.dumps({"changes": batch}, ensure_ascii=False).encode(),
                headers={
                    "Idempotency-Key": str(uuid.uuid4()),
                    "Content-Type": "application/json; charset=utf-8",
                },
                timeout=60,
            )
            assert r.status_code == 200, r.text
            answers.append(r.json())
        spent = [_cpu(k) - b for k, b in zip(kids, before, strict=True)]
    finally:
        server.stop()
    deadline = time.monotonic() + 10  # the workers end with the server (their pipe closes)
    while any(Path(f"/proc/{k}").exists() for k in kids) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not [k for k in kids if Path(f"/proc/{k}").exists()], "a worker outlived its server"
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            stored = [
                (row.id, row.data)
                for row in conn.execute(
                    sa.select(M.Record.id, sa.cast(M.Record.data, sa.Text).label("data")).order_by(
                        M.Record.id
                    )
                )
            ]
    finally:
        engine.dispose()
    return answers, stored, spent


@pytest.mark.skipif(sys.platform != "linux", reason="reads the worker's CPU from /proc")
def test_pushes_checked_by_a_worker_are_answered_and_stored_exactly_as_without_one(
    tmp_path: Path, sqlite_template: Path
) -> None:
    # the first push meets the form version (checked in the serving process), the next ones go to the worker
    records = _records() * 40
    batches = [[change(records[0])]] + [
        [change(r) for r in records[k : k + 100]] for k in range(0, len(records), 100)
    ]
    with_worker = _serve_and_push(tmp_path, "with", sqlite_template, 1, batches)
    without = _serve_and_push(tmp_path, "without", sqlite_template, 0, batches)
    assert (
        with_worker[0] == without[0]
    )  # every answer the same (applied, or refused with its problems)
    assert with_worker[1] == without[1]  # the same records, the same stored text
    refused = sum(
        res["result"] == "rejected" for answer in with_worker[0] for res in answer["results"]
    )
    assert refused == 4 * 40
    assert with_worker[2][0] > 0  # the worker did the engine's work


def test_the_worker_runs_the_servers_own_code_whatever_folder_the_server_was_started_in(
    pool_of: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # review F1: `python -m` puts the current folder first; an older copy of forms/ there must not check
    (tmp_path / "forms").mkdir()
    (tmp_path / "forms" / "__init__.py").write_text("raise ImportError('the wrong forms')\n")
    monkeypatch.chdir(tmp_path)
    form = _form()
    pool = pool_of(form)
    raw, items = _inspections(form, 4)
    assert pool.check(raw, items, today=TODAY, now=NOW) == _all_valid(form, 4)


@pytest.mark.skipif(not hasattr(signal, "SIGSTOP"), reason="needs SIGSTOP")
def test_a_worker_that_stops_reading_costs_a_push_its_answer_timeout_not_a_hang(
    pool_of: Any,
) -> None:
    # review F2: a request larger than the pipe's buffer to a worker that does not read
    form = _form()
    pool = pool_of(form, answer_timeout=1.0)
    raw, items = _inspections(form, 400)
    assert len(raw) > 200_000
    [stopped] = pool.pids()
    os.kill(stopped, signal.SIGSTOP)
    try:
        started = time.monotonic()
        assert pool.check(raw, items, today=TODAY, now=NOW) is None
        assert time.monotonic() - started < 5
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(stopped, signal.SIGCONT)
    [replacement] = pool.pids()
    assert replacement != stopped
    assert pool.check(raw, items, today=TODAY, now=NOW) is not None


def test_a_batch_the_worker_cannot_check_is_checked_here_and_the_worker_kept(
    pool_of: Any,
) -> None:
    # review F5: the worker's own error on one batch is not the worker failing
    form = _form()
    pool = pool_of(form)
    raw, items = _inspections(form, 4)
    [pid] = pool.pids()
    assert pool.check(raw, [*items, (99, "no-such-change", form)], today=TODAY, now=NOW) is None
    assert pool.failures == 0
    assert pool.pids() == [pid]
    assert pool.check(raw, items, today=TODAY, now=NOW) is not None


def test_the_form_cache_finds_a_version_it_parsed_and_forgets_it_with_the_form() -> None:
    from sync_server.services.forms import FormCache

    cache = FormCache(size=2)
    first, second = _form(), _form()
    cache.put("sha-a", first, DEFINITION)
    assert cache.by_version("safety_inspection", first.version) is first
    cache.put("sha-b", second, DEFINITION)  # the same version again (another text): the last put
    assert cache.by_version("safety_inspection", first.version) is second
    assert cache.source(second) == ("sha-b", DEFINITION)
    cache.put(
        "sha-c", load_yaml_text(DEFINITION.replace("2026.1", "2099.1"), check_identifiers=False)
    )
    cache.put(
        "sha-d", load_yaml_text(DEFINITION.replace("2026.1", "2099.2"), check_identifiers=False)
    )
    assert cache.by_version("safety_inspection", first.version) is None  # evicted with its form
    assert cache.source(second) is None


@pytest.mark.parametrize("first_workers, second_workers", [(1, 0), (0, 1)])
def test_a_batch_sent_again_is_replayed_whether_or_not_a_worker_checked_it(
    tmp_path: Path, sqlite_template: Path, first_workers: int, second_workers: int
) -> None:
    """A retry after the server restarted with another setting (or its worker died) gets the stored answer,
    never 422 idempotency_key_reused, and nothing twice."""
    url, code = _school_database(tmp_path, "sync", sqlite_template)
    body = json.dumps(
        {"changes": [change(inspection(inspectors=f"王芳{i}")) for i in range(20)]},
        ensure_ascii=False,
    ).encode()
    headers = {"Idempotency-Key": "same-key", "Content-Type": "application/json; charset=utf-8"}
    answers = []
    token = ""
    for round_, workers in enumerate((first_workers, second_workers)):
        server = served.start_served(
            tmp_path / f"i{round_}", url, config={"serve_check_workers": workers}
        )
        try:
            token = token or _enroll(server, code)
            for _ in range(2):
                r = requests.post(
                    server.url + "/api/v1/push",
                    data=body,
                    headers={**headers, "Authorization": f"Bearer {token}"},
                    timeout=60,
                )
                assert r.status_code == 200, r.text
                answers.append((r.headers.get("Idempotent-Replayed"), r.json()))
        finally:
            server.stop()
    assert [a[0] for a in answers] == [None, "true", "true", "true"]
    assert all(a[1] == answers[0][1] for a in answers)
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            assert conn.execute(sa.select(sa.func.count()).select_from(M.Record)).scalar_one() == 20
    finally:
        engine.dispose()
