"""Errors the API answers with: a stable code, a message in Chinese and English, and details.

Every error response is `{"error": {"code", "message_zh", "message_en", "details"}}`, never an HTML page.
Services raise ServiceError (no HTTP in them); the API maps it with its status.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


class ServiceError(Exception):
    """A refusal by a service function, with a bilingual message (also used by the CLI)."""

    status = 422

    def __init__(
        self,
        code: str,
        message_zh: str,
        message_en: str,
        *,
        status: int | None = None,
        details: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(f"{message_zh} / {message_en}")
        self.code = code
        self.message_zh = message_zh
        self.message_en = message_en
        if status is not None:
            self.status = status
        self.details: dict[str, Any] = dict(details or {})
        self.headers: dict[str, str] = dict(headers or {})

    def body(self) -> dict[str, Any]:
        return error_body(self.code, self.message_zh, self.message_en, self.details)


class ApiError(ServiceError):
    """An error raised by the API layer itself (bad request, auth, limits)."""


def error_body(
    code: str, message_zh: str, message_en: str, details: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    return {
        "error": {
            "code": code,
            "message_zh": message_zh,
            "message_en": message_en,
            "details": dict(details or {}),
        }
    }


# Standard answers for HTTP statuses raised by Flask/Werkzeug (routing, methods, limits).
HTTP_MESSAGES: dict[int, tuple[str, str, str]] = {
    400: ("bad_request", "请求格式不正确", "the request is malformed"),
    401: ("unauthorized", "未登记或凭据无效，请重新登记本机", "missing or unknown device token"),
    403: ("forbidden", "无权访问", "not allowed"),
    404: ("not_found", "找不到请求的内容", "not found"),
    405: ("method_not_allowed", "不支持此请求方法", "method not allowed"),
    409: ("conflict", "与服务器上的内容冲突", "conflict with the server's state"),
    411: ("length_required", "缺少 Content-Length", "Content-Length required"),
    413: ("too_large", "请求过大", "the request is too large"),
    415: ("unsupported_media_type", "不支持的内容类型", "unsupported content type"),
    422: ("unprocessable", "服务器拒绝了该请求", "the server refuses the request"),
    429: ("too_many_requests", "请求过于频繁，请稍后再试", "too many requests; try again later"),
    500: ("internal_error", "服务器内部错误", "internal server error"),
    503: ("unavailable", "服务器繁忙，请稍后再试", "the server is busy; try again later"),
}


def http_error(status: int, details: Mapping[str, Any] | None = None) -> dict[str, Any]:
    code, zh, en = HTTP_MESSAGES.get(
        status, (f"http_{status}", f"HTTP 错误 {status}", f"HTTP {status}")
    )
    return error_body(code, zh, en, details)
