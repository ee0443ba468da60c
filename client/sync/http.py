"""HTTP to our server: one request with retries, and the checks that tell our server's answers from others.

Every answer must carry `X-Sync-Server: school-sync/1`; anything else (a captive portal's 200 login page, a
proxy's redirect or error page) is a NETWORK error and is never read as an answer. Retries: capped
exponential backoff with jitter, Retry-After honoured, no retry on 400/401/403/404/409/413/422. The sleep and
the random source are injected, so tests never wait.

HTTPS (client.sync.pinning): a Transport checks the server's certificate against the fingerprint pinned at
enrollment on every connection, and refuses plain http:// to another computer unless school-client.ini allows
it; neither is retried.
"""

from __future__ import annotations

import email.utils
import gzip
import json
import logging
import random
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Any

import requests
from requests.structures import CaseInsensitiveDict

from client.sync.errors import ErrorKind, SyncError
from client.sync.pinning import check_address, pin_session, tls_error

log = logging.getLogger(__name__)

SERVER_HEADER = "X-Sync-Server"
SERVER_HEADER_PREFIX = "school-sync/"
API = "/api/v1"

Sleep = Callable[[float], None]


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 6  # tries per request, the first one included
    base: float = 1.0  # seconds before the first retry (before jitter)
    cap: float = 60.0  # the longest wait between two tries
    max_retry_after: float = (
        600.0  # a longer Retry-After ends the sync; the caller tries again later
    )

    def delay(self, retry: int, rng: random.Random) -> float:
        """Wait before retry number `retry` (1, 2, ...): half fixed, half random ("equal jitter")."""
        step = min(self.cap, self.base * 2.0 ** (retry - 1))
        return step / 2 + rng.uniform(0, step / 2)


@dataclass(frozen=True)
class Timeouts:
    connect: float = 10.0
    read: float = (
        60.0  # between two bytes of the answer, not for the whole answer (slow links pass)
    )


@dataclass(frozen=True)
class Answer:
    status: int
    headers: CaseInsensitiveDict[str]
    body: Any  # the parsed JSON, or None (HEAD, empty bodies)


# -- messages -------------------------------------------------------------------------------------------


def _network(zh: str, en: str, **kw: Any) -> SyncError:
    return SyncError(ErrorKind.NETWORK, zh, en, **kw)


NOT_OUR_SERVER = (
    "收到的回答不是来自县教育局服务器（网络可能需要先登录认证），数据没有发出",
    "the answer did not come from the bureau server (the network may need a login first); nothing was sent",
)


def _exception_error(exc: requests.RequestException) -> SyncError:
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return _network(
            "连接县教育局服务器超时，请检查网络",
            "connecting to the bureau server timed out; check the network",
        )
    if isinstance(exc, requests.exceptions.Timeout):
        return _network(
            "县教育局服务器没有及时回答（网络太慢或中断）",
            "the bureau server did not answer in time (the link is slow or down)",
        )
    if isinstance(
        exc,
        requests.exceptions.InvalidURL
        | requests.exceptions.MissingSchema
        | requests.exceptions.InvalidSchema,
    ):
        return SyncError(
            ErrorKind.REFUSED, f"服务器地址无效：{exc}", f"invalid server address: {exc}"
        )
    if isinstance(exc, requests.exceptions.SSLError):
        return tls_error(exc)  # certificate mismatch / untrusted: refused, never retried blindly
    if isinstance(
        exc, requests.exceptions.ChunkedEncodingError | requests.exceptions.ContentDecodingError
    ):
        return _network(
            "网络中断，服务器的回答没有完整收到", "the link broke before the whole answer arrived"
        )
    if isinstance(exc, requests.exceptions.ConnectionError):
        return _network(
            "无法连接县教育局服务器，请检查网络",
            "cannot reach the bureau server; check the network",
        )
    return _network(f"网络错误：{type(exc).__name__}", f"network error: {exc}")


