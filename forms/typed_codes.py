"""Codes a person reads off a screen or paper and types in: the bureau's enrollment code and the code of an
enrollment file. One alphabet without look-alikes (no 0/O, 1/I/L, 2/Z, 5/S, 8/B), groups of four joined by
dashes, and one reading of what was typed (case, spaces and any kind of dash do not matter)."""

from __future__ import annotations

import re
import secrets

CODE_ALPHABET = "ACDEFGHJKMNPQRTUVWXY34679"
CODE_GROUP_LEN = 4
_SEPARATORS = re.compile(r"[\s\-_－—]")


def new_code(groups: int) -> str:
    """`groups` groups of four characters of CODE_ALPHABET (log2(25) = 4.64 bits a character)."""
    return "-".join(
        "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_GROUP_LEN)) for _ in range(groups)
    )


def normalize_code(code: str) -> str:
    """What a person typed -> the code itself: upper case, without spaces or dashes."""
    return _SEPARATORS.sub("", code).upper()
