"""The USB bundle format (forms.usb_bundle, protocol revision 1.13): sealed, authenticated, refused whole."""

from __future__ import annotations

import datetime as dt
import uuid
from pathlib import Path

import pytest

from forms import usb_bundle as U
from forms import usb_files as F
from forms import usb_parts as P

NOW = dt.datetime(2026, 11, 28, 2, 0)


def _header(fmt: int = 1, **kw: str) -> U.Header:
    base = {"kind": U.TO_BUREAU, "school_code": "S1", "device_id": "dev-1", "app_version": "1.0"}
    base.update(kw)
    return U.new_header(now=NOW, format=fmt, **base)


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


# -- format 2 (revision 1.16): a stream of authenticated segments, cut into parts -------------------------

KEY = U.device_key("secret", "dev-1")


def _write2(folder: Path, payload: dict[str, object], part_bytes: int = 4096) -> list[Path]:
    folder.mkdir(exist_ok=True)
    return F.write_bundle(
        folder, _header(2, school_code="城关小学"), KEY, payload, part_bytes=part_bytes
    )


def _photos() -> list[bytes]:
    import random

    rng = random.Random(5)
    return [rng.randbytes(n) for n in (70_000, 1, 150_000)]


def _payload(photos: list[bytes]) -> dict[str, object]:
    import hashlib

    return {
        "cursor": 7,
        "batches": iter([{"key": f"k{i}", "body": "学校" * 50} for i in range(30)]),
        "attachments": iter(
            [
                {
                    "sha256": hashlib.sha256(p).hexdigest(),
                    "filename": f"照片{i}.jpg",
                    "size": len(p),
                    "blob": (lambda p=p: p),
                }
                for i, p in enumerate(photos)
            ]
        ),
    }


def test_format_2_round_trip_in_numbered_parts(tmp_path: Path) -> None:
    photos = _photos()
    paths = _write2(tmp_path / "U盘", _payload(photos))

    n = len(paths)
    assert n > 50 and all(p.stat().st_size <= 4096 for p in paths)
    assert [p.name for p in paths] == [
        f"城关小学_20261128-1000_{paths[0].name.split('_')[2]}_分卷{i}共{n}.usbsync"
        for i in range(1, n + 1)
    ]
    assert sorted(p.name for p in (tmp_path / "U盘").iterdir()) == sorted(p.name for p in paths)
    spool = tmp_path / "spool"
    spool.mkdir()
    header, payload, found = F.read_bundle(paths[5], KEY, on_blob=F.spool_to(spool))
    assert header.school_code == "城关小学" and header.format == 2 and found == paths
    assert payload["cursor"] == 7 and len(payload["batches"]) == 30
    assert [Path(a["data"]).read_bytes() for a in payload["attachments"]] == photos
    assert F.peek_header(paths[-1]) == (header, paths)


