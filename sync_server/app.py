"""The Flask app factory: `create_app(config)`.

Configuration layers (sync_server.config): defaults -> <instance>/config.toml -> environment
(SYNC_SERVER_DB, SYNC_SERVER_SECRET_KEY) -> the `config` argument. `INSTANCE_PATH` in the argument (or the
environment variable SYNC_SERVER_INSTANCE) chooses the instance folder.

At start the database is migrated (AUTO_MIGRATE) and, on a fresh server, the shipped forms are published
(PUBLISH_SHIPPED_FORMS). Every answer is JSON with `X-Sync-Server: school-sync/1`; errors too.
"""

from __future__ import annotations

import datetime as dt
import gzip
import logging
from pathlib import Path
from typing import Any

from flask import Flask, Response, current_app, g, request
from sqlalchemy.exc import DBAPIError, OperationalError
from werkzeug.exceptions import HTTPException

from sync_server.config import build_config, default_instance_path, number, whole_number
from sync_server.db import Database, open_database
from sync_server.errors import ServiceError, error_body, http_error
from sync_server.json_text import dumps
from sync_server.limits import API_PREFIX, BODYLESS_METHODS, BodyDoors, too_large_messages
from sync_server.migrate import upgrade
from sync_server.private_files import secure_instance
from sync_server.services.attachments import AttachmentStore
from sync_server.services.forms import publish_shipped_forms
from sync_server.state import EXTENSION, ServerState, get_state
from sync_server.throttle import EnrollThrottle
from sync_server.tls import TlsAwareSessionInterface, served_fingerprint

log = logging.getLogger(__name__)

SERVER_HEADER = "X-Sync-Server"
SERVER_ID = "school-sync/1"
JSON_TYPE = "application/json; charset=utf-8"
DOORS_EXTENSION = "sync_server.doors"


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    text = body if isinstance(body, str) else dumps(body)
    return Response(text, status=status, headers=headers or {}, content_type=JSON_TYPE)


def prepare_database(db: Database, *, migrate: bool, publish_forms: bool, now: dt.datetime) -> None:
    """Migrate to the newest schema and publish the shipped forms on a fresh server."""
    if migrate:
        upgrade(db.engine)
    if publish_forms:
        with db.Session.begin() as session:
            published = publish_shipped_forms(session, now=now)
        if published:
            log.info("published the shipped forms: %s", ", ".join(p.form_id for p in published))


def create_app(config: dict[str, Any] | None = None) -> Flask:
    override = dict(config or {})
    instance = Path(override.pop("INSTANCE_PATH", None) or default_instance_path())
    app = Flask(
        "sync_server",
        instance_path=str(instance.resolve()),
        instance_relative_config=True,
        static_folder=None,
    )
    cfg = build_config(instance, override)
    app.config.update(cfg)
    # Werkzeug refuses bodies beyond this before any view reads them; each request gets its own door's
    # (smaller) limit in _choose_body_limit, and `sync-server serve` applies the same doors before waitress
    # buffers a body (sync_server/serving.py).
    doors = BodyDoors.from_config(cfg)
    app.config["MAX_CONTENT_LENGTH"] = doors.largest
    app.json.ensure_ascii = False  # type: ignore[attr-defined]
    # the session cookie is Secure on every HTTPS request (serve --cert, or a trusted proxy's
    # X-Forwarded-Proto), whatever session_cookie_secure says (sync_server/tls.py)
    app.session_interface = TlsAwareSessionInterface()
    # the fingerprint the schools pin, shown on code slips (None: plain HTTP, or a CA's certificate)
    fingerprint = served_fingerprint(cfg, instance)
    app.context_processor(lambda: {"server_fingerprint": fingerprint})

    db = open_database(cfg["DATABASE_URL"], pool_size=int(cfg["DB_POOL_SIZE"]))
    clock = cfg["CLOCK"]
    prepare_database(
        db,
        migrate=bool(cfg["AUTO_MIGRATE"]),
        publish_forms=bool(cfg["PUBLISH_SHIPPED_FORMS"]),
        now=clock(),
    )
    attachments_dir = Path(cfg["ATTACHMENTS_DIR"] or instance / "attachments")
    secure_instance(instance, attachments_dir)  # owner-only, wider modes tightened (issue 12.5)
    state = ServerState(
        db=db,
        attachments=AttachmentStore(
            attachments_dir, db.Session, db.ReadSession, max_bytes=int(cfg["MAX_ATTACHMENT_BYTES"])
        ),
        clock=clock,
        local_offset=dt.timedelta(hours=float(cfg["UTC_OFFSET_HOURS"])),
        config=cfg,
        enroll_throttle=EnrollThrottle(
            free=whole_number(cfg, "ENROLL_FREE_FAILURES"),
            base=number(cfg, "ENROLL_DELAY_SECONDS"),
            cap=number(cfg, "ENROLL_MAX_DELAY_SECONDS"),
            school_free=whole_number(cfg, "ENROLL_SCHOOL_FREE_FAILURES"),
            school_cap=number(cfg, "ENROLL_SCHOOL_MAX_DELAY_SECONDS"),
            forget=number(cfg, "ENROLL_FORGET_SECONDS", minimum=1),
            clock=lambda: clock().timestamp(),
        ),
    )
    app.extensions[EXTENSION] = state
    app.extensions[DOORS_EXTENSION] = doors
    app.before_request(_choose_body_limit)

    from sync_server.api import api

    app.register_blueprint(api)
    from sync_server.dashboard import init_dashboard

    init_dashboard(app)  # the staff pages at "/" (login, schools, forms, records, ...)
    app.add_url_rule("/healthz", "healthz", healthz, methods=["GET"])
    _register_errors(app)
    app.after_request(_finish_response)
    return app


