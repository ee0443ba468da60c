"""USB bundles of format 2 as files (protocol revision 1.16): the stream (forms.usb_stream) cut into numbered
part files below the FAT32 limit, each written atomically and read back; and the parts found again, checked
as a set, and read as one stream. Stdlib only.

A part file is `MAGIC | u32 header length | header (UTF-8 JSON) | bundle id (16 bytes) | part number (u32, from
1) | parts (u32) | body length (u64) | body`: every part says whose bundle it is (school, device, date) without
the key, and the bodies in order are the stream. A bundle in one part is named `<stem>.usbsync`; in n parts
`<stem>_分卷<i>共<n>.usbsync`. While written, a part lies under a hidden temporary name ending in `.tmp`
(never taken for a bundle); its number of parts and length are filled in once the stream ends, then every
part is fsynced, renamed, the folder fsynced, and every part read back and compared (its sha256).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import struct
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from forms.os_text import en_reason, zh_reason
from forms.usb_bundle import MAX_HEADER_BYTES, SUFFIX, BundleError
from forms.usb_stream import MAGIC, not_authentic

PART_FIELDS = struct.Struct(">16sIIQ")  # bundle id, part number, parts, body length
# FAT32 holds files up to 4 GiB - 1 byte; a part stays 1 MiB below.
DEFAULT_PART_BYTES = 4 * 1024**3 - 1024**2
MIN_PART_BYTES = 1024
_PART_NAME = re.compile(r"^(?P<stem>.+)_分卷(?P<i>[0-9]+)共(?P<n>[0-9]+)" + re.escape(SUFFIX) + "$")
_READ = 1024 * 1024


def part_name(stem: str, index: int, count: int) -> str:
    return f"{stem}{SUFFIX}" if count == 1 else f"{stem}_分卷{index}共{count}{SUFFIX}"


def stem_of(path: Path) -> str:
    """The bundle's name without part number and suffix."""
    m = _PART_NAME.match(path.name)
    if m:
        return m.group("stem")
    return path.name[: -len(SUFFIX)] if path.name.lower().endswith(SUFFIX) else path.stem


def _parts_refused(zh: str, en: str) -> BundleError:
    return BundleError("bundle_parts", f"{zh}；未导入任何数据", f"{en}; nothing was imported")


def write_failed(path: Path | str, exc: OSError) -> BundleError:
    return BundleError(
        "bundle_write_failed",
        f"写入U盘失败：{path}（{zh_reason(exc)}）。U盘是否已拔出或已满？请换一个U盘再试，本机数据没有改变",
        f"writing to the stick failed: {path} ({en_reason(exc)}). Was the stick pulled out, or is it full? Try "
        "another stick; nothing on this computer changed",
    )


# -- writing ----------------------------------------------------------------------------------------------


@dataclass
class _Part:
    temp: Path
    fh: BinaryIO
    length: int = 0
    digest: object = None


