"""Configuration in layers: defaults -> instance/config.toml -> environment -> the caller's override.

No secret ships in the defaults: the Flask secret key comes from the environment, the instance file, or is
generated on first run and kept in `instance/secret_key` (readable by its owner only).
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import secrets
import tomllib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from sync_server.private_files import private_dir

log = logging.getLogger(__name__)

ENV_DB = "SYNC_SERVER_DB"
ENV_SECRET_KEY = "SYNC_SERVER_SECRET_KEY"
ENV_INSTANCE = "SYNC_SERVER_INSTANCE"
CONFIG_FILE = "config.toml"
SECRET_FILE = "secret_key"
DB_FILE = "sync.db"

Clock = Callable[[], dt.datetime]  # returns an aware UTC datetime

DEFAULTS: dict[str, Any] = {
    "DATABASE_URL": None,  # None: sqlite:///<instance>/sync.db
    "AUTO_MIGRATE": True,  # run Alembic migrations in create_app
    "PUBLISH_SHIPPED_FORMS": True,  # publish forms/definitions when form_versions is empty
    "ENROLLMENT_DAYS": 7,
    # Push batches (protocol 1.20: stated on every answer; clients send min(this, their own cap)). 1,000
    # changes: ~0.3 s of the server per batch unloaded, +10-20 MB at its peak (benchmarks/README.md, goal 2).
    "MAX_BATCH_CHANGES": 1000,
    "MAX_BATCH_BYTES": 5 * 1024 * 1024,  # uncompressed
    "MAX_ATTACHMENT_BYTES": 20 * 1024 * 1024,
    "MAX_CHANGE_BYTES": 1024 * 1024,  # one pushed change's data as stored (applied or a conflict)
    "MAX_PARTIAL_UPLOADS": 20,  # unfinished attachment uploads per school ...
    "MAX_PARTIAL_BYTES": 200 * 1024 * 1024,  # ... and the bytes they announced, else 429
    "PARTIAL_UPLOAD_TTL_HOURS": 72,  # an unfinished upload untouched this long is removed
    "MAX_DAILY_UPLOAD_BYTES": 2 * 1024 * 1024 * 1024,  # attachment bytes a school adds in 24 hours
    "PULL_DEFAULT_LIMIT": 500,
    "PULL_MAX_LIMIT": 1000,
    "GZIP_MIN_BYTES": 1024,  # answers at least this long are gzipped for a client that accepts it
    # Request bodies by door (sync_server/limits.py): decided from the head, before the body is read.
    "MAX_REQUEST_BYTES": 64 * 1024,  # without a device token or a staff session: enroll, login, ...
    "MAX_UPLOAD_CHUNK_BYTES": 1024 * 1024,  # one PUT of an attachment (clients send 256 KiB chunks)
    "MAX_DASHBOARD_BODY_BYTES": 6 * 1024 * 1024,  # a logged-in staff member (form upload: 5 MB)
    "MAX_USB_UPLOAD_BYTES": 512 * 1024 * 1024,  # U盘数据: one upload of a round's bundles (to disk)
    # `sync-server serve` (waitress; sync_server/serving.py, docs/server.md "Limits").
    "SERVE_THREADS": 8,  # worker threads (keep at or below DB_POOL_SIZE)
    "SERVE_CONNECTION_LIMIT": 300,  # open connections; idle ones are closed to make room for new ones
    "SERVE_CONNECTIONS_PER_ADDRESS": 128,  # per client address: a county NAT (not applied behind a proxy)
    "SERVE_IDLE_TIMEOUT": 60,  # seconds a connection may stay silent (keep-alive, stalled upload)
    "SERVE_REQUEST_HEAD_TIMEOUT": 20,  # seconds from a request's first byte to the end of its head
    "SERVE_MIN_BODY_RATE": 1024,  # bytes per second a body must average (after the head timeout)
    "SERVE_MAX_HEADER_BYTES": 16 * 1024,  # request line and headers
    "SERVE_BACKLOG": 1024,  # connections the system queues before they are accepted
    "SERVE_CLEANUP_INTERVAL": 5,  # seconds between checks of the timeouts above
    # Processes running the form engine on pushes beside the serving one (services/check_pool.py);
    # None: 1 on a machine with 2 or more cores, else 0 (0: every push is checked in the serving process).
    "SERVE_CHECK_WORKERS": None,
    # Wrong enrollment codes (sync_server/throttle.py): growing waits, never a long lock.
    "ENROLL_FREE_FAILURES": 10,  # wrong codes per address (or per address and school) before any wait
    "ENROLL_DELAY_SECONDS": 2,  # the first wait; doubled at each further wrong code ...
    "ENROLL_MAX_DELAY_SECONDS": 30,  # ... up to this
    "ENROLL_SCHOOL_FREE_FAILURES": 20,  # wrong codes naming one school, from any address ...
    "ENROLL_SCHOOL_MAX_DELAY_SECONDS": 60,  # ... then waits up to this for that school only
    "ENROLL_FORGET_SECONDS": 900,  # failures are forgotten after this long without one
    "UTC_OFFSET_HOURS": 8,  # the bureau's local time (China: UTC+8, no daylight saving) for today()
    "LAST_SEEN_EVERY": 60,  # seconds between writes of a device's last_seen_at
    "DB_POOL_SIZE": 10,
    "ATTACHMENTS_DIR": None,  # None: <instance>/attachments
    "CLOCK": None,  # a Clock; None: the system clock
}


class ConfigError(ValueError):
    """A setting with a value that cannot be used; names the key as config.toml spells it."""

    def __init__(self, key: str, value: object, expected: tuple[str, str]) -> None:
        self.key = key.lower()
        self.message_zh = f"配置项 {self.key} 的值 {value!r} 无效：应为{expected[0]}"
        self.message_en = f"setting {self.key} = {value!r} is not valid: expected {expected[1]}"
        super().__init__(self.message_en)


def number(cfg: Mapping[str, Any], key: str, *, minimum: float = 0) -> float:
    """A numeric setting at least `minimum`; ConfigError otherwise."""
    value = cfg.get(key)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= minimum:
        raise ConfigError(
            key, value, (f"不小于 {minimum:g} 的数字", f"a number of at least {minimum:g}")
        )
    return float(value)


def whole_number(cfg: Mapping[str, Any], key: str, *, minimum: int = 0) -> int:
    """An integer setting at least `minimum`; ConfigError otherwise."""
    value = cfg.get(key)
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ConfigError(
            key, value, (f"不小于 {minimum} 的整数", f"a whole number of at least {minimum}")
        )
    return value


def system_clock() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{path}"


def default_instance_path() -> Path:
    """SYNC_SERVER_INSTANCE, else Flask's instance folder for this package.

    That is `instance/` beside the package in a source checkout, `<prefix>/var/sync_server-instance` when
    installed.
    """
    env = os.environ.get(ENV_INSTANCE)
    if env:
        return Path(env)
    from flask import Flask

    return Path(Flask("sync_server").instance_path)


def default_database_url(instance: Path) -> str:
    return os.environ.get(ENV_DB) or sqlite_url(instance / DB_FILE)


def read_instance_file(instance: Path) -> dict[str, Any]:
    path = instance / CONFIG_FILE
    if not path.exists():
        return {}
    with path.open("rb") as fh:
        raw = tomllib.load(fh)
    return {k.upper(): v for k, v in raw.items()}


def read_environment(env: Mapping[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if env.get(ENV_DB):
        out["DATABASE_URL"] = env[ENV_DB]
    if env.get(ENV_SECRET_KEY):
        out["SECRET_KEY"] = env[ENV_SECRET_KEY]
    return out


def persistent_secret_key(instance: Path) -> str:
    """The secret key kept in the instance folder, made on first use."""
    path = instance / SECRET_FILE
    if path.exists():
        key = path.read_text(encoding="ascii").strip()
        if key:
            return key
    key = secrets.token_hex(32)
    private_dir(instance)  # owner-only, whatever the umask (issue 12.5)
    tmp = path.with_name(f".{SECRET_FILE}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as fh:
        fh.write(key + "\n")
    try:
        os.link(tmp, path)  # never replaces a key another process wrote first
    except FileExistsError:
        pass
    except OSError:
        os.replace(tmp, path)  # a file system without hard links
    finally:
        tmp.unlink(missing_ok=True)
    log.info("generated a new secret key in %s", path)
    return path.read_text(encoding="ascii").strip()


def build_config(
    instance: Path, override: Mapping[str, Any] | None, env: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """The layers merged in order; DATABASE_URL, SECRET_KEY and CLOCK are always filled in."""
    cfg: dict[str, Any] = dict(DEFAULTS)
    cfg.update(read_instance_file(instance))
    cfg.update(read_environment(os.environ if env is None else env))
    cfg.update(override or {})
    if not cfg.get("DATABASE_URL"):
        cfg["DATABASE_URL"] = sqlite_url(instance / DB_FILE)
    if not cfg.get("SECRET_KEY"):
        cfg["SECRET_KEY"] = persistent_secret_key(instance)
    if cfg.get("CLOCK") is None:
        cfg["CLOCK"] = system_clock
    return cfg
