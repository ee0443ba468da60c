"""The device API's update routes and version checks (protocol revision 1.18, docs/updates.md).

    POST /api/v1/update/check            the device reports its update state; answered with its offer
    GET  /api/v1/update/repo/<path>      the TUF repository's files (metadata/*.json, targets/...),
                                         with Range for a download resumed where it stopped

Every API answer carries `Sync-Protocol` and, when configured, `Sync-Min-Client-Version`; a client older
than that is answered 426 `client_too_old` on every route but these, enroll and openapi.json.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from pathlib import Path
from typing import Any

from flask import Response, g, request, send_from_directory
from flask.blueprints import BlueprintSetupState
from sqlalchemy.exc import SQLAlchemyError

from sync_server import updates as U
from sync_server.api import _string, api, current_device, device_required, read_json
from sync_server.app import json_response
from sync_server.errors import ApiError, ServiceError
from sync_server.services.schools import DeviceInfo
from sync_server.state import get_state

log = logging.getLogger(__name__)

OPEN_TO_OLD_CLIENTS = ("/api/v1/update/", "/api/v1/enroll", "/api/v1/openapi.json")
MAX_CHECK_BYTES = 16 * 1024
MAX_REPORT_HEADER = 2048  # characters of a Sync-Update-Report header


def updates_dir() -> Path:
    state = get_state()
    configured = state.config.get("UPDATES_DIR")
    if configured:
        return Path(str(configured))
    from flask import current_app

    return Path(current_app.instance_path) / "updates"


@api.before_request
def _refuse_old_clients() -> None:
    if request.path.startswith(OPEN_TO_OLD_CLIENTS):
        return
    minimum = U.min_client_version(get_state().config)
    if minimum is None:
        return
    version = U.client_version(request.headers.get("User-Agent"))
    if version is None or version >= minimum:
        return
    state = get_state()
    with state.db.ReadSession.begin() as session:
        offer = U.offer_for(session, running=version, platform=_platform(), school_code=None)
    raise U.too_old_error(version, minimum, offer.as_json() if offer else None)


def _platform() -> str:
    """The platform a client names (`Sync-Client-Platform`, 1.18); Windows for older clients."""
    named = request.headers.get("Sync-Client-Platform", "").strip().lower()
    return named if named in U.PLATFORMS else "windows"


@api.record_once
def _check_settings(setup: BlueprintSetupState) -> None:
    """A min_client_version that is no version stops the start (ConfigError), not every request; what
    the bureau should act on is logged at the start (the server log, and the console of serve)."""
    minimum = U.min_client_version(setup.app.config)
    for zh, en in start_warnings(setup.app, minimum):
        log.warning("%s / %s", zh, en)


def start_warnings(app: Any, minimum: Any) -> list[tuple[str, str]]:
    """The update signatures expiring or expired, and a min_client_version that locks PCs out."""
    from sync_server.updates_repo import Repository

    try:
        state = app.extensions["sync_server"]
        configured = app.config.get("UPDATES_DIR")
        folder = Path(str(configured)) if configured else Path(app.instance_path) / "updates"
        warnings = U.expiry_warnings(Repository(folder), state.now())
        with state.db.ReadSession.begin() as session:
            lockout = U.lockout_warning(session, minimum)
    except Exception:  # never stops the start: the dashboard page shows the same
        log.debug("update warnings at start", exc_info=True)
        return []
    return warnings + ([lockout] if lockout else [])


@api.after_app_request
def _protocol_headers(response: Response) -> Response:
    """On every answer under /api/v1 - a path the server does not know (404) or a method it does not take
    (405) too, which no blueprint's after_request sees - the protocol revision and the oldest client."""
    if request.path != "/api/v1" and not request.path.startswith("/api/v1/"):
        return response
    response.headers[U.PROTOCOL_HEADER] = U.PROTOCOL
    if request.method == "GET" and request.path == "/api/v1/pull":
        _pull_news(response)
    minimum = U.min_client_version(get_state().config)
    if minimum is not None:
        response.headers[U.MIN_CLIENT_HEADER] = str(minimum)
    return response