class PartWriter:
    """The stream's bytes in, part files out (a `Sink`). finish() names and verifies them; abort() leaves
    nothing but what it could not remove."""

    def __init__(
        self, folder: Path, stem: str, head: bytes, bundle_id: str, part_bytes: int
    ) -> None:
        self.folder, self.stem = folder, stem
        self._id = uuid.UUID(bundle_id).bytes
        self._lead = MAGIC + struct.pack(">I", len(head)) + head
        self._room = part_bytes - len(self._lead) - PART_FIELDS.size
        if part_bytes < MIN_PART_BYTES or self._room < MIN_PART_BYTES // 2:
            raise ValueError(f"part_bytes {part_bytes} leaves no room beside the header")
        self._token = uuid.uuid4().hex[:8]
        self._parts: list[_Part] = []
        self._open: _Part | None = None

    def _new_part(self) -> _Part:
        n = len(self._parts) + 1
        temp = self.folder / f".{self.stem}.{self._token}.{n}.tmp"
        try:
            fh = open(temp, "xb")  # noqa: SIM115 - closed in _close / abort
        except OSError as exc:
            raise write_failed(temp, exc) from None
        part = _Part(temp, fh, digest=hashlib.sha256())
        self._parts.append(part)
        self._write(part, self._lead + PART_FIELDS.pack(self._id, n, 0, 0))
        return part

    def _write(self, part: _Part, data: bytes) -> None:
        try:
            part.fh.write(data)
        except OSError as exc:
            raise write_failed(part.temp, exc) from None

    def write(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            part = self._open
            if part is None or part.length >= self._room:
                part = self._open = self._new_part()
            take = view[: self._room - part.length]
            self._write(part, bytes(take))
            part.digest.update(take)  # type: ignore[attr-defined]
            part.length += len(take)
            view = view[len(take) :]

    def finish(self) -> list[Path]:
        """Fill in the number of parts, fsync, rename, fsync the folder, read every part back."""
        count = len(self._parts)
        targets = [self.folder / part_name(self.stem, i, count) for i in range(1, count + 1)]
        try:
            for i, part in enumerate(self._parts, 1):
                part.fh.seek(len(self._lead))
                part.fh.write(PART_FIELDS.pack(self._id, i, count, part.length))
                part.fh.flush()
                os.fsync(part.fh.fileno())
                part.fh.close()
            for part, target in zip(self._parts, targets, strict=True):
                os.replace(part.temp, target)
        except OSError as exc:
            self.abort()
            raise write_failed(self.folder, exc) from None
        fsync_folder(self.folder)
        for i, (part, target) in enumerate(zip(self._parts, targets, strict=True), 1):
            expected = (self._lead, (self._id, i, count, part.length))
            back = _read_back(target, len(self._lead))
            if back != (expected, part.digest.hexdigest()):  # type: ignore[attr-defined]
                raise BundleError(
                    "bundle_write_failed",
                    f"写入U盘后读回校验不一致：{target}（第{i}部分，共{count}部分；请换一个U盘再试）",
                    f"the file read back differs from what was written: {target} (part {i} of "
                    f"{count}; try another stick)",
                )
        return targets

    def abort(self) -> None:
        for part in self._parts:
            with contextlib.suppress(OSError):
                part.fh.close()
            with contextlib.suppress(OSError):
                part.temp.unlink()


def fsync_folder(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return  # Windows cannot open a folder; its rename is durable once the file was flushed
    try:
        with contextlib.suppress(OSError):
            os.fsync(fd)
    finally:
        os.close(fd)


def _read_back(path: Path, lead: int) -> tuple[tuple[bytes, tuple[object, ...]], str] | None:
    """((the part's lead, its fields), the body's sha256) as read from the medium (the page cache dropped
    first, where the system allows it)."""
    try:
        with open(path, "rb") as fh:
            if hasattr(os, "posix_fadvise"):
                with contextlib.suppress(OSError):
                    os.posix_fadvise(fh.fileno(), 0, 0, os.POSIX_FADV_DONTNEED)
            head = fh.read(lead)
            fields = fh.read(PART_FIELDS.size)
            if len(fields) < PART_FIELDS.size:
                return None
            digest = hashlib.sha256()
            while chunk := fh.read(_READ):
                digest.update(chunk)
    except OSError:
        return None
    return (head, PART_FIELDS.unpack(fields)), digest.hexdigest()


def write_parts(
    folder: Path,
    stem: str,
    head: bytes,
    bundle_id: str,
    part_bytes: int,
    fill: Callable[[PartWriter], None],
) -> list[Path]:
    """`fill` writes the stream into a PartWriter; the part files, verified. Nothing under a bundle's name
    is left when `fill` or the writing fails."""
    writer = PartWriter(folder, stem, head, bundle_id, part_bytes)
    try:
        fill(writer)
        return writer.finish()
    except BaseException:
        writer.abort()
        raise


def remove_other_parts(folder: Path, stem: str, *, keep: list[Path]) -> None:
    """Remove the files of a bundle named `stem` other than `keep` (an earlier answer to the same bundle,
    in another number of parts: left, it would be taken for a foreign part)."""
    kept = {p.name for p in keep}
    for name in os.listdir(folder):
        m = _PART_NAME.match(name)
        if name not in kept and (name == f"{stem}{SUFFIX}" or (m and m.group("stem") == stem)):
            with contextlib.suppress(OSError):
                (folder / name).unlink()


# -- reading ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PartInfo:
    path: Path
    head: bytes  # the header's bytes
    bundle_id: bytes
    index: int
    count: int
    length: int
    size: int  # of the file
    offset: int  # where the body starts


def parse_part(lead: bytes) -> tuple[bytes, tuple[bytes, int, int, int], int] | None:
    """(header bytes, (bundle id, part number, parts, body length), body offset) from a format-2 part's
    first bytes (at least its header and fields), None for anything else."""
    at = len(MAGIC) + 4
    if len(lead) < at or not lead.startswith(MAGIC):
        return None
    (length,) = struct.unpack(">I", lead[len(MAGIC) : at])
    end = at + length + PART_FIELDS.size
    if length > MAX_HEADER_BYTES or len(lead) < end:
        return None
    bid, index, count, body = PART_FIELDS.unpack(lead[at + length : end])
    return lead[at : at + length], (bid, index, count, body), end


def read_part_info(path: Path) -> PartInfo | None:
    """The header and part fields of a format-2 file, None for anything else."""
    try:
        with open(path, "rb") as fh:
            lead = fh.read(len(MAGIC) + 4)
            if len(lead) == len(MAGIC) + 4 and lead.startswith(MAGIC):
                (length,) = struct.unpack(">I", lead[len(MAGIC) :])
                lead += fh.read(min(length, MAX_HEADER_BYTES + 1) + PART_FIELDS.size)
            size = os.fstat(fh.fileno()).st_size
    except OSError:
        return None
    parsed = parse_part(lead)
    if parsed is None:
        return None
    head, (bid, index, count, length), offset = parsed
    return PartInfo(path, head, bid, index, count, length, size, offset)


def _where(info: PartInfo) -> tuple[str, str]:
    return (
        f"文件 {info.path.name}，第{info.index}部分，共{info.count}部分",
        f"file {info.path.name}, part {info.index} of {info.count}",
    )


def find_parts(path: Path) -> list[PartInfo]:
    """Every part of the bundle `path` is a part of, in order, checked as a set: a missing, extra, truncated
    or foreign part refuses the bundle whole, naming the file and the part."""
    first = read_part_info(path)
    if first is None:
        raise _parts_refused(
            f"文件 {path.name} 不是U盘同步文件的一部分",
            f"{path.name} is not part of a USB sync file",
        )
    if first.count < 1 or not 1 <= first.index <= first.count:
        raise _parts_refused(
            f"文件 {path.name} 的分卷编号不对（第{first.index}部分，共{first.count}部分）",
            f"{path.name} has a wrong part number (part {first.index} of {first.count})",
        )
    if first.count == 1:  # a bundle in one file stands alone (copies of it beside it do not matter)
        _check_length(first)
        return [first]
    stem = stem_of(path)
    found: dict[int, PartInfo] = {}
    try:
        names = sorted(os.listdir(path.parent))
    except OSError:
        names = [path.name]
    for name in names:
        if name.startswith(".") or not name.lower().endswith(SUFFIX):
            continue
        candidate = path.parent / name
        named = _PART_NAME.match(name)
        info = first if candidate == path else read_part_info(candidate)
        ours = info is not None and (info.bundle_id, info.head) == (first.bundle_id, first.head)
        if not ours:
            if named and named.group("stem") == stem and first.count > 1:
                raise _parts_refused(
                    f"文件 {name} 的名字是这个U盘同步文件的第{named.group('i')}部分，但内容属于另一个文件",
                    f"{name} is named as part {named.group('i')} of this USB sync file, but its content "
                    "belongs to another one",
                )
            continue
        assert info is not None
        if info.count != first.count or not 1 <= info.index <= info.count:
            raise _parts_refused(
                f"多出的部分：文件 {name} 标为第{info.index}部分（共{info.count}部分），"
                f"而这个文件共{first.count}部分",
                f"an extra part: {name} says part {info.index} of {info.count}, but this file has "
                f"{first.count} parts",
            )
        if info.index in found:
            raise _parts_refused(
                f"多出的部分：文件 {name} 与 {found[info.index].path.name} 都是第{info.index}部分",
                f"an extra part: {name} and {found[info.index].path.name} are both part {info.index}",
            )
        found[info.index] = info
    for i in range(1, first.count + 1):
        if i not in found:
            expected = part_name(stem, i, first.count)
            raise _parts_refused(
                f"缺少第{i}部分（共{first.count}部分）：找不到文件 {expected}，请把所有分卷放在同一个文件夹",
                f"part {i} of {first.count} is missing: no file {expected}; put every part in one folder",
            )
        _check_length(found[i])
    return [found[i] for i in range(1, first.count + 1)]


def _check_length(info: PartInfo) -> None:
    if info.size != info.offset + info.length:
        zh, en = _where(info)
        raise not_authentic(f"（{zh}不完整，可能在写入时拔出了U盘）", f" ({en} is truncated)")


class PartReader:
    """The bodies of the parts, in order, as one stream (a `Source`)."""

    def __init__(self, parts: list[PartInfo]) -> None:
        self._parts = parts
        self._i = -1
        self._fh: BinaryIO | None = None
        self._left = 0
        self._next()

    def _next(self) -> bool:
        if self._fh is not None:
            self._fh.close()
            self._fh = None
        self._i += 1
        if self._i >= len(self._parts):
            return False
        info = self._parts[self._i]
        try:
            self._fh = open(info.path, "rb")  # noqa: SIM115 - closed by _next / close
            self._fh.seek(info.offset)
        except OSError as exc:
            raise BundleError(
                "bundle_unreadable",
                f"无法读取文件 {info.path}：{zh_reason(exc)}",
                f"cannot read {info.path}: {en_reason(exc)}",
            ) from None
        self._left = info.length
        return True

    def read(self, n: int) -> bytes:
        out = bytearray()
        while len(out) < n and self._fh is not None:
            if self._left == 0:
                if not self._next():
                    break
                continue
            try:
                chunk = self._fh.read(min(n - len(out), self._left))
            except OSError as exc:
                raise BundleError(
                    "bundle_unreadable",
                    f"读取文件 {self._parts[self._i].path} 时出错：{zh_reason(exc)}",
                    f"reading {self._parts[self._i].path} failed: {en_reason(exc)}",
                ) from None
            if not chunk:
                zh, en = _where(self._parts[self._i])
                raise not_authentic(f"（{zh}不完整）", f" ({en} is truncated)")
            out += chunk
            self._left -= len(chunk)
        return bytes(out)

    def where(self) -> tuple[str, str]:
        info = self._parts[min(self._i, len(self._parts) - 1)]
        return _where(info)

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None
