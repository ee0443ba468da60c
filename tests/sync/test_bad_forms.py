"""One bad form version never blocks a school's sync (issue 9, part D), against the real server on loopback.

- A published item the client cannot apply (a form version it refuses, one too large, one the server cannot
  serve; a record of a form it does not know) becomes a visible sync problem for that item; other forms and
  records still sync both ways, and the cursor moves on. The problem keeps what is needed to try again.
- A version published before the identifier rules (`2026/1`) is fetched by its quoted URL instead of
  stopping every pull; the bureau can withdraw it, and clients fall back to the previous version.
- A full disk during a pull is a clear SyncError(DISK_FULL) naming the data folder, the store intact.

Every test gets a server of its own (these tests publish and withdraw forms, which every school sees).
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import event, select

from client.store import records as R
from client.store import sync_state as S
from client.store.formset import FormSet
from client.store.models import FormVersion, Record, SyncIssue
from client.store.paths import DB_NAME
from client.sync.commands import sync_command
from client.sync.errors import ErrorKind, SyncError
from forms.catalog import DEFINITIONS_DIR
from forms.loader import load_yaml
from forms.model import FormDef
from forms.serialize import to_yaml
from sync_server import models as M
from sync_server.app import create_app
from sync_server.services.changes import (
    NewChange,
    current_seq,
    form_change,
    record_payload,
    write_changes,
)
from sync_server.services.common import naive_utc, sha256_hex
from sync_server.services.forms import publish_form, withdraw_form
from sync_server.state import get_state
from tests.support.encrypted import db_connect
from tests.sync.conftest import (
    NOW,
    SERVER_NOW,
    TODAY,
    Client,
    ClientFactory,
    LiveServer,
    _database,
    inspection,
)

ROOT = Path(__file__).resolve().parents[2]
SAFETY = load_yaml(DEFINITIONS_DIR / "safety_inspection.yaml")
CONDITIONS = load_yaml(DEFINITIONS_DIR / "school_conditions.yaml")
TEACHERS = load_yaml(DEFINITIONS_DIR / "teachers.yaml")


@pytest.fixture(params=["sqlite", "postgresql"])
def server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[LiveServer]:
    """A fresh real server on loopback for this test only, on SQLite or PostgreSQL."""
    from werkzeug.serving import make_server

    instance = tmp_path / "server"
    with _database(str(request.param), instance) as url:
        instance.mkdir(exist_ok=True)
        app = create_app(
            {
                "INSTANCE_PATH": str(instance),
                "DATABASE_URL": url,
                "SECRET_KEY": "bad-forms-tests",
                "CLOCK": lambda: SERVER_NOW,
            }
        )
        httpd = make_server("127.0.0.1", 0, app, threaded=True)
        thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
        thread.start()
        try:
            yield LiveServer(app, f"http://127.0.0.1:{httpd.server_port}", httpd.server_port)
        finally:
            httpd.shutdown()
            httpd.server_close()
            thread.join(5)
            get_state(app).db.close()


# -- what the bureau's side does ------------------------------------------------------------------------


def with_version(form: FormDef, version: str) -> FormDef:
    return dataclasses.replace(form, settings=dataclasses.replace(form.settings, version=version))


def put_version(server: LiveServer, form_id: str, version: str, definition: str) -> str:
    """A form version stored as it is and announced to every school, the way an older server (before the
    identifier rules) or a newer one (with form features this client does not have) would have done it."""
    sha = sha256_hex(definition)
    with server.session() as s, s.begin():
        fv = M.FormVersion(
            form_id=form_id,
            version=version,
            sha256=sha,
            title_zh=form_id,
            published_at=naive_utc(SERVER_NOW),
            definition=definition,
        )
        s.add(fv)
        s.flush()
        write_changes(s, [form_change(fv)], now=naive_utc(SERVER_NOW))
    return sha


def unreadable_here(form: FormDef, version: str) -> str:
    """A definition this client's form engine refuses (a field type it does not know, as a newer form
    engine might publish)."""
    text = to_yaml(with_version(form, version))
    field = "- type: geopoint\n  name: location\n  label: {zh: 位置, en: Location}\n"
    return text.replace("survey:\n", "survey:\n" + field, 1)


def announce_record_of_unknown_form(server: LiveServer, school_code: str, record_id: str) -> None:
    """A record change of a form no client has (as a newer server could send)."""
    with server.session() as s, s.begin():
        school_id = s.execute(select(M.School.id).where(M.School.code == school_code)).scalar_one()
        payload = record_payload(
            record_id=record_id,
            form_id="future_form",
            form_version="2030.1",
            server_revision=1,
            status="received",
            data={"answer": "42"},
            review_comments={},
            updated_at=naive_utc(SERVER_NOW),
        )
        write_changes(
            s,
            [NewChange(school_id, "record", payload, record_id=record_id)],
            now=naive_utc(SERVER_NOW),
        )


def server_seq(server: LiveServer) -> int:
    with server.session() as s:
        return current_seq(s)


# -- the clients ----------------------------------------------------------------------------------------


def school_pcs(make_client: ClientFactory, server: LiveServer) -> tuple[Client, Client, str]:
    """Two enrolled PCs of one fresh school, both synced once."""
    school, code = server.new_school()
    a = make_client("pc-a")
    a.engine.enroll(server.url, code, device_name="一号机")
    _, code_b = server.new_school(code=school)
    b = make_client("pc-b")
    b.engine.enroll(server.url, code_b, device_name="二号机")
    assert a.engine.sync().complete and b.engine.sync().complete
    return a, b, school


def cursor_of(client: Client) -> int:
    with client.Session() as s:
        return S.get_cursor(s)


def pull_issues(client: Client) -> list[SyncIssue]:
    with client.Session() as s:
        return S.open_pull_issues(s)


def record_ids(client: Client) -> set[str]:
    with client.Session() as s:
        return set(s.execute(select(Record.id)).scalars())


def requested(client: Client, fragment: str) -> int:
    return sum(1 for r in client.responses if fragment in r.url)


# -- the done-when test ---------------------------------------------------------------------------------


def test_a_form_no_client_can_apply_never_stops_the_rest(
    make_client: ClientFactory, server: LiveServer, capsys: pytest.CaptureFixture[str]
):
    a, b, school = school_pcs(make_client, server)
    put_version(server, "safety_inspection", "2099.1", unreadable_here(SAFETY, "2099.1"))
    with server.session() as s, s.begin():
        publish_form(s, with_version(CONDITIONS, "2099.1"), now=SERVER_NOW)  # a good one after it
    orphan = "7d1f0c0e-3a51-4d5c-9a8e-6c3f1b2a9e01"
    announce_record_of_unknown_form(server, school, orphan)
    from_b = b.save(inspection(inspectors="乙机"))
    assert b.engine.sync().complete is False  # B meets the same problems ...
    from_a = a.save(inspection(inspectors="甲机"))

    result = a.engine.sync()

    # ... and neither stops: A's record went up, B's came down, the good form arrived, the cursor moved on.
    assert result.pushed == 1 and from_b in record_ids(a)
    assert "school_conditions 2099.1" in result.forms
    assert a.ctx.forms.latest["school_conditions"].version == "2099.1"
    assert a.ctx.forms.latest["safety_inspection"].version == "2026.1"
    assert cursor_of(a) == server_seq(server)
    # The two items are visible problems, each with what is needed to try it again.
    problems = {p.what: p for p in result.problems}
    assert set(problems) == {"form", "record"} and not result.complete
    form_problem = problems["form"]
    assert (form_problem.form_id, form_problem.version) == ("safety_inspection", "2099.1")
    assert form_problem.reason == "form_refused" and "geopoint" in form_problem.message_en
    assert (
        "2099.1" in form_problem.message_zh and "其他表单和记录照常同步" in form_problem.message_zh
    )
    assert problems["record"].record_id == orphan and problems["record"].reason == "unknown_form"
    by_what = {i.details["what"]: i for i in pull_issues(a)}
    assert by_what["record"].details["item"]["data"] == {"answer": "42"}
    assert by_what["form"].details["retry"] == S.RETRY_NEW_CLIENT
    # Nothing unusable was stored, so nothing is read again at every start.
    with a.Session() as s:
        assert s.get(FormVersion, ("safety_inspection", "2099.1")) is None
        fresh = FormSet.shipped()
        S.load_stored_forms(s, fresh)
    assert fresh.latest["school_conditions"].version == "2099.1"

    # Both ways, still: B gets A's record, and what B makes next reaches A.
    b.engine.sync()
    assert from_a in record_ids(b)
    later = b.save(inspection(inspectors="乙机二"))
    b.engine.sync()
    a.engine.sync()
    assert later in record_ids(a)
    # The form is not fetched again by this same program (its text never changes) ...
    fetched = requested(a, "/forms/safety_inspection/2099.1")
    a.engine.sync()
    assert requested(a, "/forms/safety_inspection/2099.1") == fetched
    # ... but it is once the program was updated (simulated: the problem says an older one tried it).
    with a.Session.begin() as s:
        issue = next(i for i in S.open_pull_issues(s) if i.details["what"] == "form")
        issue.details = {**issue.details, "app_version": "0.0.1"}
    a.engine.sync()
    assert requested(a, "/forms/safety_inspection/2099.1") == fetched + 1

    # The CLI says what is wrong and that the rest went through.
    assert sync_command(a.ctx, sleep=a.sleeps) == 2
    err = capsys.readouterr().err
    assert "safety_inspection" in err and "2099.1" in err

    # The bureau withdraws the bad version: the problem closes. The unknown form arrives: its record too.
    with server.session() as s, s.begin():
        withdraw_form(s, "safety_inspection", "2099.1", now=SERVER_NOW)
        future = dataclasses.replace(
            CONDITIONS,
            settings=dataclasses.replace(
                CONDITIONS.settings, form_id="future_form", version="2030.1"
            ),
        )
        publish_form(s, future, now=SERVER_NOW)
    result = a.engine.sync()
    assert result.complete, result.problems
    assert pull_issues(a) == [] and orphan in record_ids(a)
    with a.Session() as s:
        resolutions = dict(
            s.execute(
                select(SyncIssue.reason, SyncIssue.resolution).where(
                    SyncIssue.kind == S.IssueKind.PULL
                )
            ).all()
        )
    assert resolutions == {"form_refused": "withdrawn", "unknown_form": "applied"}
    assert sync_command(a.ctx, sleep=a.sleeps) == 0


def test_a_form_the_server_cannot_serve_or_too_large_is_a_problem_not_a_stop(
    make_client: ClientFactory, server: LiveServer
):
    a, b, _ = school_pcs(make_client, server)
    # Announced, but gone from the server (404); and one far over the size a client stores.
    with server.session() as s, s.begin():
        gone = M.FormVersion(
            form_id="teachers",
            version="2099.9",
            sha256="0" * 64,
            title_zh="教师名册",
            published_at=naive_utc(SERVER_NOW),
            definition="",
        )
        write_changes(s, [form_change(gone)], now=naive_utc(SERVER_NOW))
    huge = to_yaml(with_version(CONDITIONS, "2099.2")).replace(
        "survey:\n", "# " + "填" * (S.MAX_FORM_DEFINITION_BYTES // 3 + 10) + "\nsurvey:\n", 1
    )
    put_version(server, "school_conditions", "2099.2", huge)
    from_b = b.save(inspection())
    b.engine.sync()

    result = a.engine.sync()

    assert from_b in record_ids(a) and cursor_of(a) == server_seq(server)
    reasons = {(p.form_id, p.version): p.reason for p in result.problems}
    assert reasons == {
        ("teachers", "2099.9"): "form_unavailable",
        ("school_conditions", "2099.2"): "form_too_large",
    }
    # The one the server could not serve is asked for again at every sync; the too-large one is not.
    gone_asked = requested(a, "/forms/teachers/2099.9")
    huge_asked = requested(a, "/forms/school_conditions/2099.2")
    a.engine.sync()
    assert requested(a, "/forms/teachers/2099.9") == gone_asked + 1
    assert requested(a, "/forms/school_conditions/2099.2") == huge_asked


# -- the `2026/1` case, end to end ------------------------------------------------------------------------


def test_a_version_with_a_slash_no_longer_stops_every_school(
    make_client: ClientFactory, server: LiveServer
):
    """Published before the identifier rules (they now refuse it at publish): every pull used to end in
    404 "not found" with the cursor stuck, for good."""
    a, b, _ = school_pcs(make_client, server)
    put_version(server, "teachers", "2026/1", to_yaml(with_version(TEACHERS, "2026/1")))
    from_b = b.save(inspection(inspectors="乙机"))
    b.engine.sync()

    result = a.engine.sync()

    assert result.complete, result.problems
    assert requested(a, "/api/v1/forms/teachers/2026%2F1") == 1  # one quoted path segment
    assert from_b in record_ids(a) and cursor_of(a) == server_seq(server)
    with a.Session() as s:
        assert s.get(FormVersion, ("teachers", "2026/1")) is not None
    assert ("teachers", "2026/1") in a.ctx.forms.versions

    # The bureau withdraws it (it can now be named); the PC stops offering it and keeps syncing.
    with server.session() as s, s.begin():
        withdraw_form(s, "teachers", "2026/1", now=SERVER_NOW)
    assert a.engine.sync().complete
    assert ("teachers", "2026/1") in a.ctx.forms.withdrawn
    assert a.ctx.forms.latest["teachers"].version == "2026.1"


def test_a_withdrawn_version_falls_back_and_its_records_still_sync(
    make_client: ClientFactory, server: LiveServer
):
    a, b, _ = school_pcs(make_client, server)
    with server.session() as s, s.begin():
        publish_form(s, with_version(SAFETY, "2026.2"), now=SERVER_NOW)
    assert a.engine.sync().complete
    assert a.ctx.forms.latest["safety_inspection"].version == "2026.2"
    made = a.save(inspection(inspectors="新版本"))  # made with 2026.2, not sent yet
    with server.session() as s, s.begin():
        withdraw_form(s, "safety_inspection", "2026.2", now=SERVER_NOW)

    result = a.engine.sync()

    assert result.complete and result.pushed == 1  # a record made with it still goes up
    assert (
        a.ctx.forms.latest["safety_inspection"].version == "2026.1"
    )  # new records: the previous one
    with a.Session() as s:
        record = s.get(Record, made)
        assert record is not None and record.form_version == "2026.2"
    form = a.ctx.forms.get("safety_inspection", "2026.2")  # ... and it stays readable and editable
    with a.Session.begin() as s:
        R.save_record(
            s,
            form=form,
            data=inspection(inspectors="新版本，改过"),
            record_id=made,
            submit=True,
            today=TODAY,
            now=NOW,
        )
    assert a.engine.sync().complete
    (on_server,) = [r for r in server.school_records(a_school(a)) if r.id == made]
    assert on_server.form_version == "2026.2" and on_server.data["inspectors"] == "新版本，改过"
    # After a restart the withdrawal still holds; another PC of the school learns it too.
    with a.Session() as s:
        fresh = FormSet.shipped()
        S.load_stored_forms(s, fresh)
    assert fresh.latest["safety_inspection"].version == "2026.1"
    assert ("safety_inspection", "2026.2") in fresh.versions
    assert b.engine.sync().complete
    assert b.ctx.forms.latest["safety_inspection"].version == "2026.1"


def a_school(client: Client) -> str:
    with client.Session() as s:
        enrollment = S.get_enrollment(s)
    assert enrollment is not None
    return enrollment.school_code


# -- a full disk ----------------------------------------------------------------------------------------


def limit_pages(client: Client, extra_pages: int) -> None:
    """From now on the store may grow by only `extra_pages` pages (SQLite's max_page_count): a full disk."""
    engine = client.ctx.store.engine
    with engine.connect() as conn:
        pages = int(conn.exec_driver_sql("PRAGMA page_count").scalar_one())
    engine.dispose()

    @event.listens_for(engine, "connect")
    def _limit(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.execute(f"PRAGMA max_page_count = {pages + extra_pages}")


def test_a_full_disk_during_a_pull_says_so_and_leaves_the_store_intact(
    make_client: ClientFactory, server: LiveServer, capsys: pytest.CaptureFixture[str]
):
    a, b, _ = school_pcs(make_client, server)
    for i in range(120):
        b.save(inspection(inspectors=f"检查员{i}", remarks="整改" * 40))
    assert b.engine.sync().complete
    before = cursor_of(a)
    with a.Session() as s:
        records_before = s.execute(sa.func.count(Record.id)).scalar_one()
    limit_pages(a, 3)

    with pytest.raises(SyncError) as info:
        a.engine.sync()

    err = info.value
    assert err.kind is ErrorKind.DISK_FULL and err.code == "disk_full"
    data_dir = str(a.ctx.store.data_dir)
    assert "磁盘已满" in err.message_zh and data_dir in err.message_zh
    assert "disk is full" in err.message_en and data_dir in err.message_en
    with a.Session() as s:
        assert s.execute(sa.text("PRAGMA integrity_check")).scalar_one() == "ok"
        assert S.get_cursor(s) == before  # the page did not apply: it comes again
        assert s.execute(sa.func.count(Record.id)).scalar_one() == records_before
    assert sync_command(a.ctx, sleep=a.sleeps) == 3  # as every school-client command on a full disk
    # (one line: the real process is checked below; here another test's logging handler may add noise)
    line = capsys.readouterr().err.strip().splitlines()[-1]  # what the command printed, last
    assert "磁盘已满" in line and data_dir in line and "disk is full" in line

    limit_pages(a, 100_000)  # space freed
    assert a.engine.sync().complete
    assert cursor_of(a) == server_seq(server)


CLI_WITH_A_FULL_DISK = """
import sys
from sqlalchemy import event
from sqlalchemy.engine import Engine

@event.listens_for(Engine, "connect")
def _full(dbapi_connection, _record):
    pages = dbapi_connection.execute("PRAGMA page_count").fetchone()[0]
    dbapi_connection.execute(f"PRAGMA max_page_count = {max(pages, 1) + 3}")

from client.cli import main
sys.exit(main(sys.argv[1:]))
"""


def test_school_client_sync_on_a_full_disk_is_one_clear_line(
    make_client: ClientFactory, server: LiveServer
):
    """`school-client sync` as a real process whose disk fills during the pull."""
    a, b, _ = school_pcs(make_client, server)
    for i in range(120):
        b.save(inspection(inspectors=f"检查员{i}", remarks="整改" * 40))
    assert b.engine.sync().complete
    data_dir = a.ctx.store.data_dir
    a.ctx.close()
    env = {k: v for k, v in os.environ.items() if k != "SCHOOL_CLIENT_DATA_DIR"}
    r = subprocess.run(
        [sys.executable, "-c", CLI_WITH_A_FULL_DISK, "sync", "--data-dir", str(data_dir)],
        capture_output=True,
        text=True,
        encoding="utf-8",
        cwd=ROOT,
        env=env,
        timeout=120,
    )
    assert r.returncode == 3, r.stdout + r.stderr
    assert "Traceback" not in r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "磁盘已满" in lines[0] and str(data_dir) in lines[0]
    assert "disk is full" in lines[0]
    log = (data_dir / "logs" / "school-client.log").read_text(encoding="utf-8")
    assert "disk is full" in log
    with contextlib.closing(db_connect(data_dir / DB_NAME)) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


# -- what an older client stored ------------------------------------------------------------------------

ALIAS_BOMB = "\n".join(
    ["settings: {form_id: bomb, version: '1', title: {zh: 炸弹}}", "a: &a [x, x, x, x, x, x, x, x, x]"]
    + [f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, "
       f"*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}]" for i in range(9)]
    + ["survey: *j"]
)  # fmt: skip


def test_bad_definitions_an_older_client_stored_never_stop_a_start(tmp_path: Path):
    """An older client kept every definition from the server, usable or not, and re-read them all at every
    start: an alias bomb, an oversized text, broken YAML. Start-up now skips each with a warning, quickly."""
    from client.context import ClientContext
    from client.store.db import open_store

    store = open_store(tmp_path / "old-pc")
    with store.Session.begin() as s:
        for version, text in (
            ("2099.1", ALIAS_BOMB),
            ("2099.2", "# " + "x" * (S.MAX_FORM_DEFINITION_BYTES + 1) + "\n"),
            ("2099.3", "settings: {form_id: [unclosed\n"),
            ("2099.4", to_yaml(with_version(CONDITIONS, "2099.4"))),  # a good one among them
        ):
            s.add(
                FormVersion(
                    form_id="school_conditions",
                    version=version,
                    definition=text,
                    sha256=sha256_hex(text),
                    received_at=NOW,
                )
            )
    store.close()

    ctx = ClientContext.open(tmp_path / "old-pc")
    try:
        assert ctx.forms.latest["school_conditions"].version == "2099.4"
        assert {v for f, v in ctx.forms.versions if f == "school_conditions"} == {
            "2026.1",
            "2099.4",
        }
    finally:
        ctx.close()
