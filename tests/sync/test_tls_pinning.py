"""The client pins the bureau's certificate and refuses plain HTTP across the network (issue 12, point 4).

Real parts: `sync-server make-cert` makes the certificate, a real `sync-server serve` (waitress over TLS) in a
subprocess serves it on 127.0.0.1, real client stores sync with it through requests/urllib3. A plain-HTTP
server listens on this machine's own non-loopback address, so an `http://` refusal is the policy, not a
connection error.
"""

from __future__ import annotations

import contextlib
import json
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from client.store.prefs import get_setting, set_setting
from client.sync.commands import enroll_command, sync_command
from client.sync.errors import ErrorKind, SyncError
from client.sync.pinning import (
    K_FINGERPRINT,
    check_address,
    normalize_fingerprint,
    split_pinned_url,
)
from sync_server.db import open_database
from sync_server.services.schools import add_school
from sync_server.tls import default_paths, make_certificate
from tests.support.samples import inspection
from tests.support.served import ROOT, Served, start_served
from tests.sync.conftest import SERVER_NOW, ClientFactory

WRONG = ":".join(["AB"] * 32)


def _make_cert(instance: Path, host: str) -> str:
    args = ["make-cert", "--host", host, "--json", "--instance", str(instance)]
    r = subprocess.run(
        [sys.executable, "-m", "sync_server", *args],
        capture_output=True,
        text=True,
        encoding="utf-8",
        cwd=ROOT,
        timeout=60,
    )
    assert r.returncode == 0, r.stderr
    fingerprint: str = json.loads(r.stdout.strip().splitlines()[-1])["fingerprint"]
    return fingerprint


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Served, str]]:
    """A real `sync-server serve` over TLS on 127.0.0.1, with a certificate made by make-cert."""
    instance = tmp_path_factory.mktemp("tls-instance")
    fingerprint = _make_cert(instance, "127.0.0.1")
    served = start_served(instance, f"sqlite:///{instance / 'sync.db'}")
    yield served, fingerprint
    err = served.stop()
    assert "Traceback" not in err, err


def _own_address() -> str | None:
    """This machine's address on its network (not loopback), or None."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))  # no packet is sent: only the route is looked up
            address = str(probe.getsockname()[0])
        except OSError:
            return None
    return None if address.startswith("127.") else address


@pytest.fixture(scope="module")
def lan_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Served, str]]:
    """A plain-HTTP `sync-server serve` reachable at this machine's own network address."""
    address = _own_address()
    if address is None:
        pytest.skip("this machine has no non-loopback address")
    instance = tmp_path_factory.mktemp("lan-instance")
    served = start_served(
        instance, f"sqlite:///{instance / 'sync.db'}", args=("--host", "0.0.0.0", "--no-tls")
    )
    yield served, f"http://{address}:{served.port}"
    err = served.stop()
    assert "Traceback" not in err, err


def _school(served: Served, code: str) -> str:
    """A school (or a fresh code for it) on the served database, as `sync-server add-school` does."""
    db = open_database(served.db_url)
    try:
        with db.Session.begin() as s:
            made = add_school(s, code=code, name="城关小学", now=SERVER_NOW)
    finally:
        db.close()
    return made.enrollment_code


def _server_records(served: Served, school: str) -> int:
    engine = sa.create_engine(served.db_url)
    try:
        with engine.connect() as conn:
            return int(
                conn.execute(
                    sa.text(
                        "SELECT count(*) FROM records r JOIN schools s ON s.id = r.school_id "
                        "WHERE s.code = :code"
                    ),
                    {"code": school},
                ).scalar_one()
            )
    finally:
        engine.dispose()


def _devices(served: Served, school: str) -> int:
    engine = sa.create_engine(served.db_url)
    try:
        with engine.connect() as conn:
            return int(
                conn.execute(
                    sa.text(
                        "SELECT count(*) FROM devices d JOIN schools s ON s.id = d.school_id "
                        "WHERE s.code = :code"
                    ),
                    {"code": school},
                ).scalar_one()
            )
    finally:
        engine.dispose()


# -- a real TLS server ----------------------------------------------------------------------------


def test_the_right_fingerprint_enrolls_and_syncs_over_tls(
    tls_server: tuple[Served, str], make_client: ClientFactory
) -> None:
    served, fingerprint = tls_server
    code = _school(served, "TLS001")
    pc = make_client("pc1")
    # written as a person copies it from a slip: lower case, spaces instead of colons
    typed = fingerprint.replace(":", " ").lower()
    enrollment = pc.engine.enroll(served.url, code, fingerprint=typed)
    assert enrollment.server_url == served.url and served.url.startswith("https://")
    with pc.Session() as s:
        assert get_setting(s, K_FINGERPRINT) == fingerprint  # kept with the enrollment
    pc.save(inspection())
    result = pc.engine.sync()
    assert result.complete and result.pushed == 1
    assert _server_records(served, "TLS001") == 1


