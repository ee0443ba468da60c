"""The USB sync files on a stick, told by their readable header rather than by their names. No Qt.

- answer_files: the bureau's answers for this computer (school code and device id in the header), newest
  first - whatever their name: `S001_…_answer.usbsync` written by `sync-server usb-import`, or
  `城关镇中心小学_S001_…_answer.usbsync` downloaded from the dashboard, or renamed by the clerk.
- done_files: after an answer was imported, the files on the stick it finished - the answer (all its parts)
  and the bundle it answers (all its parts) - so they can be removed and do not pile up on the stick. The
  bundle is found by its id in the header, whatever its name: `城关镇中心小学_S001_…` as this version writes
  it (client.usb.bundle.bundle_stem), `S001_…` as older versions did, or renamed.
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass
from pathlib import Path

from forms import usb_bundle as U
from forms import usb_parts as P
from forms import usb_stream as St

log = logging.getLogger(__name__)

SMALL_FORMAT_1 = (
    16 * 1024 * 1024
)  # a format-1 file whose header is not in its lead is read whole up to this


@dataclass(frozen=True)
class StickFile:
    path: Path  # the file, or the first part found of it
    header: U.Header
    parts: list[Path]  # every file of it seen in the folder


@dataclass(frozen=True)
class AnswerFile:
    path: Path  # the answer's file, or one of its parts (import_answer finds the others)
    parts: int  # how many files it is in (FAT32: numbered parts below 4 GB)


def _header(path: Path) -> tuple[U.Header, bytes | None] | None:
    """(header, the id its parts share when it is in several) without the key (not authenticated), or
    None when it is no USB sync file."""
    try:
        info = P.read_part_info(path)
        if info is not None:
            return St.header_from(info.head), info.bundle_id if info.count > 1 else None
        with open(path, "rb") as fh:
            lead = fh.read(len(U.MAGIC) + 4 + U.MAX_HEADER_BYTES)
        try:
            return U.read_header(lead), None
        except U.BundleError:
            if path.stat().st_size > SMALL_FORMAT_1:
                return None
            return U.read_header(path.read_bytes()), None
    except (OSError, U.BundleError, ValueError):
        return None


def sync_files(folder: Path) -> list[StickFile]:
    """Every readable USB sync file in `folder` (one entry per bundle, its parts together)."""
    try:
        found = sorted(p for p in folder.glob(f"*{U.SUFFIX}") if p.is_file())
    except OSError:
        return []
    grouped: dict[object, StickFile] = {}
    for path in found:
        read = _header(path)
        if read is None:
            continue
        header, part_id = read
        key: object = (part_id, header.bundle_id) if part_id is not None else path
        if key in grouped:
            grouped[key].parts.append(path)
        else:
            grouped[key] = StickFile(path, header, [path])
    return list(grouped.values())


def answer_files(folder: Path, school_code: str, device_id: str = "") -> list[AnswerFile]:
    """The bureau's answers in `folder` for this computer (any name), newest first."""
    answers = [
        f
        for f in sync_files(folder)
        if f.header.kind == U.TO_SCHOOL
        and (not school_code or f.header.school_code == school_code)
        and (not device_id or f.header.device_id == device_id)
    ]
    answers.sort(key=lambda f: (f.header.created_at, f.path.name), reverse=True)
    return [AnswerFile(min(f.parts, key=lambda p: p.name), len(f.parts)) for f in answers]


def done_files(answer: U.Header, answer_paths: list[Path]) -> list[Path]:
    """The answer's files and those of the bundle it answers, in the answer's folder."""
    out = list(answer_paths)
    folder = answer_paths[0].parent if answer_paths else None
    if folder is not None and answer.in_reply_to:
        for f in sync_files(folder):
            if f.header.kind == U.TO_BUREAU and f.header.bundle_id == answer.in_reply_to:
                out += f.parts
    return sorted(set(out), key=lambda p: p.name)


def remove(paths: list[Path]) -> list[Path]:
    """Remove these files; the ones removed (a stick pulled out meanwhile keeps the rest)."""
    removed = []
    for path in paths:
        with contextlib.suppress(OSError):
            path.unlink()
            removed.append(path)
    return removed