def _field(body: dict[str, Any], name: str, *, limit: int, required: bool = False) -> str | None:
    """A text field as every device route reads one (1 to `limit` characters, no control character)."""
    return _string(body, name, limit=limit, required=required) or None


def _report(body: object) -> dict[str, Any]:
    """A device's update report (the check's body, or the pull's Sync-Update-Report header), checked."""
    if not isinstance(body, dict):
        raise ApiError(
            "bad_request",
            "请求体须为 JSON 对象",
            "the body must be a JSON object",
            status=400,
        )
    running_text = _field(body, "app_version", limit=50, required=True) or ""
    _version(running_text, "app_version")
    platform = _field(body, "platform", limit=20, required=True) or ""
    state_word = body.get("state", "current")  # present: one of STATES (null is refused)
    if platform not in U.PLATFORMS or state_word not in U.STATES:
        bad = "platform" if platform not in U.PLATFORMS else "state"
        allowed = U.PLATFORMS if bad == "platform" else U.STATES
        raise ApiError(
            "bad_request",
            f"字段 {bad} 须为 {'、'.join(allowed)} 之一",
            f"field {bad} must be one of {', '.join(allowed)}",
            status=400,
            details={"field": bad},
        )
    failures = body.get("failures", 0)
    if not isinstance(failures, int) or isinstance(failures, bool) or not 0 <= failures <= 10**6:
        raise ApiError(
            "bad_request",
            "字段 failures 须为 0 到 1000000 的整数",
            "field failures must be a whole number from 0 to 1000000",
            status=400,
            details={"field": "failures"},
        )
    return {
        "app_version": running_text,
        "platform": platform,
        "state": state_word,
        "target_version": _field(body, "target_version", limit=50),
        "failures": failures,
        "error": _field(body, "error", limit=500),
        "fields": _report_fields(body),
    }


def _version(text: str, name: str) -> None:
    """A version field of the report; refused as an ApiError (400 bad_version), which a pull's and a USB
    bundle's reader take as a report they cannot read (a ServiceError there made the pull a 500)."""
    try:
        U.parse_version(text, what=name)
    except ServiceError as exc:
        raise ApiError(
            exc.code, exc.message_zh, exc.message_en, status=400, details=exc.details
        ) from None


MAX_TRIES_FIELD = (
    100  # tries and max_tries: a client retries a handful of times (client/update/retry.py)
)


def _bad_field(name: str, zh: str, en: str) -> ApiError:
    return ApiError(
        "bad_request",
        f"字段 {name} 须为{zh}",
        f"field {name} must be {en}",
        status=400,
        details={"field": name},
    )


def _report_fields(body: dict[str, Any]) -> dict[str, Any] | None:
    """The report's 1.21 facts of a failed first start or a withdrawn release, each optional (null or
    absent: not stated; a 1.18-1.20 client states none): `tries` and `max_tries` whole numbers (0 to 100,
    max_tries at least 1), `kept_version` a version, `blocked_until` a date-time with its zone (ISO 8601),
    `withdrawn` true or false. Anything else is refused as the rest of a bad report is."""
    out: dict[str, Any] = {}
    for name, low in (("tries", 0), ("max_tries", 1)):
        value = body.get(name)
        if value is None:
            continue
        if (
            not isinstance(value, int)
            or isinstance(value, bool)
            or not low <= value <= MAX_TRIES_FIELD
        ):
            raise _bad_field(
                name,
                f" {low} 到 {MAX_TRIES_FIELD} 的整数",
                f"a whole number from {low} to {MAX_TRIES_FIELD}",
            )
        out[name] = value
    kept = _field(body, "kept_version", limit=50)
    if kept is not None:
        _version(kept, "kept_version")
        out["kept_version"] = kept
    until = body.get("blocked_until")
    if until is not None:
        when = None
        if isinstance(until, str) and len(until) <= 40:
            try:
                when = dt.datetime.fromisoformat(until)
            except ValueError:
                when = None
        if when is None or when.tzinfo is None:
            raise _bad_field(
                "blocked_until",
                "带时区的日期时间（ISO 8601，如 2026-12-08T10:00:00+00:00）",
                "a date-time with its zone (ISO 8601, such as 2026-12-08T10:00:00+00:00)",
            )
        out["blocked_until"] = when.astimezone(dt.UTC).isoformat()
    flag = body.get("withdrawn")
    if flag is not None:
        if not isinstance(flag, bool):
            raise _bad_field("withdrawn", " true 或 false", "true or false")
        out["withdrawn"] = flag
    return out or None


