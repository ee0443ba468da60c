"""The OpenAPI 3.1 description of /api/v1 (served at /api/v1/openapi.json; a test keeps it true to the routes).

docs/protocol.md explains the same API in prose; this document is the machine-readable contract, and it is
exact: every syntactic rule the server enforces (lengths, patterns, ranges, the limits of this server's
configuration) is stated here, and a property-based test (tests/server/test_openapi_fuzz.py) sends requests
generated from it, valid and invalid, and checks every answer against it.

What a schema cannot say is in the descriptions: the bytes of an upload must match its sha256, the op ids of
one batch must differ, a Content-Range must match its body.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sync_server import __version__
from sync_server.config import DEFAULTS
from sync_server.services.attachments import CONTENT_RANGE_PATTERN
from sync_server.services.common import (
    IDEMPOTENCY_KEY_PATTERN,
    MAX_INT32,
    MAX_INT64,
    NAME_TEXT_PATTERN,
    PLAIN_TEXT_PATTERN,
    URL_TEXT_PATTERN,
    UUID_PATTERN,
)

_JSON = "application/json"
SHA256_PATTERN = "^[0-9a-f]{64}$"

REJECT_REASONS = [
    "invalid",
    "missing_attachments",
    "unknown_form",
    "other_school",
    "form_mismatch",
    "locked",
    "op_id_in_use",
    "too_large",
    "duplicate_teacher",
]


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str, **extra: Any) -> dict[str, Any]:
    return {"description": description, "content": {_JSON: {"schema": schema}}, **extra}


def _error(description: str, **extra: Any) -> dict[str, Any]:
    return _json(_ref("Error"), description, **extra)


def _name(limit: int, **extra: Any) -> dict[str, Any]:
    """Text that is not blank and holds no control character (the server strips it)."""
    return {
        "type": "string",
        "minLength": 1,
        "maxLength": limit,
        "pattern": NAME_TEXT_PATTERN,
        **extra,
    }


def _plain(limit: int, *, nullable: bool = False, **extra: Any) -> dict[str, Any]:
    """Text without control characters, taken as it is."""
    return {
        "type": ["string", "null"] if nullable else "string",
        "minLength": 1,
        "maxLength": limit,
        "pattern": PLAIN_TEXT_PATTERN,
        **extra,
    }


_REVISION = {"type": ["integer", "null"], "minimum": 0, "maximum": MAX_INT32}
_RETRY_AFTER = {"Retry-After": {"description": "Seconds to wait", "schema": {"type": "integer"}}}
# The server's generation (revision 1.6, sync_server.services.generation).
_GENERATION = {"type": "string", "pattern": "^[0-9a-f]{32}$"}
_PIN_RESET_KEY = {
    "type": "string",
    "pattern": "^[A-Za-z0-9_-]{43}$",
    "description": "The device's key for checking the bureau's PIN reset codes (32 bytes, base64url "
    "without padding; protocol revision 1.11). Older clients ignore it",
}
_USB_KEY = {
    "type": "string",
    "pattern": "^[A-Za-z0-9_-]{43}$",
    "description": "The device's key for its USB sync bundles (32 bytes, base64url without padding; protocol "
    "revision 1.13). Older clients ignore it",
}
_GENERATION_PARAMETERS = [
    {
        "name": "Sync-Generation",
        "in": "header",
        "description": "The server generation the device's cursor and acknowledgements belong to, or "
        "'none' when it never learned one; another one is 409 generation_changed",
        "schema": {"type": "string", "pattern": "^([0-9a-f]{32}|none)$"},
    },
    {
        "name": "Sync-Heal",
        "in": "header",
        "description": "The generation the device is healing into (what it sends again is counted)",
        "schema": {"type": "string", "pattern": "^([0-9a-f]{32}|none)$"},
    },
    {
        "name": "Sync-Cursor-Proof",
        "in": "header",
        "description": "The cursor_proof a pull answer gave with the device's cursor (revision 1.8): only "
        "with it is a cursor beyond the server's counter taken as a rewind (409 generation_changed); "
        "without it the counter moves up to the cursor",
        "schema": {"type": "string", "pattern": "^[0-9a-fA-F]{32}$"},
    },
]
_GENERATION_HEADERS = {
    "Sync-Generation": {"description": "The server's current generation", "schema": _GENERATION},
    "Sync-Server-Seq": {
        "description": "The server's change counter",
        "schema": {"type": "integer", "minimum": 0},
    },
}
# Revision 1.20: on every answer (listed here on push and pull); a client sends min(these, its own cap).
_BATCH_HEADERS = {
    "Sync-Max-Changes": {
        "description": "The most changes one push batch may hold on this server (revision 1.20; a "
        "server without it takes 200)",
        "schema": {"type": "integer", "minimum": 1},
    },
    "Sync-Max-Batch-Bytes": {
        "description": "The most bytes (uncompressed) one push batch may hold on this server "
        "(revision 1.20; without it 5 MB)",
        "schema": {"type": "integer", "minimum": 1024},
    },
}
_GENERATION_CHANGED = (
    "generation_changed: the server was restored or rewound since the device's generation (or it "
    "sent 'none' to a restored server); details: GenerationChanged. Heal, then ask again"
)
_OFFSET_HEADER = {
    "Upload-Offset": {"description": "Bytes the server holds", "schema": {"type": "integer"}}
}
_BAD_URL = "A control character in the path or the query (bad_url)"
_ERRORS_AUTH = {
    "401": _error("No or unknown device token"),
    "403": _error("The device was revoked"),
}


def _change_properties() -> dict[str, Any]:
    return {
        "op_id": _plain(64, description="Made by the client per change; unique in a batch"),
        "record_id": {"type": "string", "format": "uuid", "pattern": UUID_PATTERN},
        "form_id": _plain(64),
        "revision": dict(_REVISION, description="The client's own revision counter"),
        "base_server_revision": dict(
            _REVISION, description="The server revision the change was made on (null: none)"
        ),
        "status": {"type": ["string", "null"], "description": "Informational"},
        "saved_at": {"type": ["string", "null"], "description": "ISO 8601; informational"},
        "keep_return": {
            "type": "boolean",
            "description": "1.5: the change does not answer the bureau's return (it stays open)",
        },
    }


def _schemas(limits: Mapping[str, Any]) -> dict[str, Any]:
    max_change_bytes = int(limits["MAX_CHANGE_BYTES"])
    return {
        "Error": {
            "type": "object",
            "required": ["error"],
            "properties": {
                "error": {
                    "type": "object",
                    "required": ["code", "message_zh", "message_en", "details"],
                    "properties": {
                        "code": {"type": "string"},
                        "message_zh": {"type": "string"},
                        "message_en": {"type": "string"},
                        "details": {"type": "object"},
                    },
                }
            },
        },
        "EnrollRequest": {
            "type": "object",
            "required": ["enrollment_code", "device_name"],
            "properties": {
                "enrollment_code": _name(64, examples=["K7P-3QX-9ZA"]),
                "device_name": _name(100),
                "app_version": _name(50),
                # Optional: the school code on the slip; wrong codes naming a school wait for it alone.
                "school_code": _name(32, examples=["S001"]),
                # Protocol 1.4: the same code with the same request id again gets the same device.
                "request_id": _name(100, examples=["6f1c2d9e-0b7a-4c55-9e0f-2b8f3d1a7c44"]),
                # Protocol 1.9: the token this computer held; that device (same school) is replaced.
                "replaces_token": _name(200),
            },
        },
        "EnrollResponse": {
            "type": "object",
            "required": ["device_id", "token", "school"],
            "properties": {
                "device_id": {"type": "string", "format": "uuid"},
                "token": {"type": "string", "description": "Shown once; the server keeps its hash"},
                "pin_reset_key": _PIN_RESET_KEY,
                "usb_key": _USB_KEY,
                "school": {
                    "type": "object",
                    "required": ["code", "name"],
                    "properties": {"code": {"type": "string"}, "name": {"type": "string"}},
                },
            },
        },
        "FormSummary": {
            "type": "object",
            "required": ["form_id", "version", "sha256", "title_zh"],
            "properties": {
                "form_id": {"type": "string"},
                "version": {"type": "string"},
                "sha256": {"type": "string", "pattern": SHA256_PATTERN},
                "title_zh": {"type": "string"},
                "published_at": {"type": "string", "format": "date-time"},
            },
        },
        "FormDefinition": {
            "type": "object",
            "required": ["form_id", "version", "sha256", "definition"],
            "properties": {
                "form_id": {"type": "string"},
                "version": {"type": "string"},
                "sha256": {
                    "type": "string",
                    "pattern": SHA256_PATTERN,
                    "description": "sha256 of the UTF-8 definition text",
                },
                "title_zh": {"type": "string"},
                "definition": {"type": "string", "description": "The form as YAML"},
            },
        },
        "UpsertChange": {
            "type": "object",
            "required": ["op_id", "record_id", "form_id", "form_version", "data"],
            "properties": {
                **_change_properties(),
                "kind": {"enum": ["upsert"], "default": "upsert"},
                "form_version": _plain(32),
                "data": {
                    "type": "object",
                    "description": (
                        "The answers, checked by the form engine; at most "
                        f"{max_change_bytes} bytes as stored (else rejected, too_large)"
                    ),
                },
            },
        },
        "DeleteChange": {
            "type": "object",
            "required": ["op_id", "record_id", "form_id", "kind"],
            "properties": {
                **_change_properties(),
                "kind": {"const": "delete"},
                "form_version": _plain(32, nullable=True),
                "data": {"type": ["object", "null"], "description": "Ignored"},
            },
        },
        "Change": {"anyOf": [_ref("UpsertChange"), _ref("DeleteChange")]},
        "PushRequest": {
            "type": "object",
            "required": ["changes"],
            "properties": {
                "changes": {
                    "type": "array",
                    "maxItems": int(limits["MAX_BATCH_CHANGES"]),
                    "items": _ref("Change"),
                    "description": "Two changes with one op_id: 400 duplicate_op_id",
                }
            },
        },
        "ServerVersion": {
            "type": "object",
            "properties": {
                "server_revision": {"type": "integer"},
                "status": {"type": "string"},
                "form_version": {"type": "string"},
                "data": {"type": "object"},
                "review_comments": {"type": "object"},
            },
        },
        "Problem": {
            "type": "object",
            "required": ["path", "code", "message_zh", "message_en"],
            "properties": {
                "path": {"type": "string"},
                "code": {"type": "string"},
                "message_zh": {"type": "string"},
                "message_en": {"type": "string"},
            },
        },
        "Result": {
            "type": "object",
            "required": ["op_id", "result", "record_id"],
            "properties": {
                "op_id": {"type": "string"},
                "result": {"enum": ["applied", "duplicate", "conflict", "rejected"]},
                "record_id": {"type": "string"},
                "server_revision": {"type": "integer"},
                "status": {"type": "string"},
                "server": _ref("ServerVersion"),
                "reason": {"enum": REJECT_REASONS},
                "message_zh": {"type": "string"},
                "message_en": {"type": "string"},
                "problems": {"type": "array", "items": _ref("Problem")},
                "max_bytes": {"type": "integer", "description": "too_large: the limit"},
                "bytes": {"type": "integer", "description": "too_large: the change's size"},
                "teacher_id": {"type": "string", "description": "duplicate_teacher: the 工号"},
                "change_request": {
                    "type": "object",
                    "description": "1.5, locked: the change was kept as a change request",
                    "required": ["id", "status"],
                    "properties": {
                        "id": {"type": "string"},
                        "status": {"enum": ["open", "accepted", "declined"]},
                        "reason": {"type": "string"},
                    },
                },
            },
        },
        "PushResponse": {
            "type": "object",
            "description": "results, or (1.14, asked with Sync-Push-Answer: compact) compact_results",
            "required": ["cursor"],
            "properties": {
                "results": {"type": "array", "items": _ref("Result")},
                "compact_results": {
                    "type": "array",
                    "description": "1.14: per change in the batch's order, what differs from applied "
                    "at (base_server_revision or 0) + 1, without op_id and record_id; null: exactly that",
                    "items": {"type": ["object", "null"]},
                },
                "cursor": {"type": "integer"},
            },
        },
        "PulledChange": {
            "type": "object",
            "required": ["seq", "type"],
            "properties": {
                "seq": {"type": "integer"},
                "type": {"enum": ["record", "form", "form_withdrawn", "change_request"]},
                "record_id": {"type": "string"},
                "form_id": {"type": "string"},
                "form_version": {"type": "string"},
                "version": {"type": "string"},
                "sha256": {"type": "string"},
                "title_zh": {"type": "string"},
                "server_revision": {"type": "integer"},
                "status": {"enum": ["received", "returned", "accepted", "deleted"]},
                "review_comments": {"type": "object"},
                "data": {"type": ["object", "null"]},
                "updated_at": {"type": "string", "format": "date-time"},
                "request_id": {"type": "string", "description": "change_request (1.5)"},
                "op_id": {"type": "string", "description": "change_request: the change asked"},
                "request_status": {"enum": ["open", "accepted", "declined"]},
                "reason": {"type": "string", "description": "change_request: why declined"},
                "decided_at": {"type": "string", "format": "date-time"},
            },
        },
        "PullResponse": {
            "type": "object",
            "required": ["changes", "cursor", "more"],
            "properties": {
                "changes": {"type": "array", "items": _ref("PulledChange")},
                "cursor": {"type": "integer", "minimum": 0, "maximum": MAX_INT64},
                "more": {"type": "boolean"},
                "generation": _GENERATION,
                "server_seq": {
                    "type": "integer",
                    "minimum": 0,
                    "maximum": MAX_INT64,
                    "description": "The change counter (the highest number handed out), same snapshot",
                },
                "cursor_proof": {
                    "type": "string",
                    "pattern": "^[0-9a-f]{32}$",
                    "description": "The server's proof of `cursor` in this generation: send it back as "
                    "Sync-Cursor-Proof with that cursor (protocol revision 1.8)",
                },
                "pin_reset_key": _PIN_RESET_KEY,
                "usb_key": _USB_KEY,
                "next_token": {
                    "type": "string",
                    "description": "The device's next token (protocol revision 1.9), on the last page "
                    "of a pull sent with Sync-Token-Rotation: 1; valid beside the current one until its "
                    "first use, which retires the current one (401 token_superseded)",
                },
            },
        },
        "GenerationChanged": {
            "type": "object",
            "description": "details of 409 generation_changed (revision 1.6)",
            "required": ["generation", "server_seq", "held_through"],
            "properties": {
                "generation": _GENERATION,
                "server_seq": {"type": "integer", "minimum": 0, "maximum": MAX_INT64},
                "held_through": {
                    "type": ["integer", "null"],
                    "description": "The server holds every change of the device's generation numbered "
                    "up to this (null: it cannot tell)",
                },
                "started_at": {"type": "string", "format": "date-time"},
                "reason": {"enum": ["created", "restored", "rewound"]},
            },
        },
        "UploadState": {
            "type": "object",
            "required": ["sha256", "offset", "size", "complete"],
            "properties": {
                "sha256": {"type": "string", "pattern": SHA256_PATTERN},
                "offset": {"type": "integer", "minimum": 0},
                "size": {"type": ["integer", "null"], "minimum": 0},
                "complete": {"type": "boolean"},
            },
        },
    }


def _paths(limits: Mapping[str, Any]) -> dict[str, Any]:
    max_changes = int(limits["MAX_BATCH_CHANGES"])
    batch_mb = int(limits["MAX_BATCH_BYTES"]) // (1024 * 1024)
    attachment_mb = int(limits["MAX_ATTACHMENT_BYTES"]) // (1024 * 1024)
    pull_max = int(limits["PULL_MAX_LIMIT"])
    pull_default = min(int(limits["PULL_DEFAULT_LIMIT"]), pull_max)
    return {
        "/api/v1/enroll": {
            "post": {
                "operationId": "enroll",
                "summary": "Turn a single-use enrollment code into a device token",
                "security": [],
                "requestBody": {
                    "required": True,
                    "content": {_JSON: {"schema": _ref("EnrollRequest")}},
                },
                "responses": {
                    "201": _json(_ref("EnrollResponse"), "Enrolled"),
                    "400": _error("Malformed request; " + _BAD_URL),
                    "401": _error(
                        "Unknown, used, replaced or expired code; a retried request's device was revoked"
                    ),
                    "413": _error("Larger than 64 KB"),
                    "415": _error("Unsupported Content-Encoding"),
                    "429": _error(
                        "Too many wrong codes from this address; see Retry-After",
                        headers=_RETRY_AFTER,
                    ),
                },
            }
        },
        "/api/v1/forms": {
            "get": {
                "operationId": "listForms",
                "summary": "The latest published version of each form (withdrawn versions left out)",
                "responses": {
                    "200": _json(
                        {
                            "type": "object",
                            "required": ["forms"],
                            "properties": {
                                "forms": {"type": "array", "items": _ref("FormSummary")}
                            },
                        },
                        "The forms",
                    ),
                    "400": _error(_BAD_URL),
                    **_ERRORS_AUTH,
                },
            }
        },
        "/api/v1/forms/{form_id}/{version}": {
            "get": {
                "operationId": "getForm",
                "summary": "One form version's definition",
                "parameters": [
                    {
                        "name": "form_id",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "string", "pattern": URL_TEXT_PATTERN},
                    },
                    {
                        "name": "version",
                        "in": "path",
                        "required": True,
                        "description": "Percent-encoded as one segment ('/' as %2F), withdrawn ones too",
                        "schema": {"type": "string", "pattern": URL_TEXT_PATTERN},
                    },
                ],
                "responses": {
                    "200": _json(_ref("FormDefinition"), "The definition"),
                    "400": _error(_BAD_URL),
                    "404": _error("No such form version"),
                    **_ERRORS_AUTH,
                },
            }
        },
        "/api/v1/push": {
            "post": {
                "operationId": "push",
                "summary": (
                    f"Push a batch of record changes (at most {max_changes} and {batch_mb} MB "
                    "uncompressed; Content-Encoding: gzip allowed, one gzip member and nothing after it)"
                ),
                "parameters": [
                    {
                        "name": "Idempotency-Key",
                        "in": "header",
                        "required": True,
                        "description": "One per batch, made by the client (a uuid)",
                        "schema": {"type": "string", "pattern": IDEMPOTENCY_KEY_PATTERN},
                    },
                    *_GENERATION_PARAMETERS,
                    {
                        "name": "Sync-Push-Answer",
                        "in": "header",
                        "description": "1.14: compact asks for compact_results instead of "
                        "results (full, or no header: results)",
                        "schema": {"enum": ["compact", "full"]},
                    },
                    {
                        "name": "Sync-Cursor",
                        "in": "header",
                        "description": "The device's pull cursor (beyond the server's counter and with "
                        "its Sync-Cursor-Proof, a rewind: 409 generation_changed)",
                        "schema": {"type": "integer", "minimum": 0, "maximum": MAX_INT64},
                    },
                ],
                "requestBody": {
                    "required": True,
                    "content": {_JSON: {"schema": _ref("PushRequest")}},
                },
                "responses": {
                    "200": _json(
                        _ref("PushResponse"),
                        "A result per change",
                        headers={**_GENERATION_HEADERS, **_BATCH_HEADERS},
                    ),
                    "400": _error(
                        "Malformed JSON (NaN, Infinity, lone surrogates, nesting over 64 levels "
                        "included), wrong types, "
                        "two changes with one op_id, a missing or malformed Idempotency-Key, "
                        "a corrupt gzip body or bytes after it; " + _BAD_URL
                    ),
                    "413": _error(
                        "Too many changes (details: max_changes) or too many bytes",
                        headers=_BATCH_HEADERS,
                    ),
                    "415": _error("Unsupported Content-Encoding"),
                    "409": _error(_GENERATION_CHANGED),
                    "422": _error("The Idempotency-Key was used with a different body"),
                    "503": _error("Busy; see Retry-After", headers=_RETRY_AFTER),
                    **_ERRORS_AUTH,
                },
            }
        },
        "/api/v1/pull": {
            "get": {
                "operationId": "pull",
                "summary": "This school's changes after a cursor, in seq order",
                "parameters": [
                    {
                        "name": "Sync-Token-Rotation",
                        "in": "header",
                        "description": "1: the client stores a next_token (protocol revision 1.9); the "
                        "last page of the pull carries one",
                        "schema": {"type": "string", "enum": ["0", "1"]},
                    },
                    {
                        "name": "since",
                        "in": "query",
                        "schema": {
                            "type": "integer",
                            "minimum": 0,
                            "maximum": MAX_INT64,
                            "default": 0,
                        },
                    },
                    {
                        "name": "limit",
                        "in": "query",
                        "schema": {
                            "type": "integer",
                            "minimum": 1,
                            "maximum": pull_max,
                            "default": pull_default,
                        },
                    },
                    {
                        "name": "include_own",
                        "in": "query",
                        "description": "Also the asking device's own pushed changes (to rebuild a store)",
                        "schema": {"type": "boolean", "default": False},
                    },
                    {
                        "name": "compact",
                        "in": "query",
                        "description": "Leave out a record's change when a later one of the record "
                        "exists (each record's current state once; revision 1.6)",
                        "schema": {"type": "boolean", "default": False},
                    },
                    *_GENERATION_PARAMETERS,
                ],
                "responses": {
                    "200": _json(
                        _ref("PullResponse"),
                        "A page of changes",
                        headers={**_GENERATION_HEADERS, **_BATCH_HEADERS},
                    ),
                    "400": _error(
                        "Bad since, limit, include_own, compact or Sync-* header; " + _BAD_URL
                    ),
                    "409": _error(_GENERATION_CHANGED),
                    **_ERRORS_AUTH,
                },
            }
        },
        "/api/v1/attachments/{sha256}": {
            "parameters": [
                {
                    "name": "sha256",
                    "in": "path",
                    "required": True,
                    "schema": {"type": "string", "pattern": SHA256_PATTERN},
                }
            ],
            "head": {
                "operationId": "attachmentState",
                "summary": (
                    "Whether the server holds the whole file (200) or how much of it (404, Upload-Offset)"
                ),
                "responses": {
                    "200": {"description": "The whole file is there", "headers": _OFFSET_HEADER},
                    "404": {"description": "Missing or partial", "headers": _OFFSET_HEADER},
                    "400": {"description": "Not a sha256; " + _BAD_URL},
                    "401": {"description": "No or unknown device token"},
                    "403": {"description": "The device was revoked"},
                },
            },
            "put": {
                "operationId": "uploadAttachment",
                "summary": (
                    "Append bytes at the stored offset (Content-Range: bytes start-end/total; without "
                    "it the body is the whole file). The bytes must match the sha256."
                ),
                "parameters": [
                    {
                        "name": "Content-Range",
                        "in": "header",
                        "required": False,
                        "schema": {
                            "type": "string",
                            "pattern": CONTENT_RANGE_PATTERN,
                            "examples": ["bytes 0-65535/1048576"],
                        },
                    },
                    {
                        "name": "Upload-Metadata",
                        "in": "header",
                        "required": False,
                        "description": (
                            "The file's name on the school's PC, as tus sends it: `filename` and the "
                            "base64 of the UTF-8 name (1-255 characters, no control characters; a "
                            "folder is dropped). Kept with the file (protocol revision 1.7)."
                        ),
                        "schema": {
                            "type": "string",
                            "pattern": "^filename [A-Za-z0-9+/]{4,1400}={0,2}$",
                            "examples": ["filename 57qm6LCI6K6w5b2VLnBkZg=="],
                        },
                    },
                ],
                "requestBody": {
                    "required": True,
                    "content": {"application/octet-stream": {"schema": {"type": "string"}}},
                },
                "responses": {
                    "200": _json(
                        _ref("UploadState"),
                        "Part stored; continue at offset",
                        headers=_OFFSET_HEADER,
                    ),
                    "201": _json(
                        _ref("UploadState"), "Complete and verified", headers=_OFFSET_HEADER
                    ),
                    "400": _error(
                        "Bad sha256, Content-Range, Upload-Metadata or body length; " + _BAD_URL
                    ),
                    "409": _error(
                        "start is not the stored offset, or another total than before "
                        "(see Upload-Offset)",
                        headers=_OFFSET_HEADER,
                    ),
                    "413": _error(f"Larger than {attachment_mb} MB"),
                    "415": _error("Compressed (send attachment bytes as they are)"),
                    "422": _error(
                        "The bytes do not match the sha256; the partial file was dropped"
                    ),
                    "429": _error(
                        "This school has too many unfinished uploads (count or bytes; they expire "
                        "after a while), or added its daily bytes of attachments (see Retry-After)",
                        headers=_RETRY_AFTER,
                    ),
                    **_ERRORS_AUTH,
                },
            },
        },
        "/api/v1/openapi.json": {
            "get": {
                "operationId": "openapi",
                "summary": "This document",
                "security": [],
                "responses": {
                    "200": _json({"type": "object"}, "OpenAPI 3.1 document"),
                    "400": _error(_BAD_URL),
                },
            }
        },
    }


def openapi_document(config: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The document for a server with this configuration (its limits), the defaults when None."""
    from sync_server.updates_openapi import update_paths

    limits = {**DEFAULTS, **(config or {})}
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "School data sync API / 学校数据同步接口",
            "version": __version__,
            "description": "See docs/protocol.md. Every answer carries X-Sync-Server: school-sync/1.",
        },
        "servers": [{"url": "/"}],
        "security": [{"deviceToken": []}],
        "paths": {**_paths(limits), **update_paths()},  # issue 16: sync_server/updates_openapi.py
        "components": {
            "schemas": _schemas(limits),
            "securitySchemes": {"deviceToken": {"type": "http", "scheme": "bearer"}},
        },
    }