def _error_from_answer(response: requests.Response, retry_after: float | None) -> SyncError:
    status = response.status_code
    zh = en = ""
    code: str | None = None
    details: dict[str, Any] = {}
    try:
        err = response.json().get("error") or {}
        if isinstance(err, Mapping):
            zh, en = str(err.get("message_zh") or ""), str(err.get("message_en") or "")
            code = str(err["code"]) if err.get("code") else None
            details = dict(err.get("details") or {})
    except (ValueError, AttributeError):
        pass
    if status in (401, 403):
        zh = zh or (
            "本机的注册已失效，请重新注册" if status == 401 else "本机已被停用，或无权访问这些数据"
        )
        en = en or (
            "this computer's enrollment is not recognised; enroll again"
            if status == 401
            else "this computer was revoked, or may not access this data"
        )
        kind = ErrorKind.AUTH
    elif status == 409:
        zh, en = zh or "与服务器上的数据冲突", en or "conflict with the server's data"
        kind = ErrorKind.CONFLICT
    elif status in (429, 503):
        zh, en = zh or "服务器繁忙，请稍后再试", en or "the server is busy; try again later"
        kind = ErrorKind.SERVER
    elif status >= 500:
        zh, en = zh or f"服务器出错（{status}）", en or f"the server failed ({status})"
        kind = ErrorKind.SERVER
    else:  # 400, 404, 413, 422 and anything else: the server will not take this request
        if status == 413:
            zh, en = zh or "数据太大，服务器拒收", en or "too large for the server"
        zh, en = (
            zh or f"服务器拒绝了请求（{status}）",
            en or f"the server refused the request ({status})",
        )
        kind = ErrorKind.REFUSED
    return SyncError(
        kind, zh, en, retry_after=retry_after, status=status, code=code, details=details
    )


