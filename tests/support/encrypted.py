"""Opening a store or backup file in a test, whatever its key: the key of the open data folder whose salt the
file starts with (client.store.keys keeps the keys of the folders this process opened), or none for plaintext."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from client.store import keys
from client.store.db import connect, file_salt


def key_of(path: Path) -> keys.DataKey | None:
    salt = file_salt(path) if path.exists() and path.stat().st_size else None
    if salt is None:
        return None
    key = keys.loaded_key_for_salt(salt)
    if key is not None:
        return key
    if keys.has_key(path.parent):  # a store.db written by another process
        key = keys.load_key(path.parent)
        if key is not None and key.salt == salt:
            return key
    raise AssertionError(f"no open data folder's key opens {path}")


def db_connect(path: Path | str, *, read_only: bool = False) -> Any:
    """Like sqlite3.connect(path) for the store's files (encrypted with their folder's key)."""
    path = Path(path)
    return connect(path, key_of(path), read_only=read_only, check=path.exists())
