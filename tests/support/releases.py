"""Signed client releases for tests (issue 16): a live server on loopback with an update repository (keys made
by `sync-server make-update-keys`, releases signed by `publish-client`), program folders of the real client
(their dist-info gives the version, as a PyInstaller bundle's does), enrolled school PCs, starts of an
installed program as a process, and the same server answering as an older (1.17) one.

    @pytest.fixture(scope="module")
    def server(tmp_path_factory):
        yield from live_update_server(tmp_path_factory)

    client, school = enrolled(make_client, server, "pc")
    server.publish(launcher(tmp_path / "v2", "2.0"), "2.0", school)
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from client.store import sync_state as S
from sync_server import models as M
from sync_server.app import create_app
from sync_server.cli import main as server_cli
from sync_server.state import get_state
from sync_server.usb import updates_folder
from tests.server.conftest import serve
from tests.sync.conftest import SERVER_NOW, Client, ClientFactory, LiveServer

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class UpdateServer(LiveServer):
    instance: Path = Path()
    db_url: str = ""
    keys: Path = Path()  # the bureau's offline keys (its USB stick)

    def cli(self, *args: str) -> int:
        """`sync-server ARGS` on this server's instance and database, in this process (it must succeed)."""
        code = server_cli([*args, "--instance", str(self.instance), "--db", self.db_url])
        assert code == 0, args
        return code

    def publish(self, folder: Path, version: str, school: str) -> None:
        """`folder` signed and published as release `version`, offered to `school` (a pilot)."""
        self.cli(
            "publish-client",
            str(folder),
            "--keys",
            str(self.keys),
            "--version",
            version,
            "--platform",
            "linux",
            "--schools",
            school,
        )

    def device_update(self, device_id: str) -> M.DeviceUpdate | None:
        with self.session() as s:
            return s.get(M.DeviceUpdate, device_id)

    @property
    def repo(self) -> Path:
        return updates_folder(self.app.config, self.app.instance_path)


def live_update_server(
    tmp_path_factory: pytest.TempPathFactory,
    *,
    name: str = "update-server",
    secret: str = "update-tests",
) -> Iterator[UpdateServer]:
    """A live server with its own instance, SQLite database and update keys (for a module's fixture)."""
    instance = tmp_path_factory.mktemp(name)
    url = f"sqlite:///{instance / 'sync.db'}"
    app = create_app(
        {
            "INSTANCE_PATH": str(instance),
            "DATABASE_URL": url,
            "SECRET_KEY": secret,
            "CLOCK": lambda: SERVER_NOW,
        }
    )
    http, thread = serve(app)
    keys = tmp_path_factory.mktemp("offline-keys")  # the bureau's USB stick
    live = UpdateServer(app, f"http://127.0.0.1:{http.server_port}", http.server_port)
    live.instance, live.db_url, live.keys = instance, url, keys
    assert server_cli(["make-update-keys", "--out", str(keys), "--force"]) == 0
    try:
        yield live
    finally:
        http.shutdown()
        http.server_close()
        thread.join(5)
        get_state(app).db.close()


def launcher(folder: Path, version: str, *, broken: bool = False) -> Path:
    """A built program folder of the real app: `school-client` starts client.cli from this source tree,
    and the folder's dist-info gives its version (as a PyInstaller bundle's does). `broken`: a release
    that cannot start (a library missing in the build, exit 127)."""
    meta = folder / f"school_data-{version}.dist-info"
    meta.mkdir(parents=True)
    (meta / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: school-data\nVersion: {version}\n", encoding="utf-8"
    )
    exe = folder / "school-client"
    if broken:
        exe.write_text("#!/bin/sh\necho 'error while loading shared libraries' >&2\nexit 127\n")
    else:
        code = (
            "import sys; here = sys.argv.pop(1); sys.path[:0] = [here, sys.argv.pop(1)]; "
            "from client.cli import main; sys.exit(main())"
        )
        exe.write_text(
            f'#!/bin/sh\nexec "{sys.executable}" -c "{code}" "$(dirname "$0")" "{ROOT}" "$@"\n'
        )
    exe.chmod(0o755)
    return folder


def run_program(
    install: Path, data: Path, *args: str, mode: str | None = None
) -> subprocess.CompletedProcess[str]:
    """`<install>/school-client --data-dir DATA ARGS` as a process, installed at `install` (update `mode`:
    the platform's own when None)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SCHOOL_CLIENT_")}
    env.update({k: v for k, v in os.environ.items() if k.startswith("SCHOOL_CLIENT_KEY")})
    env["SCHOOL_CLIENT_INSTALL_DIR"] = str(install)
    if mode is not None:
        env["SCHOOL_CLIENT_UPDATE_MODE"] = mode
    return subprocess.run(
        [str(install / "school-client"), "--data-dir", str(data), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


def enrolled(make_client: ClientFactory, server: LiveServer, name: str) -> tuple[Client, str]:
    """A school PC of a new school, enrolled online: (its client, the school code)."""
    school, code = server.new_school()
    client = make_client(name)
    client.engine.enroll(server.url, code, device_name=name)
    return client, school


def device_id(client: Client) -> str:
    with client.Session() as s:
        enrollment = S.get_enrollment(s)
    assert enrollment is not None
    return enrollment.device_id


@contextmanager
def served_as_1_17(app: Flask) -> Iterator[str]:
    """`app` served as an older (1.17) server (its URL): no Sync-Protocol header (nor the Sync-Update-Offer
    a 1.21 server says "none" in), and its own 404 for the update routes it lacks."""

    def as_1_17(environ: dict[str, Any], start_response: Any) -> Any:
        if environ["PATH_INFO"].startswith("/api/v1/update/"):
            environ["PATH_INFO"] = "/api/v1/no-such-route"  # the real app's own 404 answer

        def start(status: str, headers: list[tuple[str, str]], *exc: Any) -> Any:
            kept = [
                (k, v)
                for k, v in headers
                if not k.lower().startswith(("sync-protocol", "sync-update-offer"))
            ]
            return start_response(status, kept, *exc)

        return app(environ, start)

    old, thread = serve(as_1_17)  # type: ignore[arg-type]
    try:
        yield f"http://127.0.0.1:{old.server_port}"
    finally:
        old.shutdown()
        old.server_close()
        thread.join(5)
