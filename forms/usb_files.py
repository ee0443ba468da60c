"""A USB bundle's payload written to and read from files, in either format (protocol revisions 1.13, 1.16).

The payload is the same JSON object in both formats. Format 1 holds it whole (forms.usb_bundle.seal, attachments
as base64). Format 2 streams it as documents: `["head", {every key but the lists}]`, then `[list name, item]`
for each item of each list in LISTS, an attachment item (`sha256`, `filename`, `size`) followed by the
attachment's bytes as a blob frame - so a writer holds one attachment at a time and a reader spools them.

    paths = write_bundle(folder, header, key, payload, part_bytes=...)       # format 2
    header, payload = read_bundle(path, key, on_blob=spool)                    # format 1 or 2
"""

from __future__ import annotations

import base64
import hashlib
import os
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from forms import usb_bundle as U
from forms import usb_parts as P
from forms import usb_stream as S
from forms.os_text import en_reason, zh_reason

LISTS = ("batches", "attachments", "push", "pages", "forms")
HEAD = "head"

# An attachment read when written (its bytes, one at a time): the item's "blob" is a callable giving them.
BlobSource = Callable[[], bytes]
# What a reader makes of an attachment's bytes (spools them): given the item and the frame, the value kept in
# the item (under "data"); it must read the frame's chunks.
BlobSink = Callable[[dict[str, Any], S.Frame], Any]


def write_bundle(
    folder: Path,
    header: U.Header,
    key: bytes,
    payload: Mapping[str, Any],
    *,
    stem: str | None = None,
    part_bytes: int = P.DEFAULT_PART_BYTES,
    progress: Callable[[int], None] | None = None,
) -> list[Path]:
    """Write a format-2 bundle into `folder` (parts named `stem`, by default from the header); the part
    paths, verified. List values may be iterables (consumed once); an attachment item may carry `blob`, a
    callable giving its bytes (its `size` is added). `progress(n)` after each list item written."""
    stem = stem or U.file_stem(header)
    head = U.header_bytes(header)

    def fill(sink: P.PartWriter) -> None:
        writer = S.StreamWriter(sink, head, key)
        writer.document([HEAD, {k: v for k, v in payload.items() if k not in LISTS}])
        done = 0
        for name in LISTS:
            for item in payload.get(name) or ():
                blob = item.get("blob") if isinstance(item, dict) else None
                if callable(blob):
                    data = blob()
                    meta = {k: v for k, v in item.items() if k != "blob"}
                    writer.document([name, {**meta, "size": len(data)}])
                    writer.blob(data)
                else:
                    writer.document([name, item])
                done += 1
                if progress is not None:
                    progress(done)
        writer.close()

    return P.write_parts(folder, stem, head, header.bundle_id, part_bytes, fill)


def _payload_from(reader: S.StreamReader, on_blob: BlobSink | None) -> dict[str, Any]:
    payload: dict[str, Any] | None = None
    last: dict[str, Any] | None = None
    for frame in reader.frames():
        if frame.kind == S.KIND_BLOB:
            if last is None or on_blob is None or last.get("size") != frame.length:
                raise S.malformed("附件位置不对", "an attachment out of place")
            last["data"] = on_blob(last, frame)
            last = None
            continue
        doc = frame.document
        if not (isinstance(doc, list) and len(doc) == 2 and isinstance(doc[0], str)):
            raise S.malformed("内容格式不对", "a document is malformed")
        name, item = doc
        if payload is None:
            if name != HEAD or not isinstance(item, dict):
                raise S.malformed("缺少开头", "the head is missing")
            payload = dict(item)
            for list_name in LISTS:
                payload.setdefault(list_name, [])
            continue
        if name not in LISTS or not isinstance(item, dict):
            raise S.malformed("内容格式不对", f"unknown list {name[:20]!r}")
        payload[name].append(item)
        last = item if name == "attachments" and isinstance(item.get("size"), int) else None
    if payload is None:
        raise S.malformed("缺少开头", "the head is missing")
    return payload


def peek_header(path: Path) -> tuple[U.Header, list[Path]]:
    """The header of the bundle `path` is (a part of), read without the key (not yet authenticated), and
    the paths of all its parts (checked as a set for format 2). BundleError for anything else."""
    if _format(path) == 1:
        return U.read_header(_read_all(path)), [path]
    parts = P.find_parts(path)
    header = S.header_from(parts[0].head)
    _check_id(header, parts)
    return header, [p.path for p in parts]


