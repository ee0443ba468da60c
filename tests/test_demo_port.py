"""`python3 dev.py run` when its port is taken (issue 11): the demo says so in its own words and names a
port to use instead - no traceback (it ended in KeyError: 'url')."""

from __future__ import annotations

import re
import socket
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_a_taken_port_is_said_with_a_free_one_to_use(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        proc = subprocess.run(
            [
                sys.executable,
                str(ROOT / "packaging" / "demo.py"),
                "--demo-dir",
                str(tmp_path / "demo"),
                "--setup-only",
                "--port",
                str(port),
            ],
            capture_output=True,
            text=True,
            timeout=240,
            cwd=ROOT,
        )
    out = proc.stdout + proc.stderr
    assert proc.returncode == 2, out
    assert "Traceback" not in out and "KeyError" not in out
    assert f"端口 {port} 已被占用" in out and f"port {port} is taken" in out
    suggested = re.search(r"python3 dev\.py run --port (\d+)", out)
    assert suggested is not None and int(suggested[1]) != port, out
    with socket.socket() as probe:  # the port it suggests is free
        probe.bind(("127.0.0.1", int(suggested[1])))
