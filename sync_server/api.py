"""The device API under /api/v1 (docs/protocol.md; OpenAPI document at /api/v1/openapi.json).

Views are thin: they read and check the request, take the device (and so the school) from the bearer token,
call a service inside one transaction, and answer JSON.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import zlib
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import Blueprint, Response, g, request

from forms.usb_bundle import device_key, encode_key
from sync_server.app import json_response
from sync_server.enrollment_files import file_token
from sync_server.errors import ApiError, ServiceError
from sync_server.json_text import JsonInputError, strict_loads
from sync_server.openapi import openapi_document
from sync_server.push_batch import push_batch
from sync_server.services import generation
from sync_server.services.attachments import (
    SHA256_RE,
    PartialQuota,
    parse_content_range,
    parse_upload_metadata,
)
from sync_server.services.changes import current_seq, pull
from sync_server.services.common import (
    IDEMPOTENCY_KEY_RE,
    MAX_INT64,
    is_name_text,
    iso,
    naive_utc,
    url_control_character,
)
from sync_server.services.forms import get_version, latest_forms
from sync_server.services.pin_reset import encoded_reset_key
from sync_server.services.push import COMPACT_HEADER, compact_answer, parse_batch
from sync_server.services.schools import (
    DeviceInfo,
    TokenKind,
    adopt_token,
    enroll,
    issue_next_token,
    match_token,
    touch_device,
)
from sync_server.state import get_state

log = logging.getLogger(__name__)

api = Blueprint("api_v1", __name__, url_prefix="/api/v1")

F = TypeVar("F", bound=Callable[..., Response])

GZIP_SLACK = 64 * 1024  # gzip of incompressible bytes is a little longer than the bytes
ROTATION_HEADER = "Sync-Token-Rotation"  # "1": the client stores a next_token (protocol 1.9)
# Protocol 1.20: every answer states this server's push batch maximum; a client sends batches of at most
# min(what it states, the client's own cap), and 200 changes / 5 MB to a server that states nothing.
MAX_CHANGES_HEADER = "Sync-Max-Changes"
MAX_BATCH_BYTES_HEADER = "Sync-Max-Batch-Bytes"


# -- reading requests -------------------------------------------------------------------------------


def _too_large(limit: int) -> ApiError:
    return ApiError(
        "too_large",
        f"请求过大（解压后最多 {limit // (1024 * 1024)} MB），请分成更小的批次",
        f"the request is too large (at most {limit} bytes uncompressed); send smaller batches",
        status=413,
        details={"max_bytes": limit},
    )


def read_body(limit: int) -> bytes:
    """The request body, gunzipped if it says so, refused with 413 past `limit` (with or without
    Content-Length, and without inflating more than limit + 1 bytes of a gzip bomb)."""
    encoding = request.headers.get("Content-Encoding", "identity").strip().lower()
    if encoding not in ("identity", "", "gzip"):
        raise ApiError(
            "unsupported_encoding",
            f"不支持的压缩方式 {encoding}（只支持 gzip）",
            f"unsupported Content-Encoding {encoding} (only gzip)",
            status=415,
        )
    raw_limit = limit + GZIP_SLACK if encoding == "gzip" else limit
    length = request.content_length
    if length is not None and length > raw_limit:
        raise _too_large(limit)
    # Read no more than Content-Length says (+1): read(n) makes an n-byte buffer first, and under waitress the
    # stream is limited only by the door's maximum, so read(raw_limit + 1) zeroed ~5 MB for every push (1.6 ms;
    # issue 14, goal 3). Without Content-Length (chunked) the limit is read as before.
    want = raw_limit if length is None else min(length, raw_limit)
    raw = request.stream.read(want + 1)
    if len(raw) > raw_limit:
        raise _too_large(limit)
    if encoding != "gzip":
        return raw
    inflater = zlib.decompressobj(wbits=31)
    try:
        body = inflater.decompress(raw, limit + 1)
        if len(body) > limit or inflater.unconsumed_tail:
            raise _too_large(limit)
        body += inflater.flush()
    except zlib.error:
        raise ApiError(
            "bad_gzip", "gzip 数据损坏", "the gzip body is corrupt", status=400
        ) from None
    if len(body) > limit:
        raise _too_large(limit)
    if not inflater.eof:
        raise ApiError("bad_gzip", "gzip 数据不完整", "the gzip body is truncated", status=400)
    if inflater.unused_data:
        # Junk or a second gzip member: what a proxy or a buggy client glued on is never taken as data.
        raise ApiError(
            "bad_gzip",
            f"gzip 数据流之后还有 {len(inflater.unused_data)} 字节多余数据",
            f"{len(inflater.unused_data)} bytes follow after the gzip stream; send exactly one gzip member",
            status=400,
            details={"trailing_bytes": len(inflater.unused_data)},
        )
    return body


def read_json(limit: int) -> Any:
    return parse_json(read_body(limit))


def parse_json(body: bytes) -> Any:
    try:
        return strict_loads(body)
    except JsonInputError as exc:
        raise ApiError(
            "bad_json",
            "请求体不是有效的 JSON（UTF-8 文本，不含 NaN、Infinity 或孤立的代理字符）",
            f"the body is not valid JSON (UTF-8): {exc}"[:300],
            status=400,
        ) from None


def _string(body: Any, name: str, *, limit: int, required: bool = True) -> str:
    """A text field of the body (docs: plain_text_schema): 1 to `limit` characters, not blank, no control
    characters; returned stripped. Absent and not required: ""."""
    value = body.get(name) if isinstance(body, dict) else None
    if value is None and not required:
        return ""
    if not isinstance(value, str) or not is_name_text(value, limit):
        raise ApiError(
            "bad_request",
            f"“{name}”应为 1 到 {limit} 个字符的文本（不能全是空白，不能含控制字符）",
            f"'{name}' must be a string of 1 to {limit} characters, not blank, without control characters",
            status=400,
            details={"field": name},
        )
    return value.strip()


def _int_arg(name: str, default: int, minimum: int, maximum: int = MAX_INT64) -> int:
    raw = request.args.get(name)
    if raw is None:
        return default
    value: int | None
    try:
        value = int(raw) if len(raw) <= 40 else None
    except ValueError:
        value = None
    if value is None or not minimum <= value <= maximum:
        raise ApiError(
            "bad_parameter",
            f"参数 {name} 应为 {minimum} 到 {maximum} 之间的整数",
            f"parameter '{name}' must be an integer from {minimum} to {maximum}",
            status=400,
            details={"parameter": name, "value": raw[:100], "minimum": minimum, "maximum": maximum},
        )
    return value


@api.before_request
def _refuse_control_characters() -> None:
    where = url_control_character(request.path, request.args.items(multi=True))
    if where is not None:
        raise ApiError(
            "bad_url",
            f"请求地址（{where}）含有控制字符",
            f"the URL ({where}) holds a control character",
            status=400,
            details={"where": where},
        )


# -- the device -------------------------------------------------------------------------------------


def device_required(view: F) -> F:
    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Response:
        g.device = authenticate()
        return view(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def sync_device_required(view: F) -> F:
    """device_required for push and pull: the token and the server's generation read in one statement
    (g.seen, for _generation_standing; issue 14: two read transactions were a tenth of a small push)."""

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Response:
        g.device = authenticate(with_generation=True)
        return view(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def authenticate(*, with_generation: bool = False) -> DeviceInfo:
    state = get_state()
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ApiError(
            "unauthorized",
            "缺少设备凭据，请先登记本机",
            "missing device token (Authorization: Bearer ...); enroll first",
            status=401,
            headers={"WWW-Authenticate": 'Bearer realm="school-sync"'},
        )
    # Protocol 1.15: a computer enrolled by file is bound to the file on first contact (another: 403).
    token = file_token(state, token.strip())
    secret = str(state.config["SECRET_KEY"])
    # One statement reads the token's device and, for push and pull, where the server stands (g.seen):
    # no Session, and on PostgreSQL no BEGIN and COMMIT (db.Database.read_connection).
    also = generation.SNAPSHOT_COLUMNS if with_generation else ()
    with state.db.read_connection() as conn:
        match = match_token(conn, token, secret=secret, also=also)
    if match is not None and with_generation:
        g.seen = generation.seen_from(match.also)
    if match is None:
        raise _invalid_token(
            "unauthorized",
            "设备凭据无效，请重新登记本机",
            "unknown device token; enroll this device again",
        )
    device = match.device
    if device.replaced_by is not None:
        raise _invalid_token(
            "token_replaced",
            "本机已重新登记，这个旧的设备凭据已作废；请使用新的登记",
            "this computer was enrolled again; this earlier device token no longer works",
            details={"replaced_by": device.replaced_by},
        )
    if device.revoked_at is not None:
        raise ApiError(
            "device_revoked",
            "本机的登记已被教育局撤销，请联系教育局",
            "this device was revoked by the bureau; contact the bureau",
            status=403,
        )
    if match.kind == TokenKind.RETIRED:
        log.warning("device %s: a token retired by rotation was used", device.device_id)
        raise _invalid_token(
            "token_superseded",
            "这个设备凭据已被更新的凭据取代，已作废（本机数据可能被复制到了别的电脑）；请重新登记本机",
            "this device token was superseded by a newer one and no longer works (a copy of this "
            "computer's data may be in use elsewhere); enroll this computer again",
        )
    now = state.now()
    if match.kind in (TokenKind.NEXT, TokenKind.AHEAD) and match.epoch is not None:
        # Its first use: the token before it is retired (protocol 1.9). Ahead: the database was restored
        # from a backup made before the device's last rotations; the secret key proves the token.
        with state.db.Session.begin() as session:
            adopt_token(session, device.device_id, token, epoch=match.epoch, now=now)
        log.log(
            logging.WARNING if match.kind == TokenKind.AHEAD else logging.INFO,
            "device %s rotated its token (%s, epoch %d)",
            device.device_id,
            match.kind,
            match.epoch,
        )
    seen = device.last_seen_at
    every = dt.timedelta(seconds=float(state.config["LAST_SEEN_EVERY"]))
    if seen is None or naive_utc(now) - seen >= every:
        try:
            with state.db.one_write() as conn:  # on PostgreSQL one round trip, no BEGIN/COMMIT
                touch_device(conn, device.device_id, now=now)
        except Exception:
            log.warning("could not record that device %s was seen", device.device_id, exc_info=True)
    return device


def _invalid_token(
    code: str, zh: str, en: str, *, details: dict[str, Any] | None = None
) -> ApiError:
    return ApiError(
        code,
        zh,
        en,
        status=401,
        headers={"WWW-Authenticate": 'Bearer realm="school-sync", error="invalid_token"'},
        details=details,
    )


def current_device() -> DeviceInfo:
    device = g.device
    assert isinstance(device, DeviceInfo)
    return device


# -- views ------------------------------------------------------------------------------------------

UNKNOWN_CODE = "enrollment_code_invalid"
UNKNOWN_CODE_MESSAGES = (
    "登记码不正确，请核对后重新输入",
    "unknown enrollment code; check it and try again",
)


def _enroll_wait(wait: int) -> ApiError:
    return ApiError(
        "too_many_requests",
        f"登记码错误次数过多，请 {wait} 秒后再试",
        f"too many wrong enrollment codes; try again in {wait} s",
        status=429,
        headers={"Retry-After": str(wait)},
        details={"retry_after": wait},
    )


@api.post("/enroll")
def enroll_view() -> Response:
    state = get_state()
    client = request.remote_addr or "?"
    body = read_json(64 * 1024)
    code = _string(body, "enrollment_code", limit=64)
    name = _string(body, "device_name", limit=100)
    version = _string(body, "app_version", limit=50, required=False)
    # Protocol 1.4: the client's own id for this enrollment; the same code and id again (a lost answer)
    # get the same device. Absent (an older client): the code is simply single-use.
    request_id = _string(body, "request_id", limit=100, required=False) or None
    # Optional: the school code printed on the slip. Wrong codes that name a school wait only for that
    # school, so a neighbour's guessing behind the same address does not hold this school up.
    school = _string(body, "school_code", limit=32, required=False).upper() or None
    # Protocol 1.9: the token this computer held; its device (of the same school) is replaced.
    replaces = _string(body, "replaces_token", limit=200, required=False) or None
    wait = state.enroll_throttle.wait(client, school)
    if wait:
        raise _enroll_wait(wait)
    try:
        with state.db.Session.begin() as session:
            result = enroll(
                session,
                enrollment_code=code,
                device_name=name,
                app_version=version,
                now=state.now(),
                request_id=request_id,
                secret=str(state.config["SECRET_KEY"]),
                replaces_token=replaces,
            )
            if school is not None and result.school_code.upper() != school:
                raise ApiError(  # rolls the enrollment back; says no more than an unknown code
                    UNKNOWN_CODE, *UNKNOWN_CODE_MESSAGES, status=401
                )
    except ServiceError as exc:
        if exc.code == UNKNOWN_CODE:  # a used, expired or replaced code is a real one: no guess
            wait = state.enroll_throttle.fail(client, school)
            log.info(
                "wrong enrollment code from %s (school %s); next try in %s s", client, school, wait
            )
        raise
    log.info("device %s enrolled for school %s", result.device_id, result.school_code)
    return json_response(
        {
            "device_id": result.device_id,
            "token": result.token,
            "school": {"code": result.school_code, "name": result.school_name},
            # Protocol 1.11: the key the device checks the bureau's PIN reset codes with.
            "pin_reset_key": encoded_reset_key(str(state.config["SECRET_KEY"]), result.device_id),
            # Protocol 1.13: the key of this device's USB sync bundles.
            "usb_key": encode_key(device_key(str(state.config["SECRET_KEY"]), result.device_id)),
        },
        201,
        {"Cache-Control": "no-store"},
    )


@api.get("/forms")
@device_required
def forms_view() -> Response:
    with get_state().db.ReadSession.begin() as session:
        forms = [
            {
                "form_id": fv.form_id,
                "version": fv.version,
                "sha256": fv.sha256,
                "title_zh": fv.title_zh,
                "published_at": iso(fv.published_at),
            }
            for fv in latest_forms(session)
        ]
    return json_response({"forms": forms})


@api.get("/forms/<form_id>/<path:version>")  # path: a legacy version with "/" (its %2F is decoded)
@device_required
def form_view(form_id: str, version: str) -> Response:
    with get_state().db.ReadSession.begin() as session:
        fv = get_version(session, form_id, version)
        if fv is None:
            raise ApiError(
                "unknown_form",
                f"服务器上没有表单 {form_id} 的版本 {version}",
                f"no form {form_id} version {version} on the server",
                status=404,
                details={"form_id": form_id, "version": version},
            )
        body = {
            "form_id": fv.form_id,
            "version": fv.version,
            "sha256": fv.sha256,
            "title_zh": fv.title_zh,
            "definition": fv.definition,
        }
    return json_response(body)


@api.post("/push")
@sync_device_required
def push_view() -> Response:
    state = get_state()
    key = request.headers.get("Idempotency-Key", "").strip()
    if not IDEMPOTENCY_KEY_RE.fullmatch(key):
        raise ApiError(
            "missing_idempotency_key",
            "缺少 Idempotency-Key 请求头（每批一个，由客户端生成）",
            "the Idempotency-Key header (one per batch, made by the client: 1 to 100 visible ASCII "
            "characters) is missing or malformed",
            status=400,
        )
    compact = _compact_asked()
    raw = read_body(int(state.config["MAX_BATCH_BYTES"]))
    body = parse_json(raw)
    changes = parse_batch(body, max_changes=int(state.config["MAX_BATCH_CHANGES"]))
    device = current_device()
    standing, healing = _generation_standing(device, cursor=_cursor_header())
    heal = standing.generation if healing else None
    answer = push_batch(
        state, device=device, key=key, body=body, changes=changes, healing_into=heal, raw=raw
    )
    headers = {"Idempotent-Replayed": "true"} if answer.replayed else {}
    headers.update(_generation_headers(standing))
    text = answer.body
    if answer.status_code == 200 and compact:
        text = compact_answer(text, changes)  # protocol 1.14; the stored answer stays the full form
    return json_response(text, answer.status_code, headers)


@api.get("/pull")
@sync_device_required
def pull_view() -> Response:
    state = get_state()
    since = _int_arg("since", 0, 0)
    limit = _int_arg(
        "limit", int(state.config["PULL_DEFAULT_LIMIT"]), 1, int(state.config["PULL_MAX_LIMIT"])
    )
    own = _bool_arg("include_own")
    compact = _bool_arg("compact")
    rotate = _rotation_asked()
    device = current_device()
    standing, healing = _generation_standing(device, cursor=since)
    with state.db.ReadSession.begin() as session:
        page = pull(
            session,
            school_id=device.school_id,
            device_id=device.device_id,
            since=since,
            limit=limit,
            include_own=own,
            compact=compact,
        )
        server_seq = current_seq(session)  # the same snapshot as the page: never below its cursor
    extra: dict[str, Any] = {}
    headers = _generation_headers(generation.Standing(standing.generation, server_seq))
    if not page.more and rotate:
        # The end of a sync (protocol 1.9): a next token, valid beside this one until first used.
        with state.db.Session.begin() as session:
            extra["next_token"] = issue_next_token(
                session,
                device.device_id,
                secret=str(state.config["SECRET_KEY"]),
                now=state.now(),
            )
        headers["Cache-Control"] = "no-store"
    if healing and not page.more:
        generation.note_healed(
            state.db.Session,
            generation=standing.generation,
            device_id=device.device_id,
            school_id=device.school_id,
            now=state.now(),
        )
    return json_response(
        {
            "changes": page.changes,
            "cursor": page.cursor,
            "more": page.more,
            "generation": standing.generation,
            "server_seq": server_seq,
            "cursor_proof": generation.cursor_proof(
                str(state.config["SECRET_KEY"]), standing.generation, page.cursor
            ),
            "pin_reset_key": encoded_reset_key(str(state.config["SECRET_KEY"]), device.device_id),
            "usb_key": encode_key(device_key(str(state.config["SECRET_KEY"]), device.device_id)),
            **extra,
        },
        headers=headers,
    )


def _compact_asked() -> bool:
    """Protocol 1.14: `Sync-Push-Answer: compact` asks for compact push answers (`full`: the usual ones)."""
    raw = request.headers.get(COMPACT_HEADER)
    if raw is None or raw.strip() == "full":
        return False
    if raw.strip() != "compact":
        raise _bad_header(COMPACT_HEADER, "应为 compact 或 full", "must be compact or full")
    return True


def _rotation_asked() -> bool:
    raw = request.headers.get(ROTATION_HEADER)
    if raw is None:
        return False
    if raw.strip() not in ("0", "1"):
        raise _bad_header(ROTATION_HEADER, "应为 1 或 0", "must be 1 or 0")
    return raw.strip() == "1"


def _bool_arg(name: str) -> bool:
    value = request.args.get(name, "false").strip().lower()
    if value not in ("true", "false", "1", "0"):
        raise ApiError(
            "bad_parameter",
            f"参数 {name} 应为 true 或 false",
            f"parameter '{name}' must be true or false",
            status=400,
            details={"parameter": name, "value": value[:100]},
        )
    return value in ("true", "1")


# -- the server's generation (protocol 1.6, services.generation) ------------------------------------


def _bad_header(name: str, zh: str, en: str) -> ApiError:
    return ApiError(
        "bad_header",
        f"请求头 {name} {zh}",
        f"the {name} header {en}",
        status=400,
        details={"header": name},
    )


def _generation_header(name: str) -> str | None:
    raw = request.headers.get(name)
    if raw is None:
        return None
    value = raw.strip().lower()
    if not (generation.GENERATION_RE.fullmatch(value) or value == generation.UNKNOWN):
        raise _bad_header(
            name,
            "应为 32 位十六进制的服务器代次，或 none",
            "must be a server generation (32 hex digits) or 'none'",
        )
    return value


def _proof_header() -> str | None:
    raw = request.headers.get(generation.PROOF_HEADER)
    if raw is None:
        return None
    value = raw.strip().lower()
    if not generation.PROOF_RE.fullmatch(value):
        raise _bad_header(
            generation.PROOF_HEADER,
            "应为服务器给出的 32 位十六进制游标证明（cursor_proof）",
            "must be the cursor_proof a pull answer gave (32 hex digits)",
        )
    return value


_DIGITS = re.compile(r"[0-9]{1,19}")


def _cursor_header() -> int | None:
    raw = request.headers.get(generation.CURSOR_HEADER)
    if raw is None:
        return None
    value = raw.strip()
    if not _DIGITS.fullmatch(value) or int(value) > MAX_INT64:
        raise _bad_header(
            generation.CURSOR_HEADER,
            f"应为 0 到 {MAX_INT64} 之间的整数",
            f"must be an integer from 0 to {MAX_INT64}",
        )
    return int(value)


def _generation_standing(
    device: DeviceInfo, *, cursor: int | None
) -> tuple[generation.Standing, bool]:
    """The device's generation against the server's: 409 generation_changed when it must heal first.
    Also whether the device says it is healing into the current generation (then its pushes and its last
    pull page are counted for the dashboard)."""
    state = get_state()
    claimed = _generation_header(generation.GENERATION_HEADER)
    healing_into = _generation_header(generation.HEAL_HEADER)
    proof = _proof_header()
    proven = cursor is not None and generation.proof_holds(
        str(state.config["SECRET_KEY"]), claimed, cursor, proof
    )
    verdict = generation.check(
        state.db.Session,
        state.db.ReadSession,
        device_id=device.device_id,
        school_id=device.school_id,
        claimed=claimed,
        cursor=cursor,
        now=state.now(),
        proven=proven,
        seen=g.get("seen"),
    )
    if isinstance(verdict, generation.Restart):
        log.info(
            "device %s is told of generation %s (held through %s)",
            device.device_id,
            verdict.generation,
            verdict.held_through,
        )
        raise verdict.error()
    return verdict, healing_into == verdict.generation


@api.after_request
def _batch_limit_headers(response: Response) -> Response:
    """Protocol 1.20: the push batch maximum (changes, uncompressed bytes) on every answer, errors too."""
    config = get_state().config
    response.headers[MAX_CHANGES_HEADER] = str(int(config["MAX_BATCH_CHANGES"]))
    response.headers[MAX_BATCH_BYTES_HEADER] = str(int(config["MAX_BATCH_BYTES"]))
    return response


def _generation_headers(standing: generation.Standing) -> dict[str, str]:
    """The generation and counter of now, as headers: a replayed push answer stays byte for byte the
    stored one (which may come from before a restore)."""
    return {
        generation.GENERATION_HEADER: standing.generation,
        generation.SERVER_SEQ_HEADER: str(standing.server_seq),
    }


def _sha_arg(sha256: str) -> str:
    if not SHA256_RE.match(sha256):
        raise ApiError(
            "bad_sha256",
            "附件编号应为 64 位小写十六进制的 sha256",
            "an attachment is named by its sha256: 64 lower-case hex digits",
            status=400,
        )
    return sha256


@api.route("/attachments/<sha256>", methods=["HEAD"])
@device_required
def attachment_head(sha256: str) -> Response:
    state = get_state()
    upload = state.attachments.state(current_device().school_id, _sha_arg(sha256))
    headers = {"Upload-Offset": str(upload.offset), "Cache-Control": "no-store"}
    if upload.size is not None:
        headers["Upload-Length"] = str(upload.size)
    return Response(status=200 if upload.complete else 404, headers=headers)


@api.route("/attachments/<sha256>", methods=["PUT"])
@device_required
def attachment_put(sha256: str) -> Response:
    state = get_state()
    sha256 = _sha_arg(sha256)
    if request.headers.get("Content-Encoding", "identity").lower() not in ("identity", ""):
        raise ApiError(
            "unsupported_encoding",
            "附件请勿压缩上传",
            "send attachment bytes without Content-Encoding",
            status=415,
        )
    max_bytes = int(state.config["MAX_ATTACHMENT_BYTES"])
    length = request.content_length
    if length is not None and length > max_bytes:
        raise ApiError(
            "attachment_too_large",
            f"附件最大 {max_bytes // (1024 * 1024)} MB",
            f"attachments are at most {max_bytes} bytes",
            status=413,
            details={"max_bytes": max_bytes},
        )
    start, end, total = parse_content_range(request.headers.get("Content-Range"), length)
    filename = parse_upload_metadata(request.headers.get("Upload-Metadata"))
    upload = state.attachments.put(
        current_device().school_id,
        sha256,
        start=start,
        end=end,
        total=total,
        body=request.stream,
        now=state.now(),
        quota=PartialQuota.from_config(state.config),
        filename=filename,
        length_declared=length is not None,
    )
    body = {
        "sha256": sha256,
        "offset": upload.offset,
        "size": upload.size,
        "complete": upload.complete,
    }
    status = 201 if upload.created else 200
    return json_response(body, status, {"Upload-Offset": str(upload.offset)})


@api.get("/openapi.json")
def openapi_view() -> Response:
    return json_response(openapi_document(get_state().config))


# Update routes and version checks (issue 16, protocol 1.18): their own module, on this blueprint.
from sync_server import updates_api  # noqa: E402,F401