def test_a_wrong_fingerprint_is_refused_before_anything_is_sent(
    tls_server: tuple[Served, str], make_client: ClientFactory
) -> None:
    served, fingerprint = tls_server
    code = _school(served, "TLS002")
    pc = make_client("pc2")
    # at enrollment: refused, and the code never reached the server (it still works afterwards)
    with pytest.raises(SyncError) as refused:
        pc.engine.enroll(served.url, code, fingerprint=WRONG)
    assert refused.value.kind is ErrorKind.REFUSED and refused.value.code == "certificate_mismatch"
    assert "证书不符" in refused.value.message_zh
    assert "certificate mismatch" in refused.value.message_en
    assert pc.sleeps.waits == []  # not retried
    assert _devices(served, "TLS002") == 0
    pc.engine.enroll(served.url, code, fingerprint=fingerprint)
    # at sync: the server presents another certificate than the one pinned (a man in the middle)
    pc.save(inspection())
    with pc.Session.begin() as s:
        set_setting(s, K_FINGERPRINT, WRONG)
    sent_before = len(pc.responses)
    with pytest.raises(SyncError) as at_sync:
        pc.engine.sync()
    assert at_sync.value.code == "certificate_mismatch"
    assert len(pc.responses) == sent_before  # no request got an answer: none was sent
    assert _server_records(served, "TLS002") == 0  # the server saw no push
    assert pc.unsent() == 1
    with pc.Session() as s:  # the clerk sees it as the sync problem
        problem = get_setting(s, "sync.last_problem")
    assert problem["code"] == "certificate_mismatch" and "证书不符" in problem["message_zh"]
    # the CLI says it in both languages, exit 2
    with pc.Session.begin() as s:
        set_setting(s, K_FINGERPRINT, WRONG)
    assert sync_command(pc.ctx, sleep=pc.sleeps) == 2
    assert _server_records(served, "TLS002") == 0


