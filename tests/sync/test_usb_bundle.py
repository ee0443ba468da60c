"""The USB bundle format (forms.usb_bundle, protocol revision 1.13): sealed, authenticated, refused whole."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from forms import usb_bundle as U

NOW = dt.datetime(2026, 11, 28, 2, 0)


def _header(**kw: str) -> U.Header:
    base = {"kind": U.TO_BUREAU, "school_code": "S1", "device_id": "dev-1", "app_version": "1.0"}
    base.update(kw)
    return U.new_header(now=NOW, **base)


def test_round_trip_and_header_readable_without_key() -> None:
    key = U.device_key("secret", "dev-1")
    header = _header()
    data = U.seal(header, {"batches": [], "名称": "城关"}, key)
    assert U.read_header(data) == header
    got, payload = U.open_bundle(data, key)
    assert got == header
    assert payload == {"batches": [], "名称": "城关"}
    assert U.decode_key(U.encode_key(key)) == key
    assert U.decode_key("short") is None


def test_every_changed_byte_is_refused() -> None:
    key = U.device_key("secret", "dev-1")
    data = U.seal(_header(), {"x": list(range(20))}, key)
    for at in range(0, len(data), max(1, len(data) // 60)):
        bad = bytearray(data)
        bad[at] ^= 0x01
        with pytest.raises(U.BundleError):
            U.open_bundle(bytes(bad), key)


def test_truncated_and_wrong_key_refused() -> None:
    key = U.device_key("secret", "dev-1")
    data = U.seal(_header(), {"x": 1}, key)
    for n in (0, 3, len(U.MAGIC) + 2, 40, len(data) - 1):
        with pytest.raises(U.BundleError) as err:
            U.open_bundle(data[:n], key)
        assert err.value.message_zh and err.value.message_en
    with pytest.raises(U.BundleError) as err:
        U.open_bundle(data, U.device_key("secret", "dev-2"))
    assert err.value.code == "bundle_not_authentic"
    assert U.device_key("secret", "dev-1") != U.device_key("other", "dev-1")


def test_header_swap_is_refused() -> None:
    """Another device's header glued onto this ciphertext (to get it applied as another school's) fails."""
    key = U.device_key("secret", "dev-1")
    data = U.seal(_header(), {"x": 1}, key)
    other = U.seal(_header(school_code="S2"), {"x": 1}, key)
    prefix_len = len(U.MAGIC) + 4 + int.from_bytes(other[len(U.MAGIC) : len(U.MAGIC) + 4], "big")
    own_len = len(U.MAGIC) + 4 + int.from_bytes(data[len(U.MAGIC) : len(U.MAGIC) + 4], "big")
    with pytest.raises(U.BundleError):
        U.open_bundle(other[:prefix_len] + data[own_len:], key)


def test_file_name_and_atomic_write(tmp_path: Path) -> None:
    header = _header(school_code="城关小学")
    name = U.file_name(header)
    assert name.startswith("城关小学_20261128-1000_") and name.endswith(".usbsync")
    target = tmp_path / "U盘" / name
    target.parent.mkdir()
    U.write_atomic(target, b"abc")
    assert target.read_bytes() == b"abc"
    assert [p.name for p in target.parent.iterdir()] == [name]
