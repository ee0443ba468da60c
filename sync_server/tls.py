"""The bureau's own certificate (issue 12, point 4): make a self-signed one, read its fingerprint, serve it.

A county rarely has a certificate from a public CA for a server at 10.x.x.x. `sync-server make-cert --host NAME`
makes a self-signed one (ECDSA P-256, SHA-256, the names and addresses given as subjectAltName, 10 years) in
`<instance>/tls/cert.pem` and `key.pem` (the key owner-only) and prints its fingerprint; `sync-server serve`
then serves HTTPS with it. The school client pins that fingerprint (docs/protocol.md revision 1.10): the code
slip, `add-school` and the preconfigured school-client.ini carry it.

The fingerprint is the SHA-256 of the certificate in DER form - what `openssl x509 -noout -fingerprint -sha256`,
browsers and Windows' certificate viewer show, and what urllib3's `assert_fingerprint` compares - written as 32
colon-separated upper-case hex pairs. A new certificate (even with the same key) has a new fingerprint: keep the
10-year certificate, or give the schools the new fingerprint (a new ini, or enroll again with a new slip).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import ipaddress
import os
import ssl
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from flask import Flask, Request
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface

TLS_DIR = "tls"
CERT_FILE = "cert.pem"
KEY_FILE = "key.pem"
DEFAULT_DAYS = 3650


class TlsError(ValueError):
    """A certificate or key that cannot be used, or made; bilingual, names the file."""

    def __init__(self, code: str, message_zh: str, message_en: str) -> None:
        super().__init__(f"{message_zh} / {message_en}")
        self.code = code
        self.message_zh = message_zh
        self.message_en = message_en


@dataclass(frozen=True, slots=True)
class MadeCertificate:
    cert_path: Path
    key_path: Path
    fingerprint: str
    hosts: tuple[str, ...]
    not_after: dt.datetime


def format_fingerprint(digest: bytes) -> str:
    return ":".join(f"{b:02X}" for b in digest)


def fingerprint_of_der(der: bytes) -> str:
    return format_fingerprint(hashlib.sha256(der).digest())


def fingerprint_of_file(path: Path) -> str:
    """The fingerprint of the (first) certificate in a PEM or DER file."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise TlsError(
            "cert_unreadable",
            f"无法读取证书文件 {path}：{exc.strerror or exc}",
            f"cannot read the certificate file {path}: {exc.strerror or exc}",
        ) from None
    try:
        cert = (
            x509.load_pem_x509_certificate(data)
            if b"-----BEGIN" in data
            else x509.load_der_x509_certificate(data)
        )
    except ValueError:
        raise TlsError(
            "cert_invalid",
            f"{path} 不是有效的证书文件（PEM 或 DER）",
            f"{path} is not a certificate file (PEM or DER)",
        ) from None
    return fingerprint_of_der(cert.public_bytes(serialization.Encoding.DER))


def default_paths(instance: Path) -> tuple[Path, Path]:
    folder = instance / TLS_DIR
    return folder / CERT_FILE, folder / KEY_FILE


def _subject_alt_names(hosts: Sequence[str]) -> list[x509.GeneralName]:
    names: list[x509.GeneralName] = []
    for host in hosts:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    return names


