"""Where the client keeps its data: --data-dir, else SCHOOL_CLIENT_DATA_DIR, else the user data folder."""

from __future__ import annotations

import os
from pathlib import Path

from platformdirs import user_data_dir

APP_NAME = "school-client"
APP_AUTHOR = "county-edu"
ENV_DATA_DIR = "SCHOOL_CLIENT_DATA_DIR"
DB_NAME = "store.db"


def resolve_data_dir(explicit: str | os.PathLike[str] | None = None) -> Path:
    if explicit:
        return Path(explicit).expanduser().resolve()
    env = os.environ.get(ENV_DATA_DIR)
    if env:
        return Path(env).expanduser().resolve()
    return Path(user_data_dir(APP_NAME, APP_AUTHOR, roaming=False))
