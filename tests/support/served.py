"""A real `sync-server serve` (waitress) in a subprocess, for tests and benchmarks that need real sockets.

    served = start_served(tmp_path / "instance", "sqlite:///...", config={"serve_threads": 2})
    try:
        requests.get(served.url + "/healthz", timeout=10)
    finally:
        served.stop()

`config` is written to the instance's config.toml before the server starts; `cli(...)` runs another
`sync-server` command on the same instance and database and returns its JSON result.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# The source tree the server runs from; SYNC_SERVED_SOURCE runs another (an older commit, for figures).
ROOT = Path(os.environ.get("SYNC_SERVED_SOURCE") or Path(__file__).resolve().parents[2])
SERVE = (sys.executable, "-m", "sync_server", "serve", "--port", "0", "--json")


def _environment() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("SYNC_SERVER_DB", None)
    env.pop("SYNC_SERVER_INSTANCE", None)
    return env


def _where(instance: Path, db_url: str) -> list[str]:
    return ["--db", db_url, "--instance", str(instance)]


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    return json.dumps(str(value), ensure_ascii=False)


def write_config(instance: Path, config: dict[str, Any]) -> None:
    instance.mkdir(parents=True, exist_ok=True)
    lines = [f"{key} = {_toml_value(value)}" for key, value in config.items()]
    (instance / "config.toml").write_text("\n".join(lines) + "\n", encoding="utf-8")


def cli(instance: Path, db_url: str, *args: str, stdin: str | None = None) -> dict[str, Any]:
    """`sync-server ARGS --json` on this instance; its JSON result (asserts exit 0)."""
    r = subprocess.run(
        [sys.executable, "-m", "sync_server", *args, "--json", *_where(instance, db_url)],
        capture_output=True,
        text=True,
        encoding="utf-8",
        cwd=ROOT,
        env=_environment(),
        input=stdin,
        timeout=120,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    result: dict[str, Any] = json.loads(r.stdout.strip().splitlines()[-1])
    return result


@dataclass
class Served:
    proc: subprocess.Popen[bytes]
    url: str
    port: int
    instance: Path
    db_url: str
    stderr_path: Path

    def stop(self) -> str:
        """Stop the server (SIGINT, as systemd does); its stderr."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        return self.stderr_path.read_text(encoding="utf-8", errors="replace")


def start_served(
    instance: Path,
    db_url: str,
    *,
    config: dict[str, Any] | None = None,
    args: tuple[str, ...] = (),
    env: dict[str, str] | None = None,
    wait: float = 60,
) -> Served:
    """Start `sync-server serve --port 0` and wait until it listens."""
    if config is not None:
        write_config(instance, config)
    instance.mkdir(parents=True, exist_ok=True)
    out_path = instance / "serve.stdout"
    err_path = instance / "serve.stderr"
    with out_path.open("wb") as out, err_path.open("wb") as err:
        proc = subprocess.Popen(
            [*SERVE, *args, *_where(instance, db_url)],
            stdout=out,
            stderr=err,
            cwd=ROOT,
            env={**_environment(), **(env or {})},
        )
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        for line in out_path.read_text(encoding="utf-8", errors="replace").splitlines():
            if line.startswith("{"):
                url = str(json.loads(line)["url"])
                port = int(url.rsplit(":", 1)[1])
                return Served(proc, url, port, instance, db_url, err_path)
        if proc.poll() is not None:
            break
        time.sleep(0.05)
    proc.kill()
    proc.wait(5)
    raise RuntimeError(
        "sync-server serve did not start: " + err_path.read_text(encoding="utf-8", errors="replace")
    )
