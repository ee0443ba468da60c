"""Failed logins and wrong enrollment codes slow the one failing, not the account's owner or the school.

Before: 5 wrong passwords locked the real user out for 15 minutes, 20 wrong enrollment codes from a school's
shared address made its right code get 429 for 10 minutes, and every failed login slept in a worker thread (20 of
them slowed /healthz from 0.04 to 3.6 s). Now a failure makes the *next try from the same source* wait (growing,
capped, "try again in N s", 429 with Retry-After) and nothing sleeps. The real app on SQLite and PostgreSQL,
driven by Flask's test client (client addresses set per request) or over HTTP; the thread test runs the real
`sync-server serve`.
"""

from __future__ import annotations

import concurrent.futures
import re
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from sync_server import models as M
from sync_server.app import create_app
from sync_server.dashboard.auth import KNOWN_BROWSER_COOKIE, _dashboard_state
from sync_server.services.users import add_user
from sync_server.state import get_state
from sync_server.throttle import Backoff, EnrollThrottle, LoginAttempt, LoginThrottle
from tests.server.conftest import LiveServer, MovableClock, assert_error
from tests.support.served import cli, start_served

PASSWORD = "correct-horse-battery"
OFFICE = "10.1.1.10"  # the bureau office, where the staff log in


# -- the dashboard ----------------------------------------------------------------------------------


@dataclass
class Site:
    app: Flask
    clock: MovableClock

    def client(self, address: str = OFFICE) -> FlaskClient:
        c = self.app.test_client()
        c.environ_base["REMOTE_ADDR"] = address
        return c

    def login(self, c: FlaskClient, username: str, password: str) -> Any:
        page = c.get("/login").get_data(as_text=True)
        token = re.search(r'name="csrf_token" value="([^"]+)"', page)
        assert token, page
        return c.post(
            "/login",
            data={"username": username, "password": password, "csrf_token": token.group(1)},
        )

    def audit(self, action: str) -> list[M.AuditEntry]:
        with get_state(self.app).db.ReadSession() as s:
            stmt = select(M.AuditEntry).where(M.AuditEntry.action == action)
            return list(s.execute(stmt.order_by(M.AuditEntry.id)).scalars())


@pytest.fixture(scope="module")
def staff_hash() -> str:
    from sync_server.services.users import hash_password

    return hash_password(PASSWORD)  # scrypt: once per module


def make_site(tmp_path: Path, db_url: str, staff_hash: str) -> Site:
    clock = MovableClock()
    app = create_app(
        {
            "INSTANCE_PATH": str(tmp_path / "instance"),
            "DATABASE_URL": db_url,
            "SECRET_KEY": "lockout-tests",
            "CLOCK": clock,
            "TESTING": True,
            # Fewer free failures than the defaults (10 and 20): each failure costs a scrypt check.
            "LOGIN_ACCOUNT_FREE_FAILURES": 4,
            "LOGIN_ADDRESS_FREE_FAILURES": 6,
        }
    )
    with get_state(app).db.Session.begin() as s:
        for name in ("boss", "clerk"):
            add_user(
                s,
                username=name,
                password="placeholder-password",
                role="admin",
                can_view_sensitive=False,
                now=clock(),
            )
        for user in s.execute(select(M.User)).scalars():
            user.password_hash = staff_hash
    return Site(app, clock)


@pytest.fixture
def site(tmp_path: Path, sqlite_template: Path, staff_hash: str) -> Iterator[Site]:
    """The throttles live in memory: SQLite is enough (the audit test runs on both databases)."""
    shutil.copyfile(sqlite_template, tmp_path / "site.db")
    made = make_site(tmp_path, f"sqlite:///{tmp_path / 'site.db'}", staff_hash)
    yield made
    get_state(made.app).db.close()


@pytest.fixture
def site_on(tmp_path: Path, ready_db_url: str, staff_hash: str) -> Iterator[Site]:
    made = make_site(tmp_path, ready_db_url, staff_hash)
    yield made
    get_state(made.app).db.close()


def strangers_guess(site: Site, username: str, times: int, *, first_address: int = 1) -> None:
    """`times` wrong passwords, each from its own address, each at a moment it is allowed."""
    for i in range(times):
        c = site.client(f"203.0.113.{first_address + i}")
        r = site.login(c, username, "guess-password-1")
        if r.status_code == 429:
            site.clock.advance(seconds=int(r.headers["Retry-After"]))
            r = site.login(c, username, "guess-password-1")
        assert r.status_code == 401


def test_the_owner_logs_in_from_a_known_browser_while_strangers_guess(site: Site):
    laptop = site.client()
    assert site.login(laptop, "boss", PASSWORD).status_code == 302
    assert laptop.get_cookie(KNOWN_BROWSER_COOKIE) is not None
    laptop.post("/logout", data={"csrf_token": _csrf(laptop)})
    strangers_guess(site, "boss", 8)
    stranger = site.client("198.51.100.7")
    assert site.login(stranger, "boss", PASSWORD).status_code == 429  # strangers wait ...
    assert (
        site.login(laptop, "boss", PASSWORD).status_code == 302
    )  # ... the owner's browser does not


