"""Opening an .xlsx someone gave us without letting it take the machine down.

An .xlsx is a zip of XML parts. Before openpyxl parses anything, check_xlsx reads the zip's directory and
every part once, as a stream, and refuses (UnsafeWorkbook, one catalogue error naming the file, the part and
the limit) a workbook that:
* has too many parts, or a zip directory too big to read;
* unpacks to too much in all or in one part (worksheets may be large: openpyxl streams them; every other
  part, the shared-strings table among them, is read whole into memory and gets smaller limits, in bytes
  and in tags, since every element becomes Python objects: about 150 bytes per shared string);
* packs a part more than max_ratio times (a zip bomb: 1 GiB of blanks is about 1 MB zipped);
* declares a DTD or entities in any XML part (no real workbook does; billion-laughs), or holds an XML part
  that is not UTF-8 (where these byte checks could not see);
* holds a run of text (or one tag) longer than max_text_run bytes, which a parser would hold in memory whole.
Declared sizes are enough for the sums: Python's zipfile never unpacks more than an entry declares.

Then open_workbook loads it read-only and sheet_rows hands out its rows, counting them and their width, and
turning what openpyxl or the XML parser raise on a damaged file into the same kind of catalogue error.
The forms (XLSForm upload and publish) and the client's Excel import use these with their own limits.
"""

from __future__ import annotations

import os
import posixpath
import re
import shutil
import struct
import tempfile
import zipfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from xml.etree.ElementTree import ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring
from openpyxl import load_workbook
from openpyxl.utils.exceptions import InvalidFileException

from forms.errors import FormDefinitionError, FormError, Location

MIB = 1024 * 1024
WORKSHEET_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"
SHARED_STRINGS_TYPE = (
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"
)
WORKSHEET_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet"
# Parts openpyxl reads whole by their fixed names (styles, theme, document properties).
_READ_BY_NAME = (
    "[Content_Types].xml",
    "xl/styles.xml",
    "xl/theme/theme1.xml",
    "docProps/core.xml",
    "docProps/app.xml",
    "docProps/custom.xml",
)
_CHUNK = MIB
_MARKERS = (b"<!DOCTYPE", b"<!ENTITY")
_BLANKS = b" \t\r\n"
_EOCD = b"PK\x05\x06"
_EOCD_FORMAT = (
    "<4s4H2LH"  # signature, disk, directory disk, entries here, entries, size, offset, comment
)


@dataclass(frozen=True, slots=True)
class XlsxLimits:
    max_parts: int = 1000
    max_directory_bytes: int = MIB
    max_total_bytes: int = 64 * MIB
    max_sheet_bytes: int = 32 * MIB  # each worksheet part (streamed by openpyxl)
    max_part_bytes: int = 4 * MIB  # each other part (read whole)
    max_part_tags: int = (
        50_000  # "<" in all other parts together: a style costs ~600 bytes of objects
    )
    max_shared_strings_bytes: int = 8 * MIB
    max_shared_strings_tags: int = 1_000_000  # 4 per plain string: about 150 bytes of memory each
    max_ratio: int = 100
    ratio_from_bytes: int = MIB  # smaller parts may pack as tightly as they like
    max_text_run: int = MIB
    max_rows: int = 20_000  # per sheet
    max_columns: int = 500
    # A worksheet may be padded with empty rows (LibreOffice writes every formatted row down to 1,048,576):
    # up to this many unpacked bytes of it are streamed once and its empty rows dropped before the limits
    # above apply to what is left. 0: no padding allowed (the client import, whose limits are generous).
    max_padded_sheet_bytes: int = 0


# An XLSForm: a few hundred rows of survey and choices (in a sheet that may be formatted to the last row).
XLSFORM_LIMITS = XlsxLimits(max_padded_sheet_bytes=512 * MIB)
# A school's records or roster to import: up to 200,000 rows a sheet.
IMPORT_LIMITS = XlsxLimits(
    max_total_bytes=1024 * MIB,
    max_sheet_bytes=512 * MIB,
    max_shared_strings_bytes=12 * MIB,
    max_shared_strings_tags=1_600_000,  # 400,000 distinct strings; a 100,000-row roster has ~200,000
    max_rows=200_000,
    max_columns=2000,
)