def _choose_body_limit() -> None:
    """This request's body limit, by its door (sync_server/limits.py)."""
    doors: BodyDoors = current_app.extensions[DOORS_EXTENSION]
    path = request.path
    staff = False
    if not path.startswith(API_PREFIX) and request.method not in BODYLESS_METHODS:
        from flask import session

        staff = isinstance(session.get("uid"), int)
    door, limit = doors.door(
        method=request.method,
        path=path,
        device=bool(request.headers.get("Authorization", "").strip()),
        staff=staff,
    )
    g.body_door = (door, limit)
    request.max_content_length = limit


def too_large_body() -> dict[str, Any]:
    """The 413 error body for this request's door."""
    door, limit = g.get("body_door") or ("request", request.max_content_length or 0)
    zh, en = too_large_messages(int(limit), str(door))
    return error_body("too_large", zh, en, {"max_bytes": limit, "door": door})


def healthz() -> Response:
    if get_state().db.ping():
        return json_response({"status": "ok"})
    return json_response(
        error_body("database_unavailable", "数据库无法连接", "the database does not answer"),
        503,
        {"Retry-After": "30"},
    )


def _register_errors(app: Flask) -> None:
    @app.errorhandler(ServiceError)
    def _service_error(exc: ServiceError) -> Response:
        return json_response(exc.body(), exc.status, exc.headers)

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> Response:
        status = exc.code or 500
        headers: dict[str, str] = {}
        allow = exc.get_response().headers.get("Allow")
        if allow:
            headers["Allow"] = allow
        body = too_large_body() if status == 413 else http_error(status)
        return json_response(body, status, headers)

    @app.errorhandler(OperationalError)
    def _busy(exc: OperationalError) -> Response:
        # SQLite's write lock held beyond busy_timeout, or PostgreSQL gone: ask the client to come back.
        log.warning("database busy or unreachable: %s", exc.orig)
        return json_response(http_error(503), 503, {"Retry-After": "5"})

    @app.errorhandler(DBAPIError)
    def _db_error(exc: DBAPIError) -> Response:
        log.error("database error on %s %s", request.method, request.path, exc_info=exc)
        return json_response(http_error(500), 500)

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> Response:
        log.error("unexpected error on %s %s", request.method, request.path, exc_info=exc)
        return json_response(http_error(500), 500)


def _finish_response(response: Response) -> Response:
    response.headers[SERVER_HEADER] = SERVER_ID
    if (
        request.method != "HEAD"
        and not response.direct_passthrough
        and "Content-Encoding" not in response.headers
        and response.mimetype == "application/json"
        and "gzip" in request.headers.get("Accept-Encoding", "").lower()
    ):
        data = response.get_data()
        if len(data) >= int(get_state().config["GZIP_MIN_BYTES"]):
            response.set_data(gzip.compress(data, compresslevel=6))
            response.headers["Content-Encoding"] = "gzip"
        response.vary.add("Accept-Encoding")
    return response
