"""A device's word alone never rewinds the server (issue 9's verification found one request from any enrolled
device could start a new generation, making every PC in the county heal, and repeated ones overflowed the
change counter into 500s). A cursor beyond the counter starts a generation only with the server's own proof
that it handed that cursor out (an HMAC with the instance's secret key, which a restored database does not
take back); without it, the counter moves up to the cursor (so an older client skips nothing new), never past
2**53. Real server on loopback, SQLite and PostgreSQL."""

from __future__ import annotations

from sync_server.services.generation import MAX_COUNTER, cursor_proof
from tests.server.conftest import LiveServer, change
from tests.server.test_generation import counter, generation_of, pull, push

SECRET = "server-tests"  # the live fixtures' SECRET_KEY


def test_a_cursor_without_proof_starts_no_generation_and_cannot_overflow(live: LiveServer):
    dev = live.device()
    other = live.device(dev.school_code, name="二号机")
    gen = generation_of(live).generation
    for _ in range(3):
        r = pull(dev, 2**63 - 1, Sync_Generation=gen)
        assert r.status_code == 200, r.text
        r = pull(dev, 2**63 - 1)  # as an older client
        assert r.status_code == 200, r.text
    assert generation_of(live).generation == gen
    assert counter(live) <= MAX_COUNTER
    # The other PC notices nothing, and pushes still work.
    r = push(other, [change()], Sync_Generation=gen)
    assert r.status_code == 200, r.text
    assert r.json()["results"][0]["result"] == "applied"
    r = pull(other, 0, Sync_Generation=gen)
    assert r.status_code == 200 and r.json()["generation"] == gen


def test_a_forged_proof_counts_for_nothing(live: LiveServer):
    dev = live.device()
    gen = generation_of(live).generation
    far = counter(live) + 300
    r = pull(dev, far, Sync_Generation=gen, Sync_Cursor_Proof=cursor_proof("guess", gen, far))
    assert r.status_code == 200, r.text
    assert generation_of(live).generation == gen


def test_pull_answers_prove_their_cursor_and_a_proven_cursor_rewinds(live: LiveServer):
    dev = live.device()
    dev.push_ok([change()])
    gen = generation_of(live).generation
    page = pull(dev, 0, Sync_Generation=gen).json()
    assert page["cursor_proof"] == cursor_proof(SECRET, gen, page["cursor"])
    far = counter(live) + 300  # as if the database went back in time after handing this out
    r = pull(dev, far, Sync_Generation=gen, Sync_Cursor_Proof=cursor_proof(SECRET, gen, far))
    assert r.status_code == 409, r.text
    assert r.json()["error"]["code"] == "generation_changed"
    assert generation_of(live).generation != gen