class UnsafeWorkbook(FormDefinitionError):
    """A workbook refused by a limit, or one that cannot be read; `error` says which, in both languages."""

    def __init__(self, error: FormError) -> None:
        super().__init__([error])
        self.error = error

    @property
    def message_zh(self) -> str:
        return f"{self.error.location}：{self.error.message_zh}"

    @property
    def message_en(self) -> str:
        return f"{self.error.location}: {self.error.message_en}"


def _refuse(
    code: str, file: str, *, sheet: str | None = None, line: int | None = None, **params: object
) -> UnsafeWorkbook:
    return UnsafeWorkbook(
        FormError.make(code, Location(file=file, sheet=sheet, line=line), **params)
    )


# -- the zip, before parsing -------------------------------------------------------------------------


def _directory_size(path: Path, file: str) -> tuple[int, int]:
    """(entries, bytes) of the zip's central directory, read from its end record without loading it."""
    with open(path, "rb") as fp:
        fp.seek(0, 2)
        size = fp.tell()
        tail_len = min(size, struct.calcsize(_EOCD_FORMAT) + 65535)
        fp.seek(size - tail_len)
        tail = fp.read(tail_len)
    at = tail.rfind(_EOCD)
    if at < 0 or len(tail) - at < struct.calcsize(_EOCD_FORMAT):
        raise _refuse(
            "xlsx_unreadable", file, reason="not an .xlsx (zip) file / 不是 .xlsx（zip）文件"
        )
    fields = struct.unpack(_EOCD_FORMAT, tail[at : at + struct.calcsize(_EOCD_FORMAT)])
    return int(fields[4]), int(fields[5])


def _xml(zf: zipfile.ZipFile, name: str, file: str, limits: XlsxLimits) -> Any | None:
    """A small XML part parsed (after the byte checks), or None when the workbook has no such part."""
    try:
        info = zf.getinfo(name)
    except KeyError:
        return None
    if info.file_size > limits.max_part_bytes:
        raise _refuse(
            "xlsx_too_large", file, part=name, size=info.file_size, limit=limits.max_part_bytes
        )
    _scan(zf, info, file, limits, (limits.max_part_bytes, limits.max_part_tags))
    try:
        return fromstring(zf.read(info))
    except (ParseError, DefusedXmlException, ValueError) as exc:
        raise _refuse("xlsx_unreadable", file, reason=f"{name}: {exc}") from None


def _part_limits(
    zf: zipfile.ZipFile, file: str, limits: XlsxLimits
) -> dict[str, tuple[int, int | None]]:
    """part name -> its limits (bytes, tags) when not those of any part. Only a part that is the target of
    a worksheet relationship and of no other, has the worksheet content type (its Override, else the Default
    for its extension) and is none of the parts openpyxl reads by name may be as large as a worksheet:
    openpyxl streams those and reads every other part whole."""
    overrides: dict[str, str] = {}
    defaults: dict[str, str] = {}
    types = _xml(zf, "[Content_Types].xml", file, limits)
    if types is not None:
        for item in types:
            if item.tag.endswith("Override"):
                overrides[item.get("PartName", "").lstrip("/")] = item.get("ContentType", "")
            elif item.tag.endswith("Default"):
                defaults[item.get("Extension", "").lower()] = item.get("ContentType", "")
    declared = {
        name: overrides.get(name) or defaults.get(name.rpartition(".")[2].lower(), "")
        for name in zf.namelist()
    }
    sheet_targets: set[str] = set()
    other_targets: set[str] = set(_READ_BY_NAME)
    for name in zf.namelist():
        if not name.endswith(".rels"):
            continue
        rels = _xml(zf, name, file, limits)
        if rels is None:
            continue
        base = posixpath.dirname(posixpath.dirname(name))  # xl/_rels/workbook.xml.rels -> xl
        for rel in rels:
            target = rel.get("Target", "")
            if rel.get("TargetMode") == "External":
                continue
            path = target.lstrip("/") if target.startswith("/") else posixpath.join(base, target)
            if rel.get("Type") == WORKSHEET_REL:
                sheet_targets.add(posixpath.normpath(path))
            else:
                other_targets.add(posixpath.normpath(path))
    out: dict[str, tuple[int, int | None]] = {}
    for name, kind in declared.items():
        if kind == WORKSHEET_TYPE and name in sheet_targets - other_targets:
            out[name] = (limits.max_sheet_bytes, None)  # rows are counted as they are read
        elif kind == SHARED_STRINGS_TYPE:
            out[name] = (limits.max_shared_strings_bytes, limits.max_shared_strings_tags)
    return out