def test_the_owner_logs_in_from_the_usual_address_without_the_cookie(site: Site):
    assert site.login(site.client(), "boss", PASSWORD).status_code == 302
    strangers_guess(site, "boss", 8)
    fresh_browser = site.client()  # same office address, cookies cleared
    assert fresh_browser.get_cookie(KNOWN_BROWSER_COOKIE) is None
    assert site.login(fresh_browser, "boss", PASSWORD).status_code == 302


def test_many_strangers_only_slow_an_account_for_strangers(site: Site):
    strangers_guess(site, "clerk", 8)
    newcomer = site.client("192.0.2.50")  # the owner on a new computer somewhere else
    r = site.login(newcomer, "clerk", PASSWORD)
    assert r.status_code == 429
    wait = int(r.headers["Retry-After"])
    assert 0 < wait <= 60  # a short wait, never a lock
    site.clock.advance(seconds=wait)
    assert site.login(newcomer, "clerk", PASSWORD).status_code == 302


def test_a_guessing_pair_waits_longer_and_longer_up_to_the_cap(site: Site):
    c = site.client("198.51.100.9")
    waits = []
    for _ in range(14):
        r = site.login(c, "boss", "wrong-password-1")
        if r.status_code == 429:
            site.clock.advance(seconds=int(r.headers["Retry-After"]))
            r = site.login(c, "boss", "wrong-password-1")
        assert r.status_code == 401
        waits.append(int(r.headers.get("Retry-After", 0)))
    assert waits == [0, 0, 0, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300, 300]
    site.clock.advance(hours=1, seconds=300)  # forgotten an hour after the last failure
    assert site.login(c, "boss", PASSWORD).status_code == 302


def test_a_refused_try_checks_no_password_and_is_audited_once(site_on: Site):
    site = site_on
    c = site.client("198.51.100.10")
    for _ in range(4):
        site.login(c, "boss", "wrong-password-1")
    for _ in range(5):
        r = site.login(c, "boss", PASSWORD)
        assert r.status_code == 429
        assert "请 2 秒后再试" in r.get_data(as_text=True)
    assert len(site.audit("login.failed")) == 4
    locked = site.audit("login.locked")
    assert len(locked) == 1
    assert locked[0].details["scope"] == "pair"
    assert locked[0].details["ip"] == "198.51.100.10"


def test_a_forged_known_browser_cookie_counts_for_nothing(site: Site):
    c = site.client("198.51.100.11")
    c.set_cookie(KNOWN_BROWSER_COOKIE, "eyJpZCI6IngiLCJhY2NvdW50cyI6WyJib3NzIl19.forged.sig")
    strangers_guess(site, "boss", 8)
    assert site.login(c, "boss", PASSWORD).status_code == 429


def test_spoofed_usernames_and_addresses_keep_memory_bounded(site: Site):
    st = _dashboard_state_of(site)
    for throttle in (st.throttle.pairs, st.throttle.addresses, st.throttle.accounts):
        throttle.max_keys = 20
    for i in range(40):
        r = site.login(site.client(f"10.9.{i // 200}.{i % 200}"), f"nobody{i}", "x" * 12)
        assert r.status_code == 401
    assert max(len(st.throttle.pairs), len(st.throttle.addresses), len(st.throttle.accounts)) <= 20


def _dashboard_state_of(site: Site) -> Any:
    with site.app.app_context():
        return _dashboard_state()


def _csrf(c: FlaskClient) -> str:
    with c.session_transaction() as sess:
        token = sess.get("csrf")
    assert isinstance(token, str)
    return token


def test_failed_logins_hold_no_worker_thread(tmp_path: Path, sqlite_template: Path):
    """One worker thread; twelve failed logins at once; /healthz is answered, not queued behind sleeps."""
    db = tmp_path / "thread.db"
    shutil.copyfile(sqlite_template, db)
    instance = tmp_path / "instance"
    cli(
        instance,
        f"sqlite:///{db}",
        *("add-user", "--username", "boss", "--role", "admin", "--password-stdin"),
        stdin=PASSWORD + "\n",
    )
    served = start_served(instance, f"sqlite:///{db}", args=("--threads", "1"))
    try:
        sessions = []
        for _ in range(12):
            http = requests.Session()
            page = http.get(served.url + "/login", timeout=10).text
            token = re.search(r'name="csrf_token" value="([^"]+)"', page)
            assert token
            sessions.append((http, token.group(1)))

        def fail(pair: tuple[requests.Session, str]) -> int:
            http, token = pair
            form = {"username": "boss", "password": "wrong-password-1", "csrf_token": token}
            return http.post(served.url + "/login", data=form, timeout=30).status_code

        with concurrent.futures.ThreadPoolExecutor(12) as pool:
            answers = [pool.submit(fail, pair) for pair in sessions]
            time.sleep(0.5)  # the logins are queued first
            health = requests.get(served.url + "/healthz", timeout=10)
            statuses = sorted(a.result() for a in answers)
        assert health.status_code == 200
        assert set(statuses) <= {401, 429} and 429 in statuses
    finally:
        err = served.stop()
    assert "Traceback" not in err


