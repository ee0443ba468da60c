"""Device credentials with a lifetime (issue 12 point 3, protocol revision 1.9), on SQLite and PostgreSQL:
a re-enrolled computer's earlier token answers 401; a token rotates at the end of a sync and the old one
dies once the new one is used; a lost rotation answer never locks a computer out; a client that does not
rotate (older than 1.9) keeps syncing; enrollment codes are kept as HMAC-SHA256 with the server's secret,
and codes kept as a plain sha256 before still enroll."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import math
from typing import Any

import requests
from sqlalchemy import select

from forms.typed_codes import CODE_ALPHABET, CODE_GROUP_LEN, normalize_code
from sync_server import models as M
from sync_server.services.schools import CODE_GROUPS, HMAC_SCHEME, add_school, minted_token
from sync_server.state import get_state
from tests.server.conftest import LiveServer, assert_error, change

ROTATE = {"Sync-Token-Rotation": "1"}


def pull(server: LiveServer, token: str, *, rotate: bool = False) -> requests.Response:
    """One whole pull (a sync's end) with this token, as a 1.9 client (rotate) or an older one."""
    return requests.get(
        server.url + "/api/v1/pull",
        params={"since": 0},
        headers={"Authorization": f"Bearer {token}", **(ROTATE if rotate else {})},
        timeout=10,
    )


def enroll(server: LiveServer, code: str, **extra: Any) -> requests.Response:
    body = {"enrollment_code": code, "device_name": "教务处电脑", "app_version": "0.9", **extra}
    return requests.post(server.url + "/api/v1/enroll", json=body, timeout=10)


def device_row(server: LiveServer, device_id: str) -> M.Device:
    with server.session() as s:
        row = s.get(M.Device, device_id)
        assert row is not None
        s.expunge(row)
        return row


# -- bound to one enrollment ------------------------------------------------------------------------


def test_reenrolling_a_pc_revokes_its_earlier_token(live: LiveServer):
    first = live.device()
    assert pull(live, first.token).status_code == 200
    _, code = live.new_school(first.school_code, live.school_name(first.school_code))

    r = enroll(live, code, replaces_token=first.token)

    assert r.status_code == 201, r.text
    second = r.json()
    assert second["device_id"] != first.device_id
    err = assert_error(pull(live, first.token), 401, "token_replaced")
    assert "重新登记" in err["message_zh"] and "enrolled again" in err["message_en"]
    assert err["details"] == {"replaced_by": second["device_id"]}
    assert pull(live, second["token"]).status_code == 200
    old = device_row(live, first.device_id)
    assert old.replaced_by == second["device_id"] and old.revoked_at is not None
    with live.session() as s:
        actions = s.execute(
            select(M.AuditEntry.action).where(M.AuditEntry.object_id == first.device_id)
        ).scalars()
        assert "device.replaced" in set(actions)


def test_a_lost_reenrollment_answer_is_sent_again_and_the_old_token_stays_dead(live: LiveServer):
    first = live.device()
    _, code = live.new_school(first.school_code, live.school_name(first.school_code))
    lost = enroll(live, code, replaces_token=first.token, request_id="req-1")  # answer "lost"
    assert lost.status_code == 201
    again = enroll(live, code, replaces_token=first.token, request_id="req-1")
    assert again.status_code == 201
    assert again.json()["device_id"] == lost.json()["device_id"]
    assert_error(pull(live, lost.json()["token"]), 401, "unauthorized")  # the lost answer's token
    assert pull(live, again.json()["token"]).status_code == 200
    assert_error(pull(live, first.token), 401, "token_replaced")


def test_a_token_of_another_school_is_not_replaced(live: LiveServer):
    """The client may still refuse to move to another school: its old enrollment must keep working."""
    elsewhere = live.device()
    _, code = live.new_school()
    assert enroll(live, code, replaces_token=elsewhere.token).status_code == 201
    assert pull(live, elsewhere.token).status_code == 200
    assert device_row(live, elsewhere.device_id).replaced_by is None


def test_an_enrollment_without_the_old_token_leaves_other_devices_alone(live: LiveServer):
    """A school's second computer (or a 1.8 client) names no token: nobody is replaced."""
    first = live.device()
    second = live.device(first.school_code, "校长室电脑")
    assert pull(live, first.token).status_code == 200
    assert pull(live, second.token).status_code == 200


# -- rotation ---------------------------------------------------------------------------------------


def test_a_rotated_token_works_once_the_new_one_is_used(live: LiveServer):
    device = live.device()
    r = pull(live, device.token, rotate=True)
    assert r.status_code == 200
    assert r.headers["Cache-Control"] == "no-store"
    new = r.json()["next_token"]
    assert isinstance(new, str) and len(new) >= 43 and new != device.token
    assert pull(live, device.token).status_code == 200  # both work until the new one is used

    assert pull(live, new).status_code == 200  # first use: the old one dies

    err = assert_error(pull(live, device.token), 401, "token_superseded")
    assert "取代" in err["message_zh"] and "superseded" in err["message_en"]
    assert pull(live, new).status_code == 200
    row = device_row(live, device.device_id)
    assert row.token_hash == hashlib.sha256(new.encode()).hexdigest()
    assert row.next_token_hash is None and row.token_rotated_at is not None


def test_a_lost_rotation_answer_does_not_lock_the_pc_out(live: LiveServer):
    device = live.device()
    lost = pull(live, device.token, rotate=True).json()["next_token"]  # never stored by the client

    retry = pull(live, device.token, rotate=True)  # the PC still has only its old token

    assert retry.status_code == 200
    assert retry.json()["next_token"] == lost  # the same next token until it is used
    assert pull(live, lost).status_code == 200
    assert_error(pull(live, device.token), 401, "token_superseded")


def test_a_token_rotates_at_every_sync_and_only_the_newest_works(live: LiveServer):
    device = live.device()
    tokens = [device.token]
    for _ in range(3):
        r = pull(live, tokens[-1], rotate=True)
        assert r.status_code == 200
        tokens.append(r.json()["next_token"])
    assert len(set(tokens)) == 4
    assert pull(live, tokens[-1]).status_code == 200
    assert_error(pull(live, tokens[0]), 401, "unauthorized")  # the enrollment's, two rotations ago
    for old in tokens[1:-1]:
        assert_error(pull(live, old), 401, "token_superseded")


def test_a_token_ahead_of_a_restored_database_still_works(live: LiveServer):
    """The database goes back to a backup made before the PC's last rotations: the PC's token is minted
    with the secret key (kept in the instance folder, not the database), so the server recognises it."""
    device = live.device()
    with live.session() as s:
        backup = s.get_one(M.Device, device.device_id)
        before = (backup.token_hash, backup.token_epoch, backup.next_token_hash)
    token = device.token
    for _ in range(3):
        token = pull(live, token, rotate=True).json()["next_token"]
    assert pull(live, token).status_code == 200
    with live.session() as s, s.begin():  # "restored": the device row as the backup had it
        row = s.get_one(M.Device, device.device_id)
        row.token_hash, row.token_epoch, row.next_token_hash = before
        row.previous_token_hash = None

    assert pull(live, token).status_code == 200
    assert_error(pull(live, device.token), 401, "token_superseded")
    assert device_row(live, device.device_id).token_epoch == 3


def test_a_made_up_token_in_the_minted_form_is_refused(live: LiveServer):
    device = live.device()
    real = pull(live, device.token, rotate=True).json()["next_token"]
    prefix, device_id, epoch, mac = real.split(".")
    assert (prefix, device_id, epoch) == ("d1", device.device_id, "1")
    forged_epoch = f"{prefix}.{device_id}.9.{mac}"
    forged_mac = f"{prefix}.{device_id}.1.{'A' * 43}"
    other_key = minted_token("another secret", device.device_id, 5)
    for forged in (forged_epoch, forged_mac, other_key):
        assert_error(pull(live, forged), 401, "unauthorized")
    assert pull(live, device.token).status_code == 200


def test_a_page_with_more_to_come_hands_no_token(live: LiveServer):
    device = live.device()
    device.push_ok([change() for _ in range(3)])
    r = requests.get(
        live.url + "/api/v1/pull",
        params={"since": 0, "limit": 1, "include_own": "true"},
        headers={"Authorization": f"Bearer {device.token}", **ROTATE},
        timeout=10,
    )
    assert r.status_code == 200 and r.json()["more"] is True
    assert "next_token" not in r.json()


def test_an_old_client_without_rotation_keeps_syncing(live: LiveServer):
    """A client older than 1.9 sends no Sync-Token-Rotation: its token is never rotated nor expired by
    age (the dashboard flags a computer unseen for long; the bureau revokes it)."""
    device = live.device()
    for _ in range(3):
        live.clock.advance(days=200)
        device.push_ok([change()])
        r = pull(live, device.token)
        assert r.status_code == 200 and "next_token" not in r.json()
    assert device_row(live, device.device_id).next_token_hash is None


def test_a_client_that_ignores_the_next_token_keeps_syncing(live: LiveServer):
    """A client that asks but never stores the token (or loses every answer) goes on with its own."""
    device = live.device()
    for _ in range(4):
        live.clock.advance(days=100)
        r = pull(live, device.token, rotate=True)
        assert r.status_code == 200 and r.json()["next_token"]
        device.push_ok([change()])


def test_a_revoked_device_cannot_rotate_its_way_back(live: LiveServer):
    device = live.device()
    new = pull(live, device.token, rotate=True).json()["next_token"]
    with live.session() as s, s.begin():
        s.get_one(M.Device, device.device_id).revoked_at = live.clock().replace(tzinfo=None)
    assert_error(pull(live, new), 403, "device_revoked")
    assert_error(pull(live, device.token), 403, "device_revoked")


# -- enrollment codes -------------------------------------------------------------------------------


def test_codes_are_kept_as_hmac_with_the_server_secret_and_long_enough(live: LiveServer):
    secret = str(get_state(live.app).config["SECRET_KEY"])
    with live.session() as s, s.begin():
        made = add_school(s, code="H001", name="河东小学", now=live.clock(), secret=secret)
    code = made.enrollment_code
    assert len(normalize_code(code)) == CODE_GROUPS * CODE_GROUP_LEN == 16
    assert CODE_GROUPS * CODE_GROUP_LEN * math.log2(len(CODE_ALPHABET)) > 74
    with live.session() as s:
        row = s.execute(select(M.EnrollmentCode)).scalars().one()
    keyed = hmac.new(
        secret.encode(), b"enrollment-code\n" + normalize_code(code).encode(), hashlib.sha256
    ).hexdigest()
    assert row.code_scheme == HMAC_SCHEME and row.code_hash == keyed
    assert row.code_hash != hashlib.sha256(normalize_code(code).encode()).hexdigest()
    r = enroll(live, code.lower().replace("-", " "))
    assert r.status_code == 201, r.text
    assert r.json()["school"]["code"] == "H001"


def test_a_code_kept_as_plain_sha256_before_issue_12_still_enrolls(live: LiveServer):
    code, _ = live.new_school("L001", "旧码小学")  # made the old way: no secret, code_scheme NULL
    legacy = "K7P-3QX-9ZA"
    with live.session() as s, s.begin():
        school = s.execute(select(M.School).where(M.School.code == code)).scalar_one()
        now = live.clock().replace(tzinfo=None)
        s.add(
            M.EnrollmentCode(
                school_id=school.id,
                code_hash=hashlib.sha256(b"K7P3QX9ZA").hexdigest(),
                code_scheme=None,
                created_at=now,
                expires_at=now + dt.timedelta(days=1),
            )
        )
    r = enroll(live, legacy)
    assert r.status_code == 201, r.text
    assert_error(enroll(live, legacy), 401, "enrollment_code_used")


def test_a_keyed_row_is_not_matched_by_the_plain_sha256_of_its_code(live: LiveServer):
    """The two schemes never cross: the sha256 of a code stored as an HMAC row proves nothing."""
    secret = str(get_state(live.app).config["SECRET_KEY"])
    with live.session() as s, s.begin():
        made = add_school(s, code="X001", name="交叉小学", now=live.clock(), secret=secret)
        row = s.execute(select(M.EnrollmentCode)).scalars().one()
        row.code_hash = hashlib.sha256(normalize_code(made.enrollment_code).encode()).hexdigest()
    assert_error(enroll(live, made.enrollment_code), 401, "enrollment_code_invalid")


def test_a_code_made_with_another_secret_does_not_enroll(live: LiveServer):
    with live.session() as s, s.begin():
        made = add_school(s, code="Y001", name="别处小学", now=live.clock(), secret="another")
    assert_error(enroll(live, made.enrollment_code), 401, "enrollment_code_invalid")


def test_a_malformed_rotation_header_is_400(live: LiveServer):
    device = live.device()
    r = requests.get(
        live.url + "/api/v1/pull",
        headers={"Authorization": f"Bearer {device.token}", "Sync-Token-Rotation": "yes"},
        timeout=10,
    )
    err = assert_error(r, 400, "bad_header")
    assert err["details"] == {"header": "Sync-Token-Rotation"}
    assert pull(live, device.token, rotate=False).status_code == 200