_WIDE_XML = (b"<\x00?\x00", b"\x00<\x00?", b"<\x00\x00\x00", b"\x00\x00\x00<")


def _scan(
    zf: zipfile.ZipFile,
    info: zipfile.ZipInfo,
    file: str,
    limits: XlsxLimits,
    part_limits: tuple[int, int | None],
) -> int:
    """Read one part as a stream. An XML part must be UTF-8, within part_limits (bytes, tags), without DTD
    or entities and without a text run over max_text_run; any other part (an image) is only counted.
    Returns the number of tags ("<") in an XML part."""
    xml_limit, tag_limit = part_limits
    name = info.filename
    with zf.open(info) as src:
        first = src.read(_CHUNK)
        if first[:2] in (b"\xff\xfe", b"\xfe\xff") or first[:4] in _WIDE_XML:
            raise _refuse("xlsx_encoding", file, part=name)
        body = first.removeprefix(b"\xef\xbb\xbf").lstrip(_BLANKS)
        if body and not body.startswith(b"<"):
            return 0  # not XML (an image, a binary part): a parser would stop at its first byte
        if info.file_size > xml_limit:
            raise _refuse("xlsx_too_large", file, part=name, size=info.file_size, limit=xml_limit)
        tail = b""
        run = tags = 0
        chunk = first
        while chunk:
            if any(marker in tail + chunk[:16] or marker in chunk for marker in _MARKERS):
                raise _refuse("xlsx_dtd", file, part=name)
            tail = chunk[-16:]
            pieces = chunk.split(b"<")
            tags += len(pieces) - 1
            if tag_limit is not None and tags > tag_limit:
                raise _refuse("xlsx_too_many_tags", file, part=name, limit=tag_limit)
            run += len(pieces[0])
            if len(pieces) > 2:
                run = max(run, max(map(len, pieces[1:-1])))
            if run > limits.max_text_run:
                raise _refuse("xlsx_long_text", file, part=name, limit=limits.max_text_run)
            if len(pieces) > 1:
                run = len(pieces[-1])
            chunk = src.read(_CHUNK)
        if run > limits.max_text_run:
            raise _refuse("xlsx_long_text", file, part=name, limit=limits.max_text_run)
    return tags


# A row holds a value when it has a <v> (value), <is> (inline string) or <f> (formula); any other row is
# empty, however it is formatted (<row r="7" s="1" customFormat="true"></row>, <c r="B7" s="3"/>).
_ROW = b"<row "
_VALUE = re.compile(rb"</v>|</is>|<f\b")  # one regex scan is several times faster than three `in`
_PADDED_FROM = 4 * MIB  # smaller worksheets are read as they are


def _has_value(data: bytes) -> bool:
    return _VALUE.search(data) is not None


def _rows_with_values(rows: bytes) -> bytes:
    """Of a run of whole <row> elements, those with a value (a run without any is dropped at C speed)."""
    if not _has_value(rows):
        return b"" if rows.startswith(_ROW) else rows[: max(rows.find(_ROW), 0)]
    prefix, *pieces = rows.split(_ROW)
    return prefix + b"".join(_ROW + r for r in pieces if _has_value(r))