def read_bundle(
    path: Path, key: bytes, *, on_blob: BlobSink | None = None
) -> tuple[U.Header, dict[str, Any], list[Path]]:
    """(header, payload, part paths) of an authentic bundle of either format, read whole before anything is
    returned: a damaged, cut, reordered or foreign byte or part anywhere refuses it. Format 1 attachments
    keep their base64 `data`; format 2 ones are handed to `on_blob` (refused without one)."""
    if _format(path) == 1:
        header, payload = U.open_bundle(_read_all(path), key)
        return header, payload, [path]
    parts = P.find_parts(path)
    source = P.PartReader(parts)
    try:
        reader = S.StreamReader(source, key, parts[0].head)
        payload = _payload_from(reader, on_blob)
    finally:
        source.close()
    _check_id(reader.header, parts)
    return reader.header, payload, [p.path for p in parts]


def _format(path: Path) -> int:
    """1 or 2, from the file's first bytes; BundleError for anything else."""
    lead = _lead(path)
    fmt = U.file_format(lead)
    if fmt is None:
        U.read_header(lead)  # raises with the reason
        raise S.malformed("文件开头不对", "it does not start as one")
    return fmt


def _check_id(header: U.Header, parts: list[P.PartInfo]) -> None:
    if _id_bytes(header) != parts[0].bundle_id:
        raise S.not_authentic("（分卷与文件头不符）", " (the parts do not match the header)")


def _lead(path: Path) -> bytes:
    try:
        with open(path, "rb") as fh:
            return fh.read(len(U.MAGIC))
    except OSError as exc:
        raise _unreadable(path, exc) from None


def _read_all(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise _unreadable(path, exc) from None


def _unreadable(path: Path, exc: OSError) -> U.BundleError:
    return U.BundleError(
        "bundle_unreadable",
        f"无法读取文件 {path}：{zh_reason(exc)}",
        f"cannot read {path}: {en_reason(exc)}",
    )


# -- a format-2 bundle in one part, in memory (what forms.usb_bundle.open_bundle is given) -------------------


class _BytesSource:
    def __init__(self, body: bytes, name: str) -> None:
        self._body, self._at, self._name = body, 0, name

    def read(self, n: int) -> bytes:
        out = self._body[self._at : self._at + n]
        self._at += len(out)
        return out

    def where(self) -> tuple[str, str]:
        return f"偏移 {self._at}", f"at byte {self._at}"


def _one_part(data: bytes) -> tuple[bytes, bytes, bytes]:
    """(header bytes, bundle id, body) of a format-2 bundle of one part given as bytes."""
    parsed = P.parse_part(data[: len(U.MAGIC) + 4 + U.MAX_HEADER_BYTES + P.PART_FIELDS.size])
    if parsed is None:
        raise S.malformed("文件不完整或文件头已损坏", "the file is truncated or its header damaged")
    head, (bid, index, count, length), offset = parsed
    if (index, count) != (1, 1):
        raise S.malformed("这是多个分卷中的一个", f"this is part {index} of {count}")
    if len(data) != offset + length:
        raise S.not_authentic("（文件不完整）", " (the file is truncated)")
    return head, bid, data[offset:]


def header_of_bytes(data: bytes) -> U.Header:
    """The header of a format-2 bundle of one part given as bytes, read without the key."""
    return S.header_from(_one_part(data)[0])


def open_bytes(data: bytes, key: bytes) -> tuple[U.Header, dict[str, Any]]:
    """A format-2 bundle of one part given as bytes; attachments as base64 `data` (as format 1 has them)."""
    head, bid, body = _one_part(data)

    def keep(item: dict[str, Any], frame: S.Frame) -> str:
        return base64.b64encode(b"".join(frame.chunks())).decode("ascii")

    reader = S.StreamReader(_BytesSource(body, "bundle"), key, head)
    payload = _payload_from(reader, keep)
    if _id_bytes(reader.header) != bid:
        raise S.not_authentic("（分卷与文件头不符）", " (the parts do not match the header)")
    return reader.header, payload


def _id_bytes(header: U.Header) -> bytes | None:
    try:
        return uuid.UUID(header.bundle_id).bytes
    except ValueError:
        return None


def spool_to(folder: Path) -> BlobSink:
    """A BlobSink writing each attachment to a file in `folder`, checking its sha256: the file's path."""

    def sink(item: dict[str, Any], frame: S.Frame) -> Path:
        sha = str(item.get("sha256"))
        target = folder / f"{len(os.listdir(folder)):06d}.blob"
        digest = hashlib.sha256()
        with open(target, "wb") as out:
            S.copy_blob(frame, out, digest.update)
        if digest.hexdigest() != sha:
            raise S.malformed(f"附件 {sha[:12]} 已损坏", f"attachment {sha[:12]} is damaged")
        return target

    return sink
