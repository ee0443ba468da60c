"""client.store.pin: the PIN of the sensitive forms kept as a salted scrypt hash, growing waits after wrong
tries (kept in the store), and the bureau's one-day reset codes (issue 12 point 2)."""

from __future__ import annotations

import base64
import datetime as dt

import pytest

from client.context import ClientContext
from client.store import pin
from client.store.prefs import get_setting

NOW = dt.datetime(2026, 11, 28, 2, 0)
KEY = bytes(range(32))
KEY_TEXT = base64.urlsafe_b64encode(KEY).decode().rstrip("=")


def test_the_sensitive_forms_are_the_ones_marked_so(ctx: ClientContext) -> None:
    assert pin.sensitive_forms(ctx.forms.data_forms()) == {"teacher_ethics", "dropout_followup"}


@pytest.mark.parametrize(
    "bad", ["", "12345", "111111", "123456", "987654", "abc", "short7!", " 2468013", "密码"]
)
def test_a_new_pin_needs_six_digits_or_a_password(bad: str) -> None:
    with pytest.raises(pin.PinError):
        pin.check_new_pin(bad)


def test_good_pins_and_the_second_entry_must_match() -> None:
    for good in ("246801", "90817263", "校园安全2026", "correct horse"):
        pin.check_new_pin(good, good)
    with pytest.raises(pin.PinError, match="不一致"):
        pin.check_new_pin("246801", "246802")


def test_only_a_salted_scrypt_hash_is_kept(ctx: ClientContext) -> None:
    with ctx.store.Session.begin() as s:
        assert not pin.pin_is_set(s)
        pin.set_pin(s, "246801", now=NOW, again="246801")
    with ctx.store.Session() as s:
        state = get_setting(s, pin.LOCK_SETTING)
        assert state["kdf"] == "scrypt" and state["n"] >= 2**15
        assert "246801" not in str(state)
        assert pin.verify_pin(s, "246801", now=NOW)
    raw = ctx.store.db_path.read_bytes()
    assert b"246801" not in raw
    with ctx.store.Session.begin() as s:  # the same PIN again: another salt, another hash
        pin.set_pin(s, "246801", now=NOW)
        assert get_setting(s, pin.LOCK_SETTING)["hash"] != state["hash"]


def test_wrong_tries_wait_longer_and_longer_but_never_for_good(ctx: ClientContext) -> None:
    with ctx.store.Session.begin() as s:
        pin.set_pin(s, "246801", now=NOW)
    now = NOW
    waits = []
    for _ in range(8):
        with ctx.store.Session.begin() as s:
            assert pin.verify_pin(s, "000001", now=now) is False
            waits.append(pin.wait_seconds(s, now=now))
            now += dt.timedelta(seconds=waits[-1])
    assert waits == [0, 0, 30, 60, 120, 240, 480, 900]
    with ctx.store.Session.begin() as s:
        pin.verify_pin(s, "000001", now=now)
        assert pin.wait_seconds(s, now=now) == pin.MAX_WAIT  # at most 15 minutes
        with pytest.raises(pin.PinWait) as waiting:  # while it runs even the right PIN is not tried
            pin.verify_pin(s, "246801", now=now + dt.timedelta(seconds=10))
        assert waiting.value.seconds == pin.MAX_WAIT - 10
        assert "分" in waiting.value.message_zh
    later = now + dt.timedelta(seconds=pin.MAX_WAIT)
    with ctx.store.Session.begin() as s:
        assert pin.verify_pin(s, "246801", now=later)
        assert pin.failures(s) == 0
    with ctx.store.Session() as s:  # a clock set back never stretches a wait beyond the longest
        pin.verify_pin(s, "1", now=later)
        pin.verify_pin(s, "1", now=later)
        pin.verify_pin(s, "1", now=later)
        assert pin.wait_seconds(s, now=later - dt.timedelta(days=365)) == pin.MAX_WAIT


def test_the_reset_key_is_kept_only_when_it_is_one(ctx: ClientContext) -> None:
    with ctx.store.Session.begin() as s:
        assert not pin.remember_reset_key(s, None)
        assert not pin.remember_reset_key(s, "not base64 !!")
        assert not pin.remember_reset_key(s, "c2hvcnQ")
        assert not pin.has_reset_key(s)
        assert pin.remember_reset_key(s, KEY_TEXT)
        assert pin.has_reset_key(s)


def test_a_reset_code_sets_a_new_pin_once(ctx: ClientContext) -> None:
    with ctx.store.Session.begin() as s:
        pin.set_pin(s, "246801", now=NOW)
        with pytest.raises(pin.PinError, match="重置密钥"):
            pin.check_reset_code(s, "1234567890", now=NOW)
        pin.remember_reset_key(s, KEY_TEXT)
    day = pin.beijing_date(NOW)
    code = pin.reset_code(KEY, day, 1)
    typed = f"{code[:5]}-{code[5:]}"
    with ctx.store.Session.begin() as s:
        with pytest.raises(pin.PinError, match="重置码不正确"):
            pin.check_reset_code(s, "0000000000", now=NOW)
        assert pin.failures(s) == 1  # a wrong code is a wrong try
        ticket = pin.check_reset_code(s, typed, now=NOW)
        pin.reset_pin(s, ticket, "135792", now=NOW, again="135792")
    with ctx.store.Session.begin() as s:
        assert pin.verify_pin(s, "135792", now=NOW)
        assert not pin.verify_pin(s, "246801", now=NOW)
        with pytest.raises(pin.PinError, match="已经用过"):
            pin.check_reset_code(s, typed, now=NOW)
        # the bureau's next code of the day works; yesterday's and a wrong date's do not
        assert pin.check_reset_code(s, pin.reset_code(KEY, day, 2), now=NOW).n == 2
        with pytest.raises(pin.PinError):
            pin.check_reset_code(s, pin.reset_code(KEY, day - dt.timedelta(days=3), 1), now=NOW)


def test_idle_minutes_default_and_setting(ctx: ClientContext) -> None:
    with ctx.store.Session.begin() as s:
        assert pin.idle_minutes(s) == 5
        pin.set_idle_minutes(s, 10)
        assert pin.idle_minutes(s) == 10
        with pytest.raises(pin.PinError):
            pin.set_idle_minutes(s, 0)