def _strip_empty_rows(src: Any, dst: Any, cap: int, file: str, name: str) -> None:
    """Copy a worksheet part without its empty rows, streaming, refusing past `cap` unpacked bytes."""
    carry = b""
    seen = 0
    head_done = False
    while True:
        chunk = src.read(_CHUNK)
        seen += len(chunk)
        if seen > cap:
            raise _refuse("xlsx_too_large", file, part=name, size=seen, limit=cap)
        buf = carry + chunk
        if not head_done:
            first = buf.find(_ROW)
            if first < 0:
                if not chunk:
                    dst.write(buf)
                    return
                keep = len(_ROW) - 1  # "<row" may be cut between two chunks
                dst.write(buf[:-keep])
                carry = buf[-keep:]
                continue
            dst.write(buf[:first])  # <worksheet ...><sheetData>
            buf = buf[first:]
            head_done = True
        if not chunk:  # the last row, </sheetData> and what follows
            end = buf.find(b"</sheetData>")
            end = len(buf) if end < 0 else end
            dst.write(_rows_with_values(buf[:end]) + buf[end:])
            return
        cut = buf.rfind(_ROW)
        if cut <= 0:
            if len(buf) > 4 * _CHUNK:  # one huge row: kept as it is (check_xlsx judges it)
                dst.write(buf)
                buf = b""
            carry = buf
            continue
        dst.write(_rows_with_values(buf[:cut]))
        carry = buf[cut:]


def compact_padded_sheets(path: Path, limits: XlsxLimits, file: str) -> Path | None:
    """A temporary copy of the workbook whose large worksheets have lost their empty rows, or None when no
    worksheet is large enough to be worth it. Only the zip directory is trusted here (sizes and counts, as in
    check_xlsx); the copy then goes through every check. The caller deletes the copy."""
    if limits.max_padded_sheet_bytes <= 0:
        return None
    entries, directory = _directory_size(path, file)
    if entries > limits.max_parts or directory > limits.max_directory_bytes:
        return None  # check_xlsx says why
    with zipfile.ZipFile(path) as zf:
        infos = zf.infolist()
        padded = [
            i
            for i in infos
            if i.filename.startswith("xl/worksheets/")
            and i.filename.endswith(".xml")
            and i.file_size > _PADDED_FROM
        ]
        others = [i for i in infos if i not in padded]
        if not padded or sum(i.file_size for i in others) > limits.max_total_bytes:
            return None
        if any(i.file_size > limits.max_padded_sheet_bytes for i in padded):
            big = max(padded, key=lambda i: i.file_size)
            raise _refuse(
                "xlsx_too_large",
                file,
                part=big.filename,
                size=big.file_size,
                limit=limits.max_padded_sheet_bytes,
            )
        fd, tmp = tempfile.mkstemp(suffix=".xlsx", prefix="xlsform-")
        os.close(fd)
        try:
            with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as out:
                for info in infos:
                    with zf.open(info) as src, out.open(info.filename, "w") as dst:
                        if info in padded:
                            _strip_empty_rows(
                                src, dst, limits.max_padded_sheet_bytes, file, info.filename
                            )
                        else:
                            shutil.copyfileobj(src, dst, _CHUNK)
        except BaseException:
            os.unlink(tmp)
            raise
    return Path(tmp)


def check_xlsx(
    path: Path | str, limits: XlsxLimits = XLSFORM_LIMITS, *, file: str | None = None
) -> None:
    """Refuse (UnsafeWorkbook) a workbook over the limits before anything parses it. `file`: the name to
    give in errors, when path is a working copy."""
    path = Path(path)
    file = str(path) if file is None else file
    try:
        entries, directory = _directory_size(path, file)
        if entries > limits.max_parts:
            raise _refuse("xlsx_too_many_parts", file, count=entries, limit=limits.max_parts)
        if directory > limits.max_directory_bytes:
            raise _refuse(
                "xlsx_too_large",
                file,
                part="(zip directory)",
                size=directory,
                limit=limits.max_directory_bytes,
            )
        with zipfile.ZipFile(path) as zf:
            infos = zf.infolist()
            if len(infos) > limits.max_parts:
                raise _refuse("xlsx_too_many_parts", file, count=len(infos), limit=limits.max_parts)
            for info in infos:
                if (
                    info.file_size > limits.ratio_from_bytes
                    and info.file_size > limits.max_ratio * max(info.compress_size, 1)
                ):
                    ratio = info.file_size // max(info.compress_size, 1)
                    raise _refuse(
                        "xlsx_ratio", file, part=info.filename, ratio=ratio, limit=limits.max_ratio
                    )
            total = sum(i.file_size for i in infos)
            if total > limits.max_total_bytes:
                raise _refuse(
                    "xlsx_total_too_large", file, size=total, limit=limits.max_total_bytes
                )
            sizes = _part_limits(zf, file, limits)
            default = (limits.max_part_bytes, limits.max_part_tags)
            for info in infos:
                limit = sizes.get(info.filename, default)[0]
                if info.file_size > max(limit, limits.max_sheet_bytes):
                    raise _refuse(
                        "xlsx_too_large", file, part=info.filename, size=info.file_size, limit=limit
                    )
            whole_tags = 0  # in the parts openpyxl reads whole, the shared strings apart
            for info in infos:
                tags = _scan(zf, info, file, limits, sizes.get(info.filename, default))
                if info.filename not in sizes:
                    whole_tags += tags
                    if whole_tags > limits.max_part_tags:
                        raise _refuse(
                            "xlsx_too_many_tags",
                            file,
                            part=info.filename,
                            limit=limits.max_part_tags,
                        )
    except (
        OSError,
        zipfile.BadZipFile,
        zlib.error,
        EOFError,
        NotImplementedError,
        RuntimeError,
    ) as exc:
        raise _refuse("xlsx_unreadable", file, reason=exc) from None


