"""What an unauthenticated client can do to `sync-server serve` (issue 9): figures, before and after.

Runs the real server (waitress) in a subprocess on a fresh SQLite database, then, each on a fresh server:
  1. opens 110 idle connections (half of them stopped inside their request line) and times GET /healthz;
  2. keeps 100 connections alive and idle, then sends 60 real pushes (10 at a time) and times them;
  3. sends a 200 MB body without a token and counts the bytes the server took before it answered;
  4. times /healthz alone and while 20 failed logins are answered;
  5. after 20 wrong passwords for an account from a stranger, tries the owner's login from the owner's browser;
  6. after 20 wrong enrollment codes from a school's address, tries the school's right code.
Prints one line per figure. `--source DIR` runs the server from another source tree, e.g. the commit before
the fix: `git archive 75f36eb | tar -x -C /tmp/old` then `--source /tmp/old`.

    .venv/bin/python benchmarks/server_doors_bench.py [--source DIR] [--push-timeout 60]
"""

from __future__ import annotations

import argparse
import concurrent.futures
import contextlib
import http.client
import json
import os
import re
import select
import socket
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

PASSWORD = "correct-horse-battery"
CHANGE = {
    "form_id": "safety_inspection",
    "form_version": "2026.1",
    "kind": "upsert",
    "revision": 1,
    "base_server_revision": None,
    "status": "submitted",
    "saved_at": "2026-11-28T01:00:00Z",
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", help="run the server from this source tree")
    parser.add_argument("--push-timeout", type=float, default=60.0)
    args = parser.parse_args()
    if args.source:
        os.environ["SYNC_SERVED_SOURCE"] = str(Path(args.source).resolve())
    from tests.support import served as served_module

    print(f"server source: {served_module.ROOT}")
    with tempfile.TemporaryDirectory() as tmp:
        runs = 0

        @contextlib.contextmanager
        def server() -> Iterator[Any]:
            nonlocal runs
            runs += 1
            folder = Path(tmp) / f"run{runs}"
            db = f"sqlite:///{folder / 'sync.db'}"
            folder.mkdir()
            s = served_module.start_served(folder / "instance", db)
            try:
                yield s
            finally:
                s.stop()

        for name, scenario in SCENARIOS:
            with server() as s:
                for line in scenario(s, served_module, args):
                    print(f"{name}: {line}", flush=True)


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    try:
        result = fn()
    except requests.RequestException as exc:
        result = exc
    return time.perf_counter() - start, result


def healthz(s: Any, timeout: float = 30) -> tuple[float, str]:
    seconds, result = timed(lambda: requests.get(s.url + "/healthz", timeout=timeout))
    if isinstance(result, Exception):
        return seconds, f"no answer ({type(result).__name__})"
    return seconds, str(result.status_code)


def idle_connections(s: Any, _m: Any, _a: Any) -> list[str]:
    with contextlib.ExitStack() as stack:
        for i in range(110):
            sock = stack.enter_context(socket.create_connection(("127.0.0.1", s.port), timeout=10))
            if i % 2:
                sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        seconds, status = healthz(s)
    return [f"/healthz with 110 idle connections open: {status} in {seconds:.2f} s"]


def device_token(s: Any, m: Any) -> str:
    made = m.cli(s.instance, s.db_url, "add-school", "--code", "S001", "--name", "城关小学")
    r = requests.post(
        s.url + "/api/v1/enroll",
        json={"enrollment_code": made["enrollment_code"], "device_name": "bench"},
        timeout=30,
    )
    r.raise_for_status()
    return str(r.json()["token"])


def keep_alive(s: Any, m: Any, args: Any) -> list[str]:
    token = device_token(s, m)
    idle = []
    for _ in range(100):
        conn = http.client.HTTPConnection("127.0.0.1", s.port, timeout=5)
        try:
            conn.request("GET", "/healthz")
            conn.getresponse().read()
        except OSError:  # the server stopped accepting: these idle ones hold every slot
            conn.close()
            break
        idle.append(conn)

    def push(_: int) -> tuple[float, Any]:
        data = {"op_id": str(uuid.uuid4()), "record_id": str(uuid.uuid4()), **CHANGE}
        data["data"] = {"school_name": "x"}
        body = json.dumps({"changes": [data]})
        headers = {
            "Authorization": f"Bearer {token}",
            "Idempotency-Key": str(uuid.uuid4()),
            "Content-Type": "application/json",
        }
        return timed(
            lambda: requests.post(
                s.url + "/api/v1/push", data=body, headers=headers, timeout=args.push_timeout
            )
        )

    try:
        with concurrent.futures.ThreadPoolExecutor(10) as pool:
            results = list(pool.map(push, range(60)))
    finally:
        for conn in idle:
            conn.close()
    answered = [t for t, r in results if not isinstance(r, Exception)]
    timed_out = len(results) - len(answered)
    p50 = statistics.median(t for t, _ in results)
    return [
        f"60 pushes with {len(idle)} idle keep-alive connections: {timed_out} timed out "
        f"(> {args.push_timeout:g} s), p50 {p50:.2f} s, max {max(t for t, _ in results):.2f} s"
    ]


def big_body(s: Any, _m: Any, _a: Any) -> list[str]:
    total = 200 * 1024 * 1024
    head = (
        b"POST /api/v1/push HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Content-Length: %d\r\n\r\n" % total
    )
    piece = b"x" * (256 * 1024)
    start = time.perf_counter()
    sock = socket.create_connection(("127.0.0.1", s.port), timeout=60)
    sock.sendall(head)
    sent = 0
    with contextlib.suppress(OSError):
        while sent < total and not select.select([sock], [], [], 0)[0]:
            sock.sendall(piece)
            sent += len(piece)
    answer = b""
    sock.settimeout(60)
    with contextlib.suppress(OSError):
        while b"\r\n\r\n" not in answer and (data := sock.recv(65536)):
            answer += data
    seconds = time.perf_counter() - start
    sock.close()
    status = answer.split(b" ", 2)[1].decode() if answer else "none"
    return [
        f"200 MB body without a token: answer {status} after {seconds:.2f} s, "
        f"{sent / 1024 / 1024:.1f} MB sent before the server answered"
    ]


def login_form(s: Any, http: requests.Session) -> str:
    page = http.get(s.url + "/login", timeout=30).text
    match = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert match, page
    return match.group(1)


def add_boss(s: Any, m: Any) -> None:
    m.cli(
        s.instance,
        s.db_url,
        *("add-user", "--username", "boss", "--role", "admin", "--password-stdin"),
        stdin=PASSWORD + "\n",
    )


def try_login(s: Any, http: requests.Session, password: str) -> requests.Response:
    token = login_form(s, http)
    form = {"username": "boss", "password": password, "csrf_token": token}
    return http.post(s.url + "/login", data=form, timeout=60, allow_redirects=False)


def failed_logins(s: Any, m: Any, _a: Any) -> list[str]:
    add_boss(s, m)
    quiet = statistics.median(healthz(s)[0] for _ in range(5))
    sessions = [requests.Session() for _ in range(20)]
    with concurrent.futures.ThreadPoolExecutor(20) as pool:
        futures = [pool.submit(try_login, s, http, "wrong-password-1") for http in sessions]
        time.sleep(0.3)
        busy, status = healthz(s)
        codes = sorted({f.result().status_code for f in futures})
    return [
        f"/healthz alone: {quiet:.3f} s; during 20 failed logins: {status} in {busy:.2f} s "
        f"(login answers {codes})"
    ]


def owner_after_guesses(s: Any, m: Any, _a: Any) -> list[str]:
    add_boss(s, m)
    owner = requests.Session()
    assert try_login(s, owner, PASSWORD).status_code == 302
    owner.cookies.pop(
        "school_sync_session", None
    )  # logged out; the browser keeps its other cookies
    for _ in range(20):
        try_login(s, requests.Session(), "wrong-password-1")
    r = try_login(s, owner, PASSWORD)
    wait = r.headers.get("Retry-After", "-")
    return [f"the owner's login after 20 wrong passwords: {r.status_code} (Retry-After {wait})"]


def school_after_guesses(s: Any, m: Any, _a: Any) -> list[str]:
    made = m.cli(s.instance, s.db_url, "add-school", "--code", "S001", "--name", "城关小学")
    for _ in range(20):
        requests.post(
            s.url + "/api/v1/enroll",
            json={"enrollment_code": "AAA-BBB-CCC", "device_name": "guess"},
            timeout=30,
        )
    lines = []
    for school in (None, "S001"):
        body = {"enrollment_code": made["enrollment_code"], "device_name": "教务处电脑"}
        if school:
            body["school_code"] = school
        r = requests.post(s.url + "/api/v1/enroll", json=body, timeout=30)
        named = "naming its school" if school else "without its school code"
        wait = r.headers.get("Retry-After", "-")
        lines.append(
            f"the school's right code after 20 wrong ones from its address, {named}: "
            f"{r.status_code} (Retry-After {wait})"
        )
    return lines


SCENARIOS: list[tuple[str, Callable[[Any, Any, Any], list[str]]]] = [
    ("connections", idle_connections),
    ("keep-alive", keep_alive),
    ("body", big_body),
    ("login delay", failed_logins),
    ("login lockout", owner_after_guesses),
    ("enroll lockout", school_after_guesses),
]


if __name__ == "__main__":
    main()