@api.post("/update/check")
@device_required
def update_check_view() -> Response:
    state = get_state()
    report = _report(read_json(MAX_CHECK_BYTES))
    running = U.parse_version(report["app_version"], what="app_version")
    device = current_device()
    with state.db.Session.begin() as session:
        U.record_report(session, device_id=device.device_id, now=state.now(), **report)
        offer = U.offer_for(
            session, running=running, platform=report["platform"], school_code=device.school_code
        )
    minimum = U.min_client_version(state.config)
    return json_response(
        {
            "protocol": U.PROTOCOL,
            "min_client_version": str(minimum) if minimum else None,
            "too_old": bool(minimum and running < minimum),
            "offer": offer.as_json() if offer else None,
            "repository": "/api/v1/update/repo/",
        }
    )


def _pull_news(response: Response) -> None:
    """On a pull's answer (1.18): keep the report the device sent along (Sync-Update-Report), and name the
    release it is offered (Sync-Update-Offer), so that a sync makes no request of its own for updates
    unless there is one to fetch. Never fails the pull: a report that cannot be read or kept is logged."""
    device = getattr(g, "device", None)
    if response.status_code != 200 or not isinstance(device, DeviceInfo):
        return
    state = get_state()
    report: dict[str, Any] | None = None
    sent = request.headers.get(U.REPORT_HEADER)
    if sent and len(sent) <= MAX_REPORT_HEADER:
        try:
            report = _report(json.loads(sent))
        except (ValueError, ApiError) as exc:
            log.info("an update report on a pull was not read: %s", exc)
    running = U.client_version(request.headers.get("User-Agent"))
    try:
        with state.db.Session.begin() as session:
            if report is not None:
                U.record_report(session, device_id=device.device_id, now=state.now(), **report)
            offer = (
                U.offer_for(
                    session, running=running, platform=_platform(), school_code=device.school_code
                )
                if running is not None
                else None
            )
    except SQLAlchemyError:
        log.warning("the update report of %s was not kept", device.device_id, exc_info=True)
        return  # could not tell: no header (the client asks the update check if it needs to know)
    if offer is not None:
        response.headers[U.OFFER_HEADER] = offer.version
    elif running is not None and _says_none(request.headers.get(U.PROTOCOL_HEADER)):
        response.headers[U.OFFER_HEADER] = U.OFFER_NONE  # decided: nothing for this device (1.21)


def _says_none(stated: str | None) -> bool:
    """Whether the client's pull states a revision that reads `Sync-Update-Offer: none` (1.21 or later)."""
    revision = U.stated_protocol(stated)
    return revision is not None and revision >= U.OFFER_NONE_SINCE


@api.get("/update/repo/<path:name>")
def update_repo_view(name: str) -> Response:
    if not name.startswith(("metadata/", "targets/")):
        raise ApiError("not_found", "没有这个文件", "no such file", status=404)
    # The type given, so that no Content-Encoding is guessed from ".tar.gz" (a client would unzip it).
    mimetype = "application/json" if name.endswith(".json") else "application/octet-stream"
    response = send_from_directory(
        updates_dir(), name, conditional=True, max_age=0, mimetype=mimetype
    )
    if name.startswith("metadata/"):
        response.headers["Cache-Control"] = "no-cache"
    return response