# -- parsing, within the limits ----------------------------------------------------------------------

# What openpyxl and the XML parsers raise on a damaged or hostile part (parsing is lazy in read-only mode).
PARSE_ERRORS: tuple[type[BaseException], ...] = (
    ParseError,
    DefusedXmlException,
    SyntaxError,  # lxml's XMLSyntaxError
    zipfile.BadZipFile,
    zlib.error,
    EOFError,
    InvalidFileException,
    KeyError,
    IndexError,
    ValueError,
    TypeError,
    AttributeError,
)


@contextmanager
def open_workbook(path: Path | str, limits: XlsxLimits = XLSFORM_LIMITS) -> Iterator[Any]:
    """check_xlsx, then the workbook read-only with cached values; closed on leaving. A worksheet padded
    with empty rows (within limits.max_padded_sheet_bytes) is read from a copy without them, so the time
    follows the content, not the sheet's formatted size."""
    file = str(path)
    try:
        compact = compact_padded_sheets(Path(path), limits, file)
    except (OSError, zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError) as exc:
        raise _refuse("xlsx_unreadable", file, reason=exc) from None
    source = compact or Path(path)
    try:
        check_xlsx(source, limits, file=file)
        try:
            wb = load_workbook(source, read_only=True, data_only=True)
        except OSError as exc:
            raise _refuse("xlsx_unreadable", file, reason=exc) from None
        except PARSE_ERRORS as exc:
            raise _refuse("xlsx_unreadable", file, reason=f"{type(exc).__name__}: {exc}") from None
        try:
            yield wb
        finally:
            wb.close()
    finally:
        if compact is not None:
            compact.unlink(missing_ok=True)


def sheet_rows(
    ws: Any, file: str, limits: XlsxLimits = XLSFORM_LIMITS
) -> Iterator[tuple[Any, ...]]:
    """The values of a read-only sheet row by row (empty rows included, as openpyxl gives them), refusing a
    sheet of more than max_rows rows or a row with a value beyond max_columns."""
    title = str(ws.title)
    ws.reset_dimensions()  # rows as long as their last cell, not as the (declared, untrusted) dimension
    count = 0
    rows = ws.iter_rows(values_only=True)
    while True:
        try:
            row = next(rows)
        except StopIteration:
            return
        except PARSE_ERRORS as exc:
            raise _refuse(
                "xlsx_unreadable", file, sheet=title, reason=f"{type(exc).__name__}: {exc}"
            ) from None
        count += 1
        if count > limits.max_rows:
            raise _refuse("xlsx_too_many_rows", file, sheet=title, limit=limits.max_rows)
        if len(row) > limits.max_columns:
            if any(v is not None for v in row[limits.max_columns :]):
                raise _refuse(
                    "xlsx_too_many_columns", file, sheet=title, line=count, limit=limits.max_columns
                )
            row = row[: limits.max_columns]
        yield row