def parse_retry_after(value: str | None, date: str | None = None) -> float | None:
    """Seconds from a Retry-After header: delta-seconds, or an HTTP date (against the answer's Date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
        now = email.utils.parsedate_to_datetime(date) if date else None
    except (TypeError, ValueError):
        return None
    if now is None:
        return None
    return max(0.0, (when - now).total_seconds())


def _read_at_most(response: requests.Response, max_bytes: int) -> None:
    """Read a streamed answer into response._content, stopping past max_bytes (unzipped)."""
    chunks: list[bytes] = []
    size = 0
    try:
        for chunk in response.iter_content(64 * 1024):
            size += len(chunk)
            if size > max_bytes:
                raise SyncError(
                    ErrorKind.REFUSED,
                    f"服务器的回答太大（超过 {max_bytes // 1024} KB），未读取",
                    f"the server's answer is too large (over {max_bytes // 1024} KB); not read",
                    status=response.status_code,
                    code="answer_too_large",
                    details={"max_bytes": max_bytes},
                )
            chunks.append(chunk)
    finally:
        response.close()
    response._content = b"".join(
        chunks
    )  # as requests keeps a body it read itself (.content, .json())


def is_our_server(response: requests.Response) -> bool:
    return response.headers.get(SERVER_HEADER, "").startswith(SERVER_HEADER_PREFIX)


class Transport:
    """Requests to one server with one device token, retried by a policy; never opens a database session."""

    def __init__(
        self,
        session: requests.Session,
        base_url: str,
        *,
        token: str | None,
        policy: RetryPolicy,
        timeouts: Timeouts,
        sleep: Sleep,
        rng: random.Random,
        user_agent: str = "school-client",
        fingerprint: str | None = None,
        allow_http: bool | None = None,
    ) -> None:
        self.session = session
        self.base_url = base_url.rstrip("/")
        # HTTPS and pinning (client.sync.pinning): the fingerprint kept with the enrollment; plain http
        # only to this computer or where school-client.ini allows it (None: as the ini says)
        self.fingerprint = fingerprint
        if allow_http is None:
            from client.preconfig import find

            allow_http = find().allow_http
        self.allow_http = allow_http
        pin_session(session, self.base_url, fingerprint)
        self.token = token
        self.policy = policy
        self.timeouts = timeouts
        self.sleep = sleep
        self.rng = rng
        self.user_agent = user_agent
        self.requests_sent = 0  # for tests and the log

    def request(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        body: bytes | None = None,
        gzip_body: bool = False,
        headers: Mapping[str, str] | None = None,
        params: Mapping[str, str | int] | None = None,
        expect: Collection[int] = (200,),
        retry: bool = True,
        want_json: bool = True,
        max_bytes: int | None = None,
    ) -> Answer:
        """Send one request (again after a retryable failure, with the same body and headers).

        Statuses in `expect` come back as an Answer (with the parsed JSON when `want_json`); every other
        outcome raises SyncError. `max_bytes`: an answer longer than this (once unzipped) is not read
        further: SyncError REFUSED, code `answer_too_large`.
        """
        check_address(self.base_url, allow_http=self.allow_http, fingerprint=self.fingerprint)
        hdrs = {
            "User-Agent": self.user_agent,
            "Accept": "application/json",
            "Accept-Encoding": "gzip",
        }
        if self.token:
            hdrs["Authorization"] = f"Bearer {self.token}"
        if json_body is not None:
            body = json.dumps(json_body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
            hdrs["Content-Type"] = "application/json; charset=utf-8"
        if body is not None and gzip_body:
            body = gzip.compress(body, compresslevel=9, mtime=0)  # issue 14: ~6% fewer bytes up
            hdrs["Content-Encoding"] = "gzip"
        hdrs.update(headers or {})
        url = self.base_url + path
        tries = self.policy.attempts if retry else 1
        for attempt in range(1, tries + 1):
            try:
                return self._once(method, url, body, hdrs, params, expect, want_json, max_bytes)
            except SyncError as exc:
                if not exc.retryable or attempt == tries:
                    raise
                wait = exc.retry_after
                if wait is not None and wait > self.policy.max_retry_after:
                    raise
                if wait is None:
                    wait = self.policy.delay(attempt, self.rng)
                log.info(
                    "%s %s failed (%s); retry %d/%d in %.1fs",
                    method,
                    path,
                    exc.message_en,
                    attempt,
                    tries - 1,
                    wait,
                )
                self.sleep(wait)
        raise AssertionError("unreachable")  # pragma: no cover

    def _once(
        self,
        method: str,
        url: str,
        body: bytes | None,
        headers: Mapping[str, str],
        params: Mapping[str, str | int] | None,
        expect: Collection[int],
        want_json: bool,
        max_bytes: int | None = None,
    ) -> Answer:
        self.requests_sent += 1
        try:
            response = self.session.request(
                method,
                url,
                data=body,
                headers=dict(headers),
                params=params,
                timeout=(self.timeouts.connect, self.timeouts.read),
                allow_redirects=False,
                stream=max_bytes is not None,
            )
            if max_bytes is not None:
                _read_at_most(response, max_bytes)
        except requests.RequestException as exc:
            raise _exception_error(exc) from exc
        if not is_our_server(response):
            raise _network(*NOT_OUR_SERVER, status=response.status_code)
        retry_after = parse_retry_after(
            response.headers.get("Retry-After"), response.headers.get("Date")
        )
        if response.status_code not in expect:
            raise _error_from_answer(response, retry_after)
        parsed: Any = None
        if want_json and method != "HEAD":
            content_type = response.headers.get("Content-Type", "")
            try:
                if not content_type.startswith("application/json"):
                    raise ValueError(content_type)
                parsed = response.json()
            except ValueError as exc:
                raise _network(
                    "服务器的回答不完整或无法识别，数据没有记为已发送",
                    "the server's answer was incomplete or not JSON; nothing was marked sent",
                    status=response.status_code,
                ) from exc
        return Answer(response.status_code, response.headers, parsed)
