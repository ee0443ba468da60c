"""The school's USB bundles are named as the bureau's answers are: `<学校名>_<代码>_<date-time>_<id>[_分卷i共n]
.usbsync` (issue 13's leftovers: staff receiving many sticks' files saw only codes). The name is for people
only: the bureau's import, the parts and the school's answer lookup go by the header, so a bundle of an older
client (`S001_…`) still imports, and its answer is still found and cleared from the stick."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from client.usb.bundle import (
    ExportResult,
    bundle_stem,
    export_bundle,
    import_answer,
    safe_school_name,
)
from client.usb.stick_files import answer_files, done_files, sync_files
from forms import usb_bundle as U
from forms import usb_parts as P
from sync_server.state import get_state
from sync_server.usb import UNSAFE_NAME, import_file, with_school_name
from tests.support.samples import inspection
from tests.sync.conftest import Client, ClientFactory, LiveServer, photo_file
from tests.sync.test_usb import enrolled, stick

sqlite_only = pytest.mark.parametrize("live_server", ["sqlite"], indirect=True)
PART = 4096  # small parts: a bundle of a few records comes in several


def a_header(school_code: str = "S001") -> U.Header:
    return U.new_header(
        kind=U.TO_BUREAU,
        school_code=school_code,
        device_id="dev",
        app_version="1",
        now=dt.datetime(2026, 11, 28, 2, 0, tzinfo=dt.UTC),
    )


def exported_in_parts(
    make_client: ClientFactory, server: LiveServer, tmp_path: Path
) -> tuple[Client, str, Path, ExportResult]:
    """A school PC's two records, one with a photo (incompressible), exported to a stick as a bundle of
    several parts: (the client, its school, the stick, the export)."""
    client, school = enrolled(make_client, server)
    sha = client.add_photo(photo_file(tmp_path, 12_000))
    client.save(inspection(hazards=[dict(inspection()["hazards"][0], photo=sha)]))
    client.save(inspection(inspectors="乙"))
    folder = stick(tmp_path)
    return client, school, folder, export_bundle(client.ctx, folder, part_bytes=PART)


def answer_header(folder: Path) -> U.Header:
    return next(f.header for f in sync_files(folder) if f.header.kind == U.TO_SCHOOL)


def test_the_school_name_is_made_safe_for_fat32_and_ntfs() -> None:
    h = a_header()
    stem = U.file_stem(h)
    assert bundle_stem(h, "城关镇中心小学") == f"城关镇中心小学_{stem}"
    assert stem.startswith("S001_20261128-1000_")
    assert safe_school_name(' 城关/镇:中心*小学?"<分>|\\校\t ') == "城关_镇_中心_小学___分___校_"
    assert safe_school_name("第" * 60) == "第" * 40
    assert safe_school_name("..隐藏小学") == "隐藏小学"  # no hidden file
    assert bundle_stem(h, "") == bundle_stem(h, None) == bundle_stem(h, "  ") == stem  # as before
    for name in ("城关镇中心小学", ' 城关/镇:中心*小学?"<分>|\\校\t ', "第" * 60, "A school  "):
        named = bundle_stem(h, name)
        assert not UNSAFE_NAME.search(named) and len(P.part_name(named, 12, 12)) <= 120
        # The bureau names the answer by the same rule: the school's name once, never twice.
        assert with_school_name(name, f"{named}_answer") == f"{named}_answer"


@sqlite_only
def test_a_bundle_in_parts_carries_the_school_name_and_so_does_its_answer(
    make_client: ClientFactory, live_server: LiveServer, tmp_path: Path
) -> None:
    client, school, folder, exported = exported_in_parts(make_client, live_server, tmp_path)

    n = len(exported.paths)
    stem = f"城关镇中心小学_{school}_20261128-1000_{exported.header.bundle_id[:8]}"
    assert n > 1 and [p.name for p in exported.paths] == [
        f"{stem}_分卷{i}共{n}.usbsync" for i in range(1, n + 1)
    ]
    receipt = import_file(get_state(live_server.app), exported.paths[-1], part_bytes=PART)
    assert receipt.error is None and dict(receipt.received) == {"safety_inspection": 2}
    assert receipt.answer_paths[0].name.startswith(f"{stem}_answer")  # the name once
    assert receipt.receipt_path is not None and receipt.receipt_path.name == f"{stem}_回执.txt"
    assert done_files(answer_header(folder), receipt.answer_paths) == sorted(
        [*exported.paths, *receipt.answer_paths], key=lambda p: p.name
    )
    (found,) = answer_files(folder, school)
    outcome = import_answer(client.ctx, found.path)
    assert outcome.acknowledged == 2 and client.unsent() == 0


@sqlite_only
def test_a_bundle_named_by_an_older_client_still_imports_and_is_cleared(
    make_client: ClientFactory, live_server: LiveServer, tmp_path: Path
) -> None:
    client, school, folder, exported = exported_in_parts(make_client, live_server, tmp_path)
    old_stem = U.file_stem(exported.header)  # `S…_20261128-1000_1a2b3c4d`, as before this change
    n = len(exported.paths)
    old = [
        p.rename(p.with_name(P.part_name(old_stem, i, n))) for i, p in enumerate(exported.paths, 1)
    ]
    assert (
        old[0].name == f"{school}_20261128-1000_{exported.header.bundle_id[:8]}_分卷1共{n}.usbsync"
    )
    assert [f.parts for f in sync_files(folder)] == [old]  # found by its header

    receipt = import_file(get_state(live_server.app), old[1], part_bytes=PART)

    assert receipt.error is None and receipt.paths == old
    assert dict(receipt.received) == {"safety_inspection": 2}
    assert receipt.answer_paths[0].name.startswith(f"城关镇中心小学_{old_stem}_answer")
    assert set(done_files(answer_header(folder), receipt.answer_paths)) == {
        *old,
        *receipt.answer_paths,
    }
    (found,) = answer_files(folder, school)
    assert import_answer(client.ctx, found.path).acknowledged == 2 and client.unsent() == 0