def test_format_2_refuses_a_changed_byte_in_any_part_naming_it(tmp_path: Path) -> None:
    paths = _write2(tmp_path / "U盘", _payload(_photos()), part_bytes=65536)
    assert len(paths) == 4
    for i, path in enumerate(paths, 1):
        data = path.read_bytes()
        info = P.read_part_info(path)
        assert info is not None
        for at in (20, info.offset - 5, info.offset + 3, len(data) // 2, len(data) - 1):
            changed = bytearray(data)
            changed[at] ^= 0x01
            path.write_bytes(bytes(changed))
            with pytest.raises(U.BundleError) as err:
                F.read_bundle(paths[0], KEY, on_blob=F.spool_to(tmp_path))
            assert err.value.code in ("bundle_not_authentic", "bundle_malformed", "bundle_parts")
            if err.value.code == "bundle_not_authentic" and at > info.offset:
                assert (
                    f"第{i}部分" in err.value.message_zh or f"第{i - 1}部分" in err.value.message_zh
                )
        path.write_bytes(data)
    with pytest.raises(U.BundleError) as err:
        F.read_bundle(paths[0], U.device_key("secret", "dev-2"))
    assert err.value.code == "bundle_not_authentic"


def test_format_2_missing_extra_truncated_foreign_or_reordered_parts(tmp_path: Path) -> None:
    stick = tmp_path / "U盘"
    paths = _write2(stick, _payload(_photos()), part_bytes=65536)
    n = len(paths)
    original = [p.read_bytes() for p in paths]

    def refused(code: str, *words: str) -> None:
        with pytest.raises(U.BundleError) as err:
            F.read_bundle(paths[0], KEY, on_blob=F.spool_to(tmp_path))
        assert err.value.code == code, err.value
        for word in words:
            assert word in err.value.message_zh, err.value.message_zh
        assert "nothing was imported" in err.value.message_en
        for p, data in zip(paths, original, strict=True):
            p.write_bytes(data)

    paths[1].unlink()
    refused("bundle_parts", f"缺少第2部分（共{n}部分）", paths[1].name)
    paths[1].write_bytes(original[1][:-10])  # the stick pulled out while it was copied
    refused("bundle_not_authentic", paths[1].name, "第2部分", "不完整")
    extra = stick / paths[1].name.replace(".usbsync", " - 副本.usbsync")
    extra.write_bytes(original[1])
    refused("bundle_parts", "多出的部分", extra.name)
    extra.unlink()
    other = _write2(tmp_path / "other", _payload(_photos()), part_bytes=65536)
    paths[2].write_bytes(other[2].read_bytes())  # a part of another bundle under this one's name
    refused("bundle_parts", paths[2].name, "另一个")
    # Two parts swapped, their numbers too (the set looks whole): the segments' order fails the check.
    info = P.read_part_info(paths[1])
    assert info is not None
    at = info.offset - P.PART_FIELDS.size + 16  # the part number
    paths[1].write_bytes(original[3][:at] + original[1][at : at + 4] + original[3][at + 4 :])
    paths[3].write_bytes(original[1][:at] + original[3][at : at + 4] + original[1][at + 4 :])
    refused("bundle_not_authentic")
    # The last part dropped and the count lowered in the others: the new last segment was not sealed last.
    for i in range(n - 1):
        data = original[i]
        paths[i].write_bytes(data[: at + 4] + (n - 1).to_bytes(4, "big") + data[at + 8 :])
    last = paths[-1]
    renamed = [p.with_name(P.part_name(P.stem_of(p), i, n - 1)) for i, p in enumerate(paths, 1)]
    last.unlink()
    for p, q in zip(paths[:-1], renamed[:-1], strict=True):
        p.rename(q)
    with pytest.raises(U.BundleError) as err:
        F.read_bundle(renamed[0], KEY, on_blob=F.spool_to(tmp_path))
    assert err.value.code == "bundle_not_authentic"


def test_a_writer_killed_mid_write_leaves_only_a_temporary_file(tmp_path: Path) -> None:
    """The stick pulled out (or the program killed) while a part is written: nothing under a bundle's
    name; the temporary file is not taken for one."""
    stick = tmp_path / "U盘"
    stick.mkdir()

    def fill(sink: P.PartWriter) -> None:
        sink.write(b"x" * 5000)
        raise OSError(5, "Input/output error")

    with pytest.raises(OSError):
        P.write_parts(
            stick, "城关小学_20261128-1000_1a2b3c4d", b"{}", str(uuid.uuid4()), 2048, fill
        )
    assert list(stick.iterdir()) == []

    writer = P.PartWriter(stick, "城关小学_20261128-1000_1a2b3c4d", b"{}", str(uuid.uuid4()), 2048)
    writer.write(b"x" * 5000)  # killed here: temporary parts, never renamed
    temps = sorted(p.name for p in stick.iterdir())
    assert len(temps) == 3 and all(n.startswith(".") and n.endswith(".tmp") for n in temps)
    for name in temps:
        with pytest.raises(U.BundleError):
            F.read_bundle(stick / name, KEY)


def test_a_newer_format_is_refused_with_what_to_do(tmp_path: Path) -> None:
    path = tmp_path / "new.usbsync"
    path.write_bytes(b"SSUSB\x00\x03\n" + bytes(100))
    with pytest.raises(U.BundleError) as err:
        F.read_bundle(path, KEY)
    assert err.value.code == "bundle_too_new" and "升级" in err.value.message_zh