def _check_host(host: str) -> str:
    host = host.strip().strip("[]")
    if not host or (any(c in host for c in "/:@ \\") and not _is_ip(host)):
        raise TlsError(
            "bad_host",
            f"--host 应为主机名或 IP 地址（如 sync.county.edu.cn 或 10.1.2.3），收到“{host}”",
            f"--host must be a host name or an IP address (e.g. sync.county.edu.cn or 10.1.2.3), "
            f"got '{host}'",
        )
    return host


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def make_certificate(
    hosts: Sequence[str],
    cert_path: Path,
    key_path: Path,
    *,
    days: int = DEFAULT_DAYS,
    overwrite: bool = False,
    now: dt.datetime | None = None,
) -> MadeCertificate:
    """A self-signed server certificate for `hosts` (names and IP addresses), written to the two files."""
    names = tuple(dict.fromkeys(_check_host(h) for h in hosts))
    if not names:
        raise TlsError(
            "bad_host",
            "请用 --host 给出服务器的名称或地址",
            "give the server's name or address with --host",
        )
    if not 1 <= days <= 36500:
        raise TlsError(
            "bad_days",
            f"--days 应为 1 到 36500 之间的天数，收到 {days}",
            f"--days must be 1 to 36500, got {days}",
        )
    if not overwrite:
        for path in (cert_path, key_path):
            if path.exists():
                raise TlsError(
                    "cert_exists",
                    f"{path} 已存在：新证书的指纹不同，已登记的学校电脑将拒绝连接。确需更换时加 --force，"
                    "并把新指纹发给各校（新的 school-client.ini 或重新登记）",
                    f"{path} exists: a new certificate has a new fingerprint, and enrolled school computers "
                    "will refuse it. Add --force to replace it anyway, and give the schools the new "
                    "fingerprint (a new school-client.ini, or enroll again)",
                )
    now = now or dt.datetime.now(dt.UTC)
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0][:64])])
    not_after = now + dt.timedelta(days=days)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))  # a school PC whose clock is a day behind
        .not_valid_after(not_after)
        .add_extension(x509.SubjectAlternativeName(_subject_alt_names(names)), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False
        )
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    for folder in {cert_path.parent, key_path.parent}:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    _write(key_path, key_pem, mode=0o600)
    # the certificate is public, but it lives with the server's owner-only files (issue 12, point 5)
    _write(cert_path, cert.public_bytes(serialization.Encoding.PEM), mode=0o600)
    return MadeCertificate(
        cert_path=cert_path,
        key_path=key_path,
        fingerprint=fingerprint_of_der(cert.public_bytes(serialization.Encoding.DER)),
        hosts=names,
        not_after=not_after,
    )


def _write(path: Path, data: bytes, *, mode: int) -> None:
    """Written beside, then renamed over: a crash never leaves half a key; made with its mode."""
    tmp = path.with_name(path.name + ".tmp")
    with contextlib.suppress(FileNotFoundError):
        tmp.unlink()
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), mode)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def server_context(cert_path: Path, key_path: Path) -> ssl.SSLContext:
    """A server-side TLS context (TLS 1.2 and 1.3, Python's default ciphers) with this certificate."""
    for path, what_zh, what_en in ((cert_path, "证书", "certificate"), (key_path, "私钥", "key")):
        if not path.is_file():
            raise TlsError(
                "tls_file_missing",
                f"找不到{what_zh}文件 {path}（可用 sync-server make-cert --host 名称 生成）",
                f"the {what_en} file {path} does not exist (make one with sync-server make-cert --host NAME)",
            )
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(str(cert_path), str(key_path))
    except (ssl.SSLError, OSError) as exc:
        raise TlsError(
            "tls_unusable",
            f"证书 {cert_path} 或私钥 {key_path} 无法使用（不匹配或格式不对）：{exc}",
            f"the certificate {cert_path} or the key {key_path} cannot be used (mismatched or not PEM): "
            f"{exc}",
        ) from None
    return context


def served_fingerprint(config: Mapping[str, Any], instance: Path) -> str | None:
    """The fingerprint of the certificate the schools see, for code slips: `tls_fingerprint` in
    config.toml (behind nginx: nginx's certificate), else the one `serve` uses (`tls_cert`, else
    <instance>/tls/cert.pem); None when the server has none (plain HTTP, or a CA's certificate not pinned).
    A `tls_cert` of "" (serve --no-tls) means none."""
    given = config.get("TLS_FINGERPRINT")
    if given:
        return str(given).strip().upper()
    if "TLS_CERT" in config and not config["TLS_CERT"]:
        return None  # `serve --no-tls` with no tls_fingerprint: nothing to pin
    cert = config.get("TLS_CERT")
    path = Path(str(cert)) if cert else default_paths(instance)[0]
    if not path.is_file():
        return None
    try:
        return fingerprint_of_file(path)
    except TlsError:
        return None


def request_is_https() -> bool:
    """This request came over HTTPS: served by `serve --cert` (wsgi.url_scheme), or by a proxy the
    configuration trusts (proxy_fix_x_for > 0: ProxyFix takes X-Forwarded-Proto)."""
    from flask import has_request_context, request

    return has_request_context() and request.is_secure


class TlsAwareSessionInterface(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions, Secure whenever the request came over HTTPS (or
    session_cookie_secure = true says so always)."""

    def get_cookie_secure(self, app: Flask) -> bool:
        return bool(app.config["SESSION_COOKIE_SECURE"]) or request_is_https()

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        # A request without the cookie (every school's sync request) gets a new, empty session as Flask
        # would give it, without the signing serializer Flask builds for each request first (issue 14: ~1.5%
        # of the serving process's CPU with 300 devices pushing at once).
        if app.secret_key and not request.cookies.get(self.get_cookie_name(app)):
            return self.session_class()
        return super().open_session(app, request)
