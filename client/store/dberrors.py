"""What a database error can be: the store's driver (sqlcipher3) or Python's sqlite3 - neither subclasses the
other, so code that catches one must catch both (a light module: the CLI imports it at start)."""

from __future__ import annotations

import sqlite3

import sqlcipher3

DB_ERRORS: tuple[type[Exception], ...] = (sqlcipher3.Error, sqlite3.Error)
