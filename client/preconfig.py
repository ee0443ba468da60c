"""Preconfigured installs: the bureau's server address (and optionally its own forms folder) in a small file,
so that the clerk only types the enrollment code. No Qt.

The file is `school-client.ini`, UTF-8 (a BOM from Notepad is fine; GBK is accepted too):

    [server]
    url = https://10.1.2.3:8700
    fingerprint = AB:CD:...     ; the server certificate's SHA-256 fingerprint (sync-server make-cert)
    allow_http = false          ; true lets a plain http:// address to another computer through

    [forms]
    folder = 表单          ; optional, relative to the .ini file

It is looked for, first found wins:
1. $SCHOOL_CLIENT_CONFIG (a path to the file);
2. beside the executable (`school-client.ini` next to school-client.exe: a bureau puts it there after install,
   or ships it beside the installer, which copies it);
3. inside the bundle (packaging/school-client.ini baked into the build by build.spec).
"""

from __future__ import annotations

import configparser
import logging
import os
import sys
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

CONFIG_NAME = "school-client.ini"
ENV_CONFIG = "SCHOOL_CLIENT_CONFIG"


@dataclass(frozen=True, slots=True)
class Preconfig:
    server: str | None = None
    forms_dir: Path | None = None
    fingerprint: str | None = None  # as written; client.sync.pinning checks and normalizes it
    allow_http: bool = False
    source: Path | None = None


def candidate_paths() -> list[Path]:
    paths: list[Path] = []
    env = os.environ.get(ENV_CONFIG)
    if env:
        paths.append(Path(env).expanduser())
    if getattr(sys, "frozen", False):
        paths.append(Path(sys.executable).resolve().parent / CONFIG_NAME)
        bundled = getattr(sys, "_MEIPASS", None)
        if bundled:
            paths.append(Path(bundled) / CONFIG_NAME)
    return paths


def _read_text(path: Path) -> str:
    raw = path.read_bytes()
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return raw.decode("gbk")  # saved as "ANSI" by an older Notepad on a Chinese Windows


def load(path: Path) -> Preconfig:
    """Read one file; a file that cannot be read or parsed counts as no preconfiguration (logged)."""
    parser = configparser.ConfigParser(inline_comment_prefixes=(";", "#"))
    try:
        parser.read_string(_read_text(path), source=str(path))
    except (OSError, UnicodeDecodeError, configparser.Error) as exc:
        log.warning("ignoring %s: %s", path, exc)
        return Preconfig(source=path)
    server = parser.get("server", "url", fallback="").strip().rstrip("/") or None
    folder = parser.get("forms", "folder", fallback="").strip()
    forms_dir = (path.parent / folder).resolve() if folder else None
    fingerprint = parser.get("server", "fingerprint", fallback="").strip() or None
    try:
        allow_http = parser.getboolean("server", "allow_http", fallback=False)
    except ValueError as exc:  # a value that is no yes/no: the safe reading
        log.warning("ignoring allow_http in %s: %s", path, exc)
        allow_http = False
    return Preconfig(
        server=server,
        forms_dir=forms_dir,
        fingerprint=fingerprint,
        allow_http=allow_http,
        source=path,
    )


def find() -> Preconfig:
    for path in candidate_paths():
        if path.is_file():
            return load(path)
    return Preconfig()


def preconfigured_server() -> str | None:
    """The server address of a preconfigured install, or None."""
    return find().server


def preconfigured_fingerprint(server_url: str) -> str | None:
    """The ini's certificate fingerprint, when the ini names this server (the same address)."""
    found = find()
    if not found.fingerprint or not found.server:
        return None
    return found.fingerprint if _same_server(found.server, server_url) else None


def _same_server(a: str, b: str) -> bool:
    """The same address, the scheme compared only where both give one ('10.1.2.3:8700' is its https)."""

    def parts(url: str) -> tuple[str | None, str]:
        url = url.strip().rstrip("/").lower()
        scheme, sep, rest = url.partition("://")
        return (scheme, rest) if sep else (None, url)

    (scheme_a, rest_a), (scheme_b, rest_b) = parts(a), parts(b)
    return rest_a == rest_b and (scheme_a is None or scheme_b is None or scheme_a == scheme_b)


def preconfigured_forms_dir() -> Path | None:
    """The bureau's own forms folder of a preconfigured install, or None."""
    return find().forms_dir
