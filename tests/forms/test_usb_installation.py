"""The installation id in a USB bundle's header (protocol 1.15): added only for a computer enrolled by file,
read from the first bytes of a format-1 file or a format-2 part, ignored by a reader that does not know it."""

from __future__ import annotations

import datetime as dt
import json
import struct
from dataclasses import replace

import pytest

from forms import usb_bundle as U
from forms.usb_installation import bundle_installation, with_installation

NOW = dt.datetime(2026, 11, 28, 2, 0, tzinfo=dt.UTC)
INSTALLATION = "0123456789abcdef0123456789abcdef"
KEY = bytes(range(32))


def header() -> U.Header:
    made = U.new_header(
        kind=U.TO_BUREAU, school_code="S001", device_id="d" * 36, app_version="t", now=NOW
    )
    return replace(made, format=U.FORMAT)


def test_the_id_rides_in_the_authenticated_header_and_older_readers_ignore_it() -> None:
    sealed = U.seal(with_installation(header(), INSTALLATION), {"batches": []}, KEY)

    assert bundle_installation(sealed) == INSTALLATION
    opened, payload = U.open_bundle(
        sealed, KEY
    )  # the 1.13 reader: same header fields, same payload
    assert opened.device_id == "d" * 36 and payload == {"batches": []}
    changed = sealed.replace(INSTALLATION.encode(), ("f" * 32).encode())
    with pytest.raises(U.BundleError):
        U.open_bundle(changed, KEY)  # the id cannot be changed without the device key


def test_online_enrolled_computers_write_no_id_and_a_format_2_part_is_read_too() -> None:
    plain = header()
    assert with_installation(plain, None) is plain
    assert bundle_installation(U.seal(plain, {}, KEY)) is None
    with pytest.raises(ValueError):
        with_installation(plain, "not-an-id")
    head = json.dumps({**plain.as_dict(), "format": 2, "installation_id": INSTALLATION}).encode()
    part = b"SSUSB\x00\x02\n" + struct.pack(">I", len(head)) + head + b"\x00" * 40
    assert bundle_installation(part) == INSTALLATION
    assert bundle_installation(part[:20]) is None and bundle_installation(b"PK\x03\x04") is None