# -- enrollment codes -------------------------------------------------------------------------------


def enroll(live: LiveServer, code: str, school: str | None = None) -> requests.Response:
    body = {"enrollment_code": code, "device_name": "教务处电脑"}
    if school is not None:
        body["school_code"] = school
    return requests.post(live.url + "/api/v1/enroll", json=body, timeout=10)


def test_a_school_behind_an_attacked_address_enrolls_naming_its_school(live: LiveServer):
    school, code = live.new_school()
    for _ in range(40):  # a neighbour behind the same address guesses codes
        assert enroll(live, "AAA-BBB-CCC").status_code in (401, 429)
    held = enroll(live, code)  # a client that does not name its school waits, but briefly
    assert_error(held, 429, "too_many_requests")
    assert 0 < int(held.headers["Retry-After"]) <= 30
    r = enroll(live, code, school)  # naming its school, the right code goes through at once
    assert r.status_code == 201, r.text
    assert r.json()["school"]["code"] == school


def test_an_address_waits_longer_and_longer_but_never_long(live: LiveServer):
    _, code = live.new_school()
    waits = []
    for _ in range(16):
        r = enroll(live, "AAA-BBB-CCC")
        if r.status_code == 429:
            live.clock.advance(seconds=int(r.headers["Retry-After"]))
            r = enroll(live, "AAA-BBB-CCC")
        assert_error(r, 401, "enrollment_code_invalid")
        waits.append(live.app.extensions["sync_server"].enroll_throttle.wait("127.0.0.1", None))
    assert waits[:10] == [0] * 10
    assert waits[10:] == [2, 4, 8, 16, 30, 30]
    live.clock.advance(seconds=30)
    assert enroll(live, code).status_code == 201


def test_guesses_naming_a_school_wait_for_that_school_only(live: LiveServer):
    target, target_code = live.new_school()
    other, other_code = live.new_school()
    client = live.app.test_client()
    for i in range(21):  # from 21 addresses, so only the per-school limit adds up
        r = client.post(
            "/api/v1/enroll",
            json={"enrollment_code": "AAA-BBB-CCC", "device_name": "x", "school_code": target},
            environ_overrides={"REMOTE_ADDR": f"203.0.113.{i + 1}"},
        )
        assert r.status_code == 401, r.get_data(as_text=True)
    held = enroll(live, target_code, target)
    assert held.status_code == 429 and 0 < int(held.headers["Retry-After"]) <= 60
    assert enroll(live, other_code, other).status_code == 201  # another school is not held
    live.clock.advance(seconds=int(held.headers["Retry-After"]))
    assert enroll(live, target_code, target).status_code == 201


def test_a_code_named_with_another_school_is_unknown_and_stays_usable(live: LiveServer):
    school, code = live.new_school()
    other, _ = live.new_school()
    assert_error(enroll(live, code, other), 401, "enrollment_code_invalid")
    assert live.count(M.Device) == 0
    r = enroll(live, code, school.lower())  # case does not matter
    assert r.status_code == 201, r.text


def test_a_used_code_tried_again_is_no_guess(make_server_for: Any, ready_db_url: str):
    live = make_server_for(ready_db_url, ENROLL_FREE_FAILURES=2)
    _, code = live.new_school()
    assert enroll(live, code).status_code == 201
    for _ in range(5):  # a clerk's second PC with the slip already used
        assert_error(enroll(live, code), 401, "enrollment_code_used")
    _, fresh = live.new_school()
    assert enroll(live, fresh).status_code == 201


# -- the throttles themselves -----------------------------------------------------------------------


class Seconds:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_backoff_keeps_at_most_max_keys():
    clock = Seconds()
    throttle = Backoff(free=0, base=1, cap=10, forget=60, clock=clock, max_keys=100)
    for i in range(10_000):
        throttle.fail(f"spoofed-{i}")
    assert len(throttle) == 100
    assert throttle.wait("spoofed-9999") == 1  # the newest are kept


def test_login_throttle_trusts_a_browser_only_for_its_account():
    clock = Seconds()
    throttle = LoginThrottle(
        free=3,
        base=2,
        cap=300,
        address_free=20,
        account_free=10,
        account_cap=60,
        forget=3600,
        known_for=86400,
        clock=clock,
    )
    for i in range(30):
        throttle.fail(LoginAttempt("boss", f"203.0.113.{i}"))
    assert throttle.wait(LoginAttempt("boss", "192.0.2.1")) is not None
    assert throttle.wait(LoginAttempt("boss", "192.0.2.1", browser="laptop")) is None


def test_enroll_throttle_counts_named_schools_apart():
    clock = Seconds()
    throttle = EnrollThrottle(
        free=1, base=2, cap=30, school_free=5, school_cap=60, forget=900, clock=clock
    )
    for _ in range(5):
        throttle.fail("10.0.0.1", None)
    assert throttle.wait("10.0.0.1", None) > 0
    assert throttle.wait("10.0.0.1", "S001") == 0