def test_a_self_signed_certificate_without_a_fingerprint_is_not_trusted(
    tls_server: tuple[Served, str], make_client: ClientFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    served, _ = tls_server
    code = _school(served, "TLS003")
    pc = make_client("pc3")
    assert enroll_command(pc.ctx, served.url, code, sleep=pc.sleeps) == 2
    err = capsys.readouterr().err
    assert "服务器证书不受信任" in err and "not trusted" in err and "fingerprint" in err
    assert _devices(served, "TLS003") == 0


def test_the_fingerprint_comes_from_the_ini_or_the_address(
    tls_server: tuple[Served, str],
    make_client: ClientFactory,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    served, fingerprint = tls_server
    ini = tmp_path / "school-client.ini"
    ini.write_text(
        f"[server]\nurl = {served.url}\nfingerprint = {fingerprint}\n", encoding="utf-8-sig"
    )
    monkeypatch.setenv("SCHOOL_CLIENT_CONFIG", str(ini))
    pc = make_client("pc4")  # the enroll dialog passes the ini's address and the typed code only
    pc.engine.enroll(served.url, _school(served, "TLS004"))
    pc.save(inspection())
    assert pc.engine.sync().pushed == 1
    # the ini's fingerprint is for its own server only: a wrong one there is refused as well
    ini.write_text(f"[server]\nurl = {served.url}\nfingerprint = {WRONG}\n", encoding="utf-8")
    other = make_client("pc5")
    with pytest.raises(SyncError) as refused:
        other.engine.enroll(served.url, _school(served, "TLS005"))
    assert refused.value.code == "certificate_mismatch"
    # an address with its fingerprint: https://host:port#sha256=...
    monkeypatch.delenv("SCHOOL_CLIENT_CONFIG")
    third = make_client("pc6")
    third.engine.enroll(f"{served.url}#sha256={fingerprint}", _school(served, "TLS006"))
    third.save(inspection())
    assert third.engine.sync().pushed == 1


# -- plain http -----------------------------------------------------------------------------------


def test_http_to_another_computer_is_refused_unless_the_ini_allows_it(
    lan_server: tuple[Served, str],
    make_client: ClientFactory,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    served, lan_url = lan_server
    monkeypatch.delenv("SCHOOL_CLIENT_CONFIG", raising=False)
    code = _school(served, "LAN001")
    pc = make_client("lan1")
    assert enroll_command(pc.ctx, lan_url, code, sleep=pc.sleeps) == 2
    err = capsys.readouterr().err
    assert "登记失败" in err and "拒绝使用不加密的服务器地址" in err and "allow_http" in err
    assert pc.responses == [] and _devices(served, "LAN001") == 0
    # the bureau allows it in school-client.ini: enrolled and synced
    ini = tmp_path / "school-client.ini"
    ini.write_text(f"[server]\nurl = {lan_url}\nallow_http = true\n", encoding="utf-8")
    monkeypatch.setenv("SCHOOL_CLIENT_CONFIG", str(ini))
    assert enroll_command(pc.ctx, lan_url, code, sleep=pc.sleeps) == 0
    pc.save(inspection())
    assert pc.engine.sync().pushed == 1
    # the allowance taken back: the next sync is refused, nothing sent
    ini.write_text(f"[server]\nurl = {lan_url}\n", encoding="utf-8")
    pc.save(inspection(inspectors="王芳"))
    answered = len(pc.responses)
    assert sync_command(pc.ctx, sleep=pc.sleeps) == 2
    assert "不加密" in capsys.readouterr().err
    assert len(pc.responses) == answered and _server_records(served, "LAN001") == 1


def test_the_address_policy() -> None:
    for url in (
        "http://127.0.0.1:8700",
        "http://localhost:8700",
        "http://[::1]:8700",
        "http://127.0.1.1",
        "https://10.1.2.3:8700",
        "https://sync.county.edu.cn",
    ):
        check_address(url, allow_http=False)
    for url in ("http://10.1.2.3:8700", "http://sync.county.edu.cn", "http://localhost.evil.cn"):
        with pytest.raises(SyncError) as refused:
            check_address(url, allow_http=False)
        assert refused.value.code == "http_refused" and refused.value.kind is ErrorKind.REFUSED
        check_address(url, allow_http=True)
    with pytest.raises(SyncError) as no_tls:
        check_address("http://127.0.0.1:8700", allow_http=True, fingerprint=WRONG)
    assert no_tls.value.code == "fingerprint_needs_https"


def test_fingerprints_as_people_write_them() -> None:
    canonical = ":".join(f"{i:02X}" for i in range(32))
    for text in (
        canonical,
        canonical.lower(),
        canonical.replace(":", ""),
        canonical.replace(":", " "),
        "sha256:" + canonical,
        "SHA256=" + canonical.replace(":", "").lower(),
    ):
        assert normalize_fingerprint(text) == canonical
    for bad in ("", "AB:CD", canonical + ":00", "zz" * 32):
        with pytest.raises(SyncError) as refused:
            normalize_fingerprint(bad)
        assert refused.value.code == "bad_fingerprint"
    assert split_pinned_url(f"https://h:8700#sha256={canonical}") == ("https://h:8700", canonical)
    assert split_pinned_url("https://h:8700") == ("https://h:8700", None)


def test_school_client_enroll_takes_the_fingerprint_from_the_slip(
    tls_server: tuple[Served, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from client.cli import main

    served, fingerprint = tls_server
    monkeypatch.delenv("SCHOOL_CLIENT_CONFIG", raising=False)
    data = str(tmp_path / "cli-pc")
    base = ["enroll", "--data-dir", data, "--server", served.url]
    assert main([*base, "--code", _school(served, "CLI001"), "--fingerprint", WRONG]) == 2
    assert "证书不符" in capsys.readouterr().err
    assert main([*base, "--code", _school(served, "CLI002"), "--fingerprint", "12:34"]) == 2
    assert "证书指纹格式不对" in capsys.readouterr().err
    assert main([*base, "--code", _school(served, "CLI003"), "--fingerprint", fingerprint]) == 0
    assert "已登记" in capsys.readouterr().out
    assert main(["sync", "--data-dir", data]) == 0


# -- a man in the middle --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def impostor(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """Another real `sync-server serve` over TLS, with a certificate of its own (as an attacker's)."""
    instance = tmp_path_factory.mktemp("impostor")
    make_certificate(["127.0.0.1"], *default_paths(instance))
    served = start_served(instance, f"sqlite:///{instance / 'sync.db'}")
    yield served
    served.stop()


class ConnectProxy:
    """An HTTP CONNECT proxy (as a school's or county's web proxy) whose tunnels go to `target`, whatever
    the client asks: a proxy that turned hostile."""

    def __init__(self, target: int) -> None:
        self.target = target
        self.tunnels: list[bytes] = []
        self._server = socket.create_server(("127.0.0.1", 0))
        self.port = self._server.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._server.accept()
            except OSError:
                return
            threading.Thread(target=self._tunnel, args=(client,), daemon=True).start()

    def _tunnel(self, client: socket.socket) -> None:
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = client.recv(4096)
            if not chunk:
                client.close()
                return
            head += chunk
        self.tunnels.append(head.split(b"\r\n", 1)[0])
        upstream = socket.create_connection(("127.0.0.1", self.target))
        client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")

        def pipe(a: socket.socket, b: socket.socket) -> None:
            try:
                while data := a.recv(65536):
                    b.sendall(data)
            except OSError:
                pass
            finally:
                for s in (a, b):
                    with contextlib.suppress(OSError):
                        s.shutdown(socket.SHUT_RDWR)

        threading.Thread(target=pipe, args=(upstream, client), daemon=True).start()
        pipe(client, upstream)

    def close(self) -> None:
        self._server.close()


def test_a_server_in_the_middle_is_refused_directly_and_through_a_proxy_tunnel(
    tls_server: tuple[Served, str],
    impostor: Served,
    make_client: ClientFactory,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from tests.support.faultproxy import FaultProxy

    served, fingerprint = tls_server
    with FaultProxy(
        ("127.0.0.1", served.port)
    ) as link:  # the county network, between PC and bureau
        address = f"https://127.0.0.1:{link.port}"
        pc = make_client("mitm")
        pc.engine.enroll(address, _school(served, "MITM01"), fingerprint=fingerprint)
        pc.save(inspection())
        assert pc.engine.sync().pushed == 1
        # someone reroutes the school's traffic to their own server, with their own certificate
        link.target = ("127.0.0.1", impostor.port)
        link.drop_connections()  # the kept-alive connection breaks: the next one reaches the impostor
        pc.save(inspection(inspectors="王芳"))
        with pytest.raises(SyncError) as refused:
            pc.engine.sync()
        assert refused.value.code == "certificate_mismatch"
        assert pc.unsent() == 1
    assert "/api/v1/push" not in impostor.stderr_path.read_text(encoding="utf-8")
    # through a web proxy's CONNECT tunnel the certificate is checked all the same
    proxy = ConnectProxy(served.port)
    try:
        monkeypatch.setenv("HTTPS_PROXY", f"http://127.0.0.1:{proxy.port}")
        monkeypatch.delenv("NO_PROXY", raising=False)
        monkeypatch.delenv("no_proxy", raising=False)
        other = make_client("proxied")
        other.engine.enroll(served.url, _school(served, "MITM02"), fingerprint=fingerprint)
        assert proxy.tunnels and proxy.tunnels[0].startswith(b"CONNECT 127.0.0.1:")
        other.save(inspection())
        assert other.engine.sync().pushed == 1
        proxy.target = impostor.port  # the proxy turns hostile
        other.http.close()  # a later sync: new connections, new tunnels
        other.save(inspection(inspectors="王芳"))
        with pytest.raises(SyncError) as through_proxy:
            other.engine.sync()
        assert through_proxy.value.code == "certificate_mismatch"
        assert _server_records(impostor, "MITM02") == 0 and _server_records(served, "MITM02") == 1
    finally:
        proxy.close()


def test_large_bodies_cross_tls_both_ways(
    tls_server: tuple[Served, str], make_client: ClientFactory, tmp_path: Path
) -> None:
    """Push batches, a photo in 512 KiB chunks and long pull answers: many TLS records per request."""
    from tests.sync.conftest import photo_file

    served, fingerprint = tls_server
    pc = make_client("big1", chunk_size=512 * 1024)
    pc.engine.enroll(served.url, _school(served, "BIG001"), fingerprint=fingerprint)
    sha = pc.add_photo(photo_file(tmp_path, 900_000))
    hazard = dict(inspection()["hazards"][0], photo=sha)
    pc.save(inspection(hazards=[hazard]))
    for i in range(150):
        pc.save(inspection(inspectors=f"检查员{i}" + "很长的备注" * 40))
    result = pc.engine.sync()
    assert result.complete and (result.pushed, result.uploaded) == (151, 1)
    assert _server_records(served, "BIG001") == 151
    second = make_client("big2")  # another PC of the school reads them all
    second.engine.enroll(served.url, _school(served, "BIG001"), fingerprint=fingerprint)
    assert second.engine.sync().pulled >= 151


def test_the_ini_keys(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from client import preconfig

    ini = tmp_path / "school-client.ini"
    monkeypatch.setenv("SCHOOL_CLIENT_CONFIG", str(ini))
    ini.write_text(
        f"[server]\nurl = 10.1.2.3:8700\nfingerprint = {WRONG}  ; from make-cert\nallow_http = yes\n",
        encoding="utf-8",
    )
    found = preconfig.find()
    assert found.fingerprint == WRONG and found.allow_http is True
    # the ini's fingerprint goes with its own server only (an address without a scheme is its https)
    assert preconfig.preconfigured_fingerprint("https://10.1.2.3:8700") == WRONG
    assert preconfig.preconfigured_fingerprint("https://10.9.9.9:8700") is None
    ini.write_text(
        "[server]\nurl = https://10.1.2.3:8700\nallow_http = perhaps\n", encoding="utf-8"
    )
    assert preconfig.find().allow_http is False  # not a yes/no: the safe reading
    ini.write_text("[server]\nurl = https://10.1.2.3:8700\n", encoding="utf-8")
    assert preconfig.find().allow_http is False and preconfig.find().fingerprint is None
