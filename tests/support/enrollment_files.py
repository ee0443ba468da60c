"""Enrollment files for tests: one written by the real server's service (sync_server.enrollment_files) for a
school, and put on a USB stick (a folder `U盘`) as the bureau hands it to a school."""

from __future__ import annotations

from pathlib import Path

from sync_server.enrollment_files import Written, write_file
from sync_server.state import get_state
from tests.sync.conftest import LiveServer

FAST_N = 2**12  # scrypt cost for files written by the service in tests (the CLI writes 2**15)


def written(server: LiveServer, school: str | None = None) -> Written:
    """An enrollment file for `school` (a new school when None), written by the server's service."""
    school = school or server.new_school()[0]
    return write_file(
        get_state(server.app),
        school_code=school,
        server_url=server.url,
        fingerprint=None,
        actor="test",
        kdf_n=FAST_N,
    )


def on_stick(tmp_path: Path, w: Written) -> Path:
    """`w` as a file on the stick `tmp_path/U盘`: its path."""
    folder = tmp_path / "U盘"
    folder.mkdir(exist_ok=True)
    path = folder / w.file_name
    path.write_bytes(w.data)
    return path
