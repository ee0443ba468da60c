"""`sync-server serve` over TLS with a certificate made by `sync-server make-cert` (issue 12, point 4).

Real processes and sockets: the server in a subprocess (tests/support/served.py), clients through Python's ssl.
The doors of sync_server/serving.py hold over TLS: a connection that never finishes its handshake is closed, a
body over its door's limit is answered 413 from the head, a plain-HTTP client gets nothing and the server
goes on serving.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import socket
import ssl
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.support.served import ROOT, Served, cli, start_served


def make_cert(
    instance: Path, *hosts: str, extra: tuple[str, ...] = ()
) -> subprocess.CompletedProcess[str]:
    args = [a for h in hosts for a in ("--host", h)]
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "sync_server",
            "make-cert",
            *args,
            *extra,
            "--json",
            "--instance",
            str(instance),
        ],
        capture_output=True,
        text=True,
        encoding="utf-8",
        cwd=ROOT,
        timeout=60,
    )


@pytest.fixture
def tls_serve(tmp_path: Path, sqlite_template: Path) -> Iterator[Callable[..., tuple[Served, str]]]:
    started: list[Served] = []

    def start(**config: Any) -> tuple[Served, str]:
        instance = tmp_path / f"instance-{len(started)}"
        made = make_cert(instance, "127.0.0.1", "localhost")
        assert made.returncode == 0, made.stderr
        fingerprint = json.loads(made.stdout.strip().splitlines()[-1])["fingerprint"]
        db = tmp_path / f"tls-{len(started)}.db"
        shutil.copyfile(sqlite_template, db)
        served = start_served(instance, f"sqlite:///{db}", config=config or None)
        started.append(served)
        return served, fingerprint

    yield start
    for served in started:
        err = served.stop()
        assert "Traceback" not in err, err


def _client_context() -> ssl.SSLContext:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # the test checks the fingerprint itself
    return context


def _tls_socket(served: Served) -> ssl.SSLSocket:
    raw = socket.create_connection(("127.0.0.1", served.port), timeout=10)
    return _client_context().wrap_socket(raw, server_hostname="127.0.0.1")


def test_make_cert_prints_the_fingerprint_of_the_served_certificate(
    tls_serve: Callable[..., tuple[Served, str]],
) -> None:
    served, fingerprint = tls_serve()
    assert served.url.startswith("https://127.0.0.1:")
    with _tls_socket(served) as sock:
        der = sock.getpeercert(binary_form=True)
        assert der is not None
        seen = ":".join(f"{b:02X}" for b in hashlib.sha256(der).digest())
        assert seen == fingerprint
        assert sock.version() in ("TLSv1.2", "TLSv1.3")
    # the served certificate's own check: names and addresses, nothing else trusted
    context = ssl.create_default_context(cafile=str(served.instance / "tls" / "cert.pem"))
    r = requests.get(
        served.url + "/healthz", verify=str(served.instance / "tls" / "cert.pem"), timeout=10
    )
    assert r.status_code == 200 and r.json() == {"status": "ok"}
    assert r.headers["X-Sync-Server"] == "school-sync/1"
    raw = socket.create_connection(("localhost", served.port), timeout=10)
    with context.wrap_socket(raw, server_hostname="localhost") as sock:
        assert sock.getpeercert() is not None
    key = served.instance / "tls" / "key.pem"
    assert key.stat().st_mode & 0o077 == 0  # the key is owner-only
    # add-school shows the fingerprint the slips carry
    made = cli(served.instance, served.db_url, "add-school", "--code", "S001", "--name", "城关小学")
    assert made["fingerprint"] == fingerprint


def _cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """`sync-server ARGS` in this process (the same main() as the console script); (exit, out, err)."""
    from sync_server.cli import main

    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_make_cert_refuses_to_replace_a_certificate_and_bad_hosts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    where = ("--instance", str(tmp_path), "--json")
    code, out, _ = _cli(
        capsys, "make-cert", "--host", "sync.county.edu.cn", "--host", "10.1.2.3", *where
    )
    assert code == 0
    first = json.loads(out.strip().splitlines()[-1])["fingerprint"]
    code, _, err = _cli(capsys, "make-cert", "--host", "sync.county.edu.cn", *where)
    assert code == 2
    assert "已存在" in err and "--force" in err and "Traceback" not in err
    code, out, _ = _cli(capsys, "make-cert", "--host", "sync.county.edu.cn", "--force", *where)
    assert code == 0 and json.loads(out.strip().splitlines()[-1])["fingerprint"] != first
    code, _, err = _cli(
        capsys, "make-cert", "--host", "http://x/", "--instance", str(tmp_path / "o")
    )
    assert code == 2 and "--host" in err and "Traceback" not in err


def test_serve_refuses_a_missing_or_mismatched_certificate(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    one, two = tmp_path / "one", tmp_path / "two"
    assert _cli(capsys, "make-cert", "--host", "127.0.0.1", "--instance", str(one))[0] == 0
    assert _cli(capsys, "make-cert", "--host", "127.0.0.1", "--instance", str(two))[0] == 0
    for args in (
        ("--cert", str(tmp_path / "nope.pem"), "--key", str(one / "tls" / "key.pem")),
        ("--cert", str(one / "tls" / "cert.pem"), "--key", str(two / "tls" / "key.pem")),
        ("--cert", str(one / "tls" / "cert.pem")),
        ("--no-tls", "--key", str(one / "tls" / "key.pem")),
    ):
        code, _, err = _cli(
            capsys, "serve", "--port", "0", *args, "--instance", str(tmp_path / "i")
        )
        assert code == 2, err
        assert err.startswith("错误：") and "Traceback" not in err
    assert not (tmp_path / "i" / "sync.db").exists()  # refused before anything started
    # the same from config.toml: a certificate without its key
    (tmp_path / "i").mkdir(exist_ok=True)
    (tmp_path / "i" / "config.toml").write_text(
        f"tls_cert = {json.dumps(str(one / 'tls' / 'cert.pem'))}\n", encoding="utf-8"
    )
    code, _, err = _cli(capsys, "serve", "--port", "0", "--instance", str(tmp_path / "i"))
    assert code == 2 and "tls_key" in err and "config.toml" in err


def test_doors_hold_over_tls(tmp_path: Path, tls_serve: Callable[..., tuple[Served, str]]) -> None:
    served, _ = tls_serve(serve_request_head_timeout=1, serve_cleanup_interval=0.2)
    verify = str(served.instance / "tls" / "cert.pem")
    # a plain-HTTP client on the TLS port gets no answer, and the server goes on
    with socket.create_connection(("127.0.0.1", served.port), timeout=10) as plain:
        plain.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        try:
            said = plain.recv(1024)
        except ConnectionResetError:
            said = b""
        assert not said.startswith(b"HTTP")  # a TLS alert or nothing, never a page in clear
    # a connection that never starts its handshake is closed after the head timeout
    silent = socket.create_connection(("127.0.0.1", served.port), timeout=10)
    silent.settimeout(10)
    assert silent.recv(1) == b""  # closed by the server, well before the 10 s of this bound
    silent.close()
    # a large body without credentials: 413 from the head, in our JSON, over TLS
    with _tls_socket(served) as sock:
        sock.sendall(
            b"POST /api/v1/enroll HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 10000000\r\n\r\n" + b"x" * 65536
        )
        answer = b""
        while b"\r\n\r\n" not in answer or not answer.rstrip().endswith(b"}"):
            chunk = sock.recv(65536)
            if not chunk:
                break
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 413"), answer[:200]
    assert json.loads(body)["error"]["code"] == "too_large"
    # a large answer comes whole (several TLS records), and the server still answers everyone
    r = requests.get(served.url + "/api/v1/openapi.json", verify=verify, timeout=10)
    assert r.status_code == 200 and len(r.content) > 16 * 1024
    assert requests.get(served.url + "/healthz", verify=verify, timeout=10).status_code == 200
