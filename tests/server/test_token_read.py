"""The token read of each device request: one statement reads the token's device with the server's
generation and change counter, through db.Database.read_connection (on PostgreSQL autocommit, no BEGIN/COMMIT).
Whatever changed before a request - a revoked token, a restore, a counter moved - is what that request
sees, and a connection the reader used goes back to the pool as transactional as before. Real server on
loopback, SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
import requests
from sqlalchemy import func, select, update

from sync_server import models as M
from sync_server.app import prepare_database
from sync_server.db import open_database
from sync_server.services.generation import Reason, start_generation
from sync_server.services.schools import revoke_device
from sync_server.state import get_state
from tests.server.conftest import START, LiveServer, assert_error, change
from tests.server.test_generation import counter, generation_of, pull, push


def test_the_reader_gives_its_connection_back_transactional(
    ready_db_url: str, backend: str
) -> None:
    db = open_database(ready_db_url, pool_size=1)
    try:
        if backend == "postgresql":
            prepare_database(db, migrate=True, publish_forms=False, now=START)
        with db.read_connection() as conn:
            assert conn.execute(select(func.count()).select_from(M.Device)).scalar_one() == 0
            read_by = conn.connection.dbapi_connection
        with db.Session() as s:
            used = s.connection().connection.dbapi_connection
            # PostgreSQL: the same pooled connection; SQLite: reads have connections of their own
            assert (used is read_by) == (backend == "postgresql")
            s.add(M.ChangeCounter(id=2, value=7))
            s.flush()
            s.rollback()
        with db.Session() as s:
            assert s.execute(select(func.count()).select_from(M.ChangeCounter)).scalar_one() == 1
        # A write of one statement (a device's last_seen_at) is committed, and its connection goes back
        # transactional too.
        with db.one_write() as conn:
            conn.execute(update(M.ChangeCounter).where(M.ChangeCounter.id == 1).values(value=5))
            assert conn.connection.dbapi_connection is used
        with db.Session() as s:
            assert s.connection().connection.dbapi_connection is used
            s.add(M.ChangeCounter(id=3, value=7))
            s.flush()
            s.rollback()
        with db.Session() as s:
            assert s.execute(select(M.ChangeCounter.id, M.ChangeCounter.value)).all() == [(1, 5)]
    finally:
        db.close()


@pytest.mark.parametrize("path", ["pull", "push"])
def test_each_request_sees_the_database_as_it_is_then(live: LiveServer, path: str) -> None:
    dev = live.device()
    db = get_state(live.app).db

    def ask(generation: str) -> requests.Response:
        if path == "pull":
            return pull(dev, 0, Sync_Generation=generation)
        return push(dev, [change()], Sync_Generation=generation)

    for _ in range(3):  # several rounds: the pooled connections the token read used before
        gen, seq = generation_of(live).generation, counter(live)
        r = ask(gen)
        assert r.status_code == 200, r.text
        assert r.headers["Sync-Server-Seq"] == str(seq)
        with db.Session.begin() as s:  # a restore
            start_generation(s, reason=Reason.RESTORED, now=live.clock(), actor="test")
        new = generation_of(live).generation
        err = assert_error(ask(gen), 409, "generation_changed")
        assert err["details"]["generation"] == new
        if path == "pull":  # the counter moved back (a rewound database): the next answer says so
            with db.Session.begin() as s:
                s.execute(update(M.ChangeCounter).where(M.ChangeCounter.id == 1).values(value=1))
            r = ask(new)
            assert r.status_code == 200, r.text
            assert r.headers["Sync-Server-Seq"] == "1"
        live.clock.advance(minutes=20)  # past REWIND_COOLDOWN, so the next round's restore is new

    # A request after LAST_SEEN_EVERY records that the device was seen.
    live.clock.advance(hours=1)
    assert ask(generation_of(live).generation).status_code == 200
    with live.session() as s:
        seen = s.get_one(M.Device, dev.device_id).last_seen_at
        assert seen == live.clock().replace(tzinfo=None)

    with db.Session.begin() as s:
        revoke_device(s, dev.device_id, now=START, actor="test")
    assert_error(ask(generation_of(live).generation), 403, "device_revoked")
