"""The frame shared by the files carried by hand (USB bundles, enrollment files): MAGIC | header length
(4 bytes, big-endian) | header (UTF-8 JSON) | the sealed rest. Reading it says what is wrong in Chinese and
English through the caller's `refuse` (each kind of file names itself)."""

from __future__ import annotations

import json
import struct
from collections.abc import Callable
from typing import Any, NoReturn

TAG_BYTES = 16  # AES-GCM's tag: the least a sealed rest can be


def split_frame(
    data: bytes,
    magic: bytes,
    *,
    max_header: int,
    min_sealed: int,
    refuse: Callable[[str, str], NoReturn],
) -> tuple[bytes, Any, bytes]:
    """(the bytes up to the header's end - the authenticated prefix -, the header's JSON, the sealed rest)."""
    if not data.startswith(magic):
        if magic.startswith(data):
            refuse("文件不完整", "the file is truncated")
        refuse("文件开头不对", "it does not start as one")
    at = len(magic)
    if len(data) < at + 4:
        refuse("文件不完整", "the file is truncated")
    (length,) = struct.unpack(">I", data[at : at + 4])
    if length > max_header:
        refuse("文件头过长", "the header is too long")
    end = at + 4 + length
    if len(data) < end + min_sealed:
        refuse("文件不完整（可能在写入时拔出了U盘）", "the file is truncated")
    try:
        raw = json.loads(data[at + 4 : end].decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        refuse("文件头已损坏", "the header is damaged")
    return data[:end], raw, data[end:]
