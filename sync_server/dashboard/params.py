"""Query parameters of the dashboard pages, checked before they reach a query: a malformed one is a clear
400 page naming it (through the blueprint's ServiceError handler), never a 500."""

from __future__ import annotations

from flask import request

from sync_server.dashboard import bp
from sync_server.errors import ServiceError
from sync_server.services.common import MAX_INT64, MIN_INT64, url_control_character

_MAX_DIGITS = 40  # int() of a longer text is slow and never a value we take


@bp.before_request
def _refuse_control_characters() -> None:
    """Every page: a control character in the path or query, or NUL in a form field, is a 400 page before
    any query (PostgreSQL text cannot hold NUL). Runs after the login and CSRF checks."""
    where = url_control_character(request.path, request.args.items(multi=True))
    if where is None and request.method == "POST":
        where = next(
            (name for name, value in request.form.items(multi=True) if "\x00" in value), None
        )
    if where is not None:
        raise ServiceError(
            "bad_url",
            f"请求（{where}）含有控制字符，无法处理。请检查地址或所填内容。",
            f"the request ({where}) holds a control character",
            status=400,
            details={"where": where},
        )


def bad_parameter(name: str, label_zh: str, raw: str, rule_zh: str, rule_en: str) -> ServiceError:
    shown = raw if len(raw) <= 40 else raw[:40] + "…"
    return ServiceError(
        "bad_parameter",
        f"地址中的参数 {name}（{label_zh}）无效：“{shown}”。{rule_zh}",
        f"the parameter '{name}' is invalid: {shown!r}; {rule_en}",
        status=400,
        details={"parameter": name},
    )


def int_param(
    name: str,
    label_zh: str,
    *,
    minimum: int | None = MIN_INT64,
    maximum: int | None = MAX_INT64,
) -> int | None:
    """The integer in ?name=, None when absent or empty; by default within a BIGINT column's range."""
    raw = request.args.get(name, "").strip()
    if not raw:
        return None
    value: int | None = None
    if len(raw) <= _MAX_DIGITS:
        try:
            value = int(raw)
        except ValueError:
            value = None
    low = MIN_INT64 if minimum is None else minimum
    high = MAX_INT64 if maximum is None else maximum
    if (
        value is None
        or (minimum is not None and value < minimum)
        or (maximum is not None and value > maximum)
    ):
        raise bad_parameter(
            name,
            label_zh,
            raw,
            f"应为 {low} 到 {high} 之间的整数。",
            f"it must be an integer from {low} to {high}",
        )
    return value
