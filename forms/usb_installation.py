"""The installation id in a USB bundle's header (protocol revision 1.15), for computers enrolled by file.

A computer enrolled from an enrollment file (forms.enrollment_file) makes an installation id; the bureau binds
the file's device to the first installation it hears from. Online the id rides in the device token; by stick
it rides in the bundle header as `installation_id` - an extra field the format-1 reader ignores (an older
bureau or client reads the bundle as before), authenticated like the rest of the header (it is the AES-GCM
associated data), so it cannot be changed without the device key.

    header = with_installation(U.new_header(...), installation_id)    # the school's export
    U.seal(header, payload, key)
    ...
    U.open_bundle(data, key)                                          # the bureau: authentic first,
    installation = bundle_installation(data[:64 * 1024])              # then read the id
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass
from typing import Any

from forms import usb_bundle as U
from forms.enrollment_file import INSTALLATION_RE

FIELD = "installation_id"


@dataclass(frozen=True)
class InstalledHeader(U.Header):
    installation_id: str | None = None

    def as_dict(self) -> dict[str, Any]:
        out = super().as_dict()
        if self.installation_id is not None:
            out[FIELD] = self.installation_id
        return out


def with_installation(header: U.Header, installation_id: str | None) -> U.Header:
    """The header with the installation id (unchanged when there is none: an online-enrolled computer)."""
    if installation_id is None:
        return header
    if not INSTALLATION_RE.fullmatch(installation_id):
        raise ValueError(f"not an installation id: {installation_id!r}")
    fields = {name: getattr(header, name) for name in U.Header.__dataclass_fields__}
    return InstalledHeader(**fields, installation_id=installation_id)


def bundle_installation(lead: bytes) -> str | None:
    """The installation id in a bundle's header, from the file's first bytes (format 1 or 2, or its first
    part: MAGIC, u32 header length, header), or None. Authentic only once the bundle proved so with the
    device's key (the header is its associated data): call this after that."""
    at = len(U.MAGIC)
    if not lead.startswith(U.MAGIC[:6]) or len(lead) < at + 4:
        return None
    (length,) = struct.unpack(">I", lead[at : at + 4])
    if length > U.MAX_HEADER_BYTES or len(lead) < at + 4 + length:
        return None
    try:
        raw = json.loads(lead[at + 4 : at + 4 + length].decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return None
    value = raw.get(FIELD) if isinstance(raw, dict) else None
    return value if isinstance(value, str) and INSTALLATION_RE.fullmatch(value) else None
