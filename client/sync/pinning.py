"""HTTPS to the bureau's own certificate, and no plain HTTP across the network (issue 12, point 4).

A county server often has a self-signed certificate (`sync-server make-cert`). The enrollment carries that
certificate's fingerprint - the SHA-256 of its DER form, as `make-cert`, `add-school`, the code slip and
`openssl x509 -noout -fingerprint -sha256` print it - from `school-client.ini` (`[server] fingerprint = ...`),
`school-client enroll --fingerprint`, or an address written `https://host:8700#sha256=AB:CD:...`. It is kept
in the store with the enrollment, and every request to that server checks it (urllib3's
`assert_fingerprint`, after the handshake and before any byte of the request is sent): a server with another
certificate is refused - certificate mismatch, 证书不符 - whatever CA signed it. Without a fingerprint the
certificate must be trusted by the usual CA bundle.

A plain `http://` address is refused unless it names this computer (127.0.0.1, localhost, ::1) or the
bureau's school-client.ini says `allow_http = true` under [server]: a man in the middle would read the
device token and the records.
"""

from __future__ import annotations

import ipaddress
import re
import ssl
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.ssl_ import create_urllib3_context

from client.sync.errors import ErrorKind, SyncError

K_FINGERPRINT = "sync.server_fingerprint"  # the pinned fingerprint of the enrolled server, or None

_HEX = re.compile(r"[0-9A-F]{64}")
_FRAGMENT = re.compile(r"#(?:sha256[=:])?(?P<fp>[0-9A-Fa-f:\s]+)$")


def _refused(code: str, zh: str, en: str) -> SyncError:
    return SyncError(ErrorKind.REFUSED, zh, en, code=code)


def normalize_fingerprint(text: str) -> str:
    """'sha256:ab cd ...', 'AB:CD:...' or 64 hex digits -> 'AB:CD:...' (32 pairs); else REFUSED."""
    raw = re.sub(r"^sha-?256\s*[:=]\s*", "", text.strip(), flags=re.IGNORECASE)
    digits = re.sub(r"[\s:\-]", "", raw).upper()
    if not _HEX.fullmatch(digits):
        raise _refused(
            "bad_fingerprint",
            f"证书指纹格式不对：应为 64 个十六进制字符（可用冒号分隔），收到“{text.strip()[:80]}”",
            f"the certificate fingerprint is malformed: expected 64 hex digits (colons allowed), "
            f"got '{text.strip()[:80]}'",
        )
    return ":".join(digits[i : i + 2] for i in range(0, 64, 2))


def split_pinned_url(url: str) -> tuple[str, str | None]:
    """'https://h:8700#sha256=AB:CD...' -> ('https://h:8700', 'AB:CD:...'); an address without one as is."""
    match = _FRAGMENT.search(url.strip())
    if match is None:
        return url, None
    return url.strip()[: match.start()], normalize_fingerprint(match.group("fp"))


def is_local(host: str | None) -> bool:
    """This computer: localhost, 127.0.0.0/8 or ::1."""
    if not host:
        return False
    host = host.strip("[]").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_address(url: str, *, allow_http: bool, fingerprint: str | None = None) -> None:
    """Refuse plain HTTP to another computer (unless the bureau allows it), and a fingerprint for http."""
    parts = urlsplit(url)
    if parts.scheme != "http":
        return
    if fingerprint:
        raise _refused(
            "fingerprint_needs_https",
            f"服务器地址 {url} 是 http://，证书指纹只用于 https:// 地址：请使用教育局给出的 https:// 地址",
            f"the server address {url} is http://; a certificate fingerprint needs an https:// address: "
            "use the https:// address the bureau gave",
        )
    if is_local(parts.hostname) or allow_http:
        return
    raise _refused(
        "http_refused",
        f"拒绝使用不加密的服务器地址 {url}：数据和本机凭据会以明文经过网络。请使用 https:// 地址；"
        "确需使用 http 时，由教育局在 school-client.ini 的 [server] 中写 allow_http = true",
        f"refused the unencrypted server address {url}: the records and this computer's credentials "
        "would cross the network in clear. Use an https:// address; where http is truly needed, the "
        "bureau sets allow_http = true under [server] in school-client.ini",
    )


class PinnedAdapter(HTTPAdapter):
    """Connections whose certificate must have this fingerprint (and need no CA): every pool it makes,
    direct or through a proxy's CONNECT tunnel, checks it after the handshake, before the request."""

    def __init__(self, fingerprint: str, **kwargs: Any) -> None:
        self.fingerprint = fingerprint
        # TLS 1.2+, no CA (the fingerprint decides): made once, so that no connection loads the
        # system's CA store for nothing (about 100 ms each)
        context = create_urllib3_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        self.tls_context = context
        super().__init__(**kwargs)

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        kwargs["assert_fingerprint"] = self.fingerprint
        kwargs["ssl_context"] = self.tls_context
        super().init_poolmanager(*args, **kwargs)

    def build_connection_pool_key_attributes(  # type: ignore[override]
        self, request: requests.PreparedRequest, verify: Any, cert: Any = None
    ) -> tuple[Any, dict[str, Any]]:
        host_params, pool_kwargs = super().build_connection_pool_key_attributes(
            request, False, cert
        )
        kwargs: dict[str, Any] = dict(pool_kwargs)
        kwargs["assert_fingerprint"] = self.fingerprint
        kwargs["ssl_context"] = self.tls_context
        return host_params, kwargs

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> Any:
        kwargs["verify"] = False  # the fingerprint replaces the CA check, never the other way round
        return super().send(request, *args, **kwargs)


def pin_session(session: requests.Session, base_url: str, fingerprint: str | None) -> None:
    """Requests to `base_url` on this session check `fingerprint` (None: the CA bundle, as usual)."""
    prefix = base_url.rstrip("/") + "/"
    current = session.adapters.get(prefix)
    if fingerprint:
        if isinstance(current, PinnedAdapter) and current.fingerprint == fingerprint:
            return
        session.mount(prefix, PinnedAdapter(fingerprint))
    elif isinstance(current, PinnedAdapter):
        del session.adapters[prefix]
        current.close()


def tls_error(exc: requests.exceptions.SSLError) -> SyncError:
    """What a failed TLS connection means for the clerk."""
    text = str(exc)
    if "Fingerprints did not match" in text:
        return _refused(
            "certificate_mismatch",
            "证书不符：服务器的证书指纹与登记时的不同，可能有人冒充县教育局服务器，数据没有发出。"
            "如教育局更换了证书，请向教育局索取新的登记信息",
            "certificate mismatch: the server's certificate fingerprint differs from the enrolled one; "
            "someone may be posing as the bureau server. Nothing was sent. If the bureau replaced its "
            "certificate, ask it for new enrollment details",
        )
    if "CERTIFICATE_VERIFY_FAILED" in text or "certificate verify failed" in text:
        return _refused(
            "certificate_untrusted",
            "服务器证书不受信任，数据没有发出。教育局使用自签名证书时，请在 school-client.ini 中写入"
            "教育局给出的证书指纹（[server] fingerprint = ...）后重新登记",
            "the server's certificate is not trusted; nothing was sent. For a bureau's self-signed "
            "certificate, put the fingerprint the bureau gives in school-client.ini "
            "([server] fingerprint = ...) and enroll again",
        )
    return SyncError(
        ErrorKind.NETWORK,
        "无法与服务器建立加密连接（HTTPS），请检查网络和服务器地址",
        f"could not set up the encrypted connection (HTTPS); check the network and the address: {exc}",
    )
