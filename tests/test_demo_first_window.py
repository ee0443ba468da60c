"""The README's first command as a user meets it (product trial 2026-12-01, item 6): the demo prints the
client's recovery code with the other set-up facts, so the first window does not stop the user with the
recovery-code dialog (nor with the small 正在打开… box: the demo folder says its language); and
`dev.py run` stopped with SIGTERM (not Ctrl+C) stops its sync server too, leaving the port free."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests

from client.store.keys import recovery_shown
from tests.test_demo import free_port

ROOT = Path(__file__).resolve().parents[1]


def port_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def test_dev_run_stopped_with_sigterm_stops_its_server_and_gave_the_code(tmp_path: Path) -> None:
    port = free_port()
    folder = tmp_path / "demo"
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    proc = subprocess.Popen(
        [sys.executable, "dev.py", "run", "--port", str(port), "--demo-dir", str(folder)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        lines: list[str] = []
        assert proc.stdout is not None
        for line in proc.stdout:  # up to the demo's last set-up line
            lines.append(line)
            if "Ctrl+C" in line:
                break
        output = "".join(lines)
        assert requests.get(f"http://127.0.0.1:{port}/healthz", timeout=5).ok, output
        # The code was given with the set-up facts: the first window does not show it again.
        assert recovery_shown(folder / "client"), output
        assert "恢复码" in output and "recovery code" in output
        assert (folder / "client" / "ui-language").read_text(encoding="ascii").strip() == "zh_CN"

        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=15)
        deadline = time.monotonic() + 5
        while not port_free(port) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert port_free(port), "the sync server still holds the port after dev.py ended"
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
